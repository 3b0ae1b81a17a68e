// The monitor: MONITOR_SHARDS Durable Objects keeping per-minute series, totals, the flagged list,
// the norm and alerts; isolates hand them tallies, never a sync, and object 0 judges each closed
// minute on its alarm (docs/detection.md, "Monitor, alerts and audit").

import { DurableObject } from "cloudflare:workers";
import { configOf } from "../core/config";
import { type EgressState, WINDOW_MINUTES, judgeWindow, noEpisode } from "../core/egress";
import type { Reason } from "../core/flag-rules";
import { type NormSample, type NormState, emptyNorm } from "../core/hit-ratio-norm";
import { type Counts, type Minute, SERIES, type SeriesName, type Tally, addToNorm, mergeSeries, samplesOut, zeros } from "../core/telemetry";
import { DAY_MS, MINUTE_MS } from "../core/time";

/** At least 30 days are asked for. */
export const SERIES_DAYS = 31;

/** The floor keeps a quiet service from alerting on a handful. */
export const BASELINE_MINUTES = 60;
export const BASELINE_FACTOR = 5;
export const BASELINE_FLOOR: Partial<Record<SeriesName, number>> = { identifiers: 100_000, refusals: 200, flags: 5 };
const BASELINE_MIN_HISTORY = 30;
/** Past the flush interval, for the last hand-overs of a minute to land before it is judged. */
export const JUDGE_MARGIN_MS = 5_000;
/** Minutes left unjudged longer (the alarm failing for a day) are skipped. */
const MAX_CATCH_UP_MINUTES = 24 * 60;

export interface FlaggedClient {
  id: string;
  flaggedAt: number;
  reasons: Reason[];
}

export interface Alert {
  at: number;
  type: "flag" | "rate" | "network" | "egress";
  detail: Record<string, unknown>;
}

/** Object 0 watches the merged baseline. */
export interface Shard {
  index: number;
  of: number;
}

