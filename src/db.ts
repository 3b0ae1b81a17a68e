// Every query on the users table, which is split across N D1 databases (shards) by a hash of the
// identifier (src/sharding.ts). Functions take the list of shards and send each one only its own
// identifiers, in parallel.
//
// A list of identifiers travels as one JSON parameter of hex strings, expanded by json_each and
// joined to the primary key: a 20,000-identifier lookup is one statement per shard of 20,000 index
// probes in all, whatever the size of the table.

import { type HexDigits, hexDigits, jsonHexChars, jsonHexList, toHex } from "./hex";
import { groupByShard, mapLimit, shardOf } from "./sharding";

export type Shards = readonly D1Database[];

/** D1 allows 6 simultaneous connections per invocation. */
const MAX_CONNECTIONS = 6;
/** D1 refuses bound values over 2 MB; keep each JSON list of hex identifiers under this. */
const MAX_PARAM_CHARS = 1_900_000;

export const shardFor = (shards: Shards, id: Uint8Array): D1Database => shards[shardOf(id, shards.length)]!;

/** JSON lists of hex identifiers, each small enough to bind, with the request index of each element. */
function hexChunks(hex: HexDigits, indices: number[]): { indices: number[]; json: string }[] {
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
 * The request indices in the order of the identifiers' first three bytes (ties in request order).
 * Probing in (nearly) key order lets consecutive probes share B-tree pages; one typed-array sort
 * here costs less than SQLite sorting the list inside D1.
 */
export function probeOrder(ids: Uint8Array[]): number[] {
  const INDEX_RANGE = 2 ** 29; // prefix * 2^29 + index stays below 2^53: exact in a double
  const keys = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    keys[i] = (((id[0] ?? 0) << 16) | ((id[1] ?? 0) << 8) | (id[2] ?? 0)) * INDEX_RANGE + i;
  }
  keys.sort();
  return Array.from(keys, (key) => (key % INDEX_RANGE) | 0); // small integers, not doubles: cheap to index with
}

/**
 * Runs `sql` (whose ?1 is a JSON list of hex identifiers and whose column `i` is the list index)
 * on every shard for its own identifiers, sent in probe order; rows come back with request indices,
 * in request order.
 */
async function lookUp<Row extends { i: number }>(shards: Shards, ids: Uint8Array[], sql: string, ...params: unknown[]): Promise<Found<Row>> {
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

// Each identifier is one primary-key probe, in the order sent (CROSS JOIN keeps the list the outer
// loop), and the list comes in probe order, so SQLite sorts nothing. Exported so that a test can
// check the query plans.
export const LOOKUP_SQL = {
  registered: `SELECT j.key AS i FROM json_each(?1) AS j CROSS JOIN users AS u ON u.id = unhex(j.value)
     WHERE u.removed_at IS NULL`,
  changes: `SELECT j.key AS i, u.removed_at IS NULL AS registered FROM json_each(?1) AS j CROSS JOIN users AS u ON u.id = unhex(j.value)
     WHERE (u.removed_at IS NULL AND u.added_at >= ?2) OR u.removed_at >= ?2`,
};

/** Indices `i` (in request order) of the identifiers that are registered now: S1. */
export function findRegistered(shards: Shards, ids: Uint8Array[]): Promise<Found<{ i: number }>> {
  return lookUp(shards, ids, LOOKUP_SQL.registered);
}

/**
 * Indices `i` (in request order) of the identifiers whose registration changed at or after `since`:
 * S2. `registered` is 1 for a user (re-)registered since then and still registered, 0 for one removed.
 */
export function findChanges(shards: Shards, ids: Uint8Array[], since: number): Promise<Found<{ i: number; registered: 0 | 1 }>> {
  return lookUp(shards, ids, LOOKUP_SQL.changes, since);
}

/** The token hash of a registered user, and the current bucket epoch; null if not registered. */
export async function findCredentials(shards: Shards, user: Uint8Array): Promise<{ tokenHash: Uint8Array; bucketEpoch: number } | null> {
  const rows = await shardFor(shards, user)
    .prepare(
      `SELECT token_hash, (SELECT value FROM meta WHERE key = 'bucket_epoch') FROM users
       WHERE id = ?1 AND removed_at IS NULL`,
    )
    .bind(user)
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
      `INSERT INTO users (id, token_hash, added_at, removed_at) VALUES (?1, ?2, ?3, NULL)
       ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
       WHERE users.removed_at IS NOT NULL
       RETURNING 1`,
    )
    .bind(user, tokenHash, now)
    .raw();
  return rows.length === 1;
}

