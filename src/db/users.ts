// Every query on the users table, which is split across N D1 databases (db/shards.ts). Functions
// take the list of shards and send each one only its own identifiers, in parallel.
//
// The table's primary key is (k, id), k being the identifier's first 6 bytes as an integer
// (core/lookup-key.ts). A list of identifiers travels as one JSON parameter of their keys, expanded
// by json_each and joined to the primary key: a 20,000-identifier lookup is one statement per shard
// of 20,000 index probes in all, whatever the size of the table, and only what matched comes back
// with its whole identifier, which the Worker checks. Single users are found by (k, id).

import { hexDigits, jsonKeyHexPairs, toHex } from "../core/hex";
import { keyOf, keysOf } from "../core/lookup-key";
import { groupByShard, mapLimit } from "../core/sharding";
import { type Found, MAX_CONNECTIONS, type Shards, eachShard, paramChunks, probeShards, shardFor } from "./shards";

// Each key is one primary-key probe, in the order sent (CROSS JOIN keeps the list the outer loop),
// and the list comes in probe order, so SQLite sorts nothing. Exported so that a test can check the
// query plans.
export const LOOKUP_SQL = {
  registered: `SELECT j.key AS i, lower(hex(u.id)) AS id FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     WHERE u.removed_at IS NULL`,
  changes: `SELECT j.key AS i, lower(hex(u.id)) AS id, u.removed_at IS NULL AS registered FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value
     WHERE (u.removed_at IS NULL AND u.added_at >= ?2) OR u.removed_at >= ?2`,
};

/** Indices `i` (in request order) of the identifiers that are registered now: S1. */
export function findRegistered(shards: Shards, ids: Uint8Array[]): Promise<Found<{ i: number }>> {
  return probeShards(shards, ids, LOOKUP_SQL.registered);
}

/**
 * Indices `i` (in request order) of the identifiers whose registration changed at or after `since`:
 * S2. `registered` is 1 for a user (re-)registered since then and still registered, 0 for one removed.
 */
export function findChanges(shards: Shards, ids: Uint8Array[], since: number): Promise<Found<{ i: number; registered: 0 | 1 }>> {
  return probeShards(shards, ids, LOOKUP_SQL.changes, since);
}

/** The token hash of a registered user, and the current bucket epoch; null if not registered. */
export async function findCredentials(shards: Shards, user: Uint8Array): Promise<{ tokenHash: Uint8Array; bucketEpoch: number } | null> {
  const rows = await shardFor(shards, user)
    .prepare(
      `SELECT token_hash, (SELECT value FROM meta WHERE key = 'bucket_epoch') FROM users
       WHERE k = ?1 AND id = ?2 AND removed_at IS NULL`,
    )
    .bind(keyOf(user), user)
    .raw<[ArrayBuffer | number[], number | null]>();
  if (rows.length === 0) return null;
  const [tokenHash, epoch] = rows[0]!;
  return { tokenHash: new Uint8Array(tokenHash), bucketEpoch: epoch ?? 0 };
}

/**
 * Registers a user who is not registered now (new, or removed earlier), atomically: true if this call
 * registered them, false if they were already registered (with whatever token).
 */
export async function registerUser(shards: Shards, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const rows = await shardFor(shards, user)
    .prepare(
      `INSERT INTO users (k, id, token_hash, added_at, removed_at) VALUES (?4, ?1, ?2, ?3, NULL)
       ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
       WHERE users.removed_at IS NOT NULL
       RETURNING 1`,
    )
    .bind(user, tokenHash, now, keyOf(user))
    .raw();
  return rows.length === 1;
}

/** Marks a registered user removed, if the token hash still matches; true if it did. */
export async function removeUser(shards: Shards, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const result = await shardFor(shards, user)
    .prepare(`UPDATE users SET removed_at = ?3 WHERE k = ?4 AND id = ?1 AND token_hash = ?2 AND removed_at IS NULL`)
    .bind(user, tokenHash, now, keyOf(user))
    .run();
  return result.meta.changes === 1;
}

/**
 * Deletes users removed before `before`: on each shard at most `maxBatches` statements of
 * `batchSize` rows, so one run stays small. Returns how many rows went.
 */
