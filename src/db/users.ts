// Every query on the users table, split across N D1 databases (db/shards.ts); routing while users move
// is db/user-routing.ts's. Lookups join json_each to the (k, id) key (docs/design.md, docs/scaling.md).

import { toHex } from "../core/hex";
import { keyOf } from "../core/lookup-key";
import { checkLayout, guardedBatch, layoutGuard, withLayout } from "./layout";
import { type Found, type Shards, eachShard } from "./shards";
import { keyVersionOf } from "./keying";
import { ANY_STATE_SQL, type StateRow, layoutRow, lookUpByLayout, readUserByLayout, writeUserByLayout, writeUsersByLayout } from "./user-routing";

// CROSS JOIN keeps the list the outer loop, so rows come in probe order and SQLite sorts nothing. The
// last row (i = -1) is the shard's layout version. Exported so that a test can check the query plans.
export const LOOKUP_SQL = {
  registered: `SELECT j.key AS i, lower(hex(u.id)) AS id FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     WHERE u.removed_at IS NULL
     UNION ALL ${layoutRow()}`,
  changes: `SELECT j.key AS i, lower(hex(u.id)) AS id, u.removed_at IS NULL AS registered FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     WHERE (u.removed_at IS NULL AND u.added_at >= ?2) OR u.removed_at >= ?2
     UNION ALL ${layoutRow(1)}`,
  removed: `SELECT j.key AS i, lower(hex(u.id)) AS id FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     WHERE u.removed_at IS NOT NULL
     UNION ALL ${layoutRow()}`,
  /** While users move, in place of each of the above (db/user-routing.ts). */
  anyState: ANY_STATE_SQL,
};

/**
 * A lookup of `ids` and, during a key rotation (db/keying.ts), of `previous` (the same users' values
 * of the version before): the current version's row wins (a row being wrapped is on both for a moment,
 * and a write in between changes only the current one); `select` then applies the rule.
 */
export async function lookUpKeyed<Row extends { i: number }>(
  shards: Shards,
  ids: Uint8Array[],
  previous: Uint8Array[] | null | undefined,
  sql: string,
  params: unknown[],
  select: (row: StateRow) => Row | null,
): Promise<Found<Row>> {
  if (!previous) return lookUpByLayout(shards, ids, sql, params, select);
  const n = ids.length;
  const { rows, ...costs } = await lookUpByLayout(shards, [...ids, ...previous], ANY_STATE_SQL, [], (row) => row);
  const best = new Map<number, StateRow>();
  for (const row of rows) if (!best.has(row.i % n)) best.set(row.i % n, { ...row, i: row.i % n }); // rows come by i: the current version's first
  const selected = [...best.values()].map(select).filter((row): row is Row => row !== null);
  return { rows: selected.sort((a, b) => a.i - b.i), ...costs };
}

/** S1. */
export function findRegistered(shards: Shards, ids: Uint8Array[], previous?: Uint8Array[] | null): Promise<Found<{ i: number }>> {
  return lookUpKeyed(shards, ids, previous, LOOKUP_SQL.registered, [], (row) => (row.removed_at === null ? { i: row.i } : null));
}

/** S2: `registered` is 1 for a user (re-)registered since `since` and still registered, 0 for one removed. */
export function findChanges(shards: Shards, ids: Uint8Array[], since: number, previous?: Uint8Array[] | null): Promise<Found<{ i: number; registered: 0 | 1 }>> {
  return lookUpKeyed(shards, ids, previous, LOOKUP_SQL.changes, [since], (row) => {
    if (row.removed_at === null) return row.added_at >= since ? { i: row.i, registered: 1 } : null;
    return row.removed_at >= since ? { i: row.i, registered: 0 } : null;
  });
}

export function findRemoved(shards: Shards, ids: Uint8Array[], previous?: Uint8Array[] | null): Promise<Found<{ i: number }>> {
  return lookUpKeyed(shards, ids, previous, LOOKUP_SQL.removed, [], (row) => (row.removed_at !== null ? { i: row.i } : null));
}

// --- One user ------------------------------------------------------------------------------------

interface UserRow {
  token_hash: number[] | ArrayBuffer | null;
  key_version: number | null;
  added_at: number | null;
  removed_at: number | null;
  present: 0 | 1;
  epoch: number | null;
  layout: number | null;
}

export const READ_USER_SQL = `SELECT u.token_hash, u.key_version, u.added_at, u.removed_at, u.k IS NOT NULL AS present, e.value AS epoch, l.value AS layout
  FROM (SELECT 1) LEFT JOIN users AS u ON u.k = ?1 AND u.id = ?2
  LEFT JOIN meta AS e ON e.key = 'bucket_epoch' LEFT JOIN meta AS l ON l.key = 'layout'`;

async function readUser(db: D1Database, user: Uint8Array, version: number): Promise<UserRow> {
  const row = await db
    .prepare(READ_USER_SQL)
    .bind(keyOf(user), user)
    .first<UserRow>();
  checkLayout(row!.layout, version);
  return row!;
}

const writeUser = (shards: Shards, user: Uint8Array, write: (db: D1Database, version: number) => D1PreparedStatement) => writeUserByLayout(shards, user, readUser, write);

/** While a key rotation lasts, `previous` (the value of the version before) is read when `user` has no row. */
export async function findCredentials(shards: Shards, user: Uint8Array, previous?: Uint8Array | null): Promise<{ tokenHash: Uint8Array; addedAt: number } | null> {
  let row = await readUserByLayout(shards, user, readUser);
  if (!row.present && previous) row = await readUserByLayout(shards, previous, readUser);
  if (!row.present || row.removed_at !== null) return null;
  return { tokenHash: new Uint8Array(row.token_hash!), addedAt: row.added_at! };
}

