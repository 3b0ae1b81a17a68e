#!/usr/bin/env node
// Which key and transport for a 20,000-identifier lookup: today's primary key on the identifier with
// a JSON list of hex strings, against an integer key k (the first 6 bytes) with a JSON list of
// integers, as a WITHOUT ROWID primary key (k, id) or a rowid table with a unique index (k, id); and
// what comes back to verify the full identifier. One local D1 database per schema, the same size and
// identifier length, queried in turn (round robin) so that load on the machine hits all alike.
//
// `node bench/lookup-keys.mjs`; env LK_SIZES (default 1000000,10000000), LK_BYTES (16,32), LK_RUNS (30),
// LK_OUT (a JSON file for the results; bench/lookup-keys.json holds the run behind docs/scaling.md).
// Prints medians; sql = meta.duration inside D1, d1 = the D1 call seen by the Worker, e2e = the whole
// request seen from Node (building the list, the call, verifying, the answer).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const here = path.dirname(fileURLToPath(import.meta.url));
const SIZES = (process.env.LK_SIZES ?? "1000000,10000000").split(",").map(Number);
const BYTES = (process.env.LK_BYTES ?? "16,32").split(",").map(Number);
const RUNS = Number(process.env.LK_RUNS ?? 30);
const WARMUPS = 3;
const IDS = 20_000;
const HITS = 2_000;
const VARIANTS = [
  { schema: "hex", query: "hex" },
  { schema: "kid", query: "int+hex(id)" },
  { schema: "kid", query: "int+hex(rest)" },
  { schema: "kid", query: "int+blob(id)" },
  { schema: "rowid", query: "int+hex(id)" },
];
const SCHEMAS = [...new Set(VARIANTS.map((v) => v.schema))];

const log = (msg) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const f = (x, d = 1) => x.toFixed(d).padStart(7);

const report = [];
for (const n of SIZES) {
  for (const bytes of BYTES) {
    const persist = fs.mkdtempSync(path.join(os.tmpdir(), "icd-lookup-keys-"));
    const mf = new Miniflare({
      modules: true,
      scriptPath: path.join(here, "lookup-keys.worker.js"),
      compatibilityDate: "2026-04-20",
      d1Databases: SCHEMAS.map((s) => `DB_${s}`),
      d1Persist: persist,
    });
    const call = async (route, body) => {
      const started = performance.now();
      const res = await mf.dispatchFetch(`http://bench${route}`, { method: "POST", body: JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${route}: ${res.status} ${text}`);
      return { ...JSON.parse(text), e2eMs: performance.now() - started };
    };
    try {
      const sizes = {};
      for (const schema of SCHEMAS) {
        log(`${n.toLocaleString()} users, ${bytes}-byte ids: filling ${schema}`);
        sizes[schema] = (await call("/setup", { db: `DB_${schema}`, schema, n, bytes })).size;
        await call("/sample", { db: `DB_${schema}` });
      }
      const samples = VARIANTS.map(() => ({ sqlMs: [], d1Ms: [], e2eMs: [] }));
      const first = [];
      for (let round = 0; round < WARMUPS + RUNS; round++) {
        for (const [v, variant] of VARIANTS.entries()) {
          const r = await call("/lookup", { db: `DB_${variant.schema}`, ...variant, bytes, ids: IDS, hits: HITS });
          if (r.found !== HITS) throw new Error(`${variant.schema}/${variant.query}: found ${r.found} of ${HITS}`);
          if (round === 0) first[v] = r;
          if (round < WARMUPS) continue;
          for (const key of ["sqlMs", "d1Ms", "e2eMs"]) samples[v][key].push(r[key]);
        }
      }
      const plans = await Promise.all(VARIANTS.map((v) => call("/plan", { db: `DB_${v.schema}`, ...v })));
      const rows = VARIANTS.map((v, i) => ({
        ...v,
        sql: median(samples[i].sqlMs),
        d1: median(samples[i].d1Ms),
        e2e: median(samples[i].e2eMs),
        paramChars: first[i].paramChars,
        plan: plans[i].plan.join(" | "),
      }));
      const base = rows[0];
      console.log(`\n${n.toLocaleString()} users, ${bytes}-byte identifiers: ${IDS.toLocaleString()} per lookup, ${HITS.toLocaleString()} registered; medians of ${RUNS} (ms)`);
      console.log(`${"schema".padEnd(6)} ${"sent / returned".padEnd(14)}   param     sql      d1     e2e   sql/hex e2e/hex`);
      for (const r of rows) {
        console.log(`${r.schema.padEnd(6)} ${r.query.padEnd(14)} ${String(r.paramChars).padStart(8)} ${f(r.sql)} ${f(r.d1)} ${f(r.e2e)}   ${f(r.sql / base.sql, 2)} ${f(r.e2e / base.e2e, 2)}`);
      }
      for (const r of rows) console.log(`  plan ${r.schema}/${r.query}: ${r.plan}`);
      console.log(`  bytes per user: ${SCHEMAS.map((s) => `${s} ${(sizes[s] / n).toFixed(1)}`).join(", ")}`);
      report.push({ users: n, bytes, rows, sizes });
      if (process.env.LK_OUT) fs.writeFileSync(process.env.LK_OUT, `${JSON.stringify(report, null, 2)}\n`);
    } finally {
      await mf.dispose();
      fs.rmSync(persist, { recursive: true, force: true });
    }
  }
}
