#!/usr/bin/env node
// Benchmark of the local sharded service: directory growth, discovery latency (end to end and SQL),
// throughput under concurrency, runtime memory and storage per user, checked against the issue's
// targets, for 16- and 32-byte identifiers (each length in a directory of its own: a fresh server).
// `node bench/run.mjs`; env BENCH_SIZES=100000,... (directory sizes), BENCH_ID_BYTES=16,32
// (identifier lengths), BENCH_THROUGHPUT (see below), BENCH_PORT (default 8799), BENCH_KEEP=1 (keep
// the persist dir). Writes bench/results.json; progress goes to stderr.
// wrangler dev reloads the runtime whenever a source file, wrangler.toml or node_modules changes
// (reported as "runtime restarted"); on a checkout others are editing, run a copy of the tree.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ICD } from "../src/proto/icd.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SIZES = (process.env.BENCH_SIZES ?? "1000000,20000000").split(",").map((s) => Number(s.replaceAll("_", ""))).sort((a, b) => a - b);
const ID_BYTES = (process.env.BENCH_ID_BYTES ?? "16,32").split(",").map(Number);
const KEEP = process.env.BENCH_KEEP === "1";
const IDS = 20_000; // identifiers per discovery request (MAX_CONTACTS)
const KNOWN = 2_000; // of which registered: 10%
const POOL_SETS = 20; // distinct sets of known ids, so requests do not all probe the same pages
const CREATE_CHUNK = 10_000_000; // the most /test/create takes at once
const ADD_CHUNK = 20_000; // identifiers per /test/add/many body (the request size limit)
const WARMUPS = 3;
const RUNS = 30;
// BENCH_THROUGHPUT=1x40,4x60 (in flight x requests) or none: on a machine busy with other work, 16 in
// flight can time out inside the local runtime.
const THROUGHPUT = (process.env.BENCH_THROUGHPUT ?? "1x40,4x60,16x80").split(",").filter((t) => t !== "none")
  .map((t) => { const [concurrency, requests] = t.split("x").map(Number); return { concurrency, requests }; });
const SPARE_CLIENTS = 10; // for retries after a 503
const CLIENTS_PER_SIZE = 2 * (WARMUPS + RUNS) + THROUGHPUT.reduce((n, t) => n + t.requests, 0) + SPARE_CLIENTS;

const t0 = performance.now();
const log = (msg) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
const fmt = (n, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");

// src/core/concurrency.ts's mapLimit, copied: this plain Node script cannot import TypeScript.
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => { while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); } };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  return { n: sorted.length, p50: pct(0.5), p95: pct(0.95), min: sorted[0], max: sorted.at(-1) };
}

// --- The server ---------------------------------------------------------------------------------

const portFree = (port) => new Promise((resolve) => {
  const probe = net.createServer().once("error", () => resolve(false));
  probe.listen(port, () => probe.close(() => resolve(true)));
});

async function choosePort() {
  // An explicit BENCH_PORT must be free; otherwise take the first free port from 8799 on.
  const candidates = process.env.BENCH_PORT ? [Number(process.env.BENCH_PORT)] : Array.from({ length: 30 }, (_, i) => 8799 + i);
  for (const port of candidates) if (await portFree(port)) return port;
  throw new Error(`no free port among ${candidates.join(", ")}`);
}

let server = null;

