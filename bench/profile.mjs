#!/usr/bin/env node
// Where the Worker's time goes: `npm run profile [-- --seconds 10 --senders 8 --syncs 20]` serves this
// checkout (`npm start` with the devtools inspector on a port of its own, a fresh state directory,
// keyed pseudonyms on), takes CPU profiles of the Worker's isolate through workerd's inspector (the
// DevTools protocol) under two workloads, and prints for each where the sampled time went:
//   1. full syncs of 20,000 identifiers on an empty directory, from fresh clients;
//   2. honest traffic: SENDERS in parallel, each registering, syncing a 300-contact book in full and
//      then incrementally (bench/traffic.mjs, as bench/honest.mjs sends it).
// Each sample is put to the innermost frame of this service's code (or of a library: protobufjs,
// hono), found in the bundle by esbuild's "// path" lines, and that file to a part of the sync. The
// Worker's Durable Objects run in its isolate; local D1 runs in an isolate of its own on the same
// thread, so its SQL is not in the profile but in the CPU of the whole workerd process over the same
// seconds (from /proc), printed beside it. "(program)" is the isolate's native work outside
// JavaScript. With the inspector attached, wrangler reports every D1 and object call to it, so the
// end-to-end figures here are slower than `npm start`'s (bench/honest.mjs measures those); the shares
// of the Worker's own work are what this is for. Under the profiler a 20,000-identifier sync takes
// five times as long, most of it in its 20,000 allocations (protobuf's views of the identifiers): its
// profile shows where the profiler costs, so the script also times that sync's own parts in Node's V8
// (bench/parts.ts). The sampling interval is --interval microseconds (default 1,000: at 200 the
// profiler costs more still). Writes bench/profile.json, with the commit it measured.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { request } from "./http.mjs";
import { body, client, fillDirectory, honestSender, ids, post, serverCpu, startServer } from "./traffic.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, senders: { type: "string", default: "8" }, syncs: { type: "string", default: "20" }, port: { type: "string", default: "8796" }, "inspector-port": { type: "string", default: "9240" }, interval: { type: "string", default: "1000" } } });
const PORT = Number(values.port);
const INSPECTOR = Number(values["inspector-port"]);
const base = `http://localhost:${PORT}`;
const log = (m) => process.stderr.write(`${m}\n`);

/** The part of a sync each file of the bundle belongs to; the first match wins. */
const PARTS = [
  [/protobufjs|long\/|src\/proto\//, "protobuf decoding and encoding"],
  [/src\/core\/hyperloglog/, "sketch of identifiers (HyperLogLog)"],
  [/src\/core\/(sharding|lookup-key|key-filter)|src\/db\/(keying|layout|user-routing)/, "shard and lookup key computation"],
  [/pseudonym/, "keyed pseudonyms"],
  [/src\/db\//, "D1 statements: building, binding, reading rows"],
  [/src\/objects\/client-|src\/core\/(client-state|bucket|charge-policy|novelty|credentials|flag-rules)/, "client object: charge, record, its storage"],
  [/src\/objects\//, "shared objects (monitor, guards, S2 index)"],
  [/src\/domain\/(observation|monitoring|s2-filter)|src\/core\/(hit-ratio-norm|telemetry|egress)/, "observation and monitoring"],
  [/src\/core\/(wire|hex)|src\/http\/respond/, "answer: encoding, headers"],
  [/src\/http\/|hono/, "routing and request parsing"],
  [/src\/domain\/|src\/core\//, "sync logic (domain, core)"],
  [/wrangler\/templates|middleware|\.wrangler\//, "dev server middleware"],
  [/^src\/workers\/|miniflare/, "local runtime's JavaScript (Miniflare)"],
];

// --- The server and its inspector -------------------------------------------------------------------

const { server, state } = await startServer({ port: PORT, prefix: "icd-profile-", args: ["--inspector-port", String(INSPECTOR)] });
process.on("exit", () => { try { process.kill(-server.pid, "SIGTERM"); } catch {} fs.rmSync(state, { recursive: true, force: true }); });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(1));

// The Worker's isolate (its Durable Objects run there too), through the inspector wrangler's dev server
// fronts workerd's with. workerd's own inspector lists every isolate, local D1's among them, but answers
// only while an isolate runs a request, and not at all here once the Worker has served one.
const targets = JSON.parse((await request(`http://127.0.0.1:${INSPECTOR}/json`)).body.toString());

/** One DevTools session: call(method, params), and the scripts it has parsed. */
async function session(target) {
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { socket.on("open", resolve); socket.on("error", reject); });
  let nextId = 1;
  const pending = new Map();
  const scripts = [];
  socket.on("message", (data) => {
    const message = JSON.parse(String(data));
    if (message.id && pending.has(message.id)) { pending.get(message.id)?.(message); pending.delete(message.id); }
    else if (message.method === "Debugger.scriptParsed") scripts.push(message.params);
  });
  const call = (method, params = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
    socket.send(JSON.stringify({ id, method, params }));
  });
  // The bundle's files, by line: esbuild starts each with a "// path" line.
  await call("Debugger.enable");
  await new Promise((r) => setTimeout(r, 500));
  const files = new Map(); // scriptId -> [{ line, file }] in line order
  for (const script of scripts) {
    const { scriptSource } = await call("Debugger.getScriptSource", { scriptId: script.scriptId });
    const starts = [];
    scriptSource.split("\n").forEach((text, line) => {
      const m = /^\/\/ (\S+\.(?:[cm]?js|ts))$/.exec(text);
      if (m) starts.push({ line, file: m[1].replace(/^(\.\.\/)+(main\/)?/, "") });
    });
    if (starts.length === 0) starts.push({ line: 0, file: script.url || "(script)" });
    files.set(script.scriptId, starts);
  }
  await call("Debugger.disable");
  // wrangler's proxy turns on the runtime's Network events (every D1 and object call, every request
  // body, reported to devtools): off, they would cost more than what is measured.
  await call("Network.disable").catch(() => {});
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: Number(values.interval) });
  return { call, files, close: () => socket.close() };
}
const inspector = await session(targets[0]);

