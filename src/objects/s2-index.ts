// The S2 index: a membership filter of S2, so that an incremental sync whose identifiers cannot be in
// S2 needs no D1 query (docs/scaling.md). A false positive only costs a D1 query; a miss must never
// happen, so every writer notes its keys here *before* it writes D1 (src/domain/s2-filter.ts).

import { DurableObject } from "cloudflare:workers";
import { HOUR_MS, MINUTE_MS } from "../core/time";

/** With the rows of its storage the call read and wrote (the SQL API counts them; a state write is one). */
export type Candidates = (
  | { state: "ready"; hits: number[] }
  /** `claim` is true for the one caller asked to build it now. */
  | { state: "unbuilt"; claim: boolean }
  | { state: "off"; until: number }
) & { rowsRead: number; rowsWritten: number };

interface IndexState {
  /** Unset while unbuilt. */
  builtAt?: number;
  /** A builder that died lets another try after it. */
  claimUntil?: number | undefined;
  /** No build is claimed before the build delay after it. */
  firstSeenAt?: number;
  offUntil?: number;
  prunedAt?: number;
}

const STATE = "state";
/** A claimed build that has not finished by then is given to the next caller. */
export const BUILD_CLAIM_MS = MINUTE_MS;
/** Old keys are dropped at most this often, and at most this many at a time. */
const PRUNE_EVERY_MS = HOUR_MS;
const PRUNE_ROWS = 50_000;

export class S2Index extends DurableObject<Env> {
  private size: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS changes (k INTEGER PRIMARY KEY, at INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`CREATE INDEX IF NOT EXISTS changes_at ON changes (at)`);
  }

  private get state(): IndexState {
    return this.ctx.storage.kv.get<IndexState>(STATE) ?? {};
  }

  private set state(state: IndexState) {
    this.ctx.storage.kv.put(STATE, state);
  }

  /**
   * An unbuilt index is claimed only `buildDelayMs` after its first call: writers of an older
   * configuration (a rolling deployment) note other objects, and the scan must come after them.
   */
  candidates(keys: number[], since: number, now: number = Date.now(), buildDelayMs = 0): Candidates {
    const firstCall = this.state.firstSeenAt === undefined;
    const state = this.seen(now);
    const costs = { rowsRead: 1, rowsWritten: firstCall ? 1 : 0 };
    if (state.offUntil !== undefined && state.offUntil > now) return { state: "off", until: state.offUntil, ...costs };
    if (state.builtAt === undefined) {
      const claim = (state.claimUntil ?? 0) <= now && state.firstSeenAt! + buildDelayMs <= now;
      if (claim) this.state = { ...state, claimUntil: now + BUILD_CLAIM_MS };
      return { state: "unbuilt", claim, ...costs, rowsWritten: costs.rowsWritten + (claim ? 1 : 0) };
    }
    if (keys.length === 0) return { state: "ready", hits: [], ...costs };
    const rows = this.ctx.storage.sql.exec<{ i: number }>(
      `SELECT j.key AS i FROM json_each(?1) AS j CROSS JOIN changes AS c ON c.k = j.value WHERE c.at >= ?2`,
      JSON.stringify(keys),
      since,
    );
    const hits = rows.toArray().map((r) => r.i);
    return { state: "ready", hits, rowsRead: costs.rowsRead + rows.rowsRead, rowsWritten: costs.rowsWritten };
  }

  /** Called before the write. `keepFrom`: now − S2_DELTA − margin; `offFor`: how long it goes off past `maxKeys`. */
  note(keys: number[], at: number | number[], { keepFrom, maxKeys, offFor }: { keepFrom: number; maxKeys: number; offFor: number }): void {
    const latest = Array.isArray(at) ? at.reduce((a, b) => Math.max(a, b), 0) : at;
    this.seen(latest);
    if ((this.state.prunedAt ?? 0) + PRUNE_EVERY_MS <= latest) this.prune(keepFrom, latest);
    if (keys.length === 0) return;
    this.size ??= this.count();
    if (this.size + keys.length > maxKeys && (this.size = this.count()) + keys.length > maxKeys) {
      // Too many to keep: off for as long as any of these changes stays in S2, so none is missed.
      this.goOff(latest + offFor);
      return;
    }
    const pairs = JSON.stringify(keys.map((k, i) => [k, Array.isArray(at) ? at[i]! : at]));
    this.ctx.storage.sql.exec(
      `INSERT INTO changes (k, at) SELECT value ->> 0, value ->> 1 FROM json_each(?1) WHERE true
       ON CONFLICT (k) DO UPDATE SET at = max(at, excluded.at)`,
      pairs,
    );
    this.size += keys.length; // from above: some keys were there already
  }

  merge(keys: number[], ats: number[], done: boolean, { keepFrom, maxKeys, offFor, now }: { keepFrom: number; maxKeys: number; offFor: number; now: number }): void {
    this.note(keys, ats.length > 0 ? ats : now, { keepFrom, maxKeys, offFor });
    if (done) this.state = { ...this.state, builtAt: now, claimUntil: undefined };
  }

  goOff(until: number): void {
    const state = this.state;
    this.state = { ...state, offUntil: Math.max(until, state.offUntil ?? 0) };
  }

  /** For the tests; no route shows it. */
  describe(): IndexState & { keys: number } {
    return { ...this.state, keys: this.count() };
  }

  private seen(now: number): IndexState {
    const state = this.state;
    if (state.firstSeenAt !== undefined) return state;
    return (this.state = { ...state, firstSeenAt: now });
  }

  private count(): number {
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM changes`).one().n;
  }

  private prune(keepFrom: number, now: number): void {
    this.ctx.storage.sql.exec(`DELETE FROM changes WHERE k IN (SELECT k FROM changes WHERE at < ?1 LIMIT ?2)`, keepFrom, PRUNE_ROWS);
    this.state = { ...this.state, prunedAt: now };
    this.size = this.count();
  }
}

/**
 * Another part count is another set of objects, built afresh: each part holds its own residue. A
 * replica is named by its number alone, so that adding replicas keeps the built ones (a new one is
 * unbuilt, and claimed only after the build delay). The epoch only changes through the local /reset hook.
 */
export const s2IndexName = (epoch: number, { parts }: { parts: number }, part: number, replica: number) => `${epoch === 0 ? "" : `${epoch}:`}${part}/${parts}:${replica}`;

export function s2IndexOf(env: Env, epoch: number, layout: { parts: number }, part: number, replica: number): DurableObjectStub<S2Index> {
  return env.S2_INDEX.get(env.S2_INDEX.idFromName(s2IndexName(epoch, layout, part, replica)));
}
