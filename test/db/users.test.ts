// The users table through src/db/users.ts, on the real local D1.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import * as db from "../../src/db/users";
import { addUsers } from "../../src/db/test-hooks";
import { probeOrder } from "../../src/core/sharding";
import { hashToken } from "../../src/core/token";
import { createRandomUsers } from "../../src/domain/random-users";
import { configOf } from "../../src/core/config";
import { countRows, randomId, randomIds, randomIdsOnFirstShard, shards, userRow } from "../helpers";

const T0 = 1_700_000_000_000;
const hashOf = (byte: number) => hashToken(new Uint8Array([byte]));

const row = userRow;

describe("registerUser and removeUser", () => {
  it("registers a new user once; a second call is not a registration", async () => {
    const id = randomId();
    expect(await db.registerUser(shards(), id, await hashOf(1), T0)).toBe(true);
    expect(await db.registerUser(shards(), id, await hashOf(2), T0 + 5)).toBe(false);
    const credentials = await db.findCredentials(shards(), id);
    expect([...credentials!.tokenHash]).toEqual([...(await hashOf(1))]);
    expect(await row(id)).toEqual({ added_at: T0, removed_at: null });
  });

  it("lets the latest event win: removed, then registered again with a new token", async () => {
    const id = randomId();
    await db.registerUser(shards(), id, await hashOf(1), T0);
    expect(await db.removeUser(shards(), id, await hashOf(2), T0 + 1)).toBe(false); // wrong token
    expect(await db.removeUser(shards(), id, await hashOf(1), T0 + 1)).toBe(true);
    expect(await row(id)).toEqual({ added_at: T0, removed_at: T0 + 1 });
    expect(await db.findCredentials(shards(), id)).toBeNull();
    expect(await db.removeUser(shards(), id, await hashOf(1), T0 + 2)).toBe(false); // already removed
    expect(await db.registerUser(shards(), id, await hashOf(3), T0 + 3)).toBe(true);
    expect(await row(id)).toEqual({ added_at: T0 + 3, removed_at: null });
  });
});

describe("lookups", () => {
  it("finds registered identifiers in request order, duplicates kept", async () => {
    const ids = randomIds(6);
    for (const i of [1, 3, 4]) await db.registerUser(shards(), ids[i]!, await hashOf(1), T0);
    await db.removeUser(shards(), ids[4]!, await hashOf(1), T0 + 1);
    const request = [ids[5]!, ids[3]!, ids[0]!, ids[1]!, ids[4]!, ids[3]!];
    expect((await db.findRegistered(shards(), request)).rows).toEqual([{ i: 1 }, { i: 3 }, { i: 5 }]);
  });

  it("probes in the order of the identifiers' first bytes, each index once, ties in request order", () => {
    const ids = [[9, 0, 0, 1], [1, 2, 3, 9], [1, 2], [255], [1, 2, 3, 0], [0, 0, 0]].map((b) => new Uint8Array(b));
    // [1, 2] reads as the prefix 1, 2, 0; [255] as 255, 0, 0; equal prefixes keep request order.
    expect(probeOrder(ids)).toEqual([5, 2, 1, 4, 0, 3]);
    const many = randomIds(5000);
    const order = probeOrder(many);
    expect([...order].sort((a, b) => a - b)).toEqual([...many.keys()]);
    const prefix = (i: number) => (many[i]![0]! << 16) | (many[i]![1]! << 8) | many[i]![2]!;
    expect(order.every((i, k) => k === 0 || prefix(order[k - 1]!) < prefix(i) || (prefix(order[k - 1]!) === prefix(i) && order[k - 1]! < i))).toBe(true);
  });

  it("answers in request order whatever the identifiers' lengths and probe order", async () => {
    const ids = [...randomIds(300, 1), ...randomIds(300, 7), ...randomIds(300, 64)].sort(() => Math.random() - 0.5);
    const picked = [...ids.keys()].filter((i) => i % 7 === 3);
    await addUsers(shards(), picked.map((i) => ids[i]!), T0);
    const registered = new Set(picked.map((i) => ids[i]!.join()));
    const expected = [...ids.keys()].filter((i) => registered.has(ids[i]!.join())); // one-byte ids repeat
    expect((await db.findRegistered(shards(), ids)).rows.map((r) => r.i)).toEqual(expected);
  });

  it("splits a list of long identifiers that would not fit one bound parameter", async () => {
    const ids = randomIds(20000, 64); // 20,000 x 131 JSON characters: more than D1's 2 MB per value
    const picked = [0, 9999, 14500, 19999];
    await addUsers(shards(), picked.map((i) => ids[i]!), T0);
    expect((await db.findRegistered(shards(), ids)).rows.map((r) => r.i)).toEqual(picked);
  });

  it("finds S2 changes since a moment: added, re-added and removed, not older ones", async () => {
    const [old, oldRemoved, fresh, freshRemoved, readded, never] = randomIds(6);
    const since = T0 + 100;
    for (const id of [old, oldRemoved, readded]) await db.registerUser(shards(), id!, await hashOf(1), T0);
    await db.removeUser(shards(), oldRemoved!, await hashOf(1), T0 + 50);
    for (const id of [fresh, freshRemoved]) await db.registerUser(shards(), id!, await hashOf(1), since);
    await db.removeUser(shards(), freshRemoved!, await hashOf(1), since + 1);
    await db.removeUser(shards(), readded!, await hashOf(1), since + 2);
    await db.registerUser(shards(), readded!, await hashOf(2), since + 3);
    const changes = await db.findChanges(shards(), [old!, oldRemoved!, fresh!, freshRemoved!, readded!, never!], since);
    expect(changes.rows).toEqual([
      { i: 2, registered: 1 },
      { i: 3, registered: 0 },
      { i: 4, registered: 1 },
    ]);
  });

  it.each(Object.entries(db.LOOKUP_SQL))("answers the %s lookup by primary-key probes, never a scan", async (_, sql) => {
    const params = sql.includes("?2") ? ["[]", 0] : ["[]"];
    const plan = await shards()[0]!.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail);
    expect(details.some((d) => /SEARCH u USING PRIMARY KEY \(k=\?\)/.test(d))).toBe(true); // k: the first 6 bytes (0003)
    expect(details.some((d) => /SCAN u\b/.test(d))).toBe(false);
  });
});

