// The S2 index: a membership filter of S2, so that an incremental sync whose identifiers cannot be in
// S2 needs no D1 query (docs/scaling.md). A false positive only costs a D1 query; a miss must never
// happen, so every writer notes its keys here *before* it writes D1 (src/domain/s2-filter.ts).

import { DurableObject } from "cloudflare:workers";
import { KeyFilter } from "../core/key-filter";
import { MINUTE_MS } from "../core/time";

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
/** Old keys are dropped at most this often, and at most this many at a time: 600,000 an hour, well
 * above the changes one object of a single-part index receives at fleet scale (about 144,000). */
const PRUNE_EVERY_MS = 10 * MINUTE_MS;
const PRUNE_ROWS = 100_000;

/** The in-memory filter is made again this often (keys pruned since stay in it as false positives). */
const FILTER_REBUILD_MS = 24 * 60 * MINUTE_MS;

export class S2Index extends DurableObject<Env> {
  private size: number | undefined;
  private cachedState: IndexState | undefined;
  /** Every key stored, in memory: a sync's keys not in it are answered without reading a row. */
  private filter: { keys: KeyFilter; madeAt: number } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS changes (k INTEGER PRIMARY KEY, at INTEGER NOT NULL)`);
    ctx.storage.sql.exec(`CREATE INDEX IF NOT EXISTS changes_at ON changes (at)`);
  }

  private get state(): IndexState {
    return (this.cachedState ??= this.ctx.storage.kv.get<IndexState>(STATE) ?? {});
  }

  private set state(state: IndexState) {
    this.ctx.storage.kv.put(STATE, state);
    this.cachedState = state;
  }

  /**
   * An unbuilt index is claimed only `buildDelayMs` after its first call: writers of an older
   * configuration (a rolling deployment) note other objects, and the scan must come after them.
   */
  candidates(keys: number[], since: number, now: number = Date.now(), buildDelayMs = 0): Candidates {
    const costs = { rowsRead: this.cachedState === undefined ? 1 : 0, rowsWritten: this.state.firstSeenAt === undefined ? 1 : 0 };
    const state = this.seen(now);
    if (state.offUntil !== undefined && state.offUntil > now) return { state: "off", until: state.offUntil, ...costs };
    if (state.builtAt === undefined) {
      const claim = (state.claimUntil ?? 0) <= now && state.firstSeenAt! + buildDelayMs <= now;
      if (claim) this.state = { ...state, claimUntil: now + BUILD_CLAIM_MS };
      return { state: "unbuilt", claim, ...costs, rowsWritten: costs.rowsWritten + (claim ? 1 : 0) };
    }
    const filter = this.keyFilter(now, costs);
    const maybe = keys.flatMap((k, i) => (filter.has(k) ? [i] : []));
    if (maybe.length === 0) return { state: "ready", hits: [], ...costs };
    const rows = this.ctx.storage.sql.exec<{ i: number }>(
      `SELECT j.key AS i FROM json_each(?1) AS j CROSS JOIN changes AS c ON c.k = j.value WHERE c.at >= ?2`,
      JSON.stringify(maybe.map((i) => keys[i]!)),
      since,
    );
    const hits = rows.toArray().map((r) => maybe[r.i]!);
    return { state: "ready", hits, rowsRead: costs.rowsRead + rows.rowsRead, rowsWritten: costs.rowsWritten };
  }

  /** Made from every stored key once per object lifetime and a day (one read of each), kept up to date by note(). */
  private keyFilter(now: number, costs: { rowsRead: number }): KeyFilter {
    if (this.filter && this.filter.madeAt + FILTER_REBUILD_MS > now && !this.filter.keys.full()) return this.filter.keys;
    const rows = this.ctx.storage.sql.exec<{ k: number }>(`SELECT k FROM changes`);
    const stored = rows.toArray();
    costs.rowsRead += rows.rowsRead;
    const keys = new KeyFilter(Math.max(Math.ceil(1.25 * stored.length), 65_536)); // 10 bits a key: 55 MB at 35 M changes
    for (const { k } of stored) keys.add(k);
    this.filter = { keys, madeAt: now };
    return keys;
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
    if (this.filter) for (const k of keys) this.filter.keys.add(k);
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
