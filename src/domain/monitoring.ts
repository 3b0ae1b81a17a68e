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

const shards = (config: Config) => Array.from({ length: config.monitorShards }, (_, k) => k);
const shardOf = (config: Config, k: number) => ({ index: k, of: config.monitorShards });

/**
 * What one isolate keeps of the monitoring between the requests it serves: its tally not yet handed
 * over, and the norm and the egress episode as last read from the objects. Made once per isolate
 * (src/index.ts) and handed to every request.
 */
export class IsolateMonitoring {
  private pending: Tally | null = null;
  private flushScheduled = false;
  /** Whether an egress episode is on, as monitor object 0 last said (read with the norm). */
  private episode = false;
  /** The norm as last merged from the objects, and the samples this isolate added or took out since. */
  private norm: { merged: NormState; local: NormState; fetchedAt: number } | null = null;
  private refreshing = false;

  /** Counts an answered sync (no call); answers its norm sample, which the client's object keeps. */
  noteSync(env: Env, config: Config, record: SyncRecord, now: number, waitUntil: WaitUntil, unjudgedFrom: readonly string[] | null = null): NormSample | null {
    this.pending ??= emptyTally(now);
    const sample = tallySync(this.pending, record, now, unjudgedFrom);
    if (sample && this.norm) {
      const bins = Array<number>(this.norm.local.bins.length).fill(0);
      bins[sample.bin] = 1;
      this.norm.local = addToNorm(this.norm.local, bins, now);
    }
    this.scheduleFlush(env, config, waitUntil);
    return sample;
  }

  /** Counts a sync refused for its budget (no call). */
  noteRefusal(env: Env, config: Config, now: number, waitUntil: WaitUntil): void {
    this.pending ??= emptyTally(now);
    tallyRefusal(this.pending, now);
    this.scheduleFlush(env, config, waitUntil);
  }

  private scheduleFlush(env: Env, config: Config, waitUntil: WaitUntil): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    waitUntil(new Promise((resolve) => setTimeout(resolve, config.monitorFlushMs)).then(() => this.flush(env, config)));
  }

  /** Hands this isolate's tally to one monitor object; if that fails, keeps it for the next try. */
  async flush(env: Env, config: Config): Promise<void> {
    this.flushScheduled = false;
    const tally = this.pending;
    this.pending = null;
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
      const kept = this.pending ? mergeTallies(tally, this.pending) : tally;
      const minutes = Object.keys(kept.minutes).map(Number).sort((a, b) => a - b);
      for (const old of minutes.slice(0, Math.max(0, minutes.length - MAX_PENDING_MINUTES))) delete kept.minutes[old];
      this.pending = kept;
    }
  }

  /**
   * The hit ratio a client's object judges this sync with: the merged norm of the objects (refreshed
   * in the background) with this isolate's own samples since; null before anything is known, and the
   * object then uses the norm it was last given.
   */
  currentNorm(env: Env, config: Config, now: number, waitUntil: WaitUntil): number | null {
    if ((!this.norm || now - this.norm.fetchedAt >= config.monitorReadMs) && !this.refreshing) {
      this.refreshing = true;
      waitUntil(this.refreshNorm(env, config, now).finally(() => (this.refreshing = false)));
    }
    return this.norm ? normOf(mergeNorms([this.norm.merged, this.norm.local], now), now).hitRatio : null;
  }

  /** Whether clients not yet judged are held to the egress probation limit now (never waits: the last word heard). */
  egressEpisode(): boolean {
    return this.episode;
  }

  /** Reads the norm and the egress episode from the objects now (the background refresh, awaited). */
  async refreshNorm(env: Env, config: Config, now: number): Promise<void> {
    try {
      await this.flush(env, config); // this isolate's samples join the objects before they are read back
      const [states, egress] = await Promise.all([Promise.all(shards(config).map((k) => monitorShard(env, k).normState(now))), monitorShard(env, 0).egress()]);
      this.norm = { merged: mergeNorms(states, now), local: emptyNorm(now), fetchedAt: now };
      this.episode = egress.since !== null;
    } catch (error) {
      console.error(`norm refresh failed, the last one known stands: ${(error as Error).message}`);
      if (this.norm) this.norm.fetchedAt = now;
    }
  }

  /** A flagged client's samples leave this isolate's norm at once (the monitor objects' with announceFlag()). */
  takeOut(samples: NormSample[], now: number): void {
    if (this.norm) this.norm.local = addToNorm(this.norm.local, samplesOut(samples, now), now);
  }

  /** The local /reset hook: this isolate forgets (resetMonitoring() makes every object forget too). */
  forget(): void {
    this.pending = null;
    this.norm = null;
    this.episode = false;
  }
}

