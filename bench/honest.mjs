#!/usr/bin/env node
// Side by side, in one run: the common path of services that speak the protocol. For each URL:
//   1. a full sync of 20,000 identifiers on an empty directory, from fresh clients (median of 20);
//   2. honest traffic: SENDERS in parallel for SECONDS, each client registering, making one full
//      sync of a 300-contact book (40% registered) and then incremental syncs of it, on a directory
//      of 20,000 users added just now (so all in S2, as /test/add/many does on both): syncs/s, p50,
//      p99, the medians of ROUNDS rounds in which the targets take turns;
//   3. for this service (--service): the same traffic on a directory imported outside S2 (what a
//      directory mostly is: registered more than S2_DELTA ago), where the S2 index answers most
//      incremental syncs without D1; and the calls to shared monitor objects per sync.
// `node bench/honest.mjs --service http://localhost:8790 [--reference http://localhost:5001]
//  [--seconds 10] [--rounds 3] [--senders 1,8,32]`. For a local service it also reports the CPU its
//  workerd processes spent per sync (from /proc) and, from each answer's ICD-Costs header, the D1
//  calls, D1 rows read and Durable Object calls per sync. The ratios are at 8 senders.
// (the reference is started by hand, from its own checkout: docs/scaling.md). Writes bench/honest.json.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { request } from "./http.mjs";
import { body, client, fillDirectory as fill, honestSender, ids, post, serverCpu } from "./traffic.mjs";

const { values } = parseArgs({ options: { service: { type: "string" }, reference: { type: "string" }, seconds: { type: "string", default: "10" }, rounds: { type: "string", default: "3" }, senders: { type: "string", default: "1,8,32" }, token: { type: "string", default: process.env.ADMIN_TOKEN ?? "local-admin-token-change-me" } } });
const SECONDS = Number(values.seconds);
const SENDER_COUNTS = values.senders.split(",").map(Number);
const ROUNDS = Number(values.rounds);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]; };
const fillDirectory = (base, options = {}) => fill(base, { ...options, token: values.token });

async function metrics(base, token) {
  const response = await request(`${base}/admin/metrics`, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status !== 200) return null;
  const text = response.body.toString();
  const value = (name) => Number(/^(\S+) (\S+)$/m.exec(text.split("\n").filter((l) => l.startsWith(name + " ")).join("\n"))?.[2] ?? NaN);
  return { handovers: value("icd_monitor_handovers_total"), syncs: value("icd_monitor_handed_syncs_total") };
}

/** SENDERS in parallel for SECONDS: each registers a client, makes one full sync of its book and then incremental ones. */
async function honestTraffic(base, directory, SENDERS) {
  const tally = { syncs: 0, failures: 0, latencies: [], costs: { d1Calls: 0, d1Rows: 0, objectCalls: 0, reported: 0 } };
  const cpuBefore = serverCpu(base);
  const until = performance.now() + SECONDS * 1000;
  const began = performance.now();
  await Promise.all(Array.from({ length: SENDERS }, () => honestSender(base, directory, until, tally)));
  const elapsed = (performance.now() - began) / 1000;
  const cpuAfter = cpuBefore && serverCpu(base);
  const { syncs, failures, latencies, costs } = tally;
  const perSync = (x) => (syncs > 0 ? x / syncs : null);
  return {
    syncsPerSecond: syncs / elapsed, p50Ms: median(latencies), p99Ms: pct(latencies, 0.99), syncs, failures,
    ...(cpuAfter ? { workerCpuMsPerSync: perSync(cpuAfter.worker - cpuBefore.worker), proxyCpuMsPerSync: perSync(cpuAfter.proxy - cpuBefore.proxy) } : {}),
    ...(costs.reported > 0 ? { d1CallsPerSync: costs.d1Calls / costs.reported, d1RowsPerSync: costs.d1Rows / costs.reported, objectCallsPerSync: costs.objectCalls / costs.reported } : {}),
  };
}