describe("purgeRemovedUsers", () => {
  it("deletes only removals older than the cut-off, in bounded batches per shard", async () => {
    // Storage is shared by the tests of a file: this one lives well before the others' clock.
    const T0 = 1_000_000_000_000;
    const ids = randomIdsOnFirstShard(25);
    const token = await hashOf(1);
    for (const id of ids) await db.registerUser(shards(), id, token, T0);
    for (const id of ids.slice(0, 20)) await db.removeUser(shards(), id, token, T0 + 10);
    await db.removeUser(shards(), ids[20]!, token, T0 + 1000); // removed after the cut-off: stays
    const cutoff = T0 + 500;
    expect(await db.purgeRemovedUsers(shards(), cutoff, 7, 2)).toBe(14); // two batches of 7
    expect(await db.purgeRemovedUsers(shards(), cutoff, 7, 2)).toBe(6);
    expect(await db.purgeRemovedUsers(shards(), cutoff, 7, 2)).toBe(0);
    const left = await Promise.all(ids.map(row));
    expect(left.filter((r) => r === null)).toHaveLength(20);
    expect(left[20]).toEqual({ added_at: T0, removed_at: T0 + 1000 });
  });
});

describe("test-hook helpers", () => {
  it("creates n random registered users", async () => {
    const count = () => countRows("SELECT count(*) AS n FROM users WHERE removed_at IS NULL");
    const before = await count();
    await createRandomUsers(env, shards(), configOf(env), 5000, T0);
    expect((await count()) - before).toBe(5000);
  });

  it("adds many identifiers, re-registering removed ones and leaving registered ones alone", async () => {
    const [registered, removed, fresh] = randomIds(3);
    await db.registerUser(shards(), registered!, await hashOf(1), T0);
    await db.registerUser(shards(), removed!, await hashOf(1), T0);
    await db.removeUser(shards(), removed!, await hashOf(1), T0 + 1);
    expect(await addUsers(shards(), [registered!, removed!, fresh!], T0 + 2)).toBe(2);
    expect(await row(registered!)).toEqual({ added_at: T0, removed_at: null });
    expect(await row(removed!)).toEqual({ added_at: T0 + 2, removed_at: null });
    expect(await row(fresh!)).toEqual({ added_at: T0 + 2, removed_at: null });
  });
});
