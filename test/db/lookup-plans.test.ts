// How a lookup reaches the users table: one primary-key probe per identifier, on the integer key k
// (src/core/lookup-key.ts), never a scan and never a sort. The plans are SQLite's own
// (EXPLAIN QUERY PLAN) for the statements src/db/users.ts sends; the probe count is D1's rows_read.

import { describe, expect, it } from "vitest";
import * as db from "../../src/db/users";
import { addUsers } from "../../src/db/test-hooks";
import { DELETE_ROWS_SQL, SCAN_SQL } from "../../src/db/reshard";
import { keyOf, jsonKeyList, keysOf } from "../../src/core/lookup-key";
import { shardOf } from "../../src/core/sharding";
import { hashToken } from "../../src/core/token";
import { randomIds, shards } from "../helpers";

const T0 = 1_700_000_000_000;
const plan = async (sql: string, ...params: unknown[]) =>
  (await shards()[0]!.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>()).results.map((r) => r.detail);

describe("lookup plans", () => {
  it.each(Object.entries(db.LOOKUP_SQL))("the %s lookup: the list outside, one primary-key search on k inside, then the layout row", async (_, sql) => {
    expect(await plan(sql, ...(sql.includes("?2") ? ["[]", 0] : ["[]"]))).toEqual([
      "COMPOUND QUERY",
      "LEFT-MOST SUBQUERY",
      "SCAN j VIRTUAL TABLE INDEX 1:", // the JSON list, in the order sent
      "SEARCH u USING PRIMARY KEY (k=?)", // one probe per key
      "UNION ALL",
      "SEARCH meta USING PRIMARY KEY (key=?)", // the shard's layout (src/db/layout.ts)
    ]);
  });

  it("a single user: one search on (k, id), and the two meta rows", async () => {
    expect(await plan(db.READ_USER_SQL, 1, new Uint8Array([1]))).toEqual([
      "CO-ROUTINE (subquery-1)", // SELECT 1: one row, whether or not the user has one
      "SCAN CONSTANT ROW",
      "SCAN (subquery-1)",
      "SEARCH u USING PRIMARY KEY (k=? AND id=?) LEFT-JOIN",
      "SEARCH e USING PRIMARY KEY (key=?) LEFT-JOIN",
      "SEARCH l USING PRIMARY KEY (key=?) LEFT-JOIN",
    ]);
  });

  it("the purge: the removed-at index finds a batch, the primary key deletes it", async () => {
    expect(await plan(db.PURGE_SQL, 0, 10, 0)).toEqual([
      "SEARCH users USING PRIMARY KEY (k=? AND id=?)",
      "LIST SUBQUERY 1",
      "SEARCH users USING COVERING INDEX users_removed_at (removed_at>? AND removed_at<?)",
      "CREATE BLOOM FILTER",
      "SCALAR SUBQUERY 2",
      "SEARCH meta USING PRIMARY KEY (key=?)",
    ]);
  });

  it("the reshard copier: a range of the primary key in key order (no sort), and deletes by (k, id)", async () => {
    expect(await plan(SCAN_SQL, -1, new Uint8Array(0), 100, 0)).toEqual([
      "SEARCH users USING PRIMARY KEY ((k,id)>(?,?))",
      "SCALAR SUBQUERY 1",
      "SEARCH meta USING PRIMARY KEY (key=?)",
    ]);
    const deletes = await plan(DELETE_ROWS_SQL, "[]", 0);
    expect(deletes[0]).toBe("SEARCH users USING PRIMARY KEY (k=? AND id=?)");
    expect(deletes.some((d) => /^SCAN users\b/.test(d))).toBe(false);
  });

  it("reads one row per identifier sent and one per user found, whatever the table holds", async () => {
    const registered = randomIds(300, 16);
    await addUsers(shards(), registered, T0);
    const asked = [...registered.slice(0, 100), ...randomIds(900, 32)];
    // The first shard's statement, as probeShards sends it.
    const onFirst = [...asked.keys()].filter((i) => shardOf(asked[i]!, shards().length) === 0);
    const { results, meta } = await shards()[0]!.prepare(db.LOOKUP_SQL.registered).bind(jsonKeyList(keysOf(asked), onFirst)).all();
    const found = onFirst.filter((i) => i < 100).length;
    expect(results).toHaveLength(found);
    // json_each yields each key once; a probe that misses reads no row, one that finds its user reads
    // it and steps once past it (to see that no other row has that key).
    expect(meta.rows_read).toBeGreaterThanOrEqual(onFirst.length + found);
    expect(meta.rows_read).toBeLessThanOrEqual(onFirst.length + 2 * found);
  });
});

describe("identifiers that share a key", () => {
  it("are told apart by the whole identifier: same first 6 bytes, shorter ones padded", async () => {
    const base = randomIds(1, 32)[0]!;
    const sibling = Uint8Array.from(base, (b, i) => (i === 31 ? b ^ 1 : b)); // differs in the last byte only
    const prefix = base.slice(0, 6); // a 6-byte identifier with the same key
    const short = new Uint8Array([base[0]!]);
    const padded = new Uint8Array([base[0]!, 0]); // the key of short, too
    await db.registerUser(shards(), base, await hashToken(base), T0);
    await db.registerUser(shards(), short, await hashToken(short), T0);
    expect(keyOf(sibling)).toBe(keyOf(base));
    expect(keyOf(padded)).toBe(keyOf(short));
    const asked = [sibling, prefix, base, padded, short];
    expect((await db.findRegistered(shards(), asked)).rows).toEqual([{ i: 2 }, { i: 4 }]);
    expect((await db.findChanges(shards(), asked, T0)).rows).toEqual([{ i: 2, registered: 1 }, { i: 4, registered: 1 }]);
    expect(await db.findCredentials(shards(), sibling)).toBeNull();
    expect(await db.findCredentials(shards(), padded)).toBeNull();
    // Registering a sibling is a new user, not a repeat of the one with the same key.
    expect(await db.registerUser(shards(), sibling, await hashToken(sibling), T0)).toBe(true);
    expect((await db.findRegistered(shards(), asked)).rows).toEqual([{ i: 0 }, { i: 2 }, { i: 4 }]);
  });
});

describe("keyOf", () => {
  it("reads the first 6 bytes big-endian, padding shorter identifiers with zero bytes", () => {
    expect(keyOf(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toBe(0x010203040506);
    expect(keyOf(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(2 ** 48 - 1);
    expect(keyOf(new Uint8Array([0xab]))).toBe(0xab0000000000);
    expect(keyOf(new Uint8Array([0xab, 0]))).toBe(keyOf(new Uint8Array([0xab]))); // (k, id) tells them apart
  });

  it("writes a JSON list of exact integers", () => {
    const ids = [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]), new Uint8Array([0, 0, 0, 0, 0, 1]), new Uint8Array([7])];
    expect(jsonKeyList(keysOf(ids), [2, 0, 1])).toBe(`[${0x070000000000},281474976710655,1]`);
    expect(JSON.parse(jsonKeyList(keysOf(ids), [0]))).toEqual([2 ** 48 - 1]);
    expect(jsonKeyList(keysOf(ids), [])).toBe("[]");
  });
});