async function startServer() {
  const port = await choosePort();
  const persist = fs.mkdtempSync(path.join(os.tmpdir(), "icd-bench-"));
  const logPath = `${persist}.log`; // beside the persist dir, so the sqlite total stays clean
  const out = fs.openSync(logPath, "w");
  // Its own process group: wrangler, its node and both workerd processes go with one kill.
  const child = spawn(process.execPath, ["scripts/start.mjs", "--env", "sharded", "--persist-to", persist], {
    cwd: ROOT, env: { ...process.env, PORT: String(port) }, detached: true, stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  const started = (server = { pid: child.pid, port, base: `http://localhost:${port}`, persist, logPath, exited: false });
  child.on("exit", () => { started.exited = true; });
  log(`starting server on port ${port}, persist dir ${persist}`);
  for (const deadline = Date.now() + 180_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    if (server.exited) throw new Error("server exited before it was ready");
    const ok = await fetch(`${server.base}/reset`).then((r) => r.ok, () => false);
    if (ok) return log("server ready");
  }
  throw new Error("server not ready after 180 s");
}

const groupAlive = (pgid) => { try { process.kill(-pgid, 0); return true; } catch { return false; } };

async function stopServer() {
  if (!server) return;
  const { pid, persist, logPath } = server;
  server = null;
  try { process.kill(-pid, "SIGTERM"); } catch {}
  for (let i = 0; i < 50 && groupAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(pid)) try { process.kill(-pid, "SIGKILL"); } catch {}
  if (KEEP) return log(`kept ${persist} and ${logPath}`);
  fs.rmSync(persist, { recursive: true, force: true });
  fs.rmSync(logPath, { force: true });
}

// RSS of the two workerd processes the server started: the runtime (entry=127.0.0.1:0) and the
// proxy (entry=localhost:PORT). Other wrangler sessions of the same project run the same command
// lines, so descent from our server's process (by parent, through the dev server's own process
// group), not the project path, tells ours apart. Pids are looked up again every second, since
// wrangler restarts workerd on reload.
class RssSampler {
  constructor(root, port) { Object.assign(this, { root, port, pids: {}, ticks: 0, restarts: 0 }); this.reset(); }
  reset() { const p = this.peak; this.peak = { runtime: 0, proxy: 0, sum: 0 }; return p; }
  find() {
    const pids = {};
    const parent = new Map();
    for (const name of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
        parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {} // the process went away while we looked
    }
    const ours = (pid) => { for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === this.root) return true; return false; };
    for (const pid of parent.keys()) {
      if (!ours(pid)) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        if (!cmd.includes("workerd")) continue;
        if (cmd.includes("--socket-addr=entry=127.0.0.1:0")) pids.runtime = pid;
        else if (cmd.includes(`--socket-addr=entry=localhost:${this.port}`)) pids.proxy = pid;
      } catch {}
    }
    if (this.pids.runtime && pids.runtime && pids.runtime !== this.pids.runtime) {
      this.restarts++;
      log(`warning: the workerd runtime restarted (pid ${this.pids.runtime} -> ${pids.runtime}); a source file changed?`);
    }
    this.pids = pids;
  }
  rss(pid) {
    try { return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024; } catch { return 0; }
  }
  sample() {
    if (this.ticks++ % 4 === 0 || !this.pids.runtime) this.find();
    const [runtime, proxy] = [this.rss(this.pids.runtime), this.rss(this.pids.proxy)];
    this.peak.runtime = Math.max(this.peak.runtime, runtime);
    this.peak.proxy = Math.max(this.peak.proxy, proxy);
    this.peak.sum = Math.max(this.peak.sum, runtime + proxy);
  }
  start() { this.sample(); this.timer = setInterval(() => this.sample(), 250); }
  stop() { clearInterval(this.timer); }
}

