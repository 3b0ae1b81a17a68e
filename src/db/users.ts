// Every query on the users table, which is split across N D1 databases (db/shards.ts). Functions
// take the list of shards and send each one only its own identifiers, in parallel.
//
// The table's primary key is (k, id), k being the identifier's first 6 bytes as an integer
// (core/lookup-key.ts). A list of identifiers travels as one JSON parameter of their keys, expanded
// by json_each and joined to the primary key: a 20,000-identifier lookup is one statement per shard
// of 20,000 index probes in all, whatever the size of the table, and only what matched comes back
// with its whole identifier, which the Worker checks. Single users are found by (k, id).
//
// Every function runs by the isolate's shard layout and checks it on each shard (db/layout.ts).
// While users move to a new shard (npm run reshard), a user who moves is written to the new shard
// (their row copied there first, if it is still on the old one) and read from the new shard, or from
// the old one when the new one has no row for them yet.

import { hexDigits, jsonKeyHexPairs, toHex } from "../core/hex";
import { keyOf, keysOf } from "../core/lookup-key";
import { mapLimit } from "../core/concurrency";
import { type Layout, groupByShard, homeOf, previousOf, probeOrder, shardsInUse } from "../core/sharding";
import { checkLayout, guardedBatch, layoutGuard, withLayout } from "./layout";
import { type Found, MAX_CONNECTIONS, type Probe, type Shards, eachShard, paramChunks, probeShards } from "./shards";

// Each key is one primary-key probe, in the order sent (CROSS JOIN keeps the list the outer loop),
// and the list comes in probe order, so SQLite sorts nothing. The last row (i = -1) is the shard's
// layout version. Exported so that a test can check the query plans.
const layoutRow = (nulls = 0) => `SELECT -1, value${", NULL".repeat(nulls)} FROM meta WHERE key = 'layout'`;
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
  // While users move: every row found, in whatever state, so that a row on the new shard hides the
  // one on the old shard. The rules of S1 and S2 are then applied in the Worker (see `probe`).
  anyState: `SELECT j.key AS i, lower(hex(u.id)) AS id, u.added_at, u.removed_at FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     UNION ALL ${layoutRow(2)}`,
};

/** Indices `i` (in request order) of the identifiers that are registered now: S1. */
export function findRegistered(shards: Shards, ids: Uint8Array[]): Promise<Found<{ i: number }>> {
  return probe(shards, ids, LOOKUP_SQL.registered, [], (row) => (row.removed_at === null ? { i: row.i } : null));
}

/**
 * Indices `i` (in request order) of the identifiers whose registration changed at or after `since`:
 * S2. `registered` is 1 for a user (re-)registered since then and still registered, 0 for one removed.
 */
export function findChanges(shards: Shards, ids: Uint8Array[], since: number): Promise<Found<{ i: number; registered: 0 | 1 }>> {
  return probe(shards, ids, LOOKUP_SQL.changes, [since], (row) => {
    if (row.removed_at === null) return row.added_at >= since ? { i: row.i, registered: 1 } : null;
    return row.removed_at >= since ? { i: row.i, registered: 0 } : null;
  });
}

/** Indices `i` (in request order) of the identifiers that were registered once and are removed now. */
export function findRemoved(shards: Shards, ids: Uint8Array[]): Promise<Found<{ i: number }>> {
  return probe(shards, ids, LOOKUP_SQL.removed, [], (row) => (row.removed_at !== null ? { i: row.i } : null));
}

interface StateRow {
  i: number;
  added_at: number;
  removed_at: number | null;
}

/**
 * A lookup by the isolate's layout. With users in place, `sql` on each identifier's shard. While
 * they move, LOOKUP_SQL.anyState on each identifier's new shard and, for those who move, on their
 * old shard too; the new shard's row wins, and `select` applies the rule `sql` has in SQL.
 */
function probe<Row extends { i: number }>(shards: Shards, ids: Uint8Array[], sql: string, params: unknown[], select: (row: StateRow) => Row | null): Promise<Found<Row>> {
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
    const { rows, ...costs } = await probeShards<StateRow>(shards, version, [...fromHome, ...fromPrevious], ids, LOOKUP_SQL.anyState);
    const best = new Map<number, StateRow>();
    for (const [p, found] of rows.entries()) for (const row of found) if (p < fromHome.length || !best.has(row.i)) best.set(row.i, row);
    const selected = [...best.values()].map(select).filter((row): row is Row => row !== null);
    return { rows: selected.sort((a, b) => a.i - b.i), ...costs };
  });
}

// --- One user ------------------------------------------------------------------------------------

interface UserRow {
  token_hash: number[] | ArrayBuffer | null;
  added_at: number | null;
  removed_at: number | null;
  present: 0 | 1;
  epoch: number | null;
  layout: number | null;
}

