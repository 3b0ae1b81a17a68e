// "Rotation without the identifiers": `npm run rekey` (scripts/rekey.mjs) wraps every stored
// pseudonym under a new key while the service answers, and resumes after being killed. Users
// registered under key 1; the service restarted with keys 1 and 2; the command killed partway with
// syncs running, then run again to the end: every user found exactly once, every token working, and
// the rows all at version 2. Then the service started without its key, and with a wrong one: it
// refuses to serve, naming PSEUDONYM_KEYS.
//
// Runs in Node (the "service" project of test/vitest.config.ts), not in the Workers pool.

import { randomBytes } from "node:crypto";
import path from "node:path";
import { expect, it } from "vitest";
import { ICD } from "../../src/proto/icd.js";
import { adminToken, callIcd, envFile, runScript, scratchServices } from "./service";

const scratch = scratchServices("icd-rekey-");
const CLIENTS = 200;
const ADDED = 6_000;
const BATCH = 200;
/** The kill comes after this many wrap steps: about half of the first pass. */
const KILL_AFTER_STEPS = 15;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hexSet = (ids: Uint8Array[]) => new Set(ids.map((id) => Buffer.from(id).toString("hex")));

it("rotates the key while syncs run, killed halfway and resumed: every user found once, every token working", async () => {
  const [key1, key2] = [randomBytes(32), randomBytes(32)];
  const stateDir = path.join(scratch.dir, "state");
  const admin = { Authorization: `Bearer ${adminToken()}` };
  const first = await scratch.start(stateDir, undefined, undefined, envFile(scratch.dir, [key1]));
  const clients = Array.from({ length: CLIENTS }, () => ({ user: randomBytes(32), authToken: randomBytes(16) }));
  for (const c of clients) expect((await callIcd(first.base, "/user/register", c)).status).toBe(200);
  const added = Array.from({ length: ADDED }, () => randomBytes(32));
  expect((await callIcd(first.base, "/test/add/many", { identifiers: added })).status).toBe(200);
  const everyone = [...clients.map((c) => c.user), ...added];
  await first.stop();

  // Key 2 added: the same state, served with both keys.
  const service = await scratch.start(stateDir, undefined, undefined, envFile(scratch.dir, [key1, key2]));
  const status = async () => (await (await fetch(`${service.base}/admin/rekey`, { headers: admin })).json()) as { target: number; stored: number };
  expect(await status()).toMatchObject({ target: 2, stored: 1 });

  // Syncs all along: each finds every user it asks about (known ones and strangers mixed).
  let syncing = true;
  const problems: string[] = [];
  let syncs = 0;
  const syncer = (async () => {
    for (let round = 0; syncing; round++) {
      const client = clients[round % CLIENTS]!;
      const known = everyone.slice((round * 97) % (everyone.length - 300), ((round * 97) % (everyone.length - 300)) + 300);
      const asked = [...known, ...Array.from({ length: 100 }, () => randomBytes(32))];
      const { status, answer } = await callIcd(service.base, "/discovery/full", { ...client, identifiers: asked });
      syncs++;
      if (status === 429 || answer.result === ICD.Response.Result.RATE_LIMIT_EXCEEDED) continue; // its budget: not what is tested
      if (status !== 200) problems.push(`sync ${round}: HTTP ${status}`);
      else if (answer.addedUsers.length !== known.length || ![...hexSet(answer.addedUsers)].every((id) => hexSet(known).has(id))) {
        problems.push(`sync ${round}: ${answer.addedUsers.length} of ${known.length} found`);
      }
    }
  })();
  // And a registration and a deletion midway, through the writers' own move of the old row.
  const late = { user: randomBytes(32), authToken: randomBytes(16) };

  // --- the command, killed partway ---
  const killed = runScript(["scripts/rekey.mjs", "--server", service.base, "--batch", String(BATCH)]);
  for (const deadline = Date.now() + 120_000; (killed.output().match(/^wrap /gm) ?? []).length < KILL_AFTER_STEPS; await sleep(20)) {
    if (Date.now() > deadline || killed.child.exitCode !== null) throw new Error(`no kill point reached:\n${killed.output()}\n${service.log()}`);
  }
  killed.child.kill("SIGKILL");
  await killed.exited;
  expect(killed.output()).toContain("begin 1 -> 2");
  expect(killed.output()).not.toContain("finished");
  expect(await status()).toMatchObject({ target: 2, stored: 1 });
  expect((await callIcd(service.base, "/user/register", late)).status).toBe(200);
  expect((await callIcd(service.base, "/user/delete", clients[CLIENTS - 1]!)).status).toBe(200);

  // --- the same command again, to the end ---
  const resumed = runScript(["scripts/rekey.mjs", "--server", service.base, "--batch", String(BATCH)]);
  expect(await resumed.exited, resumed.output()).toBe(0);
  expect(resumed.output()).toContain("finished: every row is at key version 2");
  expect(resumed.output()).not.toContain("begin");
  syncing = false;
  await syncer;
  expect(problems).toEqual([]);
  expect(syncs).toBeGreaterThan(5);
  expect(await status()).toMatchObject({ target: 2, stored: 2 });

  // Everyone once: the count is the users registered, no copy left behind; everyone found.
  const stats = (await (await fetch(`${service.base}/admin/stats`, { headers: admin })).json()) as { users: number };
  expect(stats.users).toBe(CLIENTS + ADDED); // one deleted, one registered late
  const alive = [...everyone.filter((id) => id !== clients[CLIENTS - 1]!.user), late.user];
  const found = new Set<string>();
  for (let at = 0; at < alive.length; at += 2_000) {
    const { answer } = await callIcd(service.base, "/discovery/full", { ...clients[at / 2_000]!, identifiers: alive.slice(at, at + 2_000) });
    for (const id of hexSet(answer.addedUsers)) found.add(id);
  }
  expect(found.size).toBe(alive.length);
  // Every token works: each client syncs (authentication by its object, or by D1 for a new object).
  for (const c of [...clients.slice(0, CLIENTS - 1), late]) {
    const { answer } = await callIcd(service.base, "/discovery/incremental", { ...c, identifiers: [c.user] });
    expect(answer.result, Buffer.from(c.user).toString("hex")).toBe(ICD.Response.Result.SUCCESS);
  }
  const gone = await callIcd(service.base, "/discovery/incremental", { ...clients[CLIENTS - 1]!, identifiers: [late.user] });
  expect(gone.answer.result).toBe(ICD.Response.Result.AUTHENTICATION_INVALID);
  // Nothing left to do.
  const again = runScript(["scripts/rekey.mjs", "--server", service.base]);
  expect(await again.exited).toBe(0);
  expect(again.output()).toContain("nothing to wrap");
  await service.stop();

  // Without its key, and with a wrong one, the service refuses to serve, and says why.
  for (const [name, keys] of [
    ["no key", []],
    ["a wrong key", [key1, randomBytes(32)]],
    ["a missing key", [key1]],
  ] as const) {
    const refusing = await scratch.start(stateDir, undefined, undefined, envFile(scratch.dir, [...keys]));
    const { status: code } = await callIcd(refusing.base, "/discovery/full", { ...clients[0]!, identifiers: [clients[1]!.user] });
    expect(code, name).toBe(500);
    await expect.poll(() => refusing.log(), { timeout: 10_000 }).toContain("PSEUDONYM_KEYS");
    await refusing.stop();
  }
}, 600_000);
