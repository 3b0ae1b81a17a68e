#!/usr/bin/env node
// `npm run import -- FILE [--server URL] [--announce] [--batch N]`
//
// Streams a directory export into POST /admin/users/import. FILE has one user per line:
// `<hex identifier>,<hex SHA-256 of the user's token>` (a header line, blank lines and lines starting
// with # are skipped). The credential is an account-service key, `<id>.<secret>`, from $ADMIN_KEY, or
// locally the legacy $ADMIN_TOKEN or .dev.vars's.
//
// Resuming: after each batch the server acknowledges, the byte offset just past it is saved in
// FILE.import-progress. Run the same command again after an interruption and it continues from there.
// A batch that was sent but not acknowledged is sent again, which is safe: the import is idempotent,
// so no user is imported twice and none is skipped.

import { createReadStream, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { readDevVar } from "./dev-vars.mjs";

const USAGE = "usage: npm run import -- FILE [--server URL] [--announce] [--batch N]";
let parsed;
try {
  parsed = parseArgs({
    options: { server: { type: "string" }, batch: { type: "string", default: "10000" }, announce: { type: "boolean", default: false } },
    allowPositionals: true,
  });
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
const { values, positionals } = parsed;
const file = positionals[0];
if (!file || positionals.length > 1) {
  console.error(USAGE);
  process.exit(2);
}
const server = values.server ?? process.env.ICD_SERVER ?? `http://localhost:${process.env.PORT ?? 8787}`;
const batchSize = Number(values.batch);
const announce = values.announce;
const token = process.env.ADMIN_KEY ?? process.env.ADMIN_TOKEN ?? readDevVar("ADMIN_TOKEN");
if (!token) {
  console.error("no credential: set ADMIN_KEY to an account-service key (<id>.<secret>), or locally ADMIN_TOKEN");
  process.exit(2);
}

const { size, mtimeMs } = statSync(file);
const progressFile = `${file}.import-progress`;
let progress = { offset: 0, imported: 0, received: 0, size, mtimeMs };
if (existsSync(progressFile)) {
  const saved = JSON.parse(readFileSync(progressFile, "utf8"));
  if (saved.size !== size || saved.mtimeMs !== mtimeMs) {
    console.error(`${file} changed since the interrupted import; delete ${progressFile} to start over`);
    process.exit(2);
  }
  progress = saved;
  console.error(`resuming at byte ${progress.offset} of ${size} (${progress.received} users already sent)`);
}

function saveProgress() {
  writeFileSync(`${progressFile}.tmp`, JSON.stringify(progress));
  renameSync(`${progressFile}.tmp`, progressFile); // atomic: a kill never leaves half a file
}

const HEX = /^[0-9a-fA-F]+$/;
const started = Date.now();
const startReceived = progress.received;
const startOffset = progress.offset;

function showProgress(final = false) {
  const fraction = size === 0 ? 1 : progress.offset / size;
  const width = 30;
  const bar = "#".repeat(Math.round(fraction * width)).padEnd(width, ".");
  const seconds = (Date.now() - started) / 1000;
  const rate = (progress.received - startReceived) / Math.max(seconds, 0.001);
  const done = progress.offset - startOffset; // bytes this run
  const eta = done > 0 && !final ? ` eta ${Math.round((seconds / done) * (size - progress.offset))}s` : "";
  process.stderr.write(`\r[${bar}] ${(fraction * 100).toFixed(1)}% ${progress.received.toLocaleString()} users, ${Math.round(rate).toLocaleString()}/s${eta}   ${final ? "\n" : ""}`);
}

async function send(users, endOffset) {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${server}/admin/users/import`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ users, announce }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 400 || response.status === 401) throw Object.assign(new Error(body.error ?? response.statusText), { fatal: true });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      progress = { ...progress, offset: endOffset, received: progress.received + body.received, imported: progress.imported + body.imported };
      saveProgress();
      return;
    } catch (error) {
      if (error.fatal || attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt)); // the server restarting, say
    }
  }
}

// Reads whole lines from the saved offset, tracking the byte offset just past each line.
let offset = progress.offset;
let pending = Buffer.alloc(0);
let batch = [];
let lineNumber = 0;
for await (const chunk of createReadStream(file, { start: progress.offset })) {
  pending = Buffer.concat([pending, chunk]);
  let newline;
  while ((newline = pending.indexOf(0x0a)) >= 0) {
    const line = pending.subarray(0, newline).toString("utf8").trim();
    pending = pending.subarray(newline + 1);
    offset += newline + 1;
    lineNumber++;
    if (line === "" || line.startsWith("#")) continue;
    const [id, tokenHash] = line.split(",").map((field) => field.trim());
    if (!HEX.test(id ?? "") || !HEX.test(tokenHash ?? "")) {
      if (lineNumber === 1 && progress.offset === 0) continue; // a header
      console.error(`\nline at byte ${offset - newline - 1} is not "<hex id>,<hex token hash>"; stopping`);
      process.exit(1);
    }
    batch.push([id, tokenHash]);
    if (batch.length === batchSize) {
      await send(batch, offset);
      batch = [];
      showProgress();
    }
  }
}
if (pending.length > 0) {
  const [id, tokenHash] = pending.toString("utf8").trim().split(",").map((field) => field.trim());
  if (HEX.test(id ?? "") && HEX.test(tokenHash ?? "")) batch.push([id, tokenHash]);
  offset += pending.length;
}
if (batch.length > 0) await send(batch, offset);
else if (offset !== progress.offset) {
  progress.offset = offset;
  saveProgress();
}
showProgress(true);
console.error(`done: ${progress.received.toLocaleString()} users sent, ${progress.imported.toLocaleString()} newly registered`);
rmSync(progressFile, { force: true });