/** Marks a registered user removed, if the token hash still matches; true if it did. */
export async function removeUser(shards: Shards, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const result = await shardFor(shards, user)
    .prepare(`UPDATE users SET removed_at = ?3 WHERE id = ?1 AND token_hash = ?2 AND removed_at IS NULL`)
    .bind(user, tokenHash, now)
    .run();
  return result.meta.changes === 1;
}

/**
 * Deletes users removed before `before`: on each shard at most `maxBatches` statements of
 * `batchSize` rows, so one run stays small. Returns how many rows went.
 */
export async function purgeRemovedUsers(shards: Shards, before: number, batchSize: number, maxBatches: number): Promise<number> {
  const perShard = await mapLimit([...shards], MAX_CONNECTIONS, async (db) => {
    let purged = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const result = await db
        .prepare(
          `DELETE FROM users WHERE id IN (
             SELECT id FROM users WHERE removed_at IS NOT NULL AND removed_at < ?1 LIMIT ?2)`,
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
  await mapLimit([...shards], MAX_CONNECTIONS, (db) =>
    db.batch([db.prepare(`DELETE FROM users`), db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'bucket_epoch'`)]),
  );
}

/** Registers every identifier not registered now, with a random token; returns how many were new. */
export async function addUsers(shards: Shards, ids: Uint8Array[], now: number): Promise<number> {
  const hex = hexDigits(ids);
  const work = groupByShard(ids, shards.length).flatMap((indices, shard) => hexChunks(hex, indices).map((chunk) => ({ shard, chunk })));
  const added = await mapLimit(work, MAX_CONNECTIONS, async ({ shard, chunk }) => {
    const result = await shards[shard]!
      .prepare(
        `INSERT INTO users (id, token_hash, added_at, removed_at)
         SELECT unhex(value) AS id, randomblob(32), ?2, NULL FROM json_each(?1) ORDER BY id
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
         WHERE users.removed_at IS NOT NULL`,
      )
      .bind(chunk.json, now)
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
      const json = JSON.stringify(indices.map((i) => [toHex(users[i]!.id), toHex(users[i]!.tokenHash)]));
      const result = await shards[shard]!
        .prepare(
          `INSERT INTO users (id, token_hash, added_at, removed_at)
           SELECT unhex(value ->> 0) AS id, unhex(value ->> 1), ?2, NULL FROM json_each(?1) ORDER BY id
           ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, added_at = ?3, removed_at = NULL
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
    .prepare(`UPDATE users SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL`)
    .bind(user, now)
    .run();
  return result.meta.changes === 1;
}

/**
 * Registered users and S2's size, summed over shards. Counting S2's additions scans each shard (there
 * is no index on added_at, to keep rows small), so this is for the operator, never for clients.
 */
export async function countUsers(shards: Shards, since: number): Promise<{ registered: number; recentlyAdded: number; recentlyRemoved: number }> {
  const counts = await mapLimit([...shards], MAX_CONNECTIONS, (db) =>
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

/** Appends to the audit log (on the first shard). */
export async function writeAudit(shards: Shards, at: number, action: string, subject: string | null, detail: object): Promise<void> {
  await shards[0]!
    .prepare(`INSERT INTO audit_log (at, action, subject, detail) VALUES (?1, ?2, ?3, ?4)`)
    .bind(at, action, subject, JSON.stringify(detail))
    .run();
}

/** The newest audit entries, newest first. */
export async function readAudit(shards: Shards, limit: number): Promise<{ at: number; action: string; subject: string | null; detail: string }[]> {
  const { results } = await shards[0]!
    .prepare(`SELECT at, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT ?1`)
    .bind(limit)
    .all<{ at: number; action: string; subject: string | null; detail: string }>();
  return results;
}
