// "Adding a shard to a running deployment moves the users of the new shard while the service keeps
// answering, resumes after being killed, and loses, doubles or misroutes no user." The service runs
// as `npm start -- --env reshard` runs it: USERS_0 ... USERS_4 bound, users on the first four
// (USERS_SHARDS = 4). With users in place and syncs, registrations and deletions running all along,
// `npm run reshard` (scripts/reshard.mjs) starts, gets SIGKILL halfway through its copy, and the same
// command (with --parallel 2) then finishes the move. Every full sync must answer exactly the users registered when it
// began (nobody missing, nobody twice), incremental syncs the same S2, every token must still work,
// and at the end every row must be on its shard among five, once.
//
// Runs in Node (the "service" project of test/vitest.config.ts), not in the Workers pool.

import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { shardOf } from "../../src/core/sharding";
import { adminToken, callIcd, pseudonymOf, runScript, scratchServices } from "./service";

const IMPORTED = 8_000; // imported before the move: outside S2
const REGISTERED = 300; // registered by clients before the move (in S2), a third then deleted
const UNKNOWN = 500; // identifiers in every sync that nobody has
const BATCH = 150; // rows read per reshard step: about 15 steps per old shard and stage
const KILL_AT = 0.5; // of the copy

const root = path.join(import.meta.dirname, "../..");
const scratch = scratchServices("icd-reshard-");

interface User {
  id: Buffer;
  token: Buffer;
  /** What the directory says once no write of this user is on its way. */
  registered: boolean;
  /** In S2 as added (registered by a client) or removed; imported users are in neither. */
  inS2: boolean;
  /** A write of this user has been sent and not yet answered: a sync may see it either way. */
  pending: boolean;
  /** Writes sent so far: a user written while a sync was on its way may be seen either way too. */
  writes: number;
}

const newUser = (bytes: number, registered = false): User => ({ id: randomBytes(bytes), token: randomBytes(16), registered, inS2: false, pending: false, writes: 0 });