/** Atomic: false if they were already registered (with whatever token). */
export async function registerUser(shards: Shards, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const result = await writeUser(shards, user, (db, version) =>
    db
      .prepare(
        `INSERT INTO users (k, id, token_hash, added_at, removed_at, key_version) SELECT ?4, ?1, ?2, ?3, NULL, ?6 WHERE ${layoutGuard(5)}
         ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
         WHERE users.removed_at IS NOT NULL
         RETURNING 1`,
      )
      .bind(user, tokenHash, now, keyOf(user), version, keyVersionOf(shards)),
  );
  return result.results.length === 1;
}

export async function removeUser(shards: Shards, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const result = await writeUser(shards, user, (db, version) =>
    db
      .prepare(`UPDATE users SET removed_at = ?3 WHERE k = ?4 AND id = ?1 AND token_hash = ?2 AND removed_at IS NULL AND ${layoutGuard(5)}`)
      .bind(user, tokenHash, now, keyOf(user), version),
  );
  return result.meta.changes === 1;
}

export const PURGE_SQL = `DELETE FROM users WHERE (k, id) IN (
    SELECT k, id FROM users WHERE removed_at IS NOT NULL AND removed_at < ?1 LIMIT ?2)
  AND ${layoutGuard(3)}`;

/**
 * At most `maxBatches` statements of `batchSize` rows per shard, so one run stays small. While users
 * move, the new shard is left alone: a removal purged there would let an old copy show through.
 */
export function purgeRemovedUsers(shards: Shards, before: number, batchSize: number, maxBatches: number): Promise<number> {
  return withLayout(shards, async (layout, version) => {
    const perShard = await eachShard(shards.slice(0, layout.count), async (db) => {
      let purged = 0;
      for (let batch = 0; batch < maxBatches; batch++) {
        const [result] = await guardedBatch(db, version, [db.prepare(PURGE_SQL).bind(before, batchSize, version)]);
        purged += result!.meta.changes;
        if (result!.meta.changes < batchSize) break;
      }
      return purged;
    });
    return perShard.reduce((a, b) => a + b, 0);
  });
}

// --- The S2 index's scan -------------------------------------------------------------------------

/** The S2 index's source (objects/s2-index.ts): keys k > `after` with k mod `parts` = `part`, in key order. */
export async function scanChanges(db: D1Database, since: number, parts: number, part: number, after: number, limit: number): Promise<{ k: number; at: number }[]> {
  const { results } = await db
    .prepare(
      `SELECT k, max(max(added_at, coalesce(removed_at, 0))) AS at FROM users
       WHERE k > ?2 AND k % ?3 = ?4 GROUP BY k HAVING at >= ?1 ORDER BY k LIMIT ?5`,
    )
    .bind(since, after, parts, part, limit)
    .all<{ k: number; at: number }>();
  return results;
}

// --- Bulk import ---------------------------------------------------------------------------------

export interface ImportedUser {
  id: Uint8Array;
  tokenHash: Uint8Array;
}

/**
 * `addedAt` 0 keeps imported users out of S2. A batch sent twice changes nothing; a user removed
 * earlier comes back as added now, so clients who saw the removal learn of the return.
 */
export function importUsers(shards: Shards, users: ImportedUser[], addedAt: number, now: number): Promise<number> {
  return writeUsersByLayout(
    shards,
    users.map((u) => u.id),
    (indices) => [indices],
    (db, chunk, version) =>
      db
        .prepare(
          `INSERT INTO users (k, id, token_hash, added_at, removed_at, key_version)
           SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, unhex(value ->> 2), ?2, NULL, ?5 FROM json_each(?1)
           WHERE ${layoutGuard(4)} ORDER BY k, id
           ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = ?3, removed_at = NULL
           WHERE users.removed_at IS NOT NULL`,
        )
        .bind(JSON.stringify(chunk.map((i) => [keyOf(users[i]!.id), toHex(users[i]!.id), toHex(users[i]!.tokenHash)])), addedAt, now, version, keyVersionOf(shards)),
  );
}

// --- Operator ------------------------------------------------------------------------------------

export async function removeUserByOperator(shards: Shards, user: Uint8Array, now: number): Promise<boolean> {
  const result = await writeUser(shards, user, (db, version) =>
    db
      .prepare(`UPDATE users SET removed_at = ?2 WHERE k = ?3 AND id = ?1 AND removed_at IS NULL AND ${layoutGuard(4)}`)
      .bind(user, now, keyOf(user), version),
  );
  return result.meta.changes === 1;
}

/**
 * Counting S2's additions scans each shard (no index on added_at, to keep rows small): operator only.
 * While users move, until their old rows are deleted, the moved ones count twice.
 */
export async function countUsers(shards: Shards, since: number): Promise<{ registered: number; recentlyAdded: number; recentlyRemoved: number }> {
  const counts = await eachShard(shards, (db) =>
    db
      .prepare(
        `SELECT count(*) FILTER (WHERE removed_at IS NULL) AS registered,
                count(*) FILTER (WHERE removed_at IS NULL AND added_at >= ?1) AS added,
                (SELECT count(*) FROM users WHERE removed_at >= ?1) AS removed
         FROM users`,
      )
      .bind(since)
      .first<{ registered: number; added: number; removed: number }>(),
  );
  const sum = (key: "registered" | "added" | "removed") => counts.reduce((a, c) => a + (c?.[key] ?? 0), 0);
  return { registered: sum("registered"), recentlyAdded: sum("added"), recentlyRemoved: sum("removed") };
}

