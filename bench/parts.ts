// The Worker's own work in a full sync of 20,000 identifiers (10% registered), part by part, timed in
// Node's V8 (the engine workerd runs): `node scripts/run-ts.mjs bench/parts.ts [--json]`, which
// `npm run profile` runs and prints beside its profiles. workerd's clock does not advance while a
// Worker computes, and a CPU profile of this sync is mostly the profiler's own cost (its allocations
// are what it slows most: bench/profile.mjs), so the parts are timed here instead: medians of 21 runs
// after 5 warm-ups. The AES is node:crypto's, as src/domain/pseudonyms.ts has it in workerd.

import { createCipheriv, randomBytes } from "node:crypto";
import { toHex } from "../src/core/hex";
import { sketchOf } from "../src/core/hyperloglog";
import { jsonKeyList, keysOf } from "../src/core/lookup-key";
import { cmacAll, cmacKey, splitPseudonyms } from "../src/core/pseudonym";
import { groupByShard, probeOrder } from "../src/core/sharding";
import { encodeResponse, parseRequest, Result } from "../src/core/wire";
import { ICD } from "../src/proto/icd.js";

const N = 20_000;
const FOUND = 2_000;
const ids = Array.from({ length: N }, () => new Uint8Array(randomBytes(32)));
const body = ICD.Request.encode({ user: new Uint8Array(randomBytes(32)), authToken: new Uint8Array(randomBytes(32)), identifiers: ids }).finish();
const cipher = createCipheriv("aes-256-ecb", randomBytes(32), new Uint8Array(0));
cipher.setAutoPadding(false);
const key = cmacKey((data) => {
  const out = cipher.update(data);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
});
const pseudonyms = splitPseudonyms(cmacAll(key, ids));
const order = probeOrder(pseudonyms);
const found = ids.slice(0, FOUND);

const parts: [string, () => unknown][] = [
  ["protobuf decoding and checks", () => parseRequest(body, { identifiers: true, credentials: true })],
  ["keyed pseudonyms (AES-CMAC, split)", () => splitPseudonyms(cmacAll(key, ids))],
  ["probe order and shard groups", () => groupByShard(pseudonyms, 1, probeOrder(pseudonyms))],
  ["lookup keys and their JSON list", () => jsonKeyList(keysOf(pseudonyms), order)],
  ["found rows checked against their ids (hex)", () => found.map(toHex)],
  ["sketch of identifiers (HyperLogLog)", () => sketchOf(ids)],
  ["answer encoded (2,000 found)", () => encodeResponse({ result: Result.SUCCESS, added: found })],
];

const median = (run: () => unknown) => {
  for (let i = 0; i < 5; i++) run();
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const began = performance.now();
    run();
    times.push(performance.now() - began);
  }
  return times.sort((a, b) => a - b)[10]!;
};

const measured = parts.map(([part, run]) => ({ part, ms: median(run) }));
const total = measured.reduce((sum, p) => sum + p.ms, 0);
if (process.argv.includes("--json")) console.log(JSON.stringify({ identifiers: N, found: FOUND, parts: measured, totalMs: total }));
else {
  console.log(`| part of a full sync of ${N.toLocaleString("en-US")} (Node's V8) | ms |\n|---|---|`);
  for (const { part, ms } of measured) console.log(`| ${part} | ${ms.toFixed(2)} |`);
  console.log(`| total | ${total.toFixed(2)} |`);
}