/** A user's row on one shard (present 0 if none), the shard's bucket epoch and layout, in one row. */
export const READ_USER_SQL = `SELECT u.token_hash, u.added_at, u.removed_at, u.k IS NOT NULL AS present, e.value AS epoch, l.value AS layout
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

/** The token hash of a registered user and when this registration began; null if not registered. */
export function findCredentials(shards: Shards, user: Uint8Array): Promise<{ tokenHash: Uint8Array; addedAt: number } | null> {
  return withLayout(shards, async (layout, version) => {
    const previous = previousOf(user, layout);
    const [home, old] = await Promise.all([
      readUser(shards[homeOf(user, layout)]!, user, version),
      previous >= 0 ? readUser(shards[previous]!, user, version) : null,
    ]);
    const row = home.present || !old ? home : old;
    if (!row.present || row.removed_at !== null) return null;
    return { tokenHash: new Uint8Array(row.token_hash!), addedAt: row.added_at! };
  });
}

/**
 * Writes one user on their shard by `write(db, layout guard parameter number)`, which binds its own
 * parameters and the version as that one. While they move, their row is first copied from the old
 * shard if the new one has none, so that the write acts on their current state.
 */
async function writeUser(shards: Shards, user: Uint8Array, write: (db: D1Database, version: number) => D1PreparedStatement): Promise<D1Result> {
  return withLayout(shards, async (layout, version) => {
    const db = shards[homeOf(user, layout)]!;
    const statements: D1PreparedStatement[] = [];
    const previous = previousOf(user, layout);
    if (previous >= 0) {
      const old = await readUser(shards[previous]!, user, version);
      if (old.present) {
        statements.push(
          db
            .prepare(
              `INSERT INTO users (k, id, token_hash, added_at, removed_at) SELECT ?1, ?2, ?3, ?4, ?5 WHERE ${layoutGuard(6)}
               ON CONFLICT DO NOTHING`,
            )
            .bind(keyOf(user), user, new Uint8Array(old.token_hash!), old.added_at, old.removed_at, version),
        );
      }
    }
    statements.push(write(db, version));
    return (await guardedBatch(db, version, statements)).at(-1)!;
  });
}

/**
 * Registers a user who is not registered now (new, or removed earlier), atomically: true if this call
 * registered them, false if they were already registered (with whatever token).
 */
export async function registerUser(shards: Shards, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const result = await writeUser(shards, user, (db, version) =>
    db
      .prepare(
        `INSERT INTO users (k, id, token_hash, added_at, removed_at) SELECT ?4, ?1, ?2, ?3, NULL WHERE ${layoutGuard(5)}
         ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
         WHERE users.removed_at IS NOT NULL
         RETURNING 1`,
      )
      .bind(user, tokenHash, now, keyOf(user), version),
  );
  return result.results.length === 1;
}

/** Marks a registered user removed, if the token hash still matches; true if it did. */
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
 * Deletes users removed before `before`: on each shard at most `maxBatches` statements of
 * `batchSize` rows, so one run stays small. Returns how many rows went. While users move, the new
 * shard is left alone: a removal purged there would let an old copy on the old shard show through.
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

// --- Many users ----------------------------------------------------------------------------------

interface FullRow {
  i: number;
  token_hash: string;
  added_at: number;
  removed_at: number | null;
}

/**
 * While users move: copies the rows of those among `ids` who move and whose row is still only on
 * their old shard to the new one (a row already there is newer and stays), so that a bulk write
 * acts on their current state.
 */
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
    `SELECT j.key AS i, lower(hex(u.id)) AS id, lower(hex(u.token_hash)) AS token_hash, u.added_at, u.removed_at
     FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     UNION ALL ${layoutRow(3)}`,
  );
  const found = rows.flat();
  if (found.length === 0) return;
  await copyRows(shards[layout.count]!, version, found.map((r) => ({ k: keyOf(ids[r.i]!), id: toHex(ids[r.i]!), tokenHash: r.token_hash, addedAt: r.added_at, removedAt: r.removed_at })));
}

/** A user's row in hex, as the reshard copier and copyToNewShard move it. */
export interface MovedRow {
  k: number;
  id: string;
  tokenHash: string;
  addedAt: number;
  removedAt: number | null;
}

/** Inserts rows that are not on the shard yet; a row already there is never changed. Returns how many went in. */
export async function copyRows(db: D1Database, version: number, rows: MovedRow[]): Promise<number> {
  let copied = 0;
  const chars = (i: number) => rows[i]!.id.length + rows[i]!.tokenHash.length + 50;
  for (const chunk of paramChunks([...rows.keys()], chars)) {
    const json = JSON.stringify(chunk.map((i) => [rows[i]!.k, rows[i]!.id, rows[i]!.tokenHash, rows[i]!.addedAt, rows[i]!.removedAt]));
    const [result] = await guardedBatch(db, version, [
      db
        .prepare(
          `INSERT INTO users (k, id, token_hash, added_at, removed_at)
           SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, unhex(value ->> 2), value ->> 3, value ->> 4 FROM json_each(?1)
           WHERE ${layoutGuard(2)} ORDER BY k, id
           ON CONFLICT DO NOTHING`,
        )
        .bind(json, version),
    ]);
    copied += result!.meta.changes;
  }
  return copied;
}

/**
 * One page of the keys of users on one shard whose latest change (registration or removal) is at or
 * after `since`, with its time, for the keys k > `after` with k mod `parts` = `part`, in key order:
 * what the S2 index (objects/s2-index.ts) is built from. It scans the shard, once per index.
 */
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

// --- Local-development test hooks ------------------------------------------------------------

/** Forgets every user, and every bucket by moving every shard to a new bucket epoch. */
export async function resetDirectory(shards: Shards): Promise<void> {
  await eachShard(shards, (db) =>
    db.batch([db.prepare(`DELETE FROM users`), db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'bucket_epoch'`)]),
  );
}

