// Egress control: what full syncs reveal to clients not established, per minute over the service
// and per day per network, and the episodes that holds (docs/detection.md, "Egress control"). Pure.

import { DAY_MS, MINUTE_MS } from "./time";

export interface EgressConfig {
  floorPerMinute: number;
  floorPerHour: number;
  factor: number;
  calmMinutes: number;
  probationLimit: number;
  networkPerDay: number;
  asnPerDay: number;
  /** Half-life of the hour's baseline learned over days (EGRESS_BASELINE_DAYS); absent or 0: none is learned. */
  baselineHalfLifeMs?: number;
}

/** What the service revealed per minute, learned over days: a sum fading with the half-life, from `since` to `at` (minute starts). */
export interface EgressBaseline {
  sum: number;
  at: number;
  since: number;
}

export interface EgressState {
  since: number | null;
  calm: number;
  /** Held from the episode's start: the crowd's own minutes would otherwise raise the mean it is judged by. */
  limit?: number;
  hourLimit?: number;
  /** Kept across episodes; only with a half-life configured. */
  baseline?: EgressBaseline;
}

export const noEpisode = (): EgressState => ({ since: null, calm: 0 });

export interface MinuteVerdict {
  state: EgressState;
  change: "started" | "ended" | null;
  limit: number;
}

/** The limit of a minute given the revealed counts of the hour before it (missing minutes count as 0). */
export function egressLimit(config: EgressConfig, hour: readonly number[], minutesInHour: number): number {
  const mean = hour.reduce((a, b) => a + b, 0) / minutesInHour;
  return Math.max(config.floorPerMinute, config.factor * mean);
}

function step(config: EgressConfig, state: EgressState, minute: { over: boolean; calm: boolean; limit: number; hourLimit: number }, minuteStart: number): MinuteVerdict {
  const { limit } = minute;
  if (minute.over) {
    if (state.since !== null) return { state: { ...state, calm: 0 }, change: null, limit };
    return { state: { since: minuteStart, calm: 0, limit, hourLimit: minute.hourLimit }, change: "started", limit };
  }
  if (state.since === null) return { state, change: null, limit };
  // Calm is back at the baseline (the limit / factor), not merely under the limit: a crowd held to
  // a trickle just under it would otherwise end the episode and be let go again.
  if (!minute.calm) return { state: { ...state, calm: 0 }, change: null, limit };
  const calm = state.calm + 1;
  return calm >= config.calmMinutes ? { state: noEpisode(), change: "ended", limit } : { state: { ...state, calm }, change: null, limit };
}

export const WINDOW_MINUTES = 120;
const HOUR_MINUTES = 60;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** Until a day has been learned, the missing minutes count as 0: the first hours of a service cannot raise it much. */
const BASELINE_MIN_MINUTES = DAY_MS / MINUTE_MS;

/** Adds the minute starting at `at`; a minute already learned is not learned twice. */
export function learnMinute(halfLifeMs: number, baseline: EgressBaseline | undefined, revealed: number, at: number): EgressBaseline {
  if (!baseline) return { sum: revealed, at, since: at };
  if (at <= baseline.at) return baseline;
  return { sum: baseline.sum * 2 ** (-(at - baseline.at) / halfLifeMs) + revealed, at, since: baseline.since };
}

/** The learned mean per minute: the faded sum over the faded count of minutes since the first (at least a day's). */
export function baselinePerMinute(halfLifeMs: number, baseline: EgressBaseline | undefined): number {
  if (!baseline) return 0;
  const r = 2 ** (-MINUTE_MS / halfLifeMs);
  const minutes = Math.max(BASELINE_MIN_MINUTES, (baseline.at - baseline.since) / MINUTE_MS + 1);
  return (baseline.sum * (1 - r)) / (1 - r ** minutes);
}

/**
 * Judges a completed minute given the WINDOW_MINUTES before it (oldest first, missing minutes as 0).
 * The hour's limit is the highest of its floor, `factor` × the hour before, and `factor` × the hour
 * learned over days (with a half-life configured): the floor can then be low, since a deployment whose
 * honest newcomers reveal more raises it by itself, and a launch's ramp by the hour before.
 */
export function judgeWindow(config: EgressConfig, state: EgressState, window: readonly number[], revealed: number, minuteStart: number): MinuteVerdict & { hourRevealed: number; hourLimit: number } {
  const lastHour = window.slice(-HOUR_MINUTES);
  const hourBefore = window.slice(0, Math.max(0, window.length - HOUR_MINUTES));
  const episode = state.since !== null;
  const limit = episode && state.limit !== undefined ? state.limit : egressLimit(config, lastHour, HOUR_MINUTES);
  // The baseline learns the minute an hour before this one: the crowd's own hour never raises its limit.
  const halfLife = config.baselineHalfLifeMs ?? 0;
  const baseline = halfLife > 0 ? learnMinute(halfLife, state.baseline, lastHour[0] ?? 0, minuteStart - HOUR_MINUTES * MINUTE_MS) : undefined;
  const learnedHour = HOUR_MINUTES * baselinePerMinute(halfLife, baseline);
  const hourLimit =
    episode && state.hourLimit !== undefined ? state.hourLimit : Math.max(config.floorPerHour, config.factor * sum(hourBefore), config.factor * learnedHour);
  const hourRevealed = sum(lastHour.slice(1)) + revealed;
  const over = revealed > limit || hourRevealed > hourLimit;
  const calm = revealed <= limit / config.factor && hourRevealed <= hourLimit / config.factor;
  const verdict = step(config, state, { over, calm, limit, hourLimit }, minuteStart);
  return { ...verdict, state: baseline ? { ...verdict.state, baseline } : verdict.state, hourRevealed, hourLimit };
}

export const probationDuring = (config: EgressConfig, episode: boolean): number | undefined => (episode ? config.probationLimit : undefined);

/** A leaky bucket of `perDay` draining in a day that only counts: above `perDay` the network is throttled; `throttledNow` says so once. */
export function revealToNetwork(
  state: { revealedEmptyAt: number; throttledUntil: number },
  revealed: number,
  perDay: number,
  now: number,
): { revealedEmptyAt: number; throttledUntil: number; throttledNow: { revealed: number } | null } {
  const revealedEmptyAt = Math.max(state.revealedEmptyAt, now) + (revealed * DAY_MS) / perDay;
  if (revealedEmptyAt - now <= DAY_MS) return { revealedEmptyAt, throttledUntil: state.throttledUntil, throttledNow: null };
  const throttledUntil = Math.max(state.throttledUntil, revealedEmptyAt - DAY_MS);
  const level = Math.round(((revealedEmptyAt - now) * perDay) / DAY_MS);
  return { revealedEmptyAt, throttledUntil, throttledNow: state.throttledUntil > now ? null : { revealed: level } };
}
