// The monitoring, seen from the service: syncs tallied in the isolate and handed to a monitor object
// now and then, the norm read back in the background, the operator's reads merged (docs/detection.md).

import type { Config } from "../core/config";
import { type NormSample, type NormState, type NormView, type SyncRecord, emptyNorm, normOf } from "../core/hit-ratio-norm";
import { type Counts, type Minute, SERIES, type Tally, addToNorm, emptyTally, mergeNorms, mergeSeries, mergeTallies, objectFor, samplesOut, tallyRefusal, tallySync, zeros } from "../core/telemetry";
import { type Alert, type FlaggedClient, type Monitor, monitorShard } from "../objects/monitor";
import { reportEgress } from "./admission";

/** A tally that could not be handed over is kept for the next try, up to this many minutes of it. */
const MAX_PENDING_MINUTES = 24 * 60;

const shards = (config: Config) => Array.from({ length: config.monitorShards }, (_, k) => k);
const shardOf = (config: Config, k: number) => ({ index: k, of: config.monitorShards });

export class IsolateMonitoring {
  private pending: Tally | null = null;
  private flushScheduled = false;
  private episode = false;
  /** `local`: the samples this isolate added or took out since `merged` was read. */
  private norm: { merged: NormState; local: NormState; fetchedAt: number } | null = null;
  private refreshing = false;

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

  async flush(env: Env, config: Config): Promise<void> {
    this.flushScheduled = false;
    const tally = this.pending;
    this.pending = null;
    if (!tally || Object.keys(tally.minutes).length === 0) return;
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

  /** Never waits for the objects; null before anything is known, and the client's object then uses the norm it was last given. */
  currentNorm(env: Env, config: Config, now: number, waitUntil: WaitUntil): number | null {
    if ((!this.norm || now - this.norm.fetchedAt >= config.monitorReadMs) && !this.refreshing) {
      this.refreshing = true;
      waitUntil(this.refreshNorm(env, config, now).finally(() => (this.refreshing = false)));
    }
    return this.norm ? normOf(mergeNorms([this.norm.merged, this.norm.local], now), now).hitRatio : null;
  }

  egressEpisode(): boolean {
    return this.episode;
  }

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

  takeOut(samples: NormSample[], now: number): void {
    if (this.norm) this.norm.local = addToNorm(this.norm.local, samplesOut(samples, now), now);
  }

  forget(): void {
    this.pending = null;
    this.norm = null;
    this.episode = false;
  }
}

type WaitUntil = (p: Promise<unknown>) => void;

export async function announceFlag(env: Env, config: Config, monitoring: IsolateMonitoring, client: FlaggedClient & { subject: string | null; samples: NormSample[] }, now: number): Promise<void> {
  monitoring.takeOut(client.samples, now);
  const k = objectFor(client.id, config.monitorShards);
  await monitorShard(env, k).flag(client, shardOf(config, k), now);
}

export async function announceUnflag(env: Env, config: Config, id: string): Promise<void> {
  await monitorShard(env, objectFor(id, config.monitorShards)).unflag(id);
}

// The operator's reads hand over this isolate's tally first: locally, where the service is one
// isolate, a read then sees every sync already answered.
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

export async function readCallsPerSync(env: Env, config: Config, monitoring: IsolateMonitoring): Promise<{ tallies: number; syncs: number }> {
  const all = await fromAll(env, config, monitoring, (m) => m.absorbed());
  return all.reduce((sum, a) => ({ tallies: sum.tallies + a.tallies, syncs: sum.syncs + a.syncs }), { tallies: 0, syncs: 0 });
}

export async function resetMonitoring(env: Env, config: Config, monitoring: IsolateMonitoring): Promise<void> {
  monitoring.forget();
  await Promise.all(shards(config).map((k) => monitorShard(env, k).reset()));
}
