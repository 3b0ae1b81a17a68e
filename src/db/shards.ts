// The user shards and the fan-out over them: which D1 database holds an identifier, and one
// statement per shard for a list of identifiers, at most D1's six connections at a time.

import { ConfigError, cached } from "../core/config";
import { type HexDigits, hexDigits, jsonHexChars, jsonHexList } from "../core/hex";
import { groupByShard, mapLimit, probeOrder, shardOf } from "../core/sharding";

export type Shards = readonly D1Database[];

/** D1 allows 6 simultaneous connections per invocation. */
export const MAX_CONNECTIONS = 6;
/** D1 refuses bound values over 2 MB; keep each JSON list of hex identifiers under this. */
const MAX_PARAM_CHARS = 1_900_000;

/**
 * The user shards: D1 bindings USERS_0 ... USERS_{N-1}, numbered without gaps. Their order is the
 * shard order and must never change in a deployment that holds data.
 */
export function parseShards(env: Record<string, unknown>): D1Database[] {
  const shards: D1Database[] = [];
  while (isD1(env[`USERS_${shards.length}`])) shards.push(env[`USERS_${shards.length}`] as D1Database);
  if (shards.length === 0) throw new ConfigError("USERS_0 must be a D1 binding: the first shard of the users table");
  const stray = Object.keys(env).find((key) => /^USERS_\d+$/.test(key) && Number(key.slice(6)) >= shards.length);
  if (stray) throw new ConfigError(`${stray} is not usable: USERS_${shards.length} is missing or not a D1 binding, and shards must be numbered without gaps`);
  return shards;
}

const isD1 = (value: unknown) => typeof value === "object" && value !== null && typeof (value as D1Database).prepare === "function";

/** The user shards of this environment, checked on first use. */
export const shardsOf = cached(parseShards);

export const shardFor = (shards: Shards, id: Uint8Array): D1Database => shards[shardOf(id, shards.length)]!;

/** Runs fn on every shard, at most MAX_CONNECTIONS at once. */
export const eachShard = <R>(shards: Shards, fn: (db: D1Database) => Promise<R>): Promise<R[]> => mapLimit([...shards], MAX_CONNECTIONS, fn);

/** JSON lists of hex identifiers, each small enough to bind, with the request index of each element. */
export function hexChunks(hex: HexDigits, indices: number[]): { indices: number[]; json: string }[] {
  const chunks: { indices: number[]; json: string }[] = [];
  let start = 0;
  let chars = 2;
  for (let k = 0; k < indices.length; k++) {
    const add = jsonHexChars(hex, indices[k]!);
    if (k > start && chars + add > MAX_PARAM_CHARS) {
      chunks.push({ indices: indices.slice(start, k), json: "" });
      [start, chars] = [k, 2];
    }
    chars += add;
  }
  if (indices.length > start) chunks.push({ indices: indices.slice(start), json: "" });
  for (const chunk of chunks) chunk.json = jsonHexList(hex, chunk.indices);
  return chunks;
}

/** What a lookup found, the time its statements took inside D1 (summed over shards), and the wall time of its D1 calls. */
export interface Found<Row> {
  rows: Row[];
  sqlMs: number;
  d1Ms: number;
}

/**
 * Runs `sql` (whose ?1 is a JSON list of hex identifiers and whose column `i` is the list index)
 * on every shard for its own identifiers, sent in probe order; rows come back with request indices,
 * in request order.
 */
export async function probeShards<Row extends { i: number }>(shards: Shards, ids: Uint8Array[], sql: string, ...params: unknown[]): Promise<Found<Row>> {
  const hex = hexDigits(ids);
  const work = groupByShard(ids, shards.length, probeOrder(ids)).flatMap((indices, shard) =>
    indices.length === 0 ? [] : hexChunks(hex, indices).map((chunk) => ({ shard, chunk })),
  );
  const sent = performance.now();
  const results = await mapLimit(work, MAX_CONNECTIONS, async ({ shard, chunk }) => {
    const { results: rows, meta } = await shards[shard]!.prepare(sql).bind(chunk.json, ...params).all<Row>();
    for (const row of rows) row.i = chunk.indices[row.i]!;
    return { rows, sqlMs: meta.duration };
  });
  const d1Ms = performance.now() - sent;
  return {
    rows: results.flatMap((r) => r.rows).sort((a, b) => a.i - b.i),
    sqlMs: results.reduce((sum, r) => sum + r.sqlMs, 0),
    d1Ms,
  };
}