export class Monitor extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.createTables();
  }

  private createTables(): void {
    // Series added since an object was created get their column here (SQLite has no ADD COLUMN IF NOT EXISTS).
    const columns = this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('series')").toArray().map((c) => c.name);
    if (columns.length > 0) for (const s of SERIES) if (!columns.includes(s)) this.sql.exec(`ALTER TABLE series ADD COLUMN ${s} INTEGER NOT NULL DEFAULT 0`);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS series (
        minute INTEGER PRIMARY KEY,
        ${SERIES.map((s) => `${s} INTEGER NOT NULL DEFAULT 0`).join(", ")}
      );
      CREATE TABLE IF NOT EXISTS flagged (id TEXT PRIMARY KEY, flagged_at INTEGER NOT NULL, reasons TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS alerts (at INTEGER NOT NULL, type TEXT NOT NULL, detail TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS alerts_at ON alerts (at);
    `);
  }

  async absorb(tally: Tally, shard: Shard, now: number = Date.now()): Promise<void> {
    const minutes = Object.keys(tally.minutes).map(Number).sort((a, b) => a - b);
    for (const minute of minutes) await this.count(minute, tally.minutes[minute]!, shard);
    this.ctx.storage.kv.put("norm", addToNorm(this.normState(now), tally.norm.bins, tally.norm.at));
    const absorbed = this.absorbed();
    this.ctx.storage.kv.put("absorbed", { tallies: absorbed.tallies + 1, syncs: absorbed.syncs + tally.syncs });
  }

  absorbed(): { tallies: number; syncs: number } {
    return this.ctx.storage.kv.get<{ tallies: number; syncs: number }>("absorbed") ?? { tallies: 0, syncs: 0 };
  }

  async flag(client: FlaggedClient & { subject: string | null; samples: NormSample[] }, shard: Shard, now: number = Date.now()): Promise<void> {
    this.sql.exec(
      "INSERT INTO flagged (id, flagged_at, reasons) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET flagged_at = excluded.flagged_at, reasons = excluded.reasons",
      client.id,
      client.flaggedAt,
      JSON.stringify(client.reasons),
    );
    // The samples may have gone to any of the N objects: taken out here, the merged norm loses them.
    this.ctx.storage.kv.put("norm", addToNorm(this.normState(now), samplesOut(client.samples, now), now));
    await this.count(Math.floor(now / MINUTE_MS), { ...zeros(), flags: 1 }, shard);
    // The webhook gets the keyed hash, never the identifier: it leaves the service.
    await this.alert({ at: now, type: "flag", detail: { subject: client.subject, reasons: client.reasons } });
  }

  unflag(id: string): void {
    this.sql.exec("DELETE FROM flagged WHERE id = ?", id);
  }

  async raise(alert: Alert): Promise<void> {
    await this.alert(alert);
  }

  flaggedClients(): FlaggedClient[] {
    return this.sql
      .exec<{ id: string; flagged_at: number; reasons: string }>("SELECT id, flagged_at, reasons FROM flagged ORDER BY flagged_at DESC")
      .toArray()
      .map((r) => ({ id: r.id, flaggedAt: r.flagged_at, reasons: JSON.parse(r.reasons) as Reason[] }));
  }

  series(from: number, to: number): Minute[] {
    return this.sql
      .exec<Record<string, number>>(`SELECT minute, ${SERIES.join(", ")} FROM series WHERE minute >= ? AND minute < ? ORDER BY minute`, Math.floor(from / MINUTE_MS), Math.ceil(to / MINUTE_MS))
      .toArray()
      .map(({ minute, ...values }) => ({ at: minute! * MINUTE_MS, ...(values as Record<SeriesName, number>) }));
  }

  /** Prometheus counters never go down. */
  totals(): Record<SeriesName, number> {
    return { ...zeros(), ...this.ctx.storage.kv.get<Record<SeriesName, number>>("totals") };
  }

  /** Bins may be below 0 where samples were taken out: merge before use. */
  normState(now: number = Date.now()): NormState {
    return this.ctx.storage.kv.get<NormState>("norm") ?? emptyNorm(now);
  }

  alerts(limit: number): Alert[] {
    return this.sql
      .exec<{ at: number; type: Alert["type"]; detail: string }>("SELECT at, type, detail FROM alerts ORDER BY at DESC LIMIT ?", limit)
      .toArray()
      .map((r) => ({ at: r.at, type: r.type, detail: JSON.parse(r.detail) }));
  }

  async reset(): Promise<void> {
    await this.ctx.storage.deleteAll();
    this.createTables();
  }

  /** Another object received its first tally of `minute`: object 0 judges it once closed, though no tally reaches object 0 after it. */
  async minuteBegun(minute: number, shard: Shard): Promise<void> {
    this.ctx.storage.kv.put("shard", shard);
    await this.expectMinute(minute);
  }

  /**
   * Retention, and on object 0 the judging of every closed minute: an alarm as the last minute with
   * traffic closes, then one a minute while an episode lasts or the window holds traffic.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const cutoff = now - SERIES_DAYS * DAY_MS;
    this.sql.exec("DELETE FROM series WHERE minute < ?", Math.floor(cutoff / MINUTE_MS));
    this.sql.exec("DELETE FROM alerts WHERE at < ?", cutoff);
    if (now >= (this.ctx.storage.kv.get<number>("retainAt") ?? 0)) this.ctx.storage.kv.put("retainAt", now + DAY_MS);
    let next = this.ctx.storage.kv.get<number>("retainAt")!;
    const shard = this.ctx.storage.kv.get<Shard>("shard");
    const judged = this.ctx.storage.kv.get<number>("judged");
    if (shard?.index === 0 && judged !== undefined) {
      const closed = Math.floor((now - this.judgeGraceMs()) / MINUTE_MS) - 1;
      if (closed > judged) await this.judgeUntil(closed, shard);
      const active = this.ctx.storage.kv.get<number>("activeMinute") ?? closed;
      if (this.egress().since !== null || active > closed - WINDOW_MINUTES) next = Math.min(next, this.judgeAt(Math.max(closed, judged) + 1));
    }
    await this.ctx.storage.setAlarm(next);
  }

  /** A minute's tallies may arrive up to a hand-over (MONITOR_FLUSH_SECONDS) and a call after it ends. */
  private judgeGraceMs(): number {
    return configOf(this.env).monitorFlushMs + JUDGE_MARGIN_MS;
  }

  private judgeAt(minute: number): number {
    return (minute + 1) * MINUTE_MS + this.judgeGraceMs();
  }

  private async alarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** Object 0: a minute with traffic on any object is judged by the alarm once closed. */
  private async expectMinute(minute: number): Promise<void> {
    if (this.ctx.storage.kv.get<number>("judged") === undefined) this.ctx.storage.kv.put("judged", minute - 1);
    if (minute > (this.ctx.storage.kv.get<number>("activeMinute") ?? -Infinity)) this.ctx.storage.kv.put("activeMinute", minute);
    await this.alarmBy(this.judgeAt(minute));
  }

  private async count(minute: number, add: Counts, shard: Shard): Promise<void> {
    const last = this.ctx.storage.kv.get<number>("lastMinute");
    this.ctx.storage.kv.put("shard", shard);
    if (last === undefined || minute > last) this.ctx.storage.kv.put("lastMinute", minute);
    if (this.ctx.storage.kv.get<number>("retainAt") === undefined) {
      this.ctx.storage.kv.put("retainAt", minute * MINUTE_MS + DAY_MS);
      await this.alarmBy(minute * MINUTE_MS + DAY_MS);
    }
    this.sql.exec(
      `INSERT INTO series (minute, ${SERIES.join(", ")}) VALUES (?, ${SERIES.map(() => "?").join(", ")})
       ON CONFLICT (minute) DO UPDATE SET ${SERIES.map((n) => `${n} = ${n} + excluded.${n}`).join(", ")}`,
      minute,
      ...SERIES.map((n) => add[n]),
    );
    const totals = this.totals();
    for (const n of SERIES) totals[n] += add[n];
    this.ctx.storage.kv.put("totals", totals);
    if (last !== undefined && minute <= last) return;
    if (shard.index === 0) {
      // A later minute closes the ones before it: judged now rather than at the alarm.
      const judged = this.ctx.storage.kv.get<number>("judged");
      if (judged !== undefined && minute - 1 > judged) await this.judgeUntil(minute - 1, shard);
      await this.expectMinute(minute);
    } else {
      // At most one call a minute per object. A failure must not fail the hand-over: its tally would be counted twice.
      await monitorShard(this.env, 0)
        .minuteBegun(minute, { index: 0, of: shard.of })
        .catch((error: Error) => console.error(`monitor object 0 not told of a minute: ${error.message}`));
    }
  }

  /** Judges the minutes after the last judged up to `upTo` (at most a day of them), with one read of the other objects. */
  private async judgeUntil(upTo: number, shard: Shard): Promise<void> {
    const judged = this.ctx.storage.kv.get<number>("judged") ?? upTo - 1;
    const from = Math.max(judged + 1, upTo - MAX_CATCH_UP_MINUTES + 1);
    if (from > upTo) return;
    // Claimed before the read: a tally arriving meanwhile does not judge them again.
    this.ctx.storage.kv.put("judged", upTo);
    const readFrom = (from - Math.max(BASELINE_MINUTES, WINDOW_MINUTES)) * MINUTE_MS;
    const readTo = (upTo + 1) * MINUTE_MS;
    const others = await Promise.all(
      Array.from({ length: shard.of - 1 }, (_, k) => monitorShard(this.env, k + 1).series(readFrom, readTo).catch(() => [] as Minute[])),
    );
    const byMinute = new Map(mergeSeries([this.series(readFrom, readTo), ...others]).map((m) => [m.at / MINUTE_MS, m]));
    for (let minute = from; minute <= upTo; minute++) await this.checkBaseline(minute, byMinute);
  }

  /** Alerts once when a completed minute of the merged series leaves its baseline, again only after it came back. */
  private async checkBaseline(minute: number, byMinute: Map<number, Minute>): Promise<void> {
    const current = byMinute.get(minute);
    const history = Array.from({ length: BASELINE_MINUTES }, (_, i) => byMinute.get(minute - BASELINE_MINUTES + i)).filter((m) => m !== undefined);
    const first = this.ctx.storage.kv.get<number>("firstMinute") ?? minute;
    if (!this.ctx.storage.kv.get("firstMinute")) this.ctx.storage.kv.put("firstMinute", first);
    const out = this.ctx.storage.kv.get<SeriesName[]>("offBaseline") ?? [];
    const stillOut: SeriesName[] = [];
    for (const [name, floor] of Object.entries(BASELINE_FLOOR) as [SeriesName, number][]) {
      const value = current?.[name] ?? 0;
      const mean = history.reduce((sum, m) => sum + m[name], 0) / BASELINE_MINUTES;
      const limit = Math.max(floor, BASELINE_FACTOR * mean);
      if (value <= limit) continue;
      stillOut.push(name);
      if (!out.includes(name) && minute - first >= BASELINE_MIN_HISTORY) {
        await this.alert({ at: (minute + 1) * MINUTE_MS, type: "rate", detail: { series: name, minute: minute * MINUTE_MS, value, baseline: mean, limit } });
      }
    }
    this.ctx.storage.kv.put("offBaseline", stillOut);
    const window = Array.from({ length: WINDOW_MINUTES }, (_, i) => byMinute.get(minute - WINDOW_MINUTES + i)?.revealed ?? 0);
    await this.judgeEgress(minute, current?.revealed ?? 0, window);
  }

  private async judgeEgress(minute: number, revealed: number, window: number[]): Promise<void> {
    const config = configOf(this.env).egress;
    const verdict = judgeWindow(config, this.egressState(), window, revealed, minute * MINUTE_MS);
    this.ctx.storage.kv.put("egress", verdict.state);
    if (verdict.change) {
      const detail = { episode: verdict.change, minute: minute * MINUTE_MS, revealed, limit: Math.round(verdict.limit), hourRevealed: verdict.hourRevealed, hourLimit: Math.round(verdict.hourLimit) };
      await this.alert({ at: (minute + 1) * MINUTE_MS, type: "egress", detail });
    }
  }

  /** The episode as the isolates read it: the learned baseline stays here. */
  egress(): EgressState {
    const { baseline: _, ...episode } = this.egressState();
    return episode;
  }

  private egressState(): EgressState {
    return this.ctx.storage.kv.get<EgressState>("egress") ?? noEpisode();
  }

  private async alert(alert: Alert): Promise<void> {
    this.sql.exec("INSERT INTO alerts (at, type, detail) VALUES (?, ?, ?)", alert.at, alert.type, JSON.stringify(alert.detail));
    const url = configOf(this.env).alertWebhookUrl;
    if (!url) return;
    // Delivery is best effort: a webhook that is down must not fail the sync that raised the alert.
    const sent = fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ service: "icd", ...alert }) })
      .then((r) => r.body?.cancel())
      .catch((error: Error) => console.error(`alert webhook failed: ${error.message}`));
    this.ctx.waitUntil(sent);
  }
}

/** Object 0 keeps the name the single monitor always had. */
export const monitorShard = (env: Env, k: number): DurableObjectStub<Monitor> => env.MONITOR.get(env.MONITOR.idFromName(k === 0 ? "global" : `global:${k}`));
