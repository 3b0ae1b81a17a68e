// Shard choice: range, evenness, minimal movement when a shard is added, binding validation.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/config";
import { parseShards } from "../../src/db/shards";
import fc from "fast-check";
import { jsonKeyList, keysOf } from "../../src/core/lookup-key";
import { COUNTING_FROM, groupByShard, homeOf, layoutOfVersion, layoutVersion, previousOf, probeOrder, shardOf } from "../../src/core/sharding";
import { randomIds } from "../helpers";

describe("shardOf", () => {
  const ids = randomIds(40000, 16);

  it("is 0 for one shard and always within range", () => {
    expect(ids.every((id) => shardOf(id, 1) === 0)).toBe(true);
    expect(ids.every((id) => shardOf(id, 7) >= 0 && shardOf(id, 7) < 7)).toBe(true);
  });

  it("spreads identifiers evenly, hashed or not", () => {
    const phoneNumbers = Array.from({ length: 40000 }, (_, i) => new TextEncoder().encode(`+4915100${String(i).padStart(6, "0")}`));
    for (const list of [ids, phoneNumbers]) {
      const sizes = groupByShard(list, 4).map((g) => g.length);
      for (const size of sizes) expect(Math.abs(size - 10000)).toBeLessThan(500);
    }
  });

  it("moves only the keys of the new shard when one is added", () => {
    for (let n = 1; n < 8; n++) {
      const moved = ids.filter((id) => shardOf(id, n) !== shardOf(id, n + 1));
      expect(moved.every((id) => shardOf(id, n + 1) === n)).toBe(true);
      expect(Math.abs(moved.length / ids.length - 1 / (n + 1))).toBeLessThan(0.02);
    }
  });

  it("is stable: the same identifier always lands on the same shard", () => {
    const id = new Uint8Array([1, 2, 3, 4]);
    expect(shardOf(id, 4)).toBe(shardOf(new Uint8Array([1, 2, 3, 4]), 4));
  });

  it("groups request indices by shard, in request order", () => {
    const groups = groupByShard(ids.slice(0, 100), 4);
    expect(groups.flat().sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    for (const group of groups) expect(group).toEqual([...group].sort((a, b) => a - b));
  });

  it("groups in a given order, keeping that order within each shard", () => {
    const order = [...Array(100).keys()].reverse();
    const groups = groupByShard(ids.slice(0, 100), 4, order);
    expect(groups.map((g) => g.length)).toEqual(groupByShard(ids.slice(0, 100), 4).map((g) => g.length));
    for (const [shard, group] of groups.entries()) {
      expect(group).toEqual([...group].sort((a, b) => b - a));
      expect(group.every((i) => shardOf(ids[i]!, 4) === shard)).toBe(true);
    }
  });
});

describe("parseShards", () => {
  const db = () => (env as unknown as Record<string, D1Database>).USERS_0;

  it("takes USERS_0 ... USERS_{N-1} in order", () => {
    expect(parseShards({ USERS_0: db(), USERS_1: db() })).toHaveLength(2);
  });

  it("takes USERS_SHARDS, the shards that hold users, from 1 to the bindings", () => {
    expect(parseShards({ USERS_0: db(), USERS_1: db(), USERS_SHARDS: 1 })).toHaveLength(2);
    for (const bad of [0, 3, 1.5, "x"]) {
      expect(() => parseShards({ USERS_0: db(), USERS_1: db(), USERS_SHARDS: bad })).toThrow(/^USERS_SHARDS must be a whole number from 1 to 2/);
    }
  });

  it.each([
    ["no shard", () => ({}), /^USERS_0 must be a D1 binding/],
    ["a shard that is not a database", () => ({ USERS_0: "not a database" }), /^USERS_0 must be a D1 binding/],
    ["a gap", () => ({ USERS_0: db(), USERS_2: db() }), /^USERS_2 is not usable: USERS_1 is missing/],
  ])("refuses %s, naming the binding", (_, bindings, message) => {
    expect(() => parseShards(bindings())).toThrow(ConfigError);
    expect(() => parseShards(bindings())).toThrow(message);
  });
});

describe("layouts", () => {
  const ids = randomIds(4000, 16);

  it("number every step: 2n with users on n shards, 2n + 1 while they move to n + 1", () => {
    expect(layoutVersion({ count: 4, moving: false })).toBe(8);
    expect(layoutVersion({ count: 4, moving: true })).toBe(9);
    for (const v of [2, 3, 8, 9, 10]) expect(layoutVersion(layoutOfVersion(v))).toBe(v);
  });

  it("while moving, send a user who moves to the new shard first and to their old shard second, and nobody else anywhere new", () => {
    const moving = { count: 4, moving: true };
    for (const id of ids) {
      if (shardOf(id, 5) === 4) expect([homeOf(id, moving), previousOf(id, moving)]).toEqual([4, shardOf(id, 4)]);
      else expect([homeOf(id, moving), previousOf(id, moving)]).toEqual([shardOf(id, 4), -1]);
      expect(homeOf(id, { count: 4, moving: false })).toBe(shardOf(id, 4));
      expect(previousOf(id, { count: 5, moving: false })).toBe(-1);
    }
  });
});

describe("probeOrder and the key list", () => {
  // Against their plain definitions: a sort by the first three bytes, ties in request order; the
  // keys formatted by JSON itself. Identifiers of any length from 0 to 40 bytes, prefixes crowded so that ties happen.
  const identifiers = fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }).map((b) => (b.length > 2 ? b.map((x, i) => (i < 2 ? x & 3 : x)) : b)), { maxLength: 300 });
  const prefix = (id: Uint8Array) => ((id[0] ?? 0) << 16) | ((id[1] ?? 0) << 8) | (id[2] ?? 0);

  it("orders by the first three bytes, stable, by sorting a few and counting many", () => {
    const ordered = (ids: Uint8Array[]) => {
      const expected = ids.map((_, i) => i).sort((a, b) => prefix(ids[a]!) - prefix(ids[b]!) || a - b);
      expect(probeOrder(ids)).toEqual(expected);
    };
    fc.assert(fc.property(identifiers, ordered));
    const many = fc.array(fc.uint8Array({ minLength: 0, maxLength: 33 }).map((b) => (b.length > 2 ? b.map((x, i) => (i < 2 ? x & 3 : x)) : b)), { minLength: COUNTING_FROM, maxLength: 3 * COUNTING_FROM });
    fc.assert(fc.property(many, ordered), { numRuns: 20 });
  });

  it("lists the keys as JSON would, in the order given", () => {
    fc.assert(fc.property(identifiers, (ids) => {
      const keys = keysOf(ids);
      const order = probeOrder(ids);
      expect(jsonKeyList(keys, order)).toBe(JSON.stringify(order.map((i) => keys[i])));
    }));
    const edges = [0, 1, 99_999_999, 100_000_000, 100_000_001, 2 ** 48 - 1, 2 ** 40].map((k) => Uint8Array.from({ length: 6 }, (_, i) => Math.floor(k / 256 ** (5 - i)) % 256));
    expect(jsonKeyList(keysOf(edges), [0, 1, 2, 3, 4, 5, 6])).toBe("[0,1,99999999,100000000,100000001,281474976710655,1099511627776]");
  });
});
