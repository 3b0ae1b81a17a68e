// The monitoring, seen from the service: syncs are tallied in this isolate and handed to one of the
// MONITOR_SHARDS monitor objects about once every MONITOR_FLUSH_SECONDS, never one call per sync;
// the operator's reads merge the objects (after handing over this isolate's own tally, so that
// locally, where the service is one isolate, a read sees every sync already answered).
//
// The norm the client objects judge with comes from here too: merged from the objects at most every
// MONITOR_READ_SECONDS per isolate, in the background, plus what this isolate learned since. A sync never
// waits for it; when the objects cannot be reached, the last norm known stands.

import type { Config } from "../core/config";
import { type NormSample, type NormState, type NormView, type SyncRecord, emptyNorm, normOf } from "../core/hit-ratio-norm";
import { type Counts, type Minute, SERIES, type Tally, addToNorm, emptyTally, mergeNorms, mergeSeries, mergeTallies, objectFor, samplesOut, tallyRefusal, tallySync, zeros } from "../core/telemetry";
import { type Alert, type FlaggedClient, type Monitor, monitorShard } from "../objects/monitor";
import { reportEgress } from "./admission";

/** A tally that could not be handed over is kept for the next try, up to this many minutes of it. */
const MAX_PENDING_MINUTES = 24 * 60;

let pending: Tally | null = null;
let flushScheduled = false;

/** Whether an egress episode is on, as monitor object 0 last said (read with the norm). */
let episode = false;

/** The norm as last merged from the objects, and the samples this isolate added or took out since. */
let norm: { merged: NormState; local: NormState; fetchedAt: number } | null = null;
let refreshing = false;

const shards = (config: Config) => Array.from({ length: config.monitorShards }, (_, k) => k);
const shardOf = (config: Config, k: number) => ({ index: k, of: config.monitorShards });

/** Counts an answered sync (no call); answers its norm sample, which the client's object keeps. */
export function noteSync(
  env: Env,
  config: Config,
  record: SyncRecord,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
  unjudgedFrom: readonly string[] | null = null,
): NormSample | null {
  pending ??= emptyTally(now);
  const sample = tallySync(pending, record, now, unjudgedFrom);
  if (sample && norm) {
    const bins = Array<number>(norm.local.bins.length).fill(0);
    bins[sample.bin] = 1;
    norm.local = addToNorm(norm.local, bins, now);
  }
  scheduleFlush(env, config, waitUntil);
  return sample;
}

/** Counts a sync refused for its budget (no call). */
export function noteRefusal(env: Env, config: Config, now: number, waitUntil: (p: Promise<unknown>) => void): void {
  pending ??= emptyTally(now);
  tallyRefusal(pending, now);
  scheduleFlush(env, config, waitUntil);
}

function scheduleFlush(env: Env, config: Config, waitUntil: (p: Promise<unknown>) => void): void {
  if (flushScheduled) return;
  flushScheduled = true;
  waitUntil(new Promise((resolve) => setTimeout(resolve, config.monitorFlushMs)).then(() => flush(env, config)));
}

/** Hands this isolate's tally to one monitor object; if that fails, keeps it for the next try. */
export async function flush(env: Env, config: Config): Promise<void> {
  flushScheduled = false;
  const tally = pending;
  pending = null;
  if (!tally || Object.keys(tally.minutes).length === 0) return;
  // What unjudged clients of each network were shown goes to that network's guard object.
  if (Object.keys(tally.networks).length > 0) {
    const networks = tally.networks;
    tally.networks = {};
    await reportEgress(env, config, networks, Date.now()).catch((error: Error) => console.error(`egress report failed: ${error.message}`));
  }
  const k = Math.floor(Math.random() * config.monitorShards);
  try {
    await monitorShard(env, k).absorb(tally, shardOf(config, k));
  } catch (error) {
    console.error(`monitoring hand-over failed, kept for the next: ${(error as Error).message}`);
    const kept = pending ? mergeTallies(tally, pending) : tally;
    const minutes = Object.keys(kept.minutes).map(Number).sort((a, b) => a - b);
    for (const old of minutes.slice(0, Math.max(0, minutes.length - MAX_PENDING_MINUTES))) delete kept.minutes[old];
    pending = kept;
  }
}