function fileOf(files, frame) {
  const starts = files.get(frame.scriptId);
  if (!starts || starts.length === 0) return null;
  let lo = 0, hi = starts.length - 1, found = null;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (starts[mid].line <= frame.lineNumber) { found = starts[mid].file; lo = mid + 1; } else hi = mid - 1; }
  return found;
}
const partOf = (file) => PARTS.find(([pattern]) => pattern.test(file))?.[1] ?? "other JavaScript";

/** Sampled milliseconds by part and by function, each sample put to its innermost frame in a file of the bundle. */
function attribute(profile, files) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const owner = new Map(); // node id -> { part, fn }
  const ownerOf = (id) => {
    if (owner.has(id)) return owner.get(id);
    const node = byId.get(id);
    const name = node.callFrame.functionName;
    let result;
    if (["(idle)", "(program)", "(garbage collector)", "(root)"].includes(name)) result = { part: name, fn: name };
    else {
      const file = fileOf(files, node.callFrame);
      if (file) result = { part: partOf(file), fn: `${name || "(anonymous)"} ${file}` };
      else {
        const up = parent.has(id) ? ownerOf(parent.get(id)) : { part: "other JavaScript", fn: "" };
        result = { part: up.part, fn: `${name || "(native)"} ← ${up.fn}` };
      }
    }
    owner.set(id, result);
    return result;
  };
  const parts = new Map(), functions = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    total += ms;
    const { part, fn } = ownerOf(id);
    parts.set(part, (parts.get(part) ?? 0) + ms);
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
  });
  return { total, parts, functions };
}

