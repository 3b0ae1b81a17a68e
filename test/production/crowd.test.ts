// A Sybil crowd on [env.production]: fresh accounts, each verified and each on its own network, so
// that neither the per-account budgets nor the per-network rules bind. What they are shown goes
// into the egress count (they are not established); past the floor an episode starts and is
// alerted on, and from then on each new account gets a hundred numbers, after which its walk holds
// it. Honest clients are served throughout: an established one in full, a new one within minutes.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emptyTally, tallySync } from "../../src/core/telemetry";
import { addUsers } from "../../src/db/test-hooks";
import { bucketsOf } from "../../src/objects/client-buckets";
import { type Alert, monitorShard } from "../../src/objects/monitor";
import { Result, randomIds, stored, storedAll } from "../helpers";
import { config, enrolled, fullSync, isolate, shards } from "./through-domain";
import { MINUTE_MS } from "../../src/core/time";

const MONITOR_0 = () => ({ index: 0, of: config().monitorShards });

/** What an honest directory teaches the norm: fifty full syncs of 300 contacts, half registered. */
async function honestNorm(at: number) {
  const tally = emptyTally(at);
  for (let i = 0; i < 50; i++) tallySync(tally, { kind: "full", identifiers: 300, matches: 150, flagged: false }, at);
  await monitorShard(env, 0).absorb(tally, MONITOR_0(), at);
}

/** A quiet later minute at monitor object 0, which completes the minutes before it and judges them. */
async function laterMinute(at: number) {
  const tally = emptyTally(at);
  tallySync(tally, { kind: "incremental", identifiers: 1, matches: 0, flagged: false }, at);
  await monitorShard(env, 0).absorb(tally, MONITOR_0(), at);
}

describe("a crowd of fresh accounts, each on its own network", () => {
  it("is counted as egress and alerted on; then each new account gets a hundred numbers; honest clients are served", { timeout: 120_000 }, async () => {
    // The number space the crowd walks: 70,000 candidates, a tenth of them registered.
    const candidates = randomIds(70_000);
    await addUsers(shards(), storedAll(candidates.filter((_, i) => i % 10 === 0)), Date.now()); // as the service stores them: pseudonyms
    await honestNorm(Date.now());
    await isolate.monitoring.refreshNorm(env, config(), Date.now());
    let walked = 0;
    const next = (n: number) => candidates.slice(walked, walked + n);
    const take = (n: number) => (walked += n);
    let network = 0;
    /** One crowd account: as much as it is given, in requests of 1,000, then 100; refused, it gives up. */
    async function crowdAccount(): Promise<number> {
      const client = await enrolled();
      const ip = `10.${Math.floor(network / 250)}.${network++ % 250}.1`;
      let revealed = 0;
      for (const size of [1_000, 100]) {
        const numbers = next(size);
        take(size); // an account's numbers are its own, whatever its answer (the crowd runs in parallel)
        const answer = await fullSync(client, numbers, ip);
        if (answer.result !== Result.SUCCESS) continue;
        revealed += answer.added?.length ?? 0;
        break;
      }
      return revealed;
    }

    // The first thirty, within a minute: 30,000 numbers, about 3,000 users, past the floor of 2,000 a minute.
    const before = await Promise.all(Array.from({ length: 30 }, crowdAccount));
    expect(before.reduce((a, b) => a + b, 0)).toBeGreaterThan(config().egress.floorPerMinute);
    expect(isolate.monitoring.egressEpisode()).toBe(false);
    const minute = Math.floor(Date.now() / MINUTE_MS);
    await laterMinute((minute + 1) * MINUTE_MS);
    await isolate.monitoring.refreshNorm(env, config(), Date.now());
    expect(isolate.monitoring.egressEpisode()).toBe(true);
    const alerts = (await monitorShard(env, 0).alerts(10)) as Alert[];
    expect(alerts.find((a) => a.type === "egress")?.detail).toMatchObject({ episode: "started" });

    // Thirty more during the episode: a hundred numbers each (about ten users), then held.
    const during = await Promise.all(Array.from({ length: 30 }, crowdAccount));
    expect(walked).toBeLessThanOrEqual(candidates.length);
    expect(Math.min(...during)).toBeGreaterThan(0); // each was answered: a hundred numbers
    expect(Math.max(...during)).toBeLessThanOrEqual(30);
    expect(during.reduce((a, b) => a + b, 0) / during.length).toBeLessThan(20);
    const last = await enrolled();
    const ip = "10.99.0.1";
    const hundred = next(100);
    take(100);
    expect(hundred).toHaveLength(100);
    expect((await fullSync(last, hundred, ip)).result).toBe(Result.SUCCESS);
    expect((await fullSync(last, next(1), ip)).result).toBe(Result.RATE_LIMIT_EXCEEDED);
    expect((await bucketsOf(env, stored(last.user), 0).inspectClient()).signals).toMatchObject({ verdict: "suspect" });
    expect((await bucketsOf(env, stored(last.user), 0).inspectClient()).flagged).toBe(false);

    // Honest clients during the episode: an established one in full; a new one's book of 300 (40%
    // registered) in halves, as the client library sends it after a refusal without Retry-After.
    const established = await enrolled();
    await bucketsOf(env, stored(established.user), 0).clearFlag(); // vouched for: established
    expect((await fullSync(established, randomIds(15_000), "10.98.0.1")).result).toBe(Result.SUCCESS);
    const registered = randomIds(120);
    await addUsers(shards(), storedAll(registered), Date.now()); // as the service stores them: pseudonyms
    const book = [...registered, ...randomIds(180)];
    const newcomer = await enrolled();
    let found = 0;
    let sent = 0;
    let batch = book.length;
    while (sent < book.length && batch >= 1) {
      const answer = await fullSync(newcomer, book.slice(sent, sent + batch), "10.97.0.1");
      if (answer.result === Result.SUCCESS) {
        found += answer.added?.length ?? 0;
        sent += batch;
        batch = book.length - sent;
      } else batch = Math.floor(batch / 2);
    }
    expect(sent).toBe(book.length);
    expect(found).toBe(120);
  });
});
