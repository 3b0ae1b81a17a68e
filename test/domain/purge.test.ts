// The scheduled purge of users removed longer than S2_DELTA ago.

import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import * as db from "../../src/db/users";
import { addUsers } from "../../src/db/test-hooks";
import worker from "../../src/index";
import { PURGE_BATCH, PURGE_MAX_BATCHES } from "../../src/domain/purge";
import { hashToken } from "../../src/core/token";
import { countRows, randomIds, randomIdsOnFirstShard, shards } from "../helpers";
import { DAY_MS } from "../../src/core/time";

const T0 = 1_700_000_000_000;

async function cronAt(ms: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(ms), cron: "*/15 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const rowCount = () => countRows("SELECT count(*) AS n FROM users");

describe("scheduled purge", () => {
  it("deletes removals older than S2_DELTA on each cron run, a bounded number at a time", { timeout: 60_000 }, async () => {
    const token = await hashToken(new Uint8Array([1]));
    const perRun = PURGE_BATCH * PURGE_MAX_BATCHES;
    const ids = randomIdsOnFirstShard(perRun + 500); // the bound is per shard
    await addUsers(shards(), ids, T0);
    await Promise.all(shards().map((shard) => shard.prepare("UPDATE users SET removed_at = ?1").bind(T0 + DAY_MS).run()));
    const recent = randomIds(3);
    for (const id of recent) await db.registerUser(shards(), id, token, T0);
    await db.removeUser(shards(), recent[0]!, token, T0 + 5 * DAY_MS);

    await cronAt(T0 + 11 * DAY_MS + 1);
    expect(await rowCount()).toBe(500 + 3);
    await cronAt(T0 + 11 * DAY_MS + 2);
    expect(await rowCount()).toBe(3); // removed 6 days before the run, and the registered: kept
    await cronAt(T0 + 15 * DAY_MS + 1);
    expect(await rowCount()).toBe(2);
  });
});
