// Moving users to a new shard, step by step (src/domain/reshard.ts), with reads and writes between
// the steps from isolates that learn of each step at different times (db/layout.ts). Two real D1
// databases: the environment's USERS_0, holding the users, and BROKEN_SHARD, migrated here, as the
// new USERS_1 (test/vitest.config.ts; storage is per test file, so nothing else sees either).
// A model of every user's state says what each lookup must answer after every step.

import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { keyOf } from "../../src/core/lookup-key";
import { shardOf } from "../../src/core/sharding";
import { hashToken } from "../../src/core/token";
import * as db from "../../src/db/users";
import { parseShards } from "../../src/db/shards";
import { type StepResult, reshardStatus, reshardStep } from "../../src/domain/reshard";
import { randomId } from "../helpers";

/** A new isolate's view of the shards: its own cached layout, starting from USERS_SHARDS. */
const isolate = () => parseShards({ USERS_0: env.USERS_0, USERS_1: env.BROKEN_SHARD, USERS_SHARDS: 1 });

beforeAll(async () => {
  await applyD1Migrations(env.BROKEN_SHARD, env.TEST_MIGRATIONS);
});

interface User {
  id: Uint8Array;
  token: Uint8Array;
  addedAt: number;
  removedAt: number | null;
}

const SINCE = 1_700_000_000_000;
let clock = SINCE + 1000;
const tick = () => ++clock;

/** Every user ever written, and what the directory must say about them. */
const model = new Map<string, User>();

async function register(shards: readonly D1Database[], user: User) {
  const now = tick();
  const wasRegistered = model.has(toHex(user.id)) && model.get(toHex(user.id))!.removedAt === null;
  expect(await db.registerUser(shards, user.id, await hashToken(user.token), now)).toBe(!wasRegistered);
  if (!wasRegistered) model.set(toHex(user.id), { ...user, addedAt: now, removedAt: null });
}

async function remove(shards: readonly D1Database[], user: User) {
  const now = tick();
  expect(await db.removeUser(shards, user.id, await hashToken(user.token), now)).toBe(true);
  model.get(toHex(user.id))!.removedAt = now;
}

const newUser = (): User => ({ id: randomId(16), token: randomId(16), addedAt: 0, removedAt: null });
/** Users who move to USERS_1 when there are two shards, and users who stay. */
const moving = (u: User) => shardOf(u.id, 2) === 1;

/** Every lookup answers what the model says, for every user and some unknown identifiers. */
async function expectDirectory(shards: readonly D1Database[]) {
  const users = [...model.values()];
  const ids = [...users.map((u) => u.id), randomId(16), randomId(32)];
  const registered = (await db.findRegistered(shards, ids)).rows.map((r) => r.i);
  expect(registered).toEqual([...users.keys()].filter((i) => users[i]!.removedAt === null));
  const changes = (await db.findChanges(shards, ids, SINCE)).rows;
  expect(changes).toEqual(
    users.flatMap((u, i) => (u.removedAt === null ? (u.addedAt >= SINCE ? [{ i, registered: 1 }] : []) : u.removedAt >= SINCE ? [{ i, registered: 0 }] : [])),
  );
  for (const u of users.filter((_, i) => i % 10 === 0)) {
    const credentials = await db.findCredentials(shards, u.id);
    if (u.removedAt === null) expect(credentials?.tokenHash).toEqual(await hashToken(u.token));
    else expect(credentials).toBeNull();
  }
}

/** Where every row is: shard index per hex identifier, and no identifier twice on one shard. */
async function placement(): Promise<Map<string, number[]>> {
  const where = new Map<string, number[]>();
  for (const [shard, database] of [env.USERS_0, env.BROKEN_SHARD].entries()) {
    const { results } = await database.prepare("SELECT k, lower(hex(id)) AS id FROM users").all<{ k: number; id: string }>();
    for (const row of results) where.set(row.id, [...(where.get(row.id) ?? []), shard]);
  }
  return where;
}