function storageBytes() {
  const dir = path.join(server.persist, "v3/d1/miniflare-D1DatabaseObject");
  return fs.readdirSync(dir)
    .filter((f) => /\.sqlite(-wal)?$/.test(f) && !f.startsWith("metadata.sqlite"))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

// --- Requests -----------------------------------------------------------------------------------

const encode = (user, authToken, identifiers) => ICD.Request.encode({ user, authToken, identifiers }).finish();

async function call(method, route, body) {
  const started = performance.now();
  const res = await fetch(server.base + route, { method, body });
  const buf = new Uint8Array(await res.arrayBuffer());
  const ms = performance.now() - started;
  // Server-Timing: "auth;dur=1.00, charge;dur=2.00, lookup;dur=3.00, d1;dur=2.50, sql;dur=2.00" (steps inside the Worker).
  const steps = Object.fromEntries((res.headers.get("server-timing") ?? "").split(",").map((t) => /(\w+);dur=([\d.]+)/.exec(t)).filter(Boolean).map((m) => [m[1], Number(m[2])]));
  return { status: res.status, ms, sqlMs: steps.sql ?? NaN, steps, buf };
}

// A 503 also comes while wrangler reloads the runtime after a source file changed, and then the
// charge may stay spent: try again from another fresh client, and count it.
let retries = 0;
async function discover(kind, job, nextJob) {
  for (let attempt = 1; ; attempt++) {
    const res = await call("POST", `/discovery/${kind}`, job.body);
    if (res.status !== 503 || attempt === 3) return Object.assign(res, { job });
    retries++;
    log(`warning: ${kind} answered 503, retrying from another client`);
    await new Promise((r) => setTimeout(r, 1000));
    job = nextJob();
  }
}

async function registerClients(n, idBytes) {
  const clients = Array.from({ length: n }, () => ({ user: randomBytes(idBytes), token: randomBytes(16) }));
  await mapLimit(clients, 16, async (c) => {
    const res = await call("POST", "/user/register", encode(c.user, c.token, []));
    if (res.status !== 200) throw new Error(`register answered ${res.status}`);
  });
  return clients;
}

/** KNOWN registered ids from one pool set and IDS - KNOWN random unknown ones, shuffled. */
function discoveryBody(client, known, idBytes) {
  const noise = randomBytes((IDS - KNOWN) * idBytes);
  const ids = [...known];
  for (let at = 0; at < noise.length; at += idBytes) ids.push(noise.subarray(at, at + idBytes));
  for (let i = ids.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [ids[i], ids[j]] = [ids[j], ids[i]]; }
  return encode(client.user, client.token, ids);
}

function verify(res, kind) {
  const { knownHex } = res.job;
  if (res.status !== 200) throw new Error(`${kind} answered ${res.status}`);
  const answer = ICD.Response.decode(res.buf);
  const added = answer.addedUsers.map(hex);
  if (answer.result !== 0 || answer.removedUsers.length !== 0 || added.length !== KNOWN || !added.every((h) => knownHex.has(h)))
    throw new Error(`${kind}: wrong answer (result ${answer.result}, ${added.length} added, ${answer.removedUsers.length} removed)`);
  if (!Number.isFinite(res.sqlMs)) throw new Error(`${kind}: no Server-Timing sql header`);
}

// --- One directory size -------------------------------------------------------------------------

async function benchSize(size, idBytes, state, sampler) {
  const r = { size, idBytes, create: [], import: null, latency: {}, throughput: [] };
  const [restarts0, retries0] = [sampler.restarts, retries];
  sampler.reset();
  for (let left = size - state.created; left > 0; ) {
    const n = Math.min(CREATE_CHUNK, left);
    log(`size ${fmt(size)}, ${idBytes}-byte ids: /test/create/${n}?bytes=${idBytes}`);
    const res = await call("GET", `/test/create/${n}?bytes=${idBytes}`);
    if (res.status !== 200) throw new Error(`/test/create answered ${res.status}`);
    r.create.push({ n, ms: res.ms, usersPerSec: n / (res.ms / 1000) });
    state.created += n; state.users += n; left -= n;
  }

  const pool = Array.from({ length: POOL_SETS }, () => Array.from({ length: KNOWN }, () => randomBytes(idBytes)));
  const poolHex = pool.map((set) => new Set(set.map(hex)));
  const flat = pool.flat();
  log(`size ${fmt(size)}, ${idBytes}-byte ids: importing ${fmt(flat.length)} known ids with /test/add/many`);
  let importMs = 0;
  for (let at = 0; at < flat.length; at += ADD_CHUNK) {
    const res = await call("POST", "/test/add/many", encode(new Uint8Array(0), new Uint8Array(0), flat.slice(at, at + ADD_CHUNK)));
    if (res.status !== 200) throw new Error(`/test/add/many answered ${res.status}`);
    importMs += res.ms;
  }
  r.import = { n: flat.length, ms: importMs, usersPerSec: flat.length / (importMs / 1000) };
  state.users += flat.length;

  log(`size ${fmt(size)}, ${idBytes}-byte ids: registering ${CLIENTS_PER_SIZE} fresh clients`);
  const started = performance.now();
  const clients = await registerClients(CLIENTS_PER_SIZE, idBytes);
  r.register = { n: clients.length, ms: performance.now() - started };
  state.users += clients.length;
  let set = 0; // rotates over the pool sets
  const nextJob = () => {
    if (clients.length === 0) throw new Error("out of fresh clients");
    const s = set++ % POOL_SETS;
    return { body: discoveryBody(clients.pop(), pool[s], idBytes), knownHex: poolHex[s] };
  };

  for (const kind of ["full", "incremental"]) {
    log(`size ${fmt(size)}, ${idBytes}-byte ids: latency, ${kind}, ${WARMUPS} warm-ups + ${RUNS} requests`);
    const e2e = [], sql = [], steps = { auth: [], charge: [], lookup: [], d1: [] };
    for (let i = 0; i < WARMUPS + RUNS; i++) {
      const res = await discover(kind, nextJob(), nextJob);
      verify(res, kind);
      if (i >= WARMUPS) {
        e2e.push(res.ms);
        sql.push(res.sqlMs);
        for (const step of Object.keys(steps)) steps[step].push(res.steps[step] ?? NaN);
      }
    }
    const e = stats(e2e), s = stats(sql);
    // Where the time went, p50 of each step inside the Worker (charge and lookup overlap, both from the end of auth).
    const stepsP50 = Object.fromEntries(Object.entries(steps).map(([step, xs]) => [step, stats(xs).p50]));
    r.latency[kind] = { e2e: e, sql: s, ratio: e.p50 / s.p50, stepsP50 };
  }

  for (const { concurrency, requests } of THROUGHPUT) {
    log(`size ${fmt(size)}, ${idBytes}-byte ids: throughput, full, ${requests} requests, ${concurrency} in flight`);
    const jobs = Array.from({ length: requests }, nextJob); // built beforehand: the client's CPU stays out of the timing
    const begun = performance.now();
    const results = await mapLimit(jobs, concurrency, (job) => discover("full", job, nextJob));
    const seconds = (performance.now() - begun) / 1000;
    results.forEach((res) => verify(res, "full"));
    r.throughput.push({ concurrency, requests, seconds, requestsPerSec: requests / seconds,
      e2e: stats(results.map((x) => x.ms)), sql: stats(results.map((x) => x.sqlMs)) });
  }

  r.peakRssBytes = sampler.reset();
  if (!r.peakRssBytes.runtime) log("warning: found no workerd runtime process to sample");
  r.usersInDirectory = state.users;
  r.storage = { bytes: storageBytes() };
  r.storage.bytesPerUser = r.storage.bytes / state.users;
  r.loadavg = os.loadavg();
  r.runtimeRestarts = sampler.restarts - restarts0; // reloads or 503 retries make this size's figures suspect
  r.retries503 = retries - retries0;
  return r;
}

// --- Report -------------------------------------------------------------------------------------

function targets(sizes) {
  const check = (name, value, limit, unit = "") =>
    ({ name, value, limit, pass: value === undefined ? null : value <= limit, shown: value === undefined ? "n/a" : `${fmt(value, 2)}${unit}` });
  return ID_BYTES.flatMap((idBytes) => {
    const mine = sizes.filter((r) => r.idBytes === idBytes);
    const at = (n) => mine.find((r) => r.size === n);
    const creates10M = mine.flatMap((r) => r.create).filter((c) => c.n === 10_000_000);
    const b = `${idBytes}-byte ids`;
    return [
      check(`${b}: full p50 e2e at 20M <= 100 ms`, at(20_000_000)?.latency.full.e2e.p50, 100, " ms"),
      check(`${b}: full p50 e2e 20M / 1M <= 1.5`, at(20_000_000) && at(1_000_000) && at(20_000_000).latency.full.e2e.p50 / at(1_000_000).latency.full.e2e.p50, 1.5),
      ...mine.map((r) => check(`${b}: full p50 e2e <= 1.5 x sql p50 at ${fmt(r.size)}`, r.latency.full.ratio, 1.5)),
      check(`${b}: 10M /test/create call <= 30 s`, creates10M.length ? Math.max(...creates10M.map((c) => c.ms)) / 1000 : undefined, 30, " s"),
    ];
  });
}

function printTable(results) {
  const row = (cells, widths) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ");
  const w = [16, 18, 9, 9, 9, 9, 8, 8];
  const lines = [row(["size, id bytes", "kind", "e2e p50", "e2e p95", "sql p50", "sql p95", "e2e/sql", "req/s"], w), "-".repeat(w.reduce((a, b) => a + b + 2, -2))];
  for (const r of results.sizes) {
    const size = `${fmt(r.size)}, ${r.idBytes}`;
    for (const [kind, l] of Object.entries(r.latency))
      lines.push(row([size, `${kind} (seq)`, fmt(l.e2e.p50, 1), fmt(l.e2e.p95, 1), fmt(l.sql.p50, 1), fmt(l.sql.p95, 1), fmt(l.ratio, 2), ""], w));
    for (const t of r.throughput)
      lines.push(row([size, `full c=${t.concurrency} x${t.requests}`, fmt(t.e2e.p50, 1), fmt(t.e2e.p95, 1), fmt(t.sql.p50, 1), fmt(t.sql.p95, 1), "", fmt(t.requestsPerSec, 1)], w));
  }
  lines.push("", "(ms; sql = Server-Timing sql, summed over the 4 shards)", "");
  for (const r of results.sizes) {
    const mb = (b) => fmt(b / 2 ** 20, 0);
    lines.push(`${fmt(r.size)} users, ${r.idBytes}-byte ids: create ${r.create.map((c) => `${fmt(c.n)} in ${fmt(c.ms / 1000, 1)} s (${fmt(c.usersPerSec)}/s)`).join(", ") || "-"}; ` +
      `import ${fmt(r.import.n)} in ${fmt(r.import.ms / 1000, 2)} s (${fmt(r.import.usersPerSec)}/s); ` +
      `peak RSS runtime ${mb(r.peakRssBytes.runtime)} MB, proxy ${mb(r.peakRssBytes.proxy)} MB, sum ${mb(r.peakRssBytes.sum)} MB; ` +
      `storage ${mb(r.storage.bytes)} MB = ${fmt(r.storage.bytesPerUser, 1)} B/user (${fmt(r.usersInDirectory)} users)` +
      (r.runtimeRestarts || r.retries503 ? `; WARNING: ${r.runtimeRestarts} runtime restarts, ${r.retries503} retried 503s` : ""));
  }
  lines.push("", "targets:");
  for (const t of results.targets) lines.push(`  ${t.pass === null ? "n/a " : t.pass ? "PASS" : "FAIL"}  ${t.name}: ${t.shown}`);
  lines.push("", `total ${fmt(results.totalSeconds, 1)} s; load average at start ${results.machine.loadavgStart.map((x) => x.toFixed(2)).join(" ")}, ` +
    `at end ${results.machine.loadavgEnd.map((x) => x.toFixed(2)).join(" ")} (${results.machine.cpus} CPUs)`);
  lines.push("", "p50 of the steps inside the Worker (ms; charge and lookup run side by side after auth):");
  for (const r of results.sizes) {
    for (const [kind, l] of Object.entries(r.latency)) {
      const st = l.stepsP50 ?? {};
      lines.push(`  ${fmt(r.size)}, ${r.idBytes}-byte ids, ${kind}: auth ${fmt(st.auth, 1)}, charge ${fmt(st.charge, 1)}, lookup ${fmt(st.lookup, 1)} ` +
        `(D1 calls ${fmt(st.d1, 1)}, of which sql ${fmt(l.sql.p50, 1)}), outside the Worker ${fmt(l.e2e.p50 - (st.auth ?? 0) - Math.max(st.charge ?? 0, st.lookup ?? 0), 1)}`);
    }
  }
  console.log(lines.join("\n"));
}

// --- Main ---------------------------------------------------------------------------------------

async function main() {
  const envPrefix = Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_")).map(([k, v]) => `${k}=${v} `).join("");
  const cpus = os.cpus();
  const results = {
    command: `${envPrefix}node ${path.relative(ROOT, process.argv[1])}${process.argv.slice(2).map((a) => ` ${a}`).join("")}`,
    date: new Date().toISOString(),
    machine: { os: `${os.type()} ${os.release()}`, cpus: cpus.length, model: cpus[0]?.model, memoryBytes: os.totalmem(), node: process.version, loadavgStart: os.loadavg() },
    config: { sizes: SIZES, idBytes: ID_BYTES, identifiersPerRequest: IDS, knownPerRequest: KNOWN, poolSets: POOL_SETS, warmups: WARMUPS, runs: RUNS, throughput: THROUGHPUT, shards: 4 },
    sizes: [],
  };
  if (results.machine.loadavgStart[0] > cpus.length * 0.5) log(`warning: load average ${results.machine.loadavgStart[0].toFixed(2)} on ${cpus.length} CPUs; figures may suffer`);
  // Each identifier length in a directory of its own, so storage per user is that length's.
  for (const idBytes of ID_BYTES) {
    await startServer();
    const sampler = new RssSampler(server.pid, server.port);
    sampler.start();
    const state = { created: 0, users: 0 };
    try {
      for (const size of SIZES) results.sizes.push(await benchSize(size, idBytes, state, sampler));
    } finally {
      sampler.stop();
    }
    log("stopping server");
    await stopServer();
  }
  results.machine.loadavgEnd = os.loadavg();
  results.targets = targets(results.sizes);
  results.totalSeconds = (performance.now() - t0) / 1000;
  fs.writeFileSync(path.join(ROOT, "bench/results.json"), `${JSON.stringify(results, null, 2)}\n`);
  log("wrote bench/results.json");
  printTable(results);
}

for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => { log(`${signal}: stopping`); stopServer().finally(() => process.exit(130)); });

main().catch(async (error) => {
  log(`failed: ${error.stack ?? error}`);
  if (server && fs.existsSync(server.logPath))
    process.stderr.write(`--- server log (tail) ---\n${fs.readFileSync(server.logPath, "utf8").split("\n").slice(-30).join("\n")}\n`);
  await stopServer();
  process.exit(1);
});