it("moves users to a new shard under load, across a kill of the command", async () => {
  const stateDir = path.join(scratch.dir, "state");
  const service = await scratch.start(stateDir, undefined, "reshard");
  const base = service.base;
  const before = await admin(base, "GET", "/reshard");
  expect(before).toMatchObject({ bound: 5, layout: { count: 4, moving: false } });

  // --- the directory before the move ---
  const users: User[] = [];
  const imported = Array.from({ length: IMPORTED }, () => newUser(32, true));
  for (let at = 0; at < imported.length; at += 1000) {
    const batch = imported.slice(at, at + 1000).map((u) => [u.id.toString("hex"), createHash("sha256").update(u.token).digest("hex")]);
    expect(await admin(base, "POST", "/users/import", { users: batch })).toMatchObject({ imported: batch.length });
  }
  users.push(...imported);
  const clients = Array.from({ length: REGISTERED }, () => newUser(16));
  for (const u of clients) await write(base, u, "register");
  for (const u of clients.slice(0, REGISTERED / 3)) await write(base, u, "delete");
  users.push(...clients);
  const unknown = Array.from({ length: UNKNOWN }, () => randomBytes(32));

  // --- load all along: full and incremental syncs from fresh clients, registrations and deletions ---
  const failures: string[] = [];
  const syncs = { full: 0, incremental: 0 };
  let stop = false;
  let phase = "before";
  const syncsIn: Record<string, number> = {};

  async function syncLoop() {
    while (!stop) {
      const watcher = newUser(16);
      await write(base, watcher, "register");
      // Watchers are users too, registered while users move: the next syncs must find them.
      users.push(watcher);
      const asked = users.filter((u) => !u.pending);
      const writesBefore = asked.map((u) => u.writes);
      const atPhase = phase;
      const full = await callIcd(base, "/discovery/full", { user: watcher.id, authToken: watcher.token, identifiers: [...asked.map((u) => u.id), ...unknown] });
      // Judged: the users nobody wrote while the sync was on its way.
      const steady = asked.filter((u, i) => !u.pending && u.writes === writesBefore[i]);
      const unsure = new Set(asked.filter((u) => !steady.includes(u)).map((u) => u.id.toString("hex")));
      const expected = new Set(steady.filter((u) => u.registered).map((u) => u.id.toString("hex")));
      const added = full.answer.addedUsers.map((id) => Buffer.from(id).toString("hex"));
      if (full.status !== 200) failures.push(`full sync (${atPhase}): ${full.status}`);
      else {
        const counted = added.filter((id) => !unsure.has(id));
        const missing = [...expected].filter((id) => !counted.includes(id)).length;
        const extra = counted.filter((id) => !expected.has(id)).length;
        const twice = added.length - new Set(added).size;
        if (missing || extra || twice) failures.push(`full sync (${atPhase}): ${missing} missing, ${extra} not registered, ${twice} twice`);
      }
      syncs.full++;
      syncsIn[atPhase] = (syncsIn[atPhase] ?? 0) + 1;

      // S2 of the users registered and deleted by clients (not the imported, who are in neither).
      const inS2 = users.filter((u) => u.inS2 && !u.pending);
      const inS2Writes = inS2.map((u) => u.writes);
      const incremental = await callIcd(base, "/discovery/incremental", { user: watcher.id, authToken: watcher.token, identifiers: [...inS2.map((u) => u.id), ...imported.slice(0, 200).map((u) => u.id)] });
      const judged = new Set(inS2.filter((u, i) => !u.pending && u.writes === inS2Writes[i]).map((u) => u.id.toString("hex")));
      const hex = (list: Uint8Array[]) => list.map((id) => Buffer.from(id).toString("hex")).filter((id) => judged.has(id) || !inS2.some((u) => u.id.toString("hex") === id)).sort();
      const wantAdded = hex(inS2.filter((u) => u.registered).map((u) => u.id)).filter((id) => judged.has(id));
      const wantRemoved = hex(inS2.filter((u) => !u.registered).map((u) => u.id)).filter((id) => judged.has(id));
      if (incremental.status !== 200) failures.push(`incremental sync (${atPhase}): ${incremental.status}`);
      else if (JSON.stringify(hex(incremental.answer.addedUsers)) !== JSON.stringify(wantAdded) || JSON.stringify(hex(incremental.answer.removedUsers)) !== JSON.stringify(wantRemoved)) {
        failures.push(`incremental sync (${atPhase}): ${incremental.answer.addedUsers.length} added for ${wantAdded.length}, ${incremental.answer.removedUsers.length} removed for ${wantRemoved.length}`);
      }
      syncs.incremental++;
    }
  }

  async function writeLoop() {
    for (let n = 0; !stop; n++) {
      // Delete a registered client, bring a deleted one back, register a new one: moving or not.
      const live = clients.filter((u) => u.registered && !u.pending);
      const gone = clients.filter((u) => !u.registered && !u.pending);
      const fresh = newUser(16);
      clients.push(fresh);
      users.push(fresh);
      await Promise.all([
        live.length > 0 ? write(base, live[n % live.length]!, "delete") : null,
        gone.length > 0 ? write(base, gone[n % gone.length]!, "register") : null,
        write(base, fresh, "register"),
      ]);
    }
  }

  const load = Promise.all([syncLoop(), syncLoop(), writeLoop()]);
  await until(() => syncs.full >= 3, "syncs before the move");

  // --- the move, killed halfway through its copy ---
  phase = "copy";
  const first = runReshard(base);
  await until(() => first.exitCode() !== null || first.lastCopy() >= KILL_AT, "the copy to reach halfway", first.output);
  expect(first.exitCode()).toBeNull();
  first.child.kill("SIGKILL");
  await first.exited;
  phase = "killed";
  const midway = await admin(base, "GET", "/reshard");
  expect(midway.layout).toEqual({ count: 4, moving: true });
  expect(midway.shardVersions).toEqual([9, 9, 9, 9, 9]);
  const copied = midway.progress.filter((p: { stage: string; done: boolean }) => p.stage === "copy" && p.done).length;
  expect(copied).toBeGreaterThan(0);
  expect(copied).toBeLessThan(4);
  const syncsAtKill = syncs.full;
  await until(() => syncs.full >= syncsAtKill + 3, "syncs while the command is down");

  phase = "resumed";
  const second = runReshard(base, ["--parallel", "2"]);
  expect(await second.exited).toBe(0);
  expect(second.output()).toContain("users on 4 shards, moving to 5");
  expect(second.output()).toContain("commit 4 -> 5");
  expect(second.output()).toContain("finished 4 -> 5");
  phase = "after";
  const syncsAtEnd = syncs.full;
  await until(() => syncs.full >= syncsAtEnd + 3, "syncs after the move");
  stop = true;
  await load;
  console.log(`full syncs: ${JSON.stringify(syncsIn)}; ${syncs.incremental} incremental; ${users.length} users; the command killed at ${(first.lastCopy() * 100).toFixed(1)}% of the copy, the second run ${/^done: .*$/m.exec(second.output())?.[0]}`);
  expect(failures).toEqual([]);
  expect(syncsIn.copy).toBeGreaterThan(0);
  expect((await admin(base, "GET", "/reshard")).layout).toEqual({ count: 5, moving: false });

  // Tokens still work, for users who moved and users who stayed.
  // Rows are keyed, and sharded, by the users' pseudonyms.
  const storedOf = new Map(users.map((u) => [u, Buffer.from(pseudonymOf(u.id))]));
  const sample = [...users.filter((u) => u.registered && shardOf(storedOf.get(u)!, 5) === 4).slice(0, 25), ...users.filter((u) => u.registered && shardOf(storedOf.get(u)!, 5) < 4).slice(0, 25)];
  for (const u of sample) expect((await callIcd(base, "/discovery/full", { user: u.id, authToken: u.token, identifiers: [unknown[0]!] })).status).toBe(200);
  // The counts are exact again: every user once.
  const stats = await admin(base, "GET", "/stats");
  expect(stats.users).toBe(users.filter((u) => u.registered).length);
  expect(stats.s2).toEqual({ added: users.filter((u) => u.registered && u.inS2).length, removed: users.filter((u) => !u.registered).length });

  // Every row on its shard among five, once, and every user there.
  const rows = new Map<string, number[]>();
  for (let shard = 0; shard < 5; shard++) {
    for (const id of await shardIds(stateDir, shard)) rows.set(id, [...(rows.get(id) ?? []), shard]);
  }
  const misplaced = [...rows.entries()].filter(([id, shards]) => shards.length !== 1 || shards[0] !== shardOf(Buffer.from(id, "hex"), 5));
  expect(misplaced).toEqual([]);
  expect(rows.size).toBe(users.length);
  for (const u of users) expect(rows.has(storedOf.get(u)!.toString("hex"))).toBe(true);
  expect([...rows.values()].filter(([s]) => s === 4).length).toBeGreaterThan(users.length / 7);
}, 600_000);

