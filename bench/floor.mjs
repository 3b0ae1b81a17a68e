#!/usr/bin/env node
// The floor: what the local runtime itself costs for each platform call a sync makes, measured on
// one-call Workers (bench/floor/index.js: /noop, /body, /decode, /d1, /object, /object-read), served
// as `npm start` serves the service (scripts/serve.mjs: wrangler's unstable_startWorker, no
// inspector, log level warn, a fresh persist directory). A service target under the sum of its
// calls' floors cannot be reached on this runtime, whatever the service's own code does. In one run:
//   1. each route, 20 sequential requests (after 3 warm-ups) with a 20,000-identifier body, the
//      routes taking turns request by request: median ms, and the Worker's and the proxy's CPU per
//      request (workerd's, from /proc); with --reference URL (and/or --service URL), their empty-
//      directory full sync of 20,000 (POST /user/register, then /discovery/full), in the same turns;
//   2. /noop, /decode, /d1?n=300 and /object under SENDERS concurrent senders for SECONDS, with a
//      300-identifier body (/object: one object per sender, as one per client): requests/s, p50, p99
//      and CPU per request, the medians of ROUNDS rounds in which the routes take turns.
// Every route but /noop reads the body first (a body left unread is drained by the dev server's
// middleware, in small reads, before the answer leaves: /noop shows what that costs); so a call's own
// cost is its route's time less /body's, and the floor of a full sync of 20,000 on this runtime is
// /decode + (/d1 - /body) + (/object - /body).
// `npm run floor [-- --reference http://localhost:5001] [--service URL] [--seconds 5] [--senders 8]
//  [--rounds 3] [--runs 20] [--port 8797] [--out FILE]`. Prints markdown tables; writes bench/floor.json.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { request } from "./http.mjs";
import { body, client, ids, post, processCpu, serverProcesses } from "./traffic.mjs";

const { values } = parseArgs({
  options: { reference: { type: "string" }, service: { type: "string" }, seconds: { type: "string", default: "5" }, rounds: { type: "string", default: "3" }, runs: { type: "string", default: "20" }, senders: { type: "string", default: "8" }, port: { type: "string", default: "8797" }, out: { type: "string" } },
});
const ROOT = path.join(import.meta.dirname, "..");
const SECONDS = Number(values.seconds);
const SENDERS = Number(values.senders);
const RUNS = Number(values.runs);
const ROUNDS = Number(values.rounds);
const WARMUPS = 3;
const base = `http://localhost:${values.port}`;
const ROUTES = ["/noop", "/body", "/decode", "/d1?n=0", "/d1", "/object", "/object-read"];
const LOADED = ["/noop", "/decode", "/d1?n=300", "/object"];

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]; };
const log = (msg) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);

// --- The floor Worker, served as npm start serves the service ----------------------------------------
const persist = fs.mkdtempSync(path.join(os.tmpdir(), "icd-floor-"));
const server = spawn(process.execPath, ["scripts/serve.mjs", "--config", "bench/floor/wrangler.toml", "--persist-to", persist], {
  cwd: ROOT,
  env: { ...process.env, PORT: values.port, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  stdio: ["ignore", "pipe", "pipe"],
  detached: true, // its own process group, with the workerd processes it starts
});
const stop = () => { try { process.kill(-server.pid, "SIGTERM"); } catch {} fs.rmSync(persist, { recursive: true, force: true }); };
process.on("exit", stop);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(1));
await new Promise((resolve, reject) => {
  let out = "";
  const timer = setTimeout(() => reject(new Error(`no "Ready on" in 120 s:\n${out}`)), 120_000);
  const seen = (chunk) => { out += chunk; if (out.includes("Ready on")) { clearTimeout(timer); resolve(); } };
  server.stdout.on("data", seen);
  server.stderr.on("data", seen);
  server.on("exit", (code) => reject(new Error(`the floor Worker's server exited (${code}):\n${out}`)));
});
// The workerd processes, once the first request has gone through (just after "Ready on" the Worker's
// own may not be the only one yet).
await request(`${base}/noop`);
let pids = null;
for (let tries = 0; tries < 20 && !pids; tries++) if (!(pids = serverProcesses(base))) await new Promise((r) => setTimeout(r, 500));
if (!pids) log("no workerd processes found for the port: no CPU figures");
const cpu = () => pids && { worker: processCpu(pids.worker), proxy: processCpu(pids.proxy) };
const cpuPer = (before, after, n) => (before && after ? { workerCpuMs: (after.worker - before.worker) / n, proxyCpuMs: (after.proxy - before.proxy) / n } : {});

