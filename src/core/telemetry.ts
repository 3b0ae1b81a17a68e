// What the monitoring counts, as a tally each isolate keeps in memory and hands to a monitor object
// now and then (docs/detection.md, "Monitor, alerts and audit"), so that no sync calls one. Pure.

import { BINS, HALF_LIFE_MS, type NormSample, type NormState, type SyncRecord, emptyNorm, learnFromSync } from "./hit-ratio-norm";
import { MINUTE_MS } from "./time";

export const SERIES = ["syncs", "full", "incremental", "identifiers", "matches", "refusals", "flags", "revealed"] as const;
export type SeriesName = (typeof SERIES)[number];
export type Counts = Record<SeriesName, number>;
export type Minute = { at: number } & Counts;

export const zeros = (): Counts => Object.fromEntries(SERIES.map((s) => [s, 0])) as Counts;

export interface Tally {
  /** Keyed by ms since the epoch / MINUTE_MS. */
  minutes: Record<number, Counts>;
  norm: NormState;
  /** Calls per sync = tallies handed over / syncs in them. */
  syncs: number;
  /** Revealed to clients not yet judged, per network key. */
  networks: Record<string, number>;
}

export const emptyTally = (now: number): Tally => ({ minutes: {}, norm: emptyNorm(now), syncs: 0, networks: {} });

function countInto(tally: Tally, now: number, add: Partial<Counts>): void {
  const minute = Math.floor(now / MINUTE_MS);
  const counts = (tally.minutes[minute] ??= zeros());
  for (const [name, value] of Object.entries(add) as [SeriesName, number][]) counts[name] += value;
}

/** Negative weights take samples out. */
export function addToNorm(state: NormState, bins: readonly number[], at: number): NormState {
  const to = Math.max(state.at, at);
  const base = 2 ** (-(to - state.at) / HALF_LIFE_MS);
  const added = 2 ** (-(to - at) / HALF_LIFE_MS);
  return { bins: Array.from({ length: BINS }, (_, i) => (state.bins[i] ?? 0) * base + (bins[i] ?? 0) * added), at: to };
}

/** Returns the norm sample, which the client keeps. */
export function tallySync(tally: Tally, record: SyncRecord, now: number, unjudgedFrom: readonly string[] | null = null): NormSample | null {
  const revealed = unjudgedFrom && record.kind === "full" ? (record.revealed ?? record.matches) : 0;
  countInto(tally, now, { syncs: 1, [record.kind]: 1, identifiers: record.identifiers, matches: record.matches, revealed });
  if (revealed > 0) for (const key of unjudgedFrom!) tally.networks[key] = (tally.networks[key] ?? 0) + revealed;
  tally.syncs += 1;
  const { state, sample } = learnFromSync(tally.norm, record, now);
  tally.norm = state;
  return sample;
}

export const tallyRefusal = (tally: Tally, now: number): void => countInto(tally, now, { refusals: 1 });

/** For a hand-over that failed and is tried again with the next. */
export function mergeTallies(a: Tally, b: Tally): Tally {
  const minutes: Record<number, Counts> = { ...a.minutes };
  for (const [minute, counts] of Object.entries(b.minutes)) {
    const into = (minutes[Number(minute)] = { ...(minutes[Number(minute)] ?? zeros()) });
    for (const name of SERIES) into[name] += counts[name];
  }
  const networks = { ...a.networks };
  for (const [key, n] of Object.entries(b.networks)) networks[key] = (networks[key] ?? 0) + n;
  return { minutes, norm: addToNorm(a.norm, b.norm.bins, b.norm.at), syncs: a.syncs + b.syncs, networks };
}

export function mergeSeries(lists: Minute[][]): Minute[] {
  const byMinute = new Map<number, Minute>();
  for (const list of lists) {
    for (const m of list) {
      const into = byMinute.get(m.at) ?? { at: m.at, ...zeros() };
      for (const name of SERIES) into[name] += m[name];
      byMinute.set(m.at, into);
    }
  }
  return [...byMinute.values()].sort((x, y) => x.at - y.at);
}

/** A bin never goes below 0: samples may have been taken out in another object. */
export function mergeNorms(states: NormState[], now: number): NormState {
  const merged = states.reduce((sum, s) => addToNorm(sum, s.bins, s.at), emptyNorm(now));
  return { bins: merged.bins.map((w) => Math.max(0, w)), at: merged.at };
}

export function samplesOut(samples: NormSample[], now: number): number[] {
  const bins = Array<number>(BINS).fill(0);
  for (const { bin, at } of samples) if (bin >= 0 && bin < BINS) bins[bin]! -= 2 ** (-(now - at) / HALF_LIFE_MS);
  return bins;
}

export function objectFor(key: string, n: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % n;
}
