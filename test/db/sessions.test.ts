// Lookups go through D1's Sessions API (read replicas may answer them; locally there are none),
// while registration reads and writes the primary: a user registered is found by the next lookup.

import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/core/token";
import { lookupBookmark } from "../../src/db/shards";
import * as db from "../../src/db/users";
import { addUsers } from "../../src/db/test-hooks";
import { randomIds, shards } from "../helpers";

describe("lookups through the Sessions API", () => {
  it("read through a session on every shard they touch, and keep its bookmark", async () => {
    const ids = randomIds(200);
    await db.findRegistered(shards(), ids);
    for (const shard of shards()) expect(lookupBookmark(shard)).toMatch(/\S/);
  });

  it("never go back in time: the bookmark only moves forward", async () => {
    const ids = randomIds(50);
    await db.findRegistered(shards(), ids);
    const before = shards().map(lookupBookmark);
    await addUsers(shards(), ids, Date.now()); // writes on the primary
    await db.findRegistered(shards(), ids);
    shards().forEach((shard, k) => expect(lookupBookmark(shard)! >= before[k]!).toBe(true));
  });

  it("see a registration at once (read-your-writes locally, where the primary answers every session)", async () => {
    const [id] = randomIds(1);
    await db.findRegistered(shards(), [id!]);
    await db.registerUser(shards(), id!, await hashToken(id!), Date.now());
    expect((await db.findRegistered(shards(), [id!])).rows).toHaveLength(1);
    expect(await db.findCredentials(shards(), id!)).not.toBeNull();
  });
});
