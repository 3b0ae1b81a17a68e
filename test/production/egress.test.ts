// Egress control on [env.production]: an episode (too many registered users revealed to clients
// not yet established, over the whole service) holds young clients by their walk while established
// ones keep their bucket, and ends when calm; a network whose unestablished clients were shown more
// than EGRESS_NETWORK_PER_DAY gets no new clients, while its existing clients are served.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emptyTally, tallySync } from "../../src/core/telemetry";
import { addUsers } from "../../src/db/test-hooks";
import { bucketsOf } from "../../src/objects/client-buckets";
import { type Alert, monitorShard } from "../../src/objects/monitor";
import { Result, randomIds, stored, storedAll } from "../helpers";
import { config, enrolled, fullSync, isolate, shards } from "./through-domain";
import { MINUTE_MS } from "../../src/core/time";


/** Hands monitor object 0 a minute in which unjudged clients were shown `revealed` users. */
async function minuteRevealing(revealed: number, at: number) {
  const tally = emptyTally(at);
  tallySync(tally, { kind: "full", identifiers: Math.max(revealed, 1), matches: revealed, flagged: false }, at, ["192.0.2.1"]);
  await monitorShard(env, 0).absorb(tally, { index: 0, of: config().monitorShards }, at);
}

describe("an egress episode", () => {
  it("holds young clients (judged or not) by their walk: open EGRESS_PROBATION_LIMIT, honest-looking the probation limit, suspect none; established ones keep their bucket; it ends when calm", { timeout: 60_000 }, async () => {
    const users = randomIds(400);
    await addUsers(shards(), storedAll(users), Date.now()); // as the service stores them: pseudonyms
    // Judged before the episode (1,000 checked, 40% registered), but younger than DETECT_YOUNG_HOURS.
    const young = await enrolled();
    expect((await fullSync(young, [...users, ...randomIds(600)], "198.51.100.24")).added).toHaveLength(400);
    expect((await bucketsOf(env, stored(young.user), 0).inspectClient()).signals).toMatchObject({ judged: true, verdict: "honest" });
    expect((await fullSync(young, randomIds(10), "198.51.100.24")).result).toBe(Result.SUCCESS); // judged: past the probation limit
    const start = (Math.floor(Date.now() / MINUTE_MS) + 10) * MINUTE_MS;
    await minuteRevealing(200_000, start); // a hundred times the floor of 2,000 a minute
    await minuteRevealing(0, start + MINUTE_MS);
    await isolate.monitoring.refreshNorm(env, config(), Date.now());
    expect(isolate.monitoring.egressEpisode()).toBe(true);

    // A fresh client: its walk has not decided, so EGRESS_PROBATION_LIMIT (100).
    const fresh = await enrolled();
    const capped = await fullSync(fresh, randomIds(101), "198.51.100.20");
    expect(capped.result).toBe(Result.RATE_LIMIT_EXCEEDED);
    expect(capped.retryAfterSeconds).toBeUndefined(); // waiting does not help, a smaller request does
    // An address book's first hundred, 40% registered: the walk finds it honest-looking, and it gets the probation limit for the rest.
    expect((await fullSync(fresh, [...users.slice(0, 40), ...randomIds(60)], "198.51.100.20")).added).toHaveLength(40);
    expect((await fullSync(fresh, [...users.slice(40, 400), ...randomIds(500)], "198.51.100.20")).added).toHaveLength(360);

    // A crowd's account: its hundred numbers found 2 users; the walk finds it suspect, and it gets nothing more while the episode lasts.
    const crowd = await enrolled();
    expect((await fullSync(crowd, [...users.slice(0, 2), ...randomIds(98)], "198.51.100.23")).result).toBe(Result.SUCCESS);
    expect((await bucketsOf(env, stored(crowd.user), 0).inspectClient()).signals).toMatchObject({ verdict: "suspect" });
    // Nothing smaller fits, the episode's end may: it is told to wait at least the episode's calm minutes.
    const held = await fullSync(crowd, randomIds(1), "198.51.100.23");
    expect(held.result).toBe(Result.RATE_LIMIT_EXCEEDED);
    expect(held.retryAfterSeconds).toBe(config().egress.calmMinutes * 60);
    expect((await bucketsOf(env, stored(crowd.user), 0).inspectClient()).flagged).toBe(false); // held, not flagged: the walk never flags

    // The judged young client is held like an honest-looking unjudged one, to the probation limit: it holds 1,010, so it waits.
    const heldYoung = await fullSync(young, randomIds(10), "198.51.100.24");
    expect(heldYoung.result).toBe(Result.RATE_LIMIT_EXCEEDED);
    expect(heldYoung.retryAfterSeconds).toBeGreaterThan(0);

    const judged = await enrolled();
    await bucketsOf(env, stored(judged.user), 0).clearFlag(); // an operator vouched for it: established, whatever its age
    expect((await fullSync(judged, randomIds(15_000), "198.51.100.21")).result).toBe(Result.SUCCESS);

    // Calm once the minute and the hour are back at their baselines: the hour holds the 200,000 for 60 minutes.
    for (let m = 2; m <= 60 + config().egress.calmMinutes + 1; m++) await minuteRevealing(0, start + m * MINUTE_MS);
    await isolate.monitoring.refreshNorm(env, config(), Date.now());
    expect(isolate.monitoring.egressEpisode()).toBe(false);
    // After the episode, the suspect account is back to the probation limit, like any unjudged client.
    expect((await fullSync(crowd, randomIds(500), "198.51.100.23")).result).toBe(Result.SUCCESS);
    const other = await enrolled();
    expect((await fullSync(other, randomIds(1_000), "198.51.100.22")).result).toBe(Result.SUCCESS);
    const alerts = (await monitorShard(env, 0).alerts(10)) as Alert[];
    expect(alerts.filter((a) => a.type === "egress").map((a) => a.detail.episode)).toEqual(["ended", "started"]);
  });
});

describe("a network's egress", () => {
  it("stops new clients of a network whose unjudged clients were shown more than a day's allowance, and serves its existing ones", { timeout: 60_000 }, async () => {
    const users = randomIds(6_000);
    await addUsers(shards(), storedAll(users), Date.now()); // as the service stores them: pseudonyms
    const ip = "198.51.100.30";
    // Five new clients, a probation limit's worth each, then a sixth that takes the network past 5,000 a day.
    const clients = [];
    for (let i = 0; i < 6; i++) {
      const client = await enrolled();
      const book = users.slice(i * 1_000, i * 1_000 + (i < 5 ? 1_000 : 500));
      expect((await fullSync(client, book, ip)).added).toHaveLength(book.length);
      clients.push(client);
    }
    const first = clients[0]!;

    const third = await enrolled();
    const refused = await fullSync(third, users.slice(0, 10), ip);
    expect(refused.result).toBe(Result.RATE_LIMIT_EXCEEDED);
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    // Its existing clients have done nothing themselves: served as before.
    expect((await fullSync(first, users.slice(5_500, 5_600), ip)).result).toBe(Result.SUCCESS); // judged: 1,000 checked at 100%
    // Another network is not concerned.
    expect((await fullSync(third, users.slice(0, 10), "198.51.100.31")).result).toBe(Result.SUCCESS);
  });
});
