#!/usr/bin/env node
// `npm run reshard -- [--server URL] [--batch N] [--parallel P]`
//
// Moves users to the shards that are bound but hold nobody yet (USERS_SHARDS smaller than the
// USERS_ bindings; docs/scaling.md), while the service keeps answering: calls
// POST /admin/reshard/step until there is nothing left to move. The admin token comes from
// $ADMIN_TOKEN or .dev.vars; the server from --server, $ICD_SERVER, or localhost:$PORT (8787).
//
// Resuming: the progress lives in the service (USERS_0), not here, and every step is safe to repeat,
// so after an interruption (a kill, a lost connection) the same command carries on where it was.
//
// --batch N: rows read per step (default 1000, at most 5000). --parallel P: P steps at a time, each
// on its own old shards (every old shard is its own database), for directories of many shards.

import { parseArgs } from "node:util";
import { readDevVar } from "./dev-vars.mjs";
import { adminCaller } from "./admin-call.mjs";

const USAGE = "usage: npm run reshard -- [--server URL] [--batch N] [--parallel P]";
let values;
try {
  ({ values } = parseArgs({ options: { server: { type: "string" }, batch: { type: "string", default: "1000" }, parallel: { type: "string", default: "1" } } }));
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
const server = values.server ?? process.env.ICD_SERVER ?? `http://localhost:${process.env.PORT ?? 8787}`;
const batch = Number(values.batch);
const parallel = Number(values.parallel);
const token = process.env.ADMIN_TOKEN ?? readDevVar("ADMIN_TOKEN");
if (!token) {
  console.error("no admin token: set ADMIN_TOKEN or put it in .dev.vars");
  process.exit(2);
}
if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(parallel) || parallel < 1) {
  console.error(USAGE);
  process.exit(2);
}

const call = adminCaller(server, token, "/admin/reshard");

const status = await call("GET", "");
const { count, moving } = status.layout;
if (!moving && count >= status.bound && !status.progress.length) {
  console.log(`nothing to move: users are on all ${status.bound} bound shards`);
  process.exit(0);
}
console.log(`users on ${count} shard${count === 1 ? "" : "s"}${moving ? `, moving to ${count + 1}` : ""}; ${status.bound} bound`);

const started = Date.now();
let steps = 0;
async function lane(j) {
  for (;;) {
    const step = await call("POST", `/step?batch=${batch}&lane=${j}&lanes=${parallel}`);
    if (step.action === "none") return;
    steps++;
    const move = `${step.to - 1} -> ${step.to}`;
    if (step.action === "copy" || step.action === "clean") {
      // One line per step, so that a log (or a test) can follow the progress.
      const bar = "#".repeat(Math.round(step.stageDone * 30)).padEnd(30, ".");
      console.log(`${step.action} ${move} [${bar}] ${(step.stageDone * 100).toFixed(1)}% shard ${step.shard}: ${step.scanned} read, ${step.changed} ${step.action === "copy" ? "copied" : "deleted"}`);
    } else {
      const said = { begin: `begin ${move}: moving users are now written to USERS_${step.to - 1}`, commit: `commit ${move}: moved users are read from USERS_${step.to - 1} only`, finish: `finished ${move}` };
      console.log(said[step.action] ?? JSON.stringify(step));
    }
  }
}
await Promise.all(Array.from({ length: parallel }, (_, j) => lane(j)));
console.log(`done: ${steps} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
