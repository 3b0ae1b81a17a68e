// The global monitor: one Durable Object for the whole service. It keeps per-minute series of what
// the service did (syncs, identifiers checked, matches, refusals, flags) for SERIES_DAYS, running
// totals for Prometheus, the list of flagged clients, the learned hit-ratio norm, and sends alerts to
// ALERT_WEBHOOK_URL: a new flag, a network throttled, or a global rate leaving its baseline.
//
// Every sync reaches it once, after the client has its answer (ctx.waitUntil), so it never adds to
// a client's latency. One object takes about a thousand calls a second: docs/scaling.md says what to
// do beyond that.

import { DurableObject } from "cloudflare:workers";
import { configOf } from "../core/config";
import type { Reason } from "../core/detection";
import { type NormSample, type NormState, type NormView, type SyncRecord, emptyNorm, learnFromSync, normOf, removeSamples } from "../core/hit-ratio-norm";

const MINUTE_MS = 60_000;
/** Minutes are kept this long (the issue asks for at least 30 days). */
export const SERIES_DAYS = 31;
export const SERIES = ["syncs", "full", "incremental", "identifiers", "matches", "refusals", "flags"] as const;
export type SeriesName = (typeof SERIES)[number];
export type Minute = { at: number } & Record<SeriesName, number>;

/**
 * A completed minute is off its baseline when it exceeds BASELINE_FACTOR times the mean of the
 * BASELINE_MINUTES before it, and a floor that keeps a quiet service from alerting on a handful.
 */
export const BASELINE_MINUTES = 60;
export const BASELINE_FACTOR = 5;
export const BASELINE_FLOOR: Partial<Record<SeriesName, number>> = { identifiers: 100_000, refusals: 200, flags: 5 };
/** Minutes of history needed before a baseline is trusted. */
const BASELINE_MIN_HISTORY = 30;

export type { SyncRecord } from "../core/hit-ratio-norm";

export interface FlaggedClient {
  id: string;
  flaggedAt: number;
  reasons: Reason[];
}

export interface Alert {
  at: number;
  type: "flag" | "rate" | "network";
  detail: Record<string, unknown>;
}

