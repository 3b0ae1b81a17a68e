// Which shard(s) each users query goes to, by the layout: while users move (npm run reshard), a mover
// is written to the new shard (row copied forward first) and read from the new one, else the old one.

import { toHex } from "../core/hex";
import { keyOf } from "../core/lookup-key";
import { mapLimit } from "../core/concurrency";
import { type Layout, groupByShard, homeOf, previousOf, probeOrder, shardsInUse } from "../core/sharding";
import { guardedBatch, layoutGuard, withLayout } from "./layout";
import { type Found, MAX_CONNECTIONS, type Probe, type Shards, paramChunks, probeShards } from "./shards";

/** Padded with `nulls` columns. */
export const layoutRow = (nulls = 0) => `SELECT -1, value${", NULL".repeat(nulls)} FROM meta WHERE key = 'layout'`;

/** While users move: every row in any state, so that the new shard's row hides the old one's. */
export const ANY_STATE_SQL = `SELECT j.key AS i, lower(hex(u.id)) AS id, u.added_at, u.removed_at FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     UNION ALL ${layoutRow(2)}`;
/** Every row, whole, under each probed key, whatever its state: what moving a user forward copies. */
export const ROW_BY_KEY_SQL = `SELECT j.key AS i, lower(hex(u.id)) AS id, lower(hex(u.token_hash)) AS token_hash, u.added_at, u.removed_at, u.key_version
     FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     UNION ALL ${layoutRow(4)}`;

export interface StateRow {
  i: number;
  added_at: number;
  removed_at: number | null;
}

/** While users move, ANY_STATE_SQL on new and old shards; `select` applies the rule `sql` has in SQL. */
export function lookUpByLayout<Row extends { i: number }>(shards: Shards, ids: Uint8Array[], sql: string, params: unknown[], select: (row: StateRow) => Row | null): Promise<Found<Row>> {
  return withLayout(shards, async (layout, version) => {
    const order = probeOrder(ids);
    const home = groupByShard(ids, shardsInUse(layout), order).map((indices, shard): Probe => ({ shard, indices }));
    if (!layout.moving) {
      const { rows, ...costs } = await probeShards<Row>(shards, version, home, ids, sql, ...params);
      return { rows: rows.flat().sort((a, b) => a.i - b.i), ...costs };
    }
    const previous = Array.from({ length: layout.count }, (_, shard): Probe => ({ shard, indices: [] }));
    for (const i of home[layout.count]!.indices) previous[previousOf(ids[i]!, layout)]!.indices.push(i);
    const [fromHome, fromPrevious] = [home, previous].map((probes) => probes.filter((p) => p.indices.length > 0)) as [Probe[], Probe[]];
    const { rows, ...costs } = await probeShards<StateRow>(shards, version, [...fromHome, ...fromPrevious], ids, ANY_STATE_SQL);
    const best = new Map<number, StateRow>();
    for (const [p, found] of rows.entries()) for (const row of found) if (p < fromHome.length || !best.has(row.i)) best.set(row.i, row);
    const selected = [...best.values()].map(select).filter((row): row is Row => row !== null);
    return { rows: selected.sort((a, b) => a.i - b.i), ...costs };
  });
}

// --- One user ------------------------------------------------------------------------------------

export interface OneRow {
  token_hash: number[] | ArrayBuffer | null;
  key_version: number | null;
  added_at: number | null;
  removed_at: number | null;
  present: 0 | 1;
}

/** Checks the shard is at `version`. */
export type ReadOne<R extends OneRow> = (db: D1Database, user: Uint8Array, version: number) => Promise<R>;

export function readUserByLayout<R extends OneRow>(shards: Shards, user: Uint8Array, read: ReadOne<R>): Promise<R> {
  return withLayout(shards, async (layout, version) => {
    const previous = previousOf(user, layout);
    const [home, old] = await Promise.all([read(shards[homeOf(user, layout)]!, user, version), previous >= 0 ? read(shards[previous]!, user, version) : null]);
    return home.present || !old ? home : old;
  });
}

/** `write` binds its own parameters and the version for its layout guard. While they move, the row is
 * first copied from the old shard if the new one has none, so the write acts on their current state. */
