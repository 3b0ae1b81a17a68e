#!/usr/bin/env node
// What a sync is billed for, measured: `node bench/costs.mjs [--rollout] [--clients 40] [--incrementals 9] [--port 8797]
// [--var NAME=VALUE --label NAME]` (another configuration to compare, kept under its label).
// Starts the production configuration locally (`npm run start:production` on a fresh state directory,
// with the admin API's user routes opened for this run so that it can register clients, and the
// probation limit raised so that a fresh client may make a 20,000-identifier sync). Its S2 index
// objects are built at their first call, as long after a rollout; with --rollout they keep
// production's hour of build delay: the first hour after new index objects are rolled out. It imports
// a directory of 20,000 users, then:
//   1. honest traffic: CLIENTS clients, each on a network of its own, registered through the admin API,
//      make one full sync of a 300-contact book (40% registered) and then INCREMENTALS incremental syncs;
//   2. five 20,000-identifier full syncs from fresh clients.
// Every answer's ICD-Costs header gives the calls and rows; Server-Timing the time the calls to the
// client's object and the S2 index took, end to end (at least the duration Durable Objects bill); /proc the CPU of the server's workerd
// processes (the Worker with the local D1 and objects, and the dev server's proxy: an upper bound of
// the Worker's own CPU). Priced with bench/prices.json; writes bench/costs.json (its `steady` or `rollout` part).

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { ICD } from "../src/proto/icd.js";
import { request } from "./http.mjs";
import { enroll, importDirectory as importUsersVia, startServer } from "./traffic.mjs";

const { values } = parseArgs({ options: { rollout: { type: "boolean", default: false }, var: { type: "string", multiple: true, default: [] }, label: { type: "string" }, clients: { type: "string", default: "40" }, incrementals: { type: "string", default: "9" }, port: { type: "string", default: "8797" } } });
const CLIENTS = Number(values.clients);
const INCREMENTALS = Number(values.incrementals);
const BOOK = 300;
const KNOWN = 120;
const DIRECTORY = 20_000;
const LARGE = 20_000;
const TOKEN = randomBytes(24).toString("hex");
const base = `http://localhost:${values.port}`;
const prices = JSON.parse(fs.readFileSync(new URL("./prices.json", import.meta.url), "utf8"));