type WaitUntil = (p: Promise<unknown>) => void;

/** A client was flagged: listed on its object, its samples taken out of the norm (here at once too). */
export async function announceFlag(env: Env, config: Config, monitoring: IsolateMonitoring, client: FlaggedClient & { subject: string | null; samples: NormSample[] }, now: number): Promise<void> {
  monitoring.takeOut(client.samples, now);
  const k = objectFor(client.id, config.monitorShards);
  await monitorShard(env, k).flag(client, shardOf(config, k), now);
}

export async function announceUnflag(env: Env, config: Config, id: string): Promise<void> {
  await monitorShard(env, objectFor(id, config.monitorShards)).unflag(id);
}

// --- The operator's reads: every object, merged ---------------------------------------------------

async function fromAll<R>(env: Env, config: Config, monitoring: IsolateMonitoring, read: (m: DurableObjectStub<Monitor>) => Promise<R>): Promise<R[]> {
  await monitoring.flush(env, config);
  return Promise.all(shards(config).map((k) => read(monitorShard(env, k))));
}

export async function readSeries(env: Env, config: Config, monitoring: IsolateMonitoring, from: number, to: number): Promise<Minute[]> {
  return mergeSeries(await fromAll(env, config, monitoring, (m) => m.series(from, to)));
}

export async function readTotals(env: Env, config: Config, monitoring: IsolateMonitoring): Promise<Counts> {
  const all = await fromAll(env, config, monitoring, (m) => m.totals());
  const sum = zeros();
  for (const totals of all) for (const name of SERIES) sum[name] += totals[name] ?? 0;
  return sum;
}

export async function readNorm(env: Env, config: Config, monitoring: IsolateMonitoring, now: number): Promise<NormView> {
  return normOf(mergeNorms(await fromAll(env, config, monitoring, (m) => m.normState(now)), now), now);
}

export async function readFlagged(env: Env, config: Config, monitoring: IsolateMonitoring): Promise<FlaggedClient[]> {
  return (await fromAll(env, config, monitoring, (m) => m.flaggedClients())).flat().sort((a, b) => b.flaggedAt - a.flaggedAt);
}

export async function readAlerts(env: Env, config: Config, monitoring: IsolateMonitoring, limit: number): Promise<Alert[]> {
  const all = (await fromAll(env, config, monitoring, (m) => m.alerts(limit))).flat() as Alert[];
  return all.sort((a, b) => b.at - a.at).slice(0, limit);
}

/** Calls to shared objects per sync: tallies handed over for the syncs in them (all objects, all isolates). */
export async function readCallsPerSync(env: Env, config: Config, monitoring: IsolateMonitoring): Promise<{ tallies: number; syncs: number }> {
  const all = await fromAll(env, config, monitoring, (m) => m.absorbed());
  return all.reduce((sum, a) => ({ tallies: sum.tallies + a.tallies, syncs: sum.syncs + a.syncs }), { tallies: 0, syncs: 0 });
}

/** The local /reset hook: every object forgets, and so does this isolate. */
export async function resetMonitoring(env: Env, config: Config, monitoring: IsolateMonitoring): Promise<void> {
  monitoring.forget();
  await Promise.all(shards(config).map((k) => monitorShard(env, k).reset()));
}
