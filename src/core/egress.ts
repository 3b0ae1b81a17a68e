// Egress control: what the service gives away. Pure.
//
// Every registered user a full sync reveals to a client not yet judged (src/core/charge-policy.ts
// isJudged) is counted per minute over the whole service, and per day for the client's network
// (IPv4 address or IPv6 /64) and its ASN. Honest new clients reveal a few hundred each; a crowd of
// fresh accounts (Sybils spread over many networks, or packed into one) reveals far more. Past the
// global limit an episode starts: clients not yet judged get EGRESS_PROBATION_LIMIT instead of the
// probation limit until EGRESS_CALM_MINUTES minutes in a row are back within it; a network past
// its daily allowance gets no new clients until what it revealed has drained below it. Judged
// clients keep full service throughout.

import { DAY_MS } from "./time";

export interface EgressConfig {
  /** Revealed users a minute (all monitor objects) that are never abnormal, however quiet the hour before. */
  floorPerMinute: number;
  /** The same for the last hour: a crowd trickling under the minute's floor is seen within its hour. */
  floorPerHour: number;
  /** A minute is abnormal above this many times the mean of the hour before it (and the floor). */
  factor: number;
  /** Minutes in a row within the limit that end an episode. */
  calmMinutes: number;
  /** The full-sync limit of clients not yet judged while an episode lasts. */
  probationLimit: number;
  /** Revealed users a day to unjudged clients of one network (IPv4 address or IPv6 /64), of one ASN. */
  networkPerDay: number;
  asnPerDay: number;
}

export interface EgressState {
  /** When the current episode started (ms), or null when there is none. */
  since: number | null;
  /** Completed minutes in a row within the limit, during an episode. */
  calm: number;
  /**
   * The limit the episode started against, held until it ends: the crowd's own minutes would
   * otherwise raise the mean of the hour it is judged by, and a crowd held back would look calm.
   */
  limit?: number;
  /** The same for the hour's limit (judgeWindow()). */
  hourLimit?: number;
}

export const noEpisode = (): EgressState => ({ since: null, calm: 0 });

export interface MinuteVerdict {
  state: EgressState;
  /** What changed with this minute, for the alert: an episode started or ended. */
  change: "started" | "ended" | null;
  limit: number;
}

/** The limit of a minute given the revealed counts of the hour before it (missing minutes count as 0). */
export function egressLimit(config: EgressConfig, hour: readonly number[], minutesInHour: number): number {
  const mean = hour.reduce((a, b) => a + b, 0) / minutesInHour;
  return Math.max(config.floorPerMinute, config.factor * mean);
}

/** One completed minute's effect on the episode: `over` starts or continues it (holding the limits it started against); calm minutes in a row end it. */
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

/** The minutes before a judged minute that judgeWindow() reads: two hours. */
export const WINDOW_MINUTES = 120;
const HOUR_MINUTES = 60;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Judges a completed minute that revealed `revealed`, given the WINDOW_MINUTES minutes before it
 * (oldest first, missing minutes as 0), by two limits: the minute's (max(floor, factor x the mean
 * minute of the hour before)) and the last hour's (max(floorPerHour, factor x the hour before
 * that)), so a crowd that trickles under the minute's floor is still seen within its hour. During
 * an episode both limits are the ones it started against; it ends after calm minutes with both
 * back at their baselines (limit / factor).
 */
export function judgeWindow(config: EgressConfig, state: EgressState, window: readonly number[], revealed: number, minuteStart: number): MinuteVerdict & { hourRevealed: number; hourLimit: number } {
  const lastHour = window.slice(-HOUR_MINUTES);
  const hourBefore = window.slice(0, Math.max(0, window.length - HOUR_MINUTES));
  const episode = state.since !== null;
  const limit = episode && state.limit !== undefined ? state.limit : egressLimit(config, lastHour, HOUR_MINUTES);
  const hourLimit = episode && state.hourLimit !== undefined ? state.hourLimit : Math.max(config.floorPerHour, config.factor * sum(hourBefore));
  const hourRevealed = sum(lastHour.slice(1)) + revealed;
  const over = revealed > limit || hourRevealed > hourLimit;
  const calm = revealed <= limit / config.factor && hourRevealed <= hourLimit / config.factor;
  return { ...step(config, state, { over, calm, limit, hourLimit }, minuteStart), hourRevealed, hourLimit };
}

/** The probation limit a sync is charged under: tighter while an episode lasts. */
export const probationDuring = (config: EgressConfig, episode: boolean): number | undefined => (episode ? config.probationLimit : undefined);

/**
 * One network's account of what its unjudged clients were shown: a leaky bucket of `perDay` that
 * drains in a day (its whole state, `revealedEmptyAt`, is when it will be empty). Nothing is ever
 * refused here, the count only grows; while the level is above `perDay` the network is throttled
 * for new clients, until it has drained back to `perDay`. `throttledNow` says so once.
 */
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
