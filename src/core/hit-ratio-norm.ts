// The hit ratio honest clients see in this directory, learned from the traffic: a decaying
// histogram's median, behind a weak prior (docs/detection.md, "Rules"). Pure.

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

/** Kept by its client, to be taken out again if it is flagged. */
export interface NormSample {
  bin: number;
  at: number;
}

export const emptyNorm = (now: number): NormState => ({ bins: Array<number>(BINS).fill(0), at: now });

export const binOf = (hitRatio: number) => Math.min(BINS - 1, Math.max(0, Math.floor(hitRatio * BINS)));

function decayed(state: NormState, now: number): NormState {
  if (now <= state.at) return state;
  const factor = 2 ** (-(now - state.at) / HALF_LIFE_MS);
  return { bins: state.bins.map((w) => w * factor), at: now };
}

/** What a first full sync of `identifiers` teaches the norm, if it is large enough to. */
export const sampleOf = (identifiers: number, matches: number, now: number): NormSample | null =>
  identifiers < MIN_SAMPLE_IDENTIFIERS ? null : { bin: binOf(matches / identifiers), at: now };

export function addSample(state: NormState, identifiers: number, matches: number, now: number): { state: NormState; sample: NormSample | null } {
  const sample = sampleOf(identifiers, matches, now);
  if (!sample) return { state, sample: null };
  const next = decayed(state, now);
  const { bin } = sample;
  next.bins = next.bins.slice();
  next.bins[bin]! += 1;
  return { state: next, sample };
}

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
  hitRatio: number;
  /** The decayed weight of real samples behind it. */
  samples: number;
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

export interface SyncRecord {
  kind: BucketKind;
  identifiers: number;
  matches: number;
  flagged: boolean;
  /** Absent: yes. Only a client's first full sync teaches, none in an episode: a book in pieces, or a crowd, would outvote the rest. */
  teaches?: boolean;
  /** What it counts for egress control (absent: its matches); capped so one large honest book counts like one crowd account. */
  revealed?: number;
}

/** The monitor's step for one answered sync: the norm it is judged against, and the sample its client keeps. */
export function learnFromSync(state: NormState, sync: SyncRecord, now: number): { state: NormState; taught: boolean; norm: NormView; sample: NormSample | null } {
  const taught = sync.kind === "full" && !sync.flagged && sync.teaches !== false;
  const { state: next, sample } = taught ? addSample(state, sync.identifiers, sync.matches, now) : { state, sample: null };
  return { state: next, taught, norm: normOf(next, now), sample };
}