const id = () => new Uint8Array(randomBytes(32));
const ids = (n) => Array.from({ length: n }, id);
const admin = { Authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

function startService() {
  const vars = ["ADMIN_USER_ROUTES=true", "ADMIN_TOKEN_LEGACY=true", `ADMIN_TOKEN=${TOKEN}`, `DETECT_PROBATION_LIMIT=${LARGE}`, ...(values.rollout ? [] : ["S2_INDEX_BUILD_DELAY_SECONDS=0"]), ...values.var].flatMap((v) => ["--var", v]);
  return startServer({ port: values.port, prefix: "icd-costs-", args: ["--env", "production", ...vars] });
}

/** CPU milliseconds (user + system) of every workerd process under `pid`. */
function workerdCpu(pid) {
  const children = new Map();
  for (const name of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const text = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      const parent = Number(fields[1]);
      children.set(parent, [...(children.get(parent) ?? []), { pid: Number(name), workerd: text.includes("(workerd)"), ms: (Number(fields[11]) + Number(fields[12])) * 10 }]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const walk = (p) => {
    for (const child of children.get(p) ?? []) {
      if (child.workerd) total += child.ms;
      walk(child.pid);
    }
  };
  walk(pid);
  return total;
}

const register = (client) => enroll(base, admin, client);
const importDirectory = (directory) => importUsersVia(base, admin, directory);

const parseCosts = (header) => Object.fromEntries(header.split(", ").map((pair) => pair.split("=")).map(([k, v]) => [k, Number(v)]));
const parseTimings = (header = "") => Object.fromEntries(header.split(", ").filter(Boolean).map((t) => t.split(";dur=")).map(([k, v]) => [k, Number(v)]));

async function sync(client, kind, identifiers, ip) {
  const body = ICD.Request.encode({ user: client.user, authToken: client.authToken, identifiers }).finish();
  const r = await request(`${base}/discovery/${kind}`, { method: "POST", body, headers: { "CF-Connecting-IP": ip } });
  if (r.status !== 200) throw new Error(`${kind} sync: ${r.status}`);
  const timings = parseTimings(r.headers["server-timing"]);
  return { ...parseCosts(r.headers["icd-costs"]), objectMs: (timings.object ?? 0) + (timings.s2index ?? 0) };
}

function summarise(costs, cpuMs) {
  const n = costs.length;
  const mean = (key) => costs.reduce((sum, c) => sum + c[key], 0) / n;
  const per = {
    workerRequests: 1,
    workerCpuMs: cpuMs / n,
    objectRequests: mean("object-calls"),
    objectRowsRead: mean("object-rows-read"),
    objectRowsWritten: mean("object-rows-written"),
    objectGbSeconds: (mean("objectMs") / 1000) * prices.objectMemoryGb,
    d1Statements: mean("d1-calls"),
    d1RowsRead: mean("d1-rows"),
    d1RowsWritten: mean("d1-rows-written"),
    clientRowsWritten: mean("client-rows-written"),
    maxClientRowsWritten: Math.max(...costs.map((c) => c["client-rows-written"])),
    maxObjectCalls: Math.max(...costs.map((c) => c["object-calls"])),
  };
  const dollars = Object.fromEntries(Object.entries(prices.perMillion).map(([item, price]) => [item, per[item] * price]));
  return { syncs: n, perSync: per, dollarsPerMillion: dollars, totalPerMillion: Object.values(dollars).reduce((a, b) => a + b, 0) };
}

const { server, state } = await startService();
try {
  const directory = ids(DIRECTORY);
  await importDirectory(directory);
  const clients = Array.from({ length: CLIENTS }, (_, i) => ({ user: id(), authToken: id(), ip: `10.${i >> 8}.${i & 255}.7` }));
  for (const c of clients) await register(c);

  const full = [];
  const incremental = [];
  const cpuBefore = workerdCpu(server.pid);
  for (const c of clients) {
    const start = Math.floor(Math.random() * (DIRECTORY - KNOWN));
    const book = [...directory.slice(start, start + KNOWN), ...ids(BOOK - KNOWN)];
    full.push(await sync(c, "full", book, c.ip));
    for (let k = 0; k < INCREMENTALS; k++) incremental.push(await sync(c, "incremental", book, c.ip));
  }
  const honestCpu = workerdCpu(server.pid) - cpuBefore;

  const large = [];
  const largeBefore = workerdCpu(server.pid);
  for (let k = 0; k < 5; k++) {
    const c = { user: id(), authToken: id() };
    await register(c);
    large.push(await sync(c, "full", ids(LARGE), `10.200.${k}.9`));
  }
  const largeCpu = workerdCpu(server.pid) - largeBefore;

  const honest = summarise([...full, ...incremental], honestCpu);
  const split = { full: summarise(full, (honestCpu * full.length) / (full.length + incremental.length)), incremental: summarise(incremental, (honestCpu * incremental.length) / (full.length + incremental.length)) };
  // A user: one full sync and then one incremental sync a day, 31 syncs a month.
  const perUserMonth = (split.full.totalPerMillion + 30 * split.incremental.totalPerMillion) / 1e6;
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
  const result = {
    commit,
    at: new Date().toISOString(),
    configuration: `${values.var.length > 0 ? `${values.var.join(", ")} in ` : ""}production (npm run start:production), admin user routes open and DETECT_PROBATION_LIMIT raised for this run${values.rollout ? "; the S2 index in its first hour after a rollout (unbuilt)" : "; the S2 index built (S2_INDEX_BUILD_DELAY_SECONDS = 0)"}`,
    prices: { date: prices.date, source: prices.source },
    honest: { clients: CLIENTS, book: BOOK, incrementalsPerClient: INCREMENTALS, ...honest },
    honestFull: split.full,
    honestIncremental: split.incremental,
    fullSync20k: summarise(large, largeCpu),
    dollarsPerUserMonth: perUserMonth,
    note: "workerCpuMs is the CPU of every workerd process of the local server (the Worker, the local D1 and Durable Objects, and the dev server's proxy) over the syncs: an upper bound of the Worker's own. objectGbSeconds: the client object's and the S2 index's busy time from Server-Timing, at 128 MB.",
  };
  const file = new URL("./costs.json", import.meta.url);
  const kept = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
  fs.writeFileSync(file, JSON.stringify({ ...kept, [values.label ?? (values.rollout ? "rollout" : "steady")]: result }, null, 2) + "\n");
  const row = (name, s) => `${name.padEnd(28)} ${s.perSync.objectRequests.toFixed(2).padStart(6)} ${s.perSync.objectRowsWritten.toFixed(2).padStart(6)} ${s.perSync.d1Statements.toFixed(2).padStart(6)} ${s.perSync.d1RowsRead.toFixed(0).padStart(7)} ${s.perSync.workerCpuMs.toFixed(1).padStart(7)} ${("$" + s.totalPerMillion.toFixed(2)).padStart(9)}`;
  console.log(`${"per sync".padEnd(28)} ${"calls".padStart(6)} ${"writes".padStart(6)} ${"D1".padStart(6)} ${"D1 rows".padStart(7)} ${"CPU ms".padStart(7)} ${"per M".padStart(9)}`);
  console.log(row("honest (1 full : 9 incr.)", honest));
  console.log(row("  full, 300 contacts", split.full));
  console.log(row("  incremental", split.incremental));
  console.log(row("full, 20,000 identifiers", result.fullSync20k));
  console.log(`per user and month (1 full + 30 incremental): $${perUserMonth.toExponential(2)}; most rows written by one honest sync in its client's object: ${honest.perSync.maxClientRowsWritten}; most object calls: ${honest.perSync.maxObjectCalls} (a client's first sync: its object and its network's and ASN's guards)`);
} finally {
  process.kill(-server.pid, "SIGTERM");
  fs.rmSync(state, { recursive: true, force: true });
}