async function emptyFullSyncs(base) {
  await request(`${base}/reset`);
  const empty = [];
  for (let i = 0; i < 23; i++) {
    const c = await client(base);
    const r = await post(base, "/discovery/full", body(c, ids(20_000)));
    if (r.status !== 200) throw new Error(`full sync of 20,000: ${r.status}`);
    if (i >= 3) empty.push(r.ms); // three warm-ups
  }
  return { medianMs: median(empty), n: empty.length };
}

/** The medians of ROUNDS runs, and the runs. */
const medians = (runs, senders) => {
  const of = (key) => (runs.every((r) => typeof r[key] === "number") ? { [key]: median(runs.map((r) => r[key])) } : {});
  return {
    senders,
    seconds: SECONDS,
    ...of("syncsPerSecond"), ...of("p50Ms"), ...of("p99Ms"),
    ...of("workerCpuMsPerSync"), ...of("proxyCpuMsPerSync"), ...of("d1CallsPerSync"), ...of("d1RowsPerSync"), ...of("objectCallsPerSync"),
    runs,
  };
};

const targets = [["service", values.service], ["reference", values.reference]].filter(([, base]) => base);
const results = { at: new Date().toISOString(), commit: spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim(), command: `node bench/honest.mjs ${process.argv.slice(2).join(" ")}` };
for (const [name, base] of targets) {
  process.stderr.write(`${name}: ${base}: empty full syncs\n`);
  results[name] = { emptyFullSync20000: await emptyFullSyncs(base) };
}
// Honest traffic at each sender count, the targets taking turns round by round, so that a noisy
// moment hits both.
let shared = null;
for (const senders of SENDER_COUNTS) {
  const runs = Object.fromEntries(targets.map(([name]) => [name, []]));
  const established = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, base] of round % 2 === 0 ? targets : [...targets].reverse()) {
      process.stderr.write(`${name}: honest traffic, ${senders} senders, round ${round + 1} of ${ROUNDS}\n`);
      const directory = await fillDirectory(base);
      const before = name === "service" ? await metrics(base, values.token) : null;
      runs[name].push(await honestTraffic(base, directory, senders));
      const after = name === "service" ? await metrics(base, values.token) : null;
      if (before && after) shared = { handovers: (shared?.handovers ?? 0) + after.handovers - before.handovers, syncs: (shared?.syncs ?? 0) + after.syncs - before.syncs };
      if (name === "service") {
        // The same traffic on a directory registered before S2's window: the S2 index spares D1 the incremental syncs.
        process.stderr.write(`${name}: honest traffic, ${senders} senders, directory outside S2, round ${round + 1} of ${ROUNDS}\n`);
        established.push(await honestTraffic(base, await fillDirectory(base, { outsideS2: true }), senders));
      }
    }
  }
  for (const [name] of targets) (results[name].honestBySenders ??= []).push(medians(runs[name], senders));
  if (results.service) (results.service.honestDirectoryOutsideS2BySenders ??= []).push(medians(established, senders));
}
for (const [name] of targets) results[name].honest = results[name].honestBySenders.find((h) => h.senders === 8) ?? results[name].honestBySenders[0];
if (results.service) {
  results.service.honestDirectoryOutsideS2 = results.service.honestDirectoryOutsideS2BySenders.find((h) => h.senders === 8) ?? results.service.honestDirectoryOutsideS2BySenders[0];
  if (shared) Object.assign(results.service, { sharedObjectCallsPerSync: shared.handovers / Math.max(1, shared.syncs), monitorHandovers: shared.handovers, syncsInThem: shared.syncs });
}
if (results.service && results.reference) {
  results.ratios = {
    honestThroughput: results.service.honest.syncsPerSecond / results.reference.honest.syncsPerSecond,
    emptyFullSync: results.service.emptyFullSync20000.medianMs / results.reference.emptyFullSync20000.medianMs,
  };
}
fs.writeFileSync(new URL("honest.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