async function profiled(label, work) {
  const cpuBefore = serverCpu(base);
  await inspector.call("Profiler.start");
  const began = performance.now();
  const syncs = await work();
  const wallMs = performance.now() - began;
  const { profile } = await inspector.call("Profiler.stop");
  const cpuAfter = serverCpu(base);
  const perSync = (ms) => ms / syncs;
  const busyOf = ({ parts }) => [...parts].filter(([p]) => p !== "(idle)" && p !== "(root)");
  const worker = attribute(profile, inspector.files);
  const rows = busyOf(worker);
  rows.sort((a, b) => b[1] - a[1]);
  const busy = rows.reduce((sum, [, ms]) => sum + ms, 0);
  const workerdCpu = cpuAfter ? perSync(cpuAfter.worker - cpuBefore.worker) : null;
  const top = [...worker.functions].filter(([f]) => f !== "(idle)" && f !== "(root)").sort((a, b) => b[1] - a[1]).slice(0, 15);
  console.log(`\n## ${label}: ${syncs} syncs in ${(wallMs / 1000).toFixed(1)} s, ${perSync(wallMs).toFixed(1)} ms each`);
  console.log(`Worker's isolate busy ${perSync(busy).toFixed(2)} ms per sync; workerd process CPU ${workerdCpu?.toFixed(2) ?? "?"} ms per sync (everything local, the objects' storage included)\n`);
  console.log("| part | ms per sync | share of the isolate's busy time |\n|---|---|---|");
  for (const [part, ms] of rows) console.log(`| ${part} | ${perSync(ms).toFixed(3)} | ${((100 * ms) / busy).toFixed(1)}% |`);
  console.log("\nTop functions in the Worker's isolate (self time, ms per sync):");
  for (const [fn, ms] of top) console.log(`  ${perSync(ms).toFixed(3).padStart(7)}  ${fn}`);
  return { label, syncs, wallMs, busyMsPerSync: perSync(busy), workerdCpuMsPerSync: workerdCpu, parts: Object.fromEntries(rows.map(([p, ms]) => [p, perSync(ms)])), top: top.map(([fn, ms]) => ({ fn, msPerSync: perSync(ms) })) };
}

// --- The workloads ------------------------------------------------------------------------------------

const results = { at: new Date().toISOString(), command: `npm run profile -- ${process.argv.slice(2).join(" ")}`.trim(), samplingIntervalUs: Number(values.interval), workloads: [] };
{
  await request(`${base}/reset`);
  const count = Number(values.syncs);
  const clients = [];
  for (let i = 0; i < count + 3; i++) clients.push(await client(base));
  for (const c of clients.splice(0, 3)) await post(base, "/discovery/full", body(c, ids(20_000))); // warm-up
  const unprofiled = [];
  for (let i = 0; i < 5; i++) unprofiled.push((await post(base, "/discovery/full", body(await client(base), ids(20_000)))).ms);
  log(`full sync of 20,000, inspector attached, not profiling: ${unprofiled.map((ms) => ms.toFixed(1)).join(", ")} ms`);
  log(`profiling ${count} full syncs of 20,000`);
  results.workloads.push(await profiled("Full sync of 20,000 identifiers, empty directory", async () => {
    for (const c of clients) {
      const r = await post(base, "/discovery/full", body(c, ids(20_000)));
      if (r.status !== 200) throw new Error(`full sync: ${r.status} ${r.body}`);
    }
    return clients.length;
  }));
}
{
  const directory = await fillDirectory(base);
  const senders = Number(values.senders);
  log(`profiling honest traffic: ${senders} senders for ${values.seconds} s`);
  results.workloads.push(await profiled(`Honest traffic, ${senders} senders, 300-contact books, directory of 20,000 in S2`, async () => {
    const until = performance.now() + Number(values.seconds) * 1000;
    const tally = { syncs: 0, failures: 0, latencies: [] };
    await Promise.all(Array.from({ length: senders }, () => honestSender(base, directory, until, tally)));
    if (tally.syncs === 0) throw new Error(`honest traffic: no sync answered (${tally.failures} failures)`);
    return tally.syncs;
  }));
}
// The 20,000 sync's own parts, timed in Node's V8: under the profiler that sync is mostly the profiler.
const parts = spawnSync("node", ["scripts/run-ts.mjs", "bench/parts.ts", "--json"], { cwd: ROOT, encoding: "utf8" });
if (parts.status === 0) {
  results.fullSyncParts = JSON.parse(parts.stdout);
  console.log(`\n## The Worker's own parts of a full sync of 20,000, timed in Node's V8 (bench/parts.ts)\n\n| part | ms |\n|---|---|`);
  for (const { part, ms } of results.fullSyncParts.parts) console.log(`| ${part} | ${ms.toFixed(2)} |`);
  console.log(`| total | ${results.fullSyncParts.totalMs.toFixed(2)} |`);
}
results.commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
fs.writeFileSync(new URL("profile.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
inspector.close();
process.exit(0);
