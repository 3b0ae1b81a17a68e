#!/usr/bin/env node
// Side by side, in one run: the common path of services that speak the protocol. For each URL:
//   1. a full sync of 20,000 identifiers on an empty directory, from fresh clients (median of 20);
//   2. honest traffic: SENDERS in parallel for SECONDS, each client registering, making one full
//      sync of a 300-contact book (40% registered) and then incremental syncs of it: syncs/s, p50, p99;
//   3. for this service (--service), the calls to shared monitor objects per sync, from /admin/metrics.
// `node bench/honest.mjs --service http://localhost:8790 [--reference http://localhost:5001]`
// (the reference is started by hand, from its own checkout: docs/scaling.md). Writes bench/honest.json.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { ICD } from "../src/proto/icd.js";
import { request } from "./http.mjs";

const { values } = parseArgs({ options: { service: { type: "string" }, reference: { type: "string" }, seconds: { type: "string", default: "20" }, senders: { type: "string", default: "8" }, token: { type: "string", default: process.env.ADMIN_TOKEN ?? "local-admin-token-change-me" } } });
const SECONDS = Number(values.seconds);
const SENDERS = Number(values.senders);
const BOOK = 300;
const KNOWN = 120; // 40% of the book registered
const INCREMENTALS = 4;
const DIRECTORY = 20_000;

const id = () => new Uint8Array(randomBytes(32));
const ids = (n) => Array.from({ length: n }, id);
const body = (client, identifiers = []) => ICD.Request.encode({ user: client?.user, authToken: client?.authToken, identifiers }).finish();
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]; };

const post = (base, path, payload) => request(base + path, { method: "POST", body: payload });

async function client(base) {
  const c = { user: id(), authToken: id() };
  const { status } = await post(base, "/user/register", body(c));
  if (status !== 200) throw new Error(`register: ${status}`);
  return c;
}

async function metrics(base, token) {
  const response = await request(`${base}/admin/metrics`, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status !== 200) return null;
  const text = response.body.toString();
  const value = (name) => Number(/^(\S+) (\S+)$/m.exec(text.split("\n").filter((l) => l.startsWith(name + " ")).join("\n"))?.[2] ?? NaN);
  return { handovers: value("icd_monitor_handovers_total"), syncs: value("icd_monitor_handed_syncs_total") };
}

async function measure(name, base) {
  process.stderr.write(`${name}: ${base}\n`);
  await request(`${base}/reset`);
  const empty = [];
  for (let i = 0; i < 23; i++) {
    const c = await client(base);
    const r = await post(base, "/discovery/full", body(c, ids(20_000)));
    if (r.status !== 200) throw new Error(`full sync of 20,000: ${r.status}`);
    if (i >= 3) empty.push(r.ms); // three warm-ups
  }
  const directory = ids(DIRECTORY);
  for (let at = 0; at < DIRECTORY; at += 10_000) await post(base, "/test/add/many", body({}, directory.slice(at, at + 10_000)));
  const before = name === "service" ? await metrics(base, values.token) : null;
  const latencies = [];
  let syncs = 0;
  let failures = 0;
  const until = performance.now() + SECONDS * 1000;
  const sender = async () => {
    while (performance.now() < until) {
      const c = await client(base);
      const start = Math.floor(Math.random() * (DIRECTORY - KNOWN));
      const book = [...directory.slice(start, start + KNOWN), ...ids(BOOK - KNOWN)];
      for (const [k, path] of ["/discovery/full", ...Array(INCREMENTALS).fill("/discovery/incremental")].entries()) {
        if (k > 0 && performance.now() >= until) break;
        const r = await post(base, path, body(c, book));
        if (r.status === 200) { syncs++; latencies.push(r.ms); } else failures++;
      }
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: SENDERS }, sender));
  const elapsed = (performance.now() - began) / 1000;
  const after = name === "service" ? await metrics(base, values.token) : null;
  const shared = before && after ? { handovers: after.handovers - before.handovers, syncs: after.syncs - before.syncs } : null;
  return {
    emptyFullSync20000: { medianMs: median(empty), n: empty.length },
    honest: { syncsPerSecond: syncs / elapsed, p50Ms: median(latencies), p99Ms: pct(latencies, 0.99), syncs, failures, senders: SENDERS, seconds: SECONDS },
    ...(shared ? { sharedObjectCallsPerSync: shared.handovers / Math.max(1, shared.syncs), monitorHandovers: shared.handovers, syncsInThem: shared.syncs } : {}),
  };
}

const results = { at: new Date().toISOString() };
if (values.service) results.service = await measure("service", values.service);
if (values.reference) results.reference = await measure("reference", values.reference);
if (results.service && results.reference) {
  results.ratios = {
    honestThroughput: results.service.honest.syncsPerSecond / results.reference.honest.syncsPerSecond,
    emptyFullSync: results.service.emptyFullSync20000.medianMs / results.reference.emptyFullSync20000.medianMs,
  };
}
fs.writeFileSync(new URL("honest.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