// --- 1. Sequential requests with a 20,000-identifier body, the routes taking turns ------------------
const big = body({ user: ids(1)[0], authToken: ids(1)[0] }, ids(20_000));
const others = [["reference", values.reference], ["service", values.service]].filter(([, url]) => url);
for (const [, url] of others) await request(`${url}/reset`);
const samples = Object.fromEntries([...ROUTES, ...others.map(([name]) => name)].map((r) => [r, { ms: [], callMs: [], worker: 0, proxy: 0 }]));
log(`${ROUTES.length} routes${others.length ? ` and ${others.map(([n]) => n).join(", ")}` : ""}: ${WARMUPS} + ${RUNS} requests each, ${big.length} bytes`);
for (let round = 0; round < WARMUPS + RUNS; round++) {
  for (const route of ROUTES) {
    const before = cpu();
    const r = await request(base + route, { method: "POST", body: big });
    const after = cpu();
    if (r.status !== 200) throw new Error(`${route}: ${r.status} ${r.body}`);
    if (round < WARMUPS) continue;
    const s = samples[route];
    s.ms.push(r.ms);
    if (r.headers["floor-call-ms"] !== undefined) s.callMs.push(Number(r.headers["floor-call-ms"]));
    if (before && after) { s.worker += after.worker - before.worker; s.proxy += after.proxy - before.proxy; }
  }
  for (const [name, url] of others) {
    const c = await client(url);
    const r = await post(url, "/discovery/full", body(c, ids(20_000)));
    if (r.status !== 200) throw new Error(`${name}: full sync of 20,000: ${r.status}`);
    if (round >= WARMUPS) samples[name].ms.push(r.ms);
  }
}
const sequential = Object.fromEntries(Object.entries(samples).map(([route, s]) => [route, {
  medianMs: median(s.ms),
  ...(s.callMs.length ? { callMedianMs: median(s.callMs) } : {}),
  ...(pids && ROUTES.includes(route) ? { workerCpuMs: s.worker / RUNS, proxyCpuMs: s.proxy / RUNS } : {}),
  n: s.ms.length,
}]));

// --- 2. SENDERS concurrent senders, a 300-identifier body --------------------------------------------
const small = body({ user: ids(1)[0], authToken: ids(1)[0] }, ids(300));
/** SENDERS senders on `route` for SECONDS. */
async function load(route) {
  const latencies = [];
  let failures = 0;
  const before = cpu();
  const began = performance.now();
  const until = began + SECONDS * 1000;
  await Promise.all(Array.from({ length: SENDERS }, async (_, k) => {
    const url = base + route + (route === "/object" ? `?name=sender-${k}` : "");
    while (performance.now() < until) {
      const r = await request(url, { method: "POST", body: small });
      if (r.status === 200) latencies.push(r.ms); else failures++;
    }
  }));
  const elapsed = (performance.now() - began) / 1000;
  return { requestsPerSecond: latencies.length / elapsed, p50Ms: median(latencies), p99Ms: pct(latencies, 0.99), requests: latencies.length, failures, ...cpuPer(before, cpu(), latencies.length) };
}
const runs = Object.fromEntries(LOADED.map((route) => [route, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const route of round % 2 === 0 ? LOADED : [...LOADED].reverse()) {
    log(`${route}: ${SENDERS} senders for ${SECONDS} s, ${small.length} bytes, round ${round + 1} of ${ROUNDS}`);
    runs[route].push(await load(route));
  }
}
const loaded = Object.fromEntries(Object.entries(runs).map(([route, rs]) => {
  const of = (key) => (rs.every((r) => typeof r[key] === "number") ? { [key]: median(rs.map((r) => r[key])) } : {});
  return [route, { ...of("requestsPerSecond"), ...of("p50Ms"), ...of("p99Ms"), ...of("workerCpuMs"), ...of("proxyCpuMs"), failures: rs.reduce((n, r) => n + r.failures, 0), runs: rs }];
}));

// --- Report ------------------------------------------------------------------------------------------
const call = (route) => sequential[route].medianMs - sequential["/body"].medianMs;
const floor = { fullSync20000Ms: sequential["/decode"].medianMs + call("/d1") + call("/object"), of: "/decode + (/d1 - /body) + (/object - /body)" };
const results = { at: new Date().toISOString(), cores: os.cpus().length, loadAverage: os.loadavg()[0], bodyBytes: { big: big.length, small: small.length }, sequential20000: sequential, floor, loaded: { senders: SENDERS, seconds: SECONDS, rounds: ROUNDS, routes: loaded } };
fs.writeFileSync(values.out ?? path.join(ROOT, "bench/floor.json"), `${JSON.stringify(results, null, 2)}\n`);

const f = (x, d = 1) => (typeof x === "number" ? x.toFixed(d) : "");
const read = sequential["/body"].medianMs;
console.log(`\n20,000-identifier body (${big.length} bytes), median of ${RUNS} sequential requests; CPU per request from /proc (10 ms ticks)\n`);
console.log("| route | median ms | less /body | call ms (in Worker) | workerd CPU ms | proxy CPU ms |\n|---|---:|---:|---:|---:|---:|");
for (const [route, s] of Object.entries(sequential)) {
  const label = ROUTES.includes(route) ? route : `${route}: full sync, empty directory`;
  console.log(`| ${label} | ${f(s.medianMs)} | ${ROUTES.includes(route) ? f(s.medianMs - read) : ""} | ${f(s.callMedianMs, 0)} | ${f(s.workerCpuMs)} | ${f(s.proxyCpuMs)} |`);
}
console.log(`| floor of a full sync of 20,000: ${floor.of} | ${f(floor.fullSync20000Ms)} | | | | |`);
console.log(`\n${SENDERS} concurrent senders for ${SECONDS} s, 300-identifier body (${small.length} bytes), medians of ${ROUNDS} rounds\n`);
console.log("| route | requests/s | p50 ms | p99 ms | workerd CPU ms/req | proxy CPU ms/req | failures |\n|---|---:|---:|---:|---:|---:|---:|");
for (const [route, s] of Object.entries(loaded)) console.log(`| ${route} | ${f(s.requestsPerSecond, 0)} | ${f(s.p50Ms)} | ${f(s.p99Ms)} | ${f(s.workerCpuMs, 2)} | ${f(s.proxyCpuMs, 2)} | ${s.failures} |`);
process.exit(0);
