// The honest traffic the benchmarks send (bench/honest.mjs, bench/profile.mjs): clients with 32-byte
// identifiers and tokens, a 300-contact book of which 120 are registered, one full sync and then
// incremental ones; and the CPU of the local server's processes from /proc.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ICD } from "../src/proto/icd.js";
import { request } from "./http.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export const BOOK = 300;
export const KNOWN = 120; // 40% of the book registered
export const INCREMENTALS = 4;
export const DIRECTORY = 20_000;

export const id = () => new Uint8Array(randomBytes(32));
export const ids = (n) => Array.from({ length: n }, id);
export const body = (client, identifiers = []) => ICD.Request.encode({ user: client?.user, authToken: client?.authToken, identifiers }).finish();
export const post = (base, path, payload) => request(base + path, { method: "POST", body: payload });

export async function client(base) {
  const c = { user: id(), authToken: id() };
  const { status } = await post(base, "/user/register", body(c));
  if (status !== 200) throw new Error(`register: ${status}`);
  return c;
}

/** Registers `client` through the admin API (`headers`: an operator's Authorization and JSON). */
export async function enroll(base, headers, client) {
  const hex = (b) => Buffer.from(b).toString("hex");
  const r = await request(`${base}/admin/users`, { method: "POST", headers, body: Buffer.from(JSON.stringify({ id: hex(client.user), token: hex(client.authToken) })) });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${r.body}`);
}

/** Imports `directory` through the admin API, not announced (so outside S2), 10,000 at a time. */
export async function importDirectory(base, headers, directory) {
  const hex = (b) => Buffer.from(b).toString("hex");
  for (let at = 0; at < directory.length; at += 10_000) {
    const users = directory.slice(at, at + 10_000).map((u) => [hex(u), hex(randomBytes(32))]);
    const r = await request(`${base}/admin/users/import`, { method: "POST", headers, body: Buffer.from(JSON.stringify({ users, announce: false })) });
    if (r.status !== 200) throw new Error(`import: ${r.status} ${r.body}`);
  }
}

/** A fresh directory: DIRECTORY users, in S2 (/test/add/many, as the reference has it) or imported outside it (this service's admin API, with `token`). */
export async function fillDirectory(base, { outsideS2 = false, token } = {}) {
  await request(`${base}/reset`);
  const directory = ids(DIRECTORY);
  if (!outsideS2) {
    for (let at = 0; at < DIRECTORY; at += 10_000) await post(base, "/test/add/many", body({}, directory.slice(at, at + 10_000)));
    return directory;
  }
  await importDirectory(base, { Authorization: `Bearer ${token}`, "content-type": "application/json" }, directory);
  return directory;
}

/**
 * One sender until `until` (performance.now()): registers a client, makes one full sync of its book
 * and then incremental ones, again and again. Counts into `tally` ({ syncs, failures, latencies,
 * costs? }); with `tally.costs`, adds up each answer's ICD-Costs.
 */
export async function honestSender(base, directory, until, tally) {
  while (performance.now() < until) {
    const c = await client(base).catch(() => null); // a registration that failed counts as a failure
    if (!c) { tally.failures++; continue; }
    const start = Math.floor(Math.random() * (directory.length - KNOWN));
    const book = [...directory.slice(start, start + KNOWN), ...ids(BOOK - KNOWN)];
    for (const [k, path] of ["/discovery/full", ...Array(INCREMENTALS).fill("/discovery/incremental")].entries()) {
      if (k > 0 && performance.now() >= until) break;
      const r = await post(base, path, body(c, book));
      if (r.status === 200) { tally.syncs++; tally.latencies.push(r.ms); } else tally.failures++;
      const reported = r.headers["icd-costs"]; // this service's: "d1-calls=1, d1-rows=600, object-calls=2"
      if (reported && tally.costs) {
        const get = (name) => Number(new RegExp(`${name}=(\\d+)`).exec(reported)?.[1] ?? 0);
        tally.costs.d1Calls += get("d1-calls"); tally.costs.d1Rows += get("d1-rows"); tally.costs.objectCalls += get("object-calls"); tally.costs.reported++;
      }
    }
  }
}

/**
 * The processes serving `base` when it is a local dev server: the Worker's workerd (which also runs
 * the local D1 and Durable Objects) and wrangler's proxy (the workerd listening on the port), by pid.
 */
export function serverProcesses(base) {
  const { hostname, port } = new URL(base);
  if (!["localhost", "127.0.0.1"].includes(hostname)) return null;
  const listening = spawnSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" }).stdout ?? "";
  const proxy = Number(/pid=(\d+)/.exec(listening)?.[1]);
  if (!proxy) return null;
  const parent = Number(stat(proxy)[1]);
  const siblings = fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n) && Number(n) !== proxy).filter((n) => {
    try {
      return Number(stat(n)[1]) === parent && fs.readFileSync(`/proc/${n}/cmdline`, "utf8").includes("workerd");
    } catch {
      return false;
    }
  });
  return siblings.length === 1 ? { worker: Number(siblings[0]), proxy } : null;
}

/** The fields of /proc/PID/stat after the command name: state, ppid, ... */
const stat = (pid) => {
  const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
};

/** The CPU (user + system, ms) a process has spent, in clock ticks of 10 ms. */
export const processCpu = (pid) => { const f = stat(pid); return (Number(f[11]) + Number(f[12])) * (1000 / 100); };

/** The CPU (ms) of the processes serving `base` (serverProcesses). */
export function serverCpu(base) {
  const pids = serverProcesses(base);
  return pids && { worker: processCpu(pids.worker), proxy: processCpu(pids.proxy) };
}

/**
 * `scripts/start.mjs ARGS` on PORT with a fresh state directory (a temporary one named PREFIX...),
 * from the repository's root in a process group of its own; resolves once it is ready.
 */
export function startServer({ port, prefix, args }) {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const server = spawn(process.execPath, ["scripts/start.mjs", "--persist-to", state, ...args], { cwd: ROOT, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"], detached: true });
  return new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("Ready on")) resolve({ server, state });
    });
    server.on("exit", (code) => reject(new Error(`the server exited (${code}) before it was ready`)));
  });
}
