// Alerts on time, on [env.production] with the fake clock: monitor object 0 judges each closed
// minute on its alarm, so a crowd is alerted on within two minutes of the minute that shows it
// though no request follows; the hour's limit follows what honest newcomers were shown over days,
// so honest days above the hour's floor raise no episode while crowds of 100 and 1,000 fresh
// accounts are seen within their first hour and five minutes.

import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emptyTally, tallySync } from "../../src/core/telemetry";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../src/core/time";
import { addUsers } from "../../src/db/test-hooks";
import { resetMonitoring } from "../../src/domain/monitoring";
import { type Alert, JUDGE_MARGIN_MS, monitorShard } from "../../src/objects/monitor";
import { T0, fakeClock } from "../fake-clock";
import { randomIds, storedAll } from "../helpers";
import { config, enrolled, fullSync, isolate, shards } from "./through-domain";

const { at } = fakeClock();
const setNow = (ms: number) => at(ms - T0);
const N = () => config().monitorShards;
const zero = () => monitorShard(env, 0);
/** A minute is judged this long after its end: a hand-over (MONITOR_FLUSH_SECONDS) and a margin. */
const grace = () => config().monitorFlushMs + JUDGE_MARGIN_MS;
/** Whole minutes well after the real clock's, one stretch per test. */
const stretch = (days: number) => (Math.ceil(T0 / DAY_MS) + days) * DAY_MS;

const egressAlerts = async () => ((await zero().alerts(1_000)) as Alert[]).filter((a) => a.type === "egress");

/** Object 0's alarm, run when the runtime would run it (once `now` has come). */
async function alarmAt(now: number): Promise<void> {
  setNow(now);
  expect(await runDurableObjectAlarm(zero())).toBe(true);
}

/** An isolate's hand-over to object `k`, as IsolateMonitoring.flush() makes it: `accounts` first syncs at `at`, each showing `users` users to a client not established. */
async function handOver(k: number, at: number, accounts: number, users = 100): Promise<void> {
  const tally = emptyTally(at);
  for (let i = 0; i < accounts; i++) tallySync(tally, { kind: "full", identifiers: 1_000, matches: users, flagged: false }, at, [`203.0.113.${i % 250}`]);
  await monitorShard(env, k).absorb(tally, { index: k, of: N() }, at);
}

/**
 * Honest newcomers from `from` to `to` (minute starts), `perHour(minute)` an hour, each shown a
 * hundred users, handed to the objects in turn; object 0's alarm runs every hour. Answers the
 * users shown in the busiest hour.
 */
async function honestNewcomers(from: number, to: number, perHour: (minute: number) => number): Promise<number> {
  let carry = 0;
  let k = 0;
  const hours = new Map<number, number>();
  for (let t = from; t < to; t += MINUTE_MS) {
    carry += perHour(t / MINUTE_MS) / 60;
    const n = Math.floor(carry);
    carry -= n;
    if (n > 0) {
      setNow(t + 10_000);
      await handOver(k++ % N(), t + 10_000, n);
      hours.set(Math.floor(t / HOUR_MS), (hours.get(Math.floor(t / HOUR_MS)) ?? 0) + 100 * n);
    }
    if ((t - from) % HOUR_MS === HOUR_MS - MINUTE_MS) await alarmAt(t + MINUTE_MS + grace());
  }
  return Math.max(...hours.values());
}

/**
 * A crowd of `size` fresh accounts from `start`, spread evenly over an hour, each shown a hundred
 * users in its minute; no tally reaches object 0, and nothing else happens. Object 0's alarm runs
 * as each minute closes. Answers the minutes from the crowd's first minute to its alert.
 */
async function crowd(size: number, start: number): Promise<number> {
  for (let m = 0; m < 60; m++) {
    const minute = start + m * MINUTE_MS;
    const accounts = Math.floor(((m + 1) * size) / 60) - Math.floor((m * size) / 60);
    setNow(minute + 1_000);
    await handOver(1 + (m % (N() - 1)), minute + 1_000, accounts);
    await alarmAt(minute + MINUTE_MS + grace());
    const [started] = await egressAlerts();
    if (started) {
      expect(started.detail).toMatchObject({ episode: "started", minute });
      // Raised by the alarm: the minute that shows it ended `grace` ago.
      expect(Date.now() - (minute + MINUTE_MS)).toBeLessThan(2 * MINUTE_MS);
      return (Date.now() - start) / MINUTE_MS;
    }
  }
  return Infinity;
}

