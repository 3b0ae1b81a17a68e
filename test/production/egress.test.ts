// Egress control on [env.production]: an episode (too many registered users revealed to clients
// not yet judged, over the whole service) holds unjudged clients to EGRESS_PROBATION_LIMIT while
// judged ones keep their bucket, and ends when calm; a network whose unjudged clients were shown
// more than EGRESS_NETWORK_PER_DAY gets no new clients, while its existing clients are served.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emptyTally, tallySync } from "../../src/core/telemetry";
import * as db from "../../src/db/users";
import { egressEpisode, refreshNorm } from "../../src/domain/monitoring";
import { bucketsOf } from "../../src/objects/client-buckets";
import { type Alert, monitorShard } from "../../src/objects/monitor";
import { Result, randomIds } from "../helpers";
import { config, enrolled, fullSync, shards } from "./through-domain";

const MINUTE = 60_000;

/** Hands monitor object 0 a minute in which unjudged clients were shown `revealed` users. */
async function minuteRevealing(revealed: number, at: number) {
  const tally = emptyTally(at);
  tallySync(tally, { kind: "full", identifiers: Math.max(revealed, 1), matches: revealed, flagged: false }, at, ["192.0.2.1"]);
  await monitorShard(env, 0).absorb(tally, { index: 0, of: config().monitorShards }, at);
}

describe("an egress episode", () => {
  it("holds unjudged clients to EGRESS_PROBATION_LIMIT, leaves judged ones their bucket, and ends when calm", { timeout: 60_000 }, async () => {
    const start = (Math.floor(Date.now() / MINUTE) + 10) * MINUTE;
    await minuteRevealing(200_000, start); // ten times the floor of 20,000 a minute
    await minuteRevealing(0, start + MINUTE);
    await refreshNorm(env, config(), Date.now());
    expect(egressEpisode()).toBe(true);

    const fresh = await enrolled();
    const capped = await fullSync(fresh, randomIds(1_001), "198.51.100.20");
    expect(capped.result).toBe(Result.RATE_LIMIT_EXCEEDED);
    expect(capped.retryAfterSeconds).toBeUndefined(); // waiting does not help, a smaller request does
    expect((await fullSync(fresh, randomIds(1_000), "198.51.100.20")).result).toBe(Result.SUCCESS);

    const judged = await enrolled();
    await bucketsOf(env, judged.user, 0).clearFlag(); // an operator vouched for it
    expect((await fullSync(judged, randomIds(15_000), "198.51.100.21")).result).toBe(Result.SUCCESS);

    for (let m = 2; m <= 11; m++) await minuteRevealing(0, start + m * MINUTE);
    await refreshNorm(env, config(), Date.now());
    expect(egressEpisode()).toBe(false);
    const other = await enrolled();
    expect((await fullSync(other, randomIds(1_500), "198.51.100.22")).result).toBe(Result.SUCCESS);
    const alerts = (await monitorShard(env, 0).alerts(10)) as Alert[];
    expect(alerts.filter((a) => a.type === "egress").map((a) => a.detail.episode)).toEqual(["ended", "started"]);
  });
});

describe("a network's egress", () => {
  it("stops new clients of a network whose unjudged clients were shown more than a day's allowance, and serves its existing ones", { timeout: 60_000 }, async () => {
    const users = randomIds(6_000);
    await db.addUsers(shards(), users, Date.now());
    const ip = "198.51.100.30";
    const first = await enrolled();
    expect((await fullSync(first, users.slice(0, 4_000), ip)).added).toHaveLength(4_000);
    const second = await enrolled();
    expect((await fullSync(second, users.slice(4_000, 5_500), ip)).added).toHaveLength(1_500); // 5,500 > 5,000 a day

    const third = await enrolled();
    const refused = await fullSync(third, users.slice(0, 10), ip);
    expect(refused.result).toBe(Result.RATE_LIMIT_EXCEEDED);
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    // Its existing clients have done nothing themselves: served as before.
    expect((await fullSync(first, users.slice(5_500, 5_600), ip)).result).toBe(Result.SUCCESS);
    // Another network is not concerned.
    expect((await fullSync(third, users.slice(0, 10), "198.51.100.31")).result).toBe(Result.SUCCESS);
  });
});