/**
 * The hit ratio a client's object judges this sync with: the merged norm of the objects (refreshed
 * in the background) with this isolate's own samples since; null before anything is known, and the
 * object then uses the norm it was last given.
 */
export function currentNorm(env: Env, config: Config, now: number, waitUntil: (p: Promise<unknown>) => void): number | null {
  if ((!norm || now - norm.fetchedAt >= config.monitorReadMs) && !refreshing) {
    refreshing = true;
    waitUntil(refreshNorm(env, config, now).finally(() => (refreshing = false)));
  }
  return norm ? normOf(mergeNorms([norm.merged, norm.local], now), now).hitRatio : null;
}

/** Whether clients not yet judged are held to the egress probation limit now (never waits: the last word heard). */
export const egressEpisode = (): boolean => episode;

/** Reads the norm and the egress episode from the objects now (the background refresh, awaited). */
export async function refreshNorm(env: Env, config: Config, now: number): Promise<void> {
  try {
    await flush(env, config); // this isolate's samples join the objects before they are read back
    const [states, egress] = await Promise.all([Promise.all(shards(config).map((k) => monitorShard(env, k).normState(now))), monitorShard(env, 0).egress()]);
    norm = { merged: mergeNorms(states, now), local: emptyNorm(now), fetchedAt: now };
    episode = egress.since !== null;
  } catch (error) {
    console.error(`norm refresh failed, the last one known stands: ${(error as Error).message}`);
    if (norm) norm.fetchedAt = now;
  }
}

/** A client was flagged: listed on its object, its samples taken out of the norm (here at once too). */
export async function announceFlag(env: Env, config: Config, client: FlaggedClient & { subject: string | null; samples: NormSample[] }, now: number): Promise<void> {
  if (norm) norm.local = addToNorm(norm.local, samplesOut(client.samples, now), now);
  const k = objectFor(client.id, config.monitorShards);
  await monitorShard(env, k).flag(client, shardOf(config, k), now);
}

export async function announceUnflag(env: Env, config: Config, id: string): Promise<void> {
  await monitorShard(env, objectFor(id, config.monitorShards)).unflag(id);
}

// --- The operator's reads: every object, merged ---------------------------------------------------

async function fromAll<R>(env: Env, config: Config, read: (m: DurableObjectStub<Monitor>) => Promise<R>): Promise<R[]> {
  await flush(env, config);
  return Promise.all(shards(config).map((k) => read(monitorShard(env, k))));
}

export async function readSeries(env: Env, config: Config, from: number, to: number): Promise<Minute[]> {
  return mergeSeries(await fromAll(env, config, (m) => m.series(from, to)));
}

export async function readTotals(env: Env, config: Config): Promise<Counts> {
  const all = await fromAll(env, config, (m) => m.totals());
  const sum = zeros();
  for (const totals of all) for (const name of SERIES) sum[name] += totals[name] ?? 0;
  return sum;
}

export async function readNorm(env: Env, config: Config, now: number): Promise<NormView> {
  return normOf(mergeNorms(await fromAll(env, config, (m) => m.normState(now)), now), now);
}

export async function readFlagged(env: Env, config: Config): Promise<FlaggedClient[]> {
  return (await fromAll(env, config, (m) => m.flaggedClients())).flat().sort((a, b) => b.flaggedAt - a.flaggedAt);
}

export async function readAlerts(env: Env, config: Config, limit: number): Promise<Alert[]> {
  const all = (await fromAll(env, config, (m) => m.alerts(limit))).flat() as Alert[];
  return all.sort((a, b) => b.at - a.at).slice(0, limit);
}

/** Calls to shared objects per sync: tallies handed over for the syncs in them (all objects, all isolates). */
export async function readCallsPerSync(env: Env, config: Config): Promise<{ tallies: number; syncs: number }> {
  const all = await fromAll(env, config, (m) => m.absorbed());
  return all.reduce((sum, a) => ({ tallies: sum.tallies + a.tallies, syncs: sum.syncs + a.syncs }), { tallies: 0, syncs: 0 });
}

/** The local /reset hook: every object forgets, and so does this isolate. */
export async function resetMonitoring(env: Env, config: Config): Promise<void> {
  pending = null;
  norm = null;
  episode = false;
  await Promise.all(shards(config).map((k) => monitorShard(env, k).reset()));
}