/** Registers or deletes a user through the client API, keeping the model in step. */
async function write(base: string, user: User, action: "register" | "delete") {
  user.pending = true;
  user.writes++;
  const { status } = await callIcd(base, `/user/${action}`, { user: user.id, authToken: user.token });
  if (status !== 200) throw new Error(`/user/${action} answered ${status}`);
  user.registered = action === "register";
  user.inS2 = true;
  user.pending = false;
}

function runReshard(base: string, extra: string[] = []) {
  const run = runScript(["scripts/reshard.mjs", "--server", base, "--batch", String(BATCH), ...extra]);
  // "copy 4 -> 5 [###...] 53.1% shard 2: ..." per step.
  const lastCopy = () => Number([...run.output().matchAll(/^copy \d+ -> \d+ \[[#.]+\] ([\d.]+)%/gm)].at(-1)?.[1] ?? 0) / 100;
  return { ...run, exitCode: () => run.child.exitCode, lastCopy };
}

/** The identifiers on one local shard, read with wrangler from the state directory. */
async function shardIds(stateDir: string, shard: number): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    "npx",
    ["wrangler", "d1", "execute", `USERS_${shard}`, "--local", "--env", "reshard", "--persist-to", stateDir, "--json", "--command", "SELECT lower(hex(id)) AS id FROM users"],
    { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, maxBuffer: 64 * 2 ** 20 },
  );
  return (JSON.parse(stdout) as { results: { id: string }[] }[])[0]!.results.map((r) => r.id);
}

async function admin(base: string, method: string, endpoint: string, body?: unknown): Promise<any> {
  const response = await fetch(`${base}/admin${endpoint}`, {
    method,
    headers: { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`${method} /admin${endpoint}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function until(done: () => boolean, what: string, output?: () => string) {
  for (const deadline = Date.now() + 240_000; !done(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${output ? `:\n${output()}` : ""}`);
  }
}
