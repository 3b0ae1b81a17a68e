#!/usr/bin/env node
// `npm run rekey -- [--server URL] [--batch N]`
//
// Wraps every stored pseudonym under the current key of PSEUDONYM_KEYS (the highest version), while
// the service keeps answering: calls POST /admin/rekey/step until every row is at that version
// (docs/pseudonyms.md). Run it after adding a key; the same command migrates a deployment that
// stores plain identifiers (rows of version 0) to version 1. The admin token comes from $ADMIN_TOKEN
// or .dev.vars; the server from --server, $ICD_SERVER, or localhost:$PORT (8787).
//
// Resuming: the progress lives in the service (USERS_0), not here, and every step is safe to repeat,
// so after an interruption (a kill, a lost connection) the same command carries on where it was.
//
// --batch N: rows read per step (default 1000, at most 5000).

import { parseArgs } from "node:util";
import { readDevVar } from "./dev-vars.mjs";
import { adminCaller } from "./admin-call.mjs";

const USAGE = "usage: npm run rekey -- [--server URL] [--batch N]";
let values;
try {
  ({ values } = parseArgs({ options: { server: { type: "string" }, batch: { type: "string", default: "1000" } } }));
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
const server = values.server ?? process.env.ICD_SERVER ?? `http://localhost:${process.env.PORT ?? 8787}`;
const batch = Number(values.batch);
const token = process.env.ADMIN_TOKEN ?? readDevVar("ADMIN_TOKEN");
if (!token) {
  console.error("no admin token: set ADMIN_TOKEN or put it in .dev.vars");
  process.exit(2);
}
if (!Number.isInteger(batch) || batch < 1) {
  console.error(USAGE);
  process.exit(2);
}

const call = adminCaller(server, token, "/admin/rekey");

const status = await call("GET", "");
if (status.stored >= status.target && status.progress.length === 0) {
  console.log(`nothing to wrap: every row is at key version ${status.target} (fingerprint ${status.fingerprint})`);
  process.exit(0);
}
console.log(`rows at key version ${status.stored}, wrapping to ${status.target} (fingerprint ${status.fingerprint})`);

const started = Date.now();
let steps = 0;
for (;;) {
  const step = await call("POST", `/step?batch=${batch}`);
  if (step.action === "none") break;
  steps++;
  if (step.action === "wrap") {
    // One line per step, so that a log (or a test) can follow the progress.
    const bar = "#".repeat(Math.round(step.passDone * 30)).padEnd(30, ".");
    console.log(`wrap ${step.target - 1} -> ${step.target} pass ${step.pass} [${bar}] ${(step.passDone * 100).toFixed(1)}% shard ${step.shard}: ${step.scanned} read, ${step.moved} moved`);
  } else {
    const said = {
      begin: `begin ${step.target - 1} -> ${step.target}: every write now stores version ${step.target}`,
      pass: `pass ${step.pass}: once more over every shard, for rows written behind the last one`,
      finish: `finished: every row is at key version ${step.target}. Keep every key in PSEUDONYM_KEYS: a pseudonym is computed through all of them (docs/pseudonyms.md)`,
    };
    console.log(said[step.action] ?? JSON.stringify(step));
  }
}
console.log(`done: ${steps} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