export async function purgeRemovedUsers(shards: Shards, before: number, batchSize: number, maxBatches: number): Promise<number> {
  const perShard = await eachShard(shards, async (db) => {
    let purged = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const result = await db
        .prepare(
          `DELETE FROM users WHERE (k, id) IN (
             SELECT k, id FROM users WHERE removed_at IS NOT NULL AND removed_at < ?1 LIMIT ?2)`,
        )
        .bind(before, batchSize)
        .run();
      purged += result.meta.changes;
      if (result.meta.changes < batchSize) break;
    }
    return purged;
  });
  return perShard.reduce((a, b) => a + b, 0);
}

// --- Local-development test hooks ------------------------------------------------------------

/** Forgets every user, and every bucket by moving every shard to a new bucket epoch. */
export async function resetDirectory(shards: Shards): Promise<void> {
  await eachShard(shards, (db) =>
    db.batch([db.prepare(`DELETE FROM users`), db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'bucket_epoch'`)]),
  );
}

/** Registers every identifier not registered now, with a random token; returns how many were new. */
export async function addUsers(shards: Shards, ids: Uint8Array[], now: number): Promise<number> {
  const hex = hexDigits(ids);
  const keys = keysOf(ids);
  const pairChars = (i: number) => hex.start[i + 1]! - hex.start[i]! + 22; // [15 digits,"hex"],
  const work = groupByShard(ids, shards.length).flatMap((indices, shard) => paramChunks(indices, pairChars).map((chunk) => ({ shard, chunk })));
  const added = await mapLimit(work, MAX_CONNECTIONS, async ({ shard, chunk }) => {
    const result = await shards[shard]!
      .prepare(
        `INSERT INTO users (k, id, token_hash, added_at, removed_at)
         SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, randomblob(32), ?2, NULL FROM json_each(?1) ORDER BY k, id
         ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
         WHERE users.removed_at IS NOT NULL`,
      )
      .bind(jsonKeyHexPairs(hex, keys, chunk), now)
      .run();
    return result.meta.changes;
  });
  return added.reduce((a, b) => a + b, 0);
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
export async function importUsers(shards: Shards, users: ImportedUser[], addedAt: number, now: number): Promise<number> {
  const byShard = groupByShard(users.map((u) => u.id), shards.length);
  const counts = await mapLimit(
    byShard.flatMap((indices, shard) => (indices.length === 0 ? [] : [{ shard, indices }])),
    MAX_CONNECTIONS,
    async ({ shard, indices }) => {
      const json = JSON.stringify(indices.map((i) => [keyOf(users[i]!.id), toHex(users[i]!.id), toHex(users[i]!.tokenHash)]));
      const result = await shards[shard]!
        .prepare(
          `INSERT INTO users (k, id, token_hash, added_at, removed_at)
           SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, unhex(value ->> 2), ?2, NULL FROM json_each(?1) ORDER BY k, id
           ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = ?3, removed_at = NULL
           WHERE users.removed_at IS NOT NULL`,
        )
        .bind(json, addedAt, now)
        .run();
      return result.meta.changes;
    },
  );
  return counts.reduce((a, b) => a + b, 0);
}

// --- Operator ------------------------------------------------------------------------------------

/** The current bucket epoch (see bucketsOf); 0 unless the local /reset hook ran. */
export async function findBucketEpoch(shards: Shards): Promise<number> {
  return (await shards[0]!.prepare(`SELECT value FROM meta WHERE key = 'bucket_epoch'`).first<number>("value")) ?? 0;
}

/** Marks a registered user removed whatever their token (the operator's delete); true if they were registered. */
export async function removeUserByOperator(shards: Shards, user: Uint8Array, now: number): Promise<boolean> {
  const result = await shardFor(shards, user)
    .prepare(`UPDATE users SET removed_at = ?2 WHERE k = ?3 AND id = ?1 AND removed_at IS NULL`)
    .bind(user, now, keyOf(user))
    .run();
  return result.meta.changes === 1;
}

/**
 * Registered users and S2's size, summed over shards. Counting S2's additions scans each shard (there
 * is no index on added_at, to keep rows small), so this is for the operator, never for clients.
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