/** Registers every identifier not registered now, with a random token; returns how many were new. */
export function addUsers(shards: Shards, ids: Uint8Array[], now: number): Promise<number> {
  return withLayout(shards, async (layout, version) => {
    if (layout.moving) await copyToNewShard(shards, layout, version, ids);
    const hex = hexDigits(ids);
    const keys = keysOf(ids);
    const pairChars = (i: number) => hex.start[i + 1]! - hex.start[i]! + 22; // [15 digits,"hex"],
    const work = groupByShard(ids, shardsInUse(layout)).flatMap((indices, shard) => paramChunks(indices, pairChars).map((chunk) => ({ shard, chunk })));
    const added = await mapLimit(work, MAX_CONNECTIONS, async ({ shard, chunk }) => {
      const db = shards[shard]!;
      const [result] = await guardedBatch(db, version, [
        db
          .prepare(
            `INSERT INTO users (k, id, token_hash, added_at, removed_at)
             SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, randomblob(32), ?2, NULL FROM json_each(?1)
             WHERE ${layoutGuard(3)} ORDER BY k, id
             ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
             WHERE users.removed_at IS NOT NULL`,
          )
          .bind(jsonKeyHexPairs(hex, keys, chunk), now, version),
      ]);
      return result!.meta.changes;
    });
    return added.reduce((a, b) => a + b, 0);
  });
}

// --- Bulk import ---------------------------------------------------------------------------------

export interface ImportedUser {
  id: Uint8Array;
  /** The SHA-256 of the user's token. */
  tokenHash: Uint8Array;
}

/**
 * Registers imported users with their token hashes, `addedAt` as their registration time (0 keeps
 * them out of S2). Registered users are left as they are, so a batch sent twice changes nothing; a
 * user removed earlier comes back as added now, so clients who saw the removal learn of the return.
 * Returns how many users this call registered.
 */
export function importUsers(shards: Shards, users: ImportedUser[], addedAt: number, now: number): Promise<number> {
  return withLayout(shards, async (layout, version) => {
    const ids = users.map((u) => u.id);
    if (layout.moving) await copyToNewShard(shards, layout, version, ids);
    const byShard = groupByShard(ids, shardsInUse(layout));
    const counts = await mapLimit(
      byShard.flatMap((indices, shard) => (indices.length === 0 ? [] : [{ shard, indices }])),
      MAX_CONNECTIONS,
      async ({ shard, indices }) => {
        const db = shards[shard]!;
        const json = JSON.stringify(indices.map((i) => [keyOf(users[i]!.id), toHex(users[i]!.id), toHex(users[i]!.tokenHash)]));
        const [result] = await guardedBatch(db, version, [
          db
            .prepare(
              `INSERT INTO users (k, id, token_hash, added_at, removed_at)
               SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, unhex(value ->> 2), ?2, NULL FROM json_each(?1)
               WHERE ${layoutGuard(4)} ORDER BY k, id
               ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = ?3, removed_at = NULL
               WHERE users.removed_at IS NOT NULL`,
            )
            .bind(json, addedAt, now, version),
        ]);
        return result!.meta.changes;
      },
    );
    return counts.reduce((a, b) => a + b, 0);
  });
}

// --- Operator ------------------------------------------------------------------------------------

/** The current bucket epoch (see bucketsOf); 0 unless the local /reset hook ran. */
export async function findBucketEpoch(shards: Shards): Promise<number> {
  return (await shards[0]!.prepare(`SELECT value FROM meta WHERE key = 'bucket_epoch'`).first<number>("value")) ?? 0;
}

/** Marks a registered user removed whatever their token (the operator's delete); true if they were registered. */
export async function removeUserByOperator(shards: Shards, user: Uint8Array, now: number): Promise<boolean> {
  const result = await writeUser(shards, user, (db, version) =>
    db
      .prepare(`UPDATE users SET removed_at = ?2 WHERE k = ?3 AND id = ?1 AND removed_at IS NULL AND ${layoutGuard(4)}`)
      .bind(user, now, keyOf(user), version),
  );
  return result.meta.changes === 1;
}

/**
 * Registered users and S2's size, summed over the bound shards. Counting S2's additions scans each
 * shard (there is no index on added_at, to keep rows small), so this is for the operator, never for
 * clients. While users move, and until their old rows are deleted, the moved ones count twice.
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

