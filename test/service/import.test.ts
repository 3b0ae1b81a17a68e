// "The import resumes after an interruption without duplicating or losing a user." `npm run import`
// (scripts/import.mjs) streams a CSV into the service as `npm start` runs it; partway through, the
// import process gets SIGKILL; the same command then finishes the job. Every user of the file must
// end up registered exactly once, with a token that works, and none of them "added" in S2.
//
// Runs in Node (the "service" project of test/vitest.config.ts), not in the Workers pool.

import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { adminToken, callIcd, runScript, scratchServices } from "./service";

const USERS = 40_000;
const BATCH = 1_000;
/** The kill comes once this many users were acknowledged: a quarter of the file. */
const KILL_AFTER = 10_000;

const scratch = scratchServices("icd-import-");

interface User {
  id: Buffer;
  token: Buffer;
}

it("resumes a killed import without losing or duplicating a user", async () => {
  const service = await scratch.start(path.join(scratch.dir, "state"));

  const users: User[] = Array.from({ length: USERS }, () => ({ id: randomBytes(32), token: randomBytes(16) }));
  const file = path.join(scratch.dir, "users.csv");
  const lines = users.map((u) => `${u.id.toString("hex")},${createHash("sha256").update(u.token).digest("hex")}`);
  writeFileSync(file, `id,token_hash\n${lines.join("\n")}\n`);
  const progressFile = `${file}.import-progress`;

  // --- the first run, killed partway ---
  const first = runImport(service.base, file);
  let acknowledged = 0;
  for (const deadline = Date.now() + 120_000; acknowledged < KILL_AFTER; await sleep(10)) {
    if (Date.now() > deadline) throw new Error(`no progress past ${acknowledged} users:\n${first.output()}`);
    if (first.child.exitCode !== null) throw new Error(`the import ended before the kill:\n${first.output()}`);
    acknowledged = progressOf(progressFile)?.received ?? 0;
  }
  first.child.kill("SIGKILL");
  await first.exited;
  const saved = progressOf(progressFile)!;
  expect(saved.received).toBeGreaterThanOrEqual(KILL_AFTER);
  expect(saved.received).toBeLessThan(USERS);
  // What the server holds: every acknowledged batch, and at most the one batch in flight at the kill.
  const midway = await stats(service.base);
  expect(midway.users).toBeGreaterThanOrEqual(saved.received);
  expect(midway.users).toBeLessThanOrEqual(saved.received + BATCH);

  // --- the same command again ---
  const second = runImport(service.base, file);
  expect(await second.exited).toBe(0);
  expect(second.output()).toContain(`resuming at byte ${saved.offset}`);
  expect(second.output()).toContain(`done: ${USERS.toLocaleString()} users sent`);
  expect(existsSync(progressFile)).toBe(false);

  // Everyone once, nobody lost, nobody announced in S2.
  const after = await stats(service.base);
  expect(after.users).toBe(USERS);
  expect(after.s2.added).toBe(0);

  // Tokens work, and the users are found: on both sides of the kill, and the last line of the file.
  const sample = [...new Set([0, saved.received - 1, saved.received, Math.min(saved.received + BATCH, USERS - 2), USERS - 1])].map((i) => users[i]!);
  const unknown = randomBytes(32);
  for (const [k, client] of sample.entries()) {
    const others = sample.filter((_, j) => j !== k).map((u) => u.id);
    const full = await callIcd(service.base, "/discovery/full", { user: client.id, authToken: client.token, identifiers: [...others, unknown] });
    expect(full.status).toBe(200);
    expect(full.answer.addedUsers.map((id) => Buffer.from(id).toString("hex"))).toEqual(others.map((id) => id.toString("hex")));
    const incremental = await callIcd(service.base, "/discovery/incremental", { user: client.id, authToken: client.token, identifiers: others });
    expect(incremental.status).toBe(200);
    expect(incremental.answer.addedUsers).toHaveLength(0); // imported, not announced: no news
  }
}, 240_000);

function runImport(base: string, file: string) {
  return runScript(["scripts/import.mjs", file, "--server", base, "--batch", String(BATCH)]);
}

/** The saved progress, or null while there is none (or it is being replaced: the rename is atomic, the read may not see it). */
function progressOf(file: string): { offset: number; received: number } | null {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

async function stats(base: string): Promise<{ users: number; s2: { added: number } }> {
  const response = await fetch(`${base}/admin/stats`, { headers: { Authorization: `Bearer ${adminToken()}` } });
  if (response.status !== 200) throw new Error(`GET /admin/stats: ${response.status}`);
  return response.json() as Promise<{ users: number; s2: { added: number } }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
