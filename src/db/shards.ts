// The user shards and the fan-out over them: one statement per shard for a list of identifiers, at
// most D1's six connections at a time. Which shards are in use is the layout's (db/layout.ts).

import { ConfigError, cached } from "../core/config";
import { toHex } from "../core/hex";
import { JSON_KEY_CHARS, jsonKeyList, keysOf } from "../core/lookup-key";
import { mapLimit } from "../core/concurrency";
import { shardOf } from "../core/sharding";
import { StaleLayout, setConfiguredCount } from "./layout";

export type Shards = readonly D1Database[];

/** D1 allows 6 simultaneous connections per invocation. */
export const MAX_CONNECTIONS = 6;
/** D1 refuses bound values over 2 MB; keep each JSON list under this. */
const MAX_PARAM_CHARS = 1_900_000;

/** USERS_0 ... USERS_{N-1} without gaps; their order must never change in a deployment that holds data. */
export function parseShards(env: Record<string, unknown>): D1Database[] {
  const shards: D1Database[] = [];
  while (isD1(env[`USERS_${shards.length}`])) shards.push(env[`USERS_${shards.length}`] as D1Database);
  if (shards.length === 0) throw new ConfigError("USERS_0 must be a D1 binding: the first shard of the users table");
  const stray = Object.keys(env).find((key) => /^USERS_\d+$/.test(key) && Number(key.slice(6)) >= shards.length);
  if (stray) throw new ConfigError(`${stray} is not usable: USERS_${shards.length} is missing or not a D1 binding, and shards must be numbered without gaps`);
  if (env.USERS_SHARDS !== undefined) {
    const count = Number(env.USERS_SHARDS);
    if (!Number.isInteger(count) || count < 1 || count > shards.length) {
      throw new ConfigError(`USERS_SHARDS must be a whole number from 1 to ${shards.length} (the USERS_ bindings), not ${JSON.stringify(env.USERS_SHARDS)}`);
    }
    setConfiguredCount(shards, count);
  }
  return shards;
}

const isD1 = (value: unknown) => typeof value === "object" && value !== null && typeof (value as D1Database).prepare === "function";

export const shardsOf = cached(parseShards);

/** The shard of an identifier when every bound shard holds users (as in the tests). */
export const shardFor = (shards: Shards, id: Uint8Array): D1Database => shards[shardOf(id, shards.length)]!;

export const eachShard = <R>(shards: Shards, fn: (db: D1Database) => Promise<R>): Promise<R[]> => mapLimit([...shards], MAX_CONNECTIONS, fn);

/** `chars(i)`: what element i adds to its JSON list. */
export function paramChunks(indices: number[], chars: (i: number) => number): number[][] {
  const chunks: number[][] = [];
  let start = 0;
  let total = 2;
  for (let k = 0; k < indices.length; k++) {
    const add = chars(indices[k]!);
    if (k > start && total + add > MAX_PARAM_CHARS) {
      chunks.push(indices.slice(start, k));
      [start, total] = [k, 2];
    }
    total += add;
  }
  if (indices.length > start) chunks.push(indices.slice(start));
  return chunks;
}

// Lookups read through D1 sessions from the newest bookmark seen, so they never go back in time
// (docs/design.md). A replica may miss a registration of the last moments, as if the sync came earlier.
const bookmarks = new WeakMap<D1Database, string>();

export function readSession(db: D1Database): D1DatabaseSession {
  return db.withSession(bookmarks.get(db) ?? "first-unconstrained");
}

export function keepBookmark(db: D1Database, session: D1DatabaseSession): void {
  const bookmark = session.getBookmark();
  if (bookmark !== null && bookmark > (bookmarks.get(db) ?? "")) bookmarks.set(db, bookmark);
}

export const lookupBookmark = (db: D1Database): string | null => bookmarks.get(db) ?? null;

/** `sqlMs`: time inside D1, summed over shards; `d1Ms`: wall time of the D1 calls. */
export interface Found<Row> {
  rows: Row[];
  sqlMs: number;
  d1Ms: number;
  /** What D1 bills. */
  calls: number;
  rowsRead: number;
  rowsWritten: number;
}

/** Request indices, in probe order. */
export interface Probe {
  shard: number;
  indices: number[];
}

/**
 * `sql`'s ?1 is a JSON list of keys; a last row with i = -1 carries the shard's layout version
 * (StaleLayout if not `version`). A key matches every identifier with the same 6 bytes, so rows whose
 * `id` is not the one asked for are dropped.
 */
export async function probeShards<Row extends { i: number }>(
  shards: Shards,
  version: number,
  probes: Probe[],
  ids: Uint8Array[],
  sql: string,
  ...params: unknown[]
): Promise<{ rows: Row[][]; sqlMs: number; d1Ms: number; calls: number; rowsRead: number; rowsWritten: number }> {
  const keys = keysOf(ids);
  const work = probes.flatMap((probe, p) => paramChunks(probe.indices, () => JSON_KEY_CHARS).map((chunk) => ({ p, shard: probe.shard, chunk })));
  const sent = performance.now();
  const results = await mapLimit(work, MAX_CONNECTIONS, async ({ p, shard, chunk }) => {
    const session = readSession(shards[shard]!);
    const { results: rows, meta } = await session.prepare(sql).bind(jsonKeyList(keys, chunk), ...params).all<Row & { id: string | number | null }>();
    keepBookmark(shards[shard]!, session);
    const found: Row[] = [];
    for (const row of rows) {
      if (row.i === -1) {
        if (row.id !== version) throw new StaleLayout(row.id as number);
        continue;
      }
      const i = chunk[row.i]!;
      if (row.id !== toHex(ids[i]!)) continue; // another identifier with the same first 6 bytes
      const { id: _, ...rest } = row;
      found.push({ ...rest, i } as unknown as Row);
    }
    return { p, rows: found, sqlMs: meta.duration, rowsRead: meta.rows_read ?? 0, rowsWritten: meta.rows_written ?? 0 };
  });
  const d1Ms = performance.now() - sent;
  const rows = probes.map((): Row[] => []);
  for (const r of results) rows[r.p]!.push(...r.rows);
  return { rows, sqlMs: results.reduce((sum, r) => sum + r.sqlMs, 0), d1Ms, calls: results.length, rowsRead: results.reduce((sum, r) => sum + r.rowsRead, 0), rowsWritten: results.reduce((sum, r) => sum + r.rowsWritten, 0) };
}