const stepUntil = async (action: StepResult["action"], batch: number, between: () => Promise<void>) => {
  for (let n = 0; n < 200; n++) {
    const step = await reshardStep(isolate(), batch);
    await between();
    if (step.action === action) return step;
  }
  throw new Error(`no ${action} in 200 steps`);
};

describe("moving users from 1 shard to 2", () => {
  it("answers every lookup right before, during and after the move, whoever writes in between", async () => {
    const early = isolate(); // an isolate that saw the old layout and is never told of a step
    // Before: registered users, some removed since SINCE, some imported long ago (outside S2).
    const users = Array.from({ length: 120 }, newUser);
    for (const u of users) await register(early, u);
    for (const u of users.slice(0, 20)) await remove(early, u);
    const imported = Array.from({ length: 40 }, newUser);
    await db.importUsers(early, await Promise.all(imported.map(async (u) => ({ id: u.id, tokenHash: await hashToken(u.token) }))), 0, tick());
    for (const u of imported) model.set(toHex(u.id), { ...u, addedAt: 0, removedAt: null });
    await expectDirectory(early);

    const writer = isolate();
    let round = 0;
    // Between steps: one isolate registers, removes and re-registers users who move and users who
    // stay, and both it and the early isolate must answer everything right.
    const between = async () => {
      round++;
      const fresh = newUser();
      await register(writer, fresh);
      const live = [...model.values()].filter((u) => u.removedAt === null);
      const victim = live.find((u) => moving(u) === (round % 2 === 0) && u !== fresh);
      if (victim) await remove(round % 3 === 0 ? early : writer, victim);
      const back = [...model.values()].find((u) => u.removedAt !== null && moving(u) === (round % 2 === 1));
      if (back) await register(writer, back);
      await expectDirectory(round % 2 === 0 ? early : writer);
    };

    const begin = await reshardStep(isolate(), 20);
    expect(begin).toMatchObject({ action: "begin", to: 2, layout: { count: 1, moving: true } });
    expect((await reshardStatus(isolate())).shardVersions).toEqual([3, 3]);
    await between();
    const commit = await stepUntil("commit", 20, between);
    expect(commit.layout).toEqual({ count: 2, moving: false });
    // Before the clean-up, moved users still have their old rows on USERS_0, which nobody reads.
    const before = await placement();
    expect([...before.entries()].some(([, shards]) => shards.length === 2)).toBe(true);
    await stepUntil("finish", 20, between);
    expect((await reshardStep(isolate(), 20)).action).toBe("none");
    await between();

    // Every user once, on their shard among 2; nothing lost.
    const after = await placement();
    expect(after.size).toBe(model.size);
    for (const u of model.values()) expect(after.get(toHex(u.id))).toEqual([shardOf(u.id, 2)]);
    const rows = await Promise.all([...model.values()].map(async (u) => env.BROKEN_SHARD.prepare("SELECT count(*) AS n FROM users WHERE k = ?1 AND id = ?2").bind(keyOf(u.id), u.id).first<number>("n")));
    expect(rows.filter((n) => n === 1)).toHaveLength([...model.values()].filter(moving).length);
    expect([...model.values()].filter(moving).length).toBeGreaterThan(40);
    expect((await reshardStatus(isolate())).progress).toEqual([]);
  }, 60_000);

  it("refuses a write by an isolate that has not seen the new layout, and does it by the new one", async () => {
    const stale = isolate();
    await db.findRegistered(stale, [randomId()]); // learns the current layout (2 shards, from the test above)
    // Another move cannot begin (nothing more is bound): simulate an isolate with an older view.
    const older = parseShards({ USERS_0: env.USERS_0, USERS_1: env.BROKEN_SHARD, USERS_SHARDS: 1 });
    let user = newUser();
    while (!moving(user)) user = newUser();
    await register(older, user); // by layout 1 it would go to USERS_0; the shards say 2
    expect((await placement()).get(toHex(user.id))).toEqual([1]);
    await expectDirectory(older);
  });
});