/** 6 to 18 newcomers an hour over the day, fewest at `trough` (600 to 1,800 users shown an hour). */
const smallDeployment = (trough: number) => (minute: number) => 12 - 6 * Math.cos((2 * Math.PI * (minute - trough / MINUTE_MS)) / (24 * 60));

describe("alerts on time", () => {
  it("alerts on a crowd within two minutes of the minute that shows it, though no request follows", { timeout: 120_000 }, async () => {
    await resetMonitoring(env, config(), isolate.monitoring);
    const minute = stretch(10);
    setNow(minute + 1_000);
    // Thirty fresh accounts, each on its own network, each sending 1,000 numbers of which a tenth
    // are registered: about 3,000 users shown in one minute, past the floor of 2,000.
    const candidates = randomIds(30_000);
    await addUsers(shards(), storedAll(candidates.filter((_, i) => i % 10 === 0)), Date.now());
    const shown = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => (await fullSync(await enrolled(), candidates.slice(i * 1_000, (i + 1) * 1_000), `10.60.${i}.1`)).added?.length ?? 0),
    );
    expect(shown.reduce((a, b) => a + b, 0)).toBeGreaterThan(config().egress.floorPerMinute);
    await isolate.monitoring.flush(env, config()); // what the isolate still held
    expect(await egressAlerts()).toEqual([]);

    // No other request: the minute closes, and object 0's alarm judges it.
    await alarmAt(minute + MINUTE_MS + grace());
    const [started] = await egressAlerts();
    expect(started).toMatchObject({ at: minute + MINUTE_MS, detail: { episode: "started", minute } });
    expect(Date.now() - minute).toBeLessThanOrEqual(MINUTE_MS + grace()); // 66 s after the crowd's first request
    await isolate.monitoring.refreshNorm(env, config(), Date.now());
    expect(isolate.monitoring.egressEpisode()).toBe(true);
  });

  it("raises no episode from honest newcomers over four days, though their busiest hours are above the hour's floor", { timeout: 300_000 }, async () => {
    await resetMonitoring(env, config(), isolate.monitoring);
    const from = stretch(20);
    // 10 to 60 newcomers an hour (1,000 to 6,000 users shown), fewest at the start; from the second
    // night, none for two hours, so that the hour after them is four times the hour before.
    const perHour = (minute: number) => {
      const since = minute - from / MINUTE_MS;
      if (since >= 24 * 60 + 8 * 60 && since % (24 * 60) >= 8 * 60 && since % (24 * 60) < 10 * 60) return 0;
      return 35 - 25 * Math.cos((2 * Math.PI * since) / (24 * 60));
    };
    const busiest = await honestNewcomers(from, from + 4 * DAY_MS, perHour);
    expect(busiest).toBeGreaterThan(config().egress.floorPerHour);
    expect(await egressAlerts()).toEqual([]);
    expect(await zero().egress()).toEqual({ since: null, calm: 0 });
  });

  it("alerts on a crowd of 100 fresh accounts within its first hour, after two days of honest newcomers", { timeout: 300_000 }, async () => {
    await resetMonitoring(env, config(), isolate.monitoring);
    const from = stretch(30);
    await honestNewcomers(from, from + 2 * DAY_MS, smallDeployment(from));
    expect(await egressAlerts()).toEqual([]);
    const after = await crowd(100, from + 2 * DAY_MS);
    expect(after).toBeLessThanOrEqual(60);
    console.log(`crowd of 100: alerted ${after.toFixed(2)} min after its first minute began`);
  });

  for (const size of [1_000, 10_000]) {
    it(`alerts on a crowd of ${size.toLocaleString("en-US")} fresh accounts within five minutes, after a day of honest newcomers`, { timeout: 300_000 }, async () => {
      await resetMonitoring(env, config(), isolate.monitoring);
      const from = stretch(size === 1_000 ? 40 : 50);
      await honestNewcomers(from, from + DAY_MS, smallDeployment(from));
      expect(await egressAlerts()).toEqual([]);
      const after = await crowd(size, from + DAY_MS);
      expect(after).toBeLessThanOrEqual(5);
      console.log(`crowd of ${size}: alerted ${after.toFixed(2)} min after its first minute began`);
    });
  }
});
