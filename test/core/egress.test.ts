// Egress control's arithmetic, with explicit clocks: the limit of a minute, episodes starting and
// ending, a network's daily account of revealed users, and the tighter probation of an episode.

import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config";
import { decideCharge, withProbation } from "../../src/core/charge-policy";
import { type EgressConfig, type EgressState, WINDOW_MINUTES, baselinePerMinute, egressLimit, judgeWindow, learnMinute, noEpisode, probationDuring, revealToNetwork } from "../../src/core/egress";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../src/core/time";

const config: EgressConfig = { floorPerMinute: 1_000, floorPerHour: 6_000, factor: 4, calmMinutes: 3, probationLimit: 500, networkPerDay: 5_000, asnPerDay: 500_000 };

describe("egress control", () => {
  it("sets a minute's limit at the floor or the factor times the hour's mean, whichever is higher", () => {
    expect(egressLimit(config, [], 60)).toBe(1_000);
    expect(egressLimit(config, Array(60).fill(600), 60)).toBe(2_400);
    expect(egressLimit(config, [6_000], 60)).toBe(1_000); // one busy minute in a quiet hour: mean 100
  });

  /** Two hours of `perMinute` a minute: the window judgeWindow() reads. */
  const hours = (perMinute: number) => Array<number>(WINDOW_MINUTES).fill(perMinute);
  const quietWindow = hours(0);

  it("starts an episode on the first minute over the limit, and ends it after calmMinutes within it", () => {
    const judge = (state: EgressState, revealed: number, at: number) => judgeWindow(config, state, quietWindow, revealed, at);
    let state = noEpisode();
    expect(judge(state, 1_000, 0).change).toBeNull(); // at the limit (the floor): normal
    const started = judge(state, 1_001, MINUTE_MS);
    expect(started).toMatchObject({ change: "started", state: { since: MINUTE_MS, calm: 0 }, limit: 1_000 });
    state = started.state;
    state = judge(state, 10, 120_000).state;
    state = judge(state, 5_000, 180_000).state; // over again: the calm count restarts
    expect(state).toEqual({ since: MINUTE_MS, calm: 0, limit: 1_000, hourLimit: 6_000 });
    for (const m of [4, 5]) state = judge(state, 0, m * MINUTE_MS).state;
    const ended = judge(state, 0, 6 * MINUTE_MS);
    expect(ended).toMatchObject({ change: "ended", state: noEpisode() });
  });

  it("holds the limit an episode started against until it ends, so the crowd's own minutes do not raise it", () => {
    const quiet = hours(100); // 100 a minute: the limit is max(floor, factor x 100)
    const limitOf = (state: EgressState, window: number[]) => judgeWindow(config, state, window, 0, 0).limit;
    const limit = limitOf(noEpisode(), quiet);
    expect(limit).toBe(Math.max(config.floorPerMinute, config.factor * 100));
    let state = judgeWindow(config, noEpisode(), quiet, limit * 10, 0).state;
    // An hour in which the crowd revealed ten times the limit each minute would raise a fresh limit tenfold.
    const crowded = [...hours(100).slice(60), ...Array<number>(60).fill(limit * 10)];
    expect(egressLimit(config, crowded.slice(60), 60)).toBeGreaterThan(limit * 5);
    expect(limitOf(state, crowded)).toBe(limit);
    // Held back to twice the old limit, the crowd keeps the episode on; back under it, the episode ends as usual.
    state = judgeWindow(config, state, crowded, limit * 2, MINUTE_MS).state;
    expect(state.calm).toBe(0);
    // Under the limit but above the baseline (limit / factor): not calm either.
    state = judgeWindow(config, state, quietWindow, limit / 2, 90_000).state;
    expect(state).toMatchObject({ since: 0, calm: 0 });
    let change = null;
    for (let m = 2; change === null; m++) ({ state, change } = judgeWindow(config, state, quietWindow, 0, m * MINUTE_MS));
    expect(change).toBe("ended");
    expect(limitOf(state, quiet)).toBe(limit);
  });

  it("sees a crowd that trickles under the minute's floor within its hour, and ends only when the hour is back at its baseline", () => {
    const window = Array<number>(WINDOW_MINUTES).fill(10); // two quiet hours: 600 an hour
    let state = noEpisode();
    let minute = 0;
    const judge = (revealed: number) => {
      const verdict = judgeWindow(config, state, window, revealed, minute * MINUTE_MS);
      window.shift();
      window.push(revealed);
      state = verdict.state;
      minute++;
      return verdict;
    };
    // 150 a minute: never past the minute's floor (1,000), past the hour's (6,000) after 40 minutes.
    const changes: (string | null)[] = [];
    for (let m = 0; m < 60; m++) changes.push(judge(150).change);
    expect(changes.indexOf("started")).toBeGreaterThanOrEqual(35);
    expect(changes.indexOf("started")).toBeLessThan(45);
    expect(state.hourLimit).toBe(6_000);
    // Held to 60 a minute, the hour stays over its baseline (1,500) for a while: not calm yet.
    for (let m = 0; m < 10; m++) expect(judge(60).change).toBeNull();
    expect(state.since).not.toBeNull();
    // Back to 10 a minute: the hour falls under 1,500 within the hour, then three calm minutes end it.
    let ended = -1;
    for (let m = 0; m < 90 && ended < 0; m++) if (judge(10).change === "ended") ended = m;
    expect(ended).toBeGreaterThan(20);
    expect(ended).toBeLessThan(70);
  });

  it("learns what a minute reveals over days, the minutes before its first day counted as none", () => {
    const halfLife = 7 * DAY_MS;
    let baseline = undefined;
    for (let m = 0; m < 6 * 60; m++) baseline = learnMinute(halfLife, baseline, 100, m * MINUTE_MS);
    // Six hours of a day (a little more: the missing minutes are the oldest, and faded).
    expect(baselinePerMinute(halfLife, baseline)).toBeGreaterThan(25);
    expect(baselinePerMinute(halfLife, baseline)).toBeLessThan(27);
    for (let m = 6 * 60; m < 3 * 24 * 60; m++) baseline = learnMinute(halfLife, baseline, 100, m * MINUTE_MS);
    expect(baselinePerMinute(halfLife, baseline)).toBeCloseTo(100, 6);
    expect(learnMinute(halfLife, baseline, 1_000_000, baseline!.at)).toBe(baseline); // a minute is learned once
    // Two quiet days fade it (a half-life of a week), they do not erase it.
    for (let m = 3 * 24 * 60; m < 5 * 24 * 60; m++) baseline = learnMinute(halfLife, baseline, 0, m * MINUTE_MS);
    expect(baselinePerMinute(halfLife, baseline)).toBeGreaterThan(50);
    expect(baselinePerMinute(halfLife, baseline)).toBeLessThan(70);
  });

  it("with a baseline learned over days, honest days busier than the hour's floor start no episode, and a crowd of a few hundred accounts is seen within its hour", () => {
    const learning: EgressConfig = { ...config, floorPerMinute: 2_000, floorPerHour: 5_000, calmMinutes: 60, baselineHalfLifeMs: 7 * DAY_MS };
    const notLearning: EgressConfig = { ...learning, baselineHalfLifeMs: 0 };
    const DAY = 24 * 60;
    /**
     * Users shown to honest newcomers a minute (a hundred each), from 18:00 on day 0: 10 to 60
     * newcomers an hour over the day, and none from 02:00 to 04:00 from the second night on.
     */
    const honest = (minute: number) => {
      const hour = Math.floor(minute / 60) % 24;
      if (hour >= 2 && hour < 4 && minute >= 2 * DAY) return 0;
      return Math.round((100 * (35 + 25 * Math.sin((2 * Math.PI * minute) / DAY))) / 60);
    };
    const from = 18 * 60;
    const run = (c: EgressConfig, perMinute: (minute: number) => number, until: number) => {
      const window = Array<number>(WINDOW_MINUTES).fill(0);
      let state = noEpisode();
      const started: number[] = [];
      for (let m = from; m < until; m++) {
        const revealed = perMinute(m);
        const verdict = judgeWindow(c, state, window, revealed, m * MINUTE_MS);
        if (verdict.change === "started") started.push(m);
        state = verdict.state;
        window.shift();
        window.push(revealed);
      }
      return { started, state };
    };
    const until = from + 4 * DAY;
    const busiestHour = Math.max(...Array.from({ length: 24 }, (_, h) => Array.from({ length: 60 }, (_, i) => honest(DAY + h * 60 + i)).reduce((a, b) => a + b, 0)));
    expect(busiestHour).toBeGreaterThan(learning.floorPerHour);
    expect(run(learning, honest, until).started).toEqual([]);
    // Without it, the hour after each quiet night is over the floor and four times the hour before.
    expect(run(notLearning, honest, until).started.length).toBeGreaterThanOrEqual(3);

    // Then, at the start of a quiet night, 300 accounts arriving over an hour, a hundred users each
    // (a crowd is seen within its hour once it reveals four times the learned hour: 100 accounts
    // where newcomers are shown 2,500 users an hour on average, as in the simulation).
    const start = 5 * DAY + 2 * 60;
    const crowd = (m: number) => (m < start ? honest(m) : m < start + 60 ? 500 : 0);
    const { started } = run(learning, crowd, start + 60);
    expect(started).toHaveLength(1);
    expect((started[0]! - start) * MINUTE_MS).toBeLessThan(HOUR_MS);
  });

  it("throttles a network for new clients once its unjudged clients were shown more than a day's allowance, until it drains", () => {
    const T0 = 1_000 * DAY_MS;
    let state = { revealedEmptyAt: 0, throttledUntil: 0 };
    const first = revealToNetwork(state, 4_000, 5_000, T0);
    expect(first.throttledNow).toBeNull();
    state = first;
    const over = revealToNetwork(state, 2_000, 5_000, T0 + 1000);
    expect(over.throttledNow).not.toBeNull();
    // 6,000 shown, 5,000 allowed: throttled until a fifth of a day has drained the excess.
    expect(over.throttledUntil).toBeCloseTo(T0 + DAY_MS / 5, -2);
    const again = revealToNetwork(over, 10, 5_000, T0 + 2000);
    expect(again.throttledNow).toBeNull(); // said once
    expect(again.throttledUntil).toBeGreaterThan(over.throttledUntil);
  });

  it("holds clients not yet judged to the episode's limit, and leaves judged ones their bucket", () => {
    const base = parseConfig({ MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000, DETECT_PROBATION_LIMIT: 5000 });
    const tight = withProbation(base, probationDuring(base.egress, true));
    expect(tight.detection.episodeLimit).toBe(1_000);
    expect(withProbation(base, probationDuring(base.egress, false))).toBe(base);
    const fresh = { emptyAt: { full: 0, incremental: 0 }, flagged: false, vouched: false, signals: undefined };
    expect(decideCharge(tight, fresh, "full", 1_001, 0)).toEqual({ ok: false, capped: true });
    expect(decideCharge(tight, fresh, "full", 1_000, 0)).toMatchObject({ ok: true, judged: false });
    expect(decideCharge(tight, { ...fresh, vouched: true }, "full", 20_000, 0)).toMatchObject({ ok: true, judged: true });
  });
});
