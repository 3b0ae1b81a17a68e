// The hit ratio honest clients see in this directory, learned from the traffic. Pure.
//
// Every full sync of at least MIN_SAMPLE_IDENTIFIERS from a client not flagged adds its hit ratio to
// a histogram; older samples fade with a half-life, so the norm follows the directory as it grows.
// The norm is the histogram's median: one sample per request, not per identifier, so a few huge
// requests cannot drag it down, and when a client is flagged its samples are taken out again, so
// fresh accounts of an enumerator cannot talk the norm down either. Until traffic has spoken, a
// weak prior (PRIOR_WEIGHT requests' worth at PRIOR_HIT_RATIO) stands in; real samples outweigh it
// after a few dozen syncs.

import type { BucketKind } from "./bucket";
import { DAY_MS } from "./time";

export const BINS = 50;
export const MIN_SAMPLE_IDENTIFIERS = 20;
export const HALF_LIFE_MS = 7 * DAY_MS;
export const PRIOR_HIT_RATIO = 0.3;
export const PRIOR_WEIGHT = 10;

export interface NormState {
  bins: number[];
  at: number;
}

/** One request's contribution, kept by its client so that it can be taken out again. */
export interface NormSample {
  bin: number;
  at: number;
}

export const emptyNorm = (now: number): NormState => ({ bins: Array<number>(BINS).fill(0), at: now });

export const binOf = (hitRatio: number) => Math.min(BINS - 1, Math.max(0, Math.floor(hitRatio * BINS)));

/** The state decayed to `now`. */
function decayed(state: NormState, now: number): NormState {
  if (now <= state.at) return state;
  const factor = 2 ** (-(now - state.at) / HALF_LIFE_MS);
  return { bins: state.bins.map((w) => w * factor), at: now };
}

/** Adds one full sync's hit ratio; returns the new state and the sample to keep, or null if too small to count. */
export function addSample(state: NormState, identifiers: number, matches: number, now: number): { state: NormState; sample: NormSample | null } {
  if (identifiers < MIN_SAMPLE_IDENTIFIERS) return { state, sample: null };
  const next = decayed(state, now);
  const bin = binOf(matches / identifiers);
  next.bins = next.bins.slice();
  next.bins[bin]! += 1;
  return { state: next, sample: { bin, at: now } };
}

/** Takes samples out again (their weight as decayed by `now`). */
export function removeSamples(state: NormState, samples: NormSample[], now: number): NormState {
  const next = decayed(state, now);
  next.bins = next.bins.slice();
  for (const { bin, at } of samples) {
    if (bin < 0 || bin >= BINS) continue;
    next.bins[bin] = Math.max(0, next.bins[bin]! - 2 ** (-(now - at) / HALF_LIFE_MS));
  }
  return next;
}

export interface NormView {
  /** The median hit ratio of honest full syncs (the prior while there are none). */
  hitRatio: number;
  /** The decayed weight of real samples behind it. */
  samples: number;
  /** Whether the prior still outweighs the samples (fewer samples than PRIOR_WEIGHT). */
  prior: boolean;
}

export function normOf(state: NormState, now: number): NormView {
  const { bins } = decayed(state, now);
  const weights = bins.slice();
  weights[binOf(PRIOR_HIT_RATIO)]! += PRIOR_WEIGHT;
  const total = weights.reduce((a, b) => a + b, 0);
  let seen = 0;
  let median = PRIOR_HIT_RATIO;
  for (let i = 0; i < BINS; i++) {
    if (seen + weights[i]! >= total / 2) {
      // Interpolate inside the bin, so the norm moves smoothly rather than in steps of 1/BINS.
      median = (i + (total / 2 - seen) / weights[i]!) / BINS;
      break;
    }
    seen += weights[i]!;
  }
  const samples = bins.reduce((a, b) => a + b, 0);
  return { hitRatio: median, samples, prior: samples < PRIOR_WEIGHT };
}

/** An answered sync, as the monitor learns from it. */
export interface SyncRecord {
  kind: BucketKind;
  identifiers: number;
  matches: number;
  /** The client was already flagged: its syncs do not teach the norm. */
  flagged: boolean;
  /**
   * Whether this sync may teach the norm (absent: yes). The service lets only a client's first full
   * sync teach, and none during an egress episode: a large book sent in pieces, or a crowd, would
   * otherwise outvote the address books.
   */
  teaches?: boolean;
  /**
   * What a full sync of a client not established counts for egress control (absent: its matches).
   * The service counts at most DETECT_PROBATION_LIMIT a sync: egress watches how many young
   * accounts are shown users, and one large honest book counts as much as one crowd account.
   */
  revealed?: number;
}

/**
 * The monitor's step for one answered sync: only an unflagged client's full syncs teach the norm.
 * Returns the state to keep (`taught`: it changed), the norm this sync is judged against, and the
 * sample its client keeps (to be taken out with removeSamples if the client is flagged).
 */
export function learnFromSync(state: NormState, sync: SyncRecord, now: number): { state: NormState; taught: boolean; norm: NormView; sample: NormSample | null } {
  const taught = sync.kind === "full" && !sync.flagged && sync.teaches !== false;
  const { state: next, sample } = taught ? addSample(state, sync.identifiers, sync.matches, now) : { state, sample: null };
  return { state: next, taught, norm: normOf(next, now), sample };
}