export class Monitor extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.createTables();
  }

  private createTables(): void {
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

  /** Counts an answered sync, teaches the norm, and answers the norm and this sync's sample. */
  async recordSync(record: SyncRecord, now: number = Date.now()): Promise<{ norm: NormView; sample: NormSample | null }> {
    await this.count(now, { syncs: 1, [record.kind]: 1, identifiers: record.identifiers, matches: record.matches });
    const { state, taught, norm, sample } = learnFromSync(this.normState(now), record, now);
    if (taught) this.ctx.storage.kv.put("norm", state);
    return { norm, sample };
  }

  /** Counts a sync refused for its budget. */
  async recordRefusal(now: number = Date.now()): Promise<void> {
    await this.count(now, { refusals: 1 });
  }

  /** A client was just flagged: list it, take its samples out of the norm, alert. */
  async flag(client: FlaggedClient & { subject: string | null; samples: NormSample[] }, now: number = Date.now()): Promise<void> {
    this.sql.exec(
      "INSERT INTO flagged (id, flagged_at, reasons) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET flagged_at = excluded.flagged_at, reasons = excluded.reasons",
      client.id,
      client.flaggedAt,
      JSON.stringify(client.reasons),
    );
    this.ctx.storage.kv.put("norm", removeSamples(this.normState(now), client.samples, now));
    await this.count(now, { flags: 1 });
    // The webhook gets the keyed hash, never the identifier: it leaves the service.
    await this.alert({ at: now, type: "flag", detail: { subject: client.subject, reasons: client.reasons } });
  }

  /** An operator cleared a client's flag. */
  unflag(id: string): void {
    this.sql.exec("DELETE FROM flagged WHERE id = ?", id);
  }

  /** A network made more new accounts than its daily allowance and is now throttled. */
  async networkThrottled(detail: { network: string; accounts: number; limit: number }, now: number = Date.now()): Promise<void> {
    await this.alert({ at: now, type: "network", detail });
  }

  flaggedClients(): FlaggedClient[] {
    return this.sql
      .exec<{ id: string; flagged_at: number; reasons: string }>("SELECT id, flagged_at, reasons FROM flagged ORDER BY flagged_at DESC")
      .toArray()
      .map((r) => ({ id: r.id, flaggedAt: r.flagged_at, reasons: JSON.parse(r.reasons) as Reason[] }));
  }

  /** The minutes with data in [from, to), oldest first. */
  series(from: number, to: number): Minute[] {
    return this.sql
      .exec<Record<string, number>>(`SELECT minute, ${SERIES.join(", ")} FROM series WHERE minute >= ? AND minute < ? ORDER BY minute`, Math.floor(from / MINUTE_MS), Math.ceil(to / MINUTE_MS))
      .toArray()
      .map(({ minute, ...values }) => ({ at: minute! * MINUTE_MS, ...(values as Record<SeriesName, number>) }));
  }

  /** Running totals since the service started (Prometheus counters never go down). */
  totals(): Record<SeriesName, number> {
    return { ...zeros(), ...this.ctx.storage.kv.get<Record<SeriesName, number>>("totals") };
  }

  norm(now: number = Date.now()): NormView {
    return normOf(this.normState(now), now);
  }

  alerts(limit: number): Alert[] {
    return this.sql
      .exec<{ at: number; type: Alert["type"]; detail: string }>("SELECT at, type, detail FROM alerts ORDER BY at DESC LIMIT ?", limit)
      .toArray()
      .map((r) => ({ at: r.at, type: r.type, detail: JSON.parse(r.detail) }));
  }

  /** Forgets everything: the local /reset hook only. */
  async reset(): Promise<void> {
    await this.ctx.storage.deleteAll();
    this.createTables();
  }

  override async alarm(): Promise<void> {
    const cutoff = Date.now() - SERIES_DAYS * 24 * 3600 * 1000;
    this.sql.exec("DELETE FROM series WHERE minute < ?", Math.floor(cutoff / MINUTE_MS));
    this.sql.exec("DELETE FROM alerts WHERE at < ?", cutoff);
    await this.ctx.storage.setAlarm(Date.now() + 24 * 3600 * 1000);
  }

  private normState(now: number): NormState {
    return this.ctx.storage.kv.get<NormState>("norm") ?? emptyNorm(now);
  }

  private async count(now: number, add: Partial<Record<SeriesName, number>>): Promise<void> {
    const minute = Math.floor(now / MINUTE_MS);
    const last = this.ctx.storage.kv.get<number>("lastMinute");
    if (last !== undefined && minute > last) await this.checkBaseline(last);
    if (last === undefined || minute > last) this.ctx.storage.kv.put("lastMinute", minute);
    if (last === undefined && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + 24 * 3600 * 1000);
    const names = Object.keys(add) as SeriesName[];
    this.sql.exec(
      `INSERT INTO series (minute, ${names.join(", ")}) VALUES (?, ${names.map(() => "?").join(", ")})
       ON CONFLICT (minute) DO UPDATE SET ${names.map((n) => `${n} = ${n} + excluded.${n}`).join(", ")}`,
      minute,
      ...names.map((n) => add[n]!),
    );
    const totals = this.totals();
    for (const n of names) totals[n] += add[n]!;
    this.ctx.storage.kv.put("totals", totals);
  }

  /** Alerts once when a completed minute leaves its baseline, and again only after it came back. */
  private async checkBaseline(minute: number): Promise<void> {
    const [current] = this.series(minute * MINUTE_MS, (minute + 1) * MINUTE_MS);
    const history = this.series((minute - BASELINE_MINUTES) * MINUTE_MS, minute * MINUTE_MS);
    const firstMinute = this.sql.exec<{ m: number | null }>("SELECT min(minute) AS m FROM series").one().m ?? minute;
    const out = this.ctx.storage.kv.get<SeriesName[]>("offBaseline") ?? [];
    const stillOut: SeriesName[] = [];
    for (const [name, floor] of Object.entries(BASELINE_FLOOR) as [SeriesName, number][]) {
      const value = current?.[name] ?? 0;
      const mean = history.reduce((sum, m) => sum + m[name], 0) / BASELINE_MINUTES;
      const limit = Math.max(floor, BASELINE_FACTOR * mean);
      if (value <= limit) continue;
      stillOut.push(name);
      if (!out.includes(name) && minute - firstMinute >= BASELINE_MIN_HISTORY) {
        await this.alert({ at: (minute + 1) * MINUTE_MS, type: "rate", detail: { series: name, minute: minute * MINUTE_MS, value, baseline: mean, limit } });
      }
    }
    this.ctx.storage.kv.put("offBaseline", stillOut);
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

const zeros = () => Object.fromEntries(SERIES.map((s) => [s, 0])) as Record<SeriesName, number>;

/** The one monitor of the service. */
export const monitorOf = (env: Env): DurableObjectStub<Monitor> => env.MONITOR.get(env.MONITOR.idFromName("global"));
