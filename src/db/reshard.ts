// The queries of the reshard copier (domain/reshard.ts): reading an old shard in key order, copying
// and deleting rows by (k, id), and its progress on USERS_0 (migrations/0004).

import { toHex } from "../core/hex";
import { guardedBatch, layoutGuard } from "./layout";
import type { Shards } from "./shards";
import type { MovedRow } from "./user-routing";

export interface Progress {
  target: number;
  stage: "copy" | "clean";
  shard: number;
  afterK: number;
  afterId: Uint8Array;
  done: boolean;
}

export async function readProgress(shards: Shards): Promise<Progress[]> {
  const { results } = await shards[0]!
    .prepare(`SELECT target, stage, shard, after_k, after_id, done FROM reshard_progress ORDER BY target, stage, shard`)
    .all<{ target: number; stage: "copy" | "clean"; shard: number; after_k: number; after_id: number[] | ArrayBuffer; done: number }>();
  return results.map((r) => ({ target: r.target, stage: r.stage, shard: r.shard, afterK: r.after_k, afterId: new Uint8Array(r.after_id), done: r.done === 1 }));
}

/** Starts a stage on old shards 0 ... count - 1 from their first key; a stage already started keeps its progress. */
export async function startStage(shards: Shards, target: number, stage: "copy" | "clean", count: number): Promise<void> {
  const db = shards[0]!;
  await db.batch(
    Array.from({ length: count }, (_, shard) =>
      db.prepare(`INSERT INTO reshard_progress (target, stage, shard, after_k, after_id) VALUES (?1, ?2, ?3, -1, x'') ON CONFLICT DO NOTHING`).bind(target, stage, shard),
    ),
  );
}

/** Records a batch done; never moves a shard's progress back (two commands at once redo, not undo). */
export async function saveProgress(shards: Shards, p: Progress, afterK: number, afterId: Uint8Array, done: boolean): Promise<void> {
  await shards[0]!
    .prepare(
      `UPDATE reshard_progress SET after_k = ?4, after_id = ?5, done = max(done, ?6)
       WHERE target = ?1 AND stage = ?2 AND shard = ?3 AND (after_k, after_id) <= (?4, ?5)`,
    )
    .bind(p.target, p.stage, p.shard, afterK, afterId, done ? 1 : 0)
    .run();
}

export async function clearProgress(shards: Shards, target: number): Promise<void> {
  await shards[0]!.prepare(`DELETE FROM reshard_progress WHERE target = ?1`).bind(target).run();
}

export interface ScannedRow extends MovedRow {
  bytes: Uint8Array;
}

/** The next ?3 rows of a shard after (?1, ?2), in key order: one range of the primary key. */
export const SCAN_SQL = `SELECT k, id, lower(hex(token_hash)) AS token_hash, added_at, removed_at, key_version FROM users
  WHERE (k, id) > (?1, ?2) AND ${layoutGuard(4)} ORDER BY k, id LIMIT ?3`;

export async function scanRows(db: D1Database, version: number, afterK: number, afterId: Uint8Array, limit: number): Promise<ScannedRow[]> {
  const [result] = await guardedBatch(db, version, [db.prepare(SCAN_SQL).bind(afterK, afterId, limit, version)]);
  return (result!.results as { k: number; id: number[]; token_hash: string; added_at: number; removed_at: number | null; key_version: number }[]).map((r) => {
    const bytes = new Uint8Array(r.id);
    return { k: r.k, id: toHex(bytes), bytes, tokenHash: r.token_hash, addedAt: r.added_at, removedAt: r.removed_at, keyVersion: r.key_version };
  });
}

export const DELETE_ROWS_SQL = `DELETE FROM users WHERE (k, id) IN (SELECT value ->> 0, unhex(value ->> 1) FROM json_each(?1)) AND ${layoutGuard(2)}`;

/** Deletes rows by (k, id); returns how many went. */
export async function deleteRows(db: D1Database, version: number, rows: { k: number; id: string }[]): Promise<number> {
  if (rows.length === 0) return 0;
  const [result] = await guardedBatch(db, version, [db.prepare(DELETE_ROWS_SQL).bind(JSON.stringify(rows.map((r) => [r.k, r.id])), version)]);
  return result!.meta.changes;
}

/** Gives the new shard the bucket epoch of the others, so that a moving user keeps their buckets. */
export async function copyBucketEpoch(from: D1Database, to: D1Database): Promise<void> {
  const epoch = (await from.prepare(`SELECT value FROM meta WHERE key = 'bucket_epoch'`).first<number>("value")) ?? 0;
  await to.prepare(`INSERT INTO meta (key, value) VALUES ('bucket_epoch', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).bind(epoch).run();
}