export function writeUserByLayout(shards: Shards, user: Uint8Array, read: ReadOne<OneRow>, write: (db: D1Database, version: number) => D1PreparedStatement): Promise<D1Result> {
  return withLayout(shards, async (layout, version) => {
    const db = shards[homeOf(user, layout)]!;
    const statements: D1PreparedStatement[] = [];
    const previous = previousOf(user, layout);
    if (previous >= 0) {
      const old = await read(shards[previous]!, user, version);
      if (old.present) {
        statements.push(
          db
            .prepare(
              `INSERT INTO users (k, id, token_hash, added_at, removed_at, key_version) SELECT ?1, ?2, ?3, ?4, ?5, ?7 WHERE ${layoutGuard(6)}
               ON CONFLICT DO NOTHING`,
            )
            .bind(keyOf(user), user, new Uint8Array(old.token_hash!), old.added_at, old.removed_at, version, old.key_version ?? 0),
        );
      }
    }
    statements.push(write(db, version));
    return (await guardedBatch(db, version, statements)).at(-1)!;
  });
}

// --- Many users ----------------------------------------------------------------------------------

/** `chunk` cuts each shard's indices into runs, at most MAX_CONNECTIONS at once. Returns rows changed. */
export function writeUsersByLayout(
  shards: Shards,
  ids: Uint8Array[],
  chunk: (indices: number[]) => number[][],
  write: (db: D1Database, chunk: number[], version: number) => D1PreparedStatement,
): Promise<number> {
  return withLayout(shards, async (layout, version) => {
    if (layout.moving) await copyToNewShard(shards, layout, version, ids);
    const work = groupByShard(ids, shardsInUse(layout)).flatMap((indices, shard) => (indices.length === 0 ? [] : chunk(indices).map((run) => ({ shard, run }))));
    const changed = await mapLimit(work, MAX_CONNECTIONS, async ({ shard, run }) => {
      const db = shards[shard]!;
      const [result] = await guardedBatch(db, version, [write(db, run, version)]);
      return result!.meta.changes;
    });
    return changed.reduce((a, b) => a + b, 0);
  });
}

interface FullRow {
  i: number;
  token_hash: string;
  key_version: number;
  added_at: number;
  removed_at: number | null;
}

/** A row already on the new shard is newer and stays. */
async function copyToNewShard(shards: Shards, layout: Layout, version: number, ids: Uint8Array[]): Promise<void> {
  const previous = Array.from({ length: layout.count }, (_, shard): Probe => ({ shard, indices: [] }));
  for (const [i, id] of ids.entries()) {
    const shard = previousOf(id, layout);
    if (shard >= 0) previous[shard]!.indices.push(i);
  }
  const probes = previous.filter((p) => p.indices.length > 0);
  if (probes.length === 0) return;
  const { rows } = await probeShards<FullRow>(
    shards,
    version,
    probes,
    ids,
    ROW_BY_KEY_SQL,
  );
  const found = rows.flat();
  if (found.length === 0) return;
  await copyRows(shards[layout.count]!, version, found.map((r) => ({ k: keyOf(ids[r.i]!), id: toHex(ids[r.i]!), tokenHash: r.token_hash, addedAt: r.added_at, removedAt: r.removed_at, keyVersion: r.key_version })));
}

export interface MovedRow {
  k: number;
  id: string;
  tokenHash: string;
  addedAt: number;
  removedAt: number | null;
  /** The pseudonym key version of `id` (0: a plain identifier). */
  keyVersion: number;
}

/** A row already on the shard is never changed. */
export async function copyRows(db: D1Database, version: number, rows: MovedRow[]): Promise<number> {
  let copied = 0;
  const chars = (i: number) => rows[i]!.id.length + rows[i]!.tokenHash.length + 50;
  for (const chunk of paramChunks([...rows.keys()], chars)) {
    const json = JSON.stringify(chunk.map((i) => [rows[i]!.k, rows[i]!.id, rows[i]!.tokenHash, rows[i]!.addedAt, rows[i]!.removedAt, rows[i]!.keyVersion]));
    const [result] = await guardedBatch(db, version, [
      db
        .prepare(
          `INSERT INTO users (k, id, token_hash, added_at, removed_at, key_version)
           SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, unhex(value ->> 2), value ->> 3, value ->> 4, value ->> 5 FROM json_each(?1)
           WHERE ${layoutGuard(2)} ORDER BY k, id
           ON CONFLICT DO NOTHING`,
        )
        .bind(json, version),
    ]);
    copied += result!.meta.changes;
  }
  return copied;
}
