// Every query on the users table. Identifiers travel as hex: a list of them is one JSON parameter,
// expanded by json_each and joined to the primary key, so a 20,000-identifier lookup is one statement
// (or two, for very long identifiers) of 20,000 index probes, whatever the size of the table.

import { toHex } from "./hex";

/** D1 refuses bound values over 2 MB; keep each JSON list of hex identifiers under this. */
const MAX_PARAM_CHARS = 1_900_000;

/** The identifiers as JSON arrays of hex strings, each small enough to bind, with their offsets. */
function hexChunks(ids: Uint8Array[]): { offset: number; json: string }[] {
  const chunks: { offset: number; json: string }[] = [];
  let offset = 0;
  let parts: string[] = [];
  let chars = 2;
  for (let i = 0; i < ids.length; i++) {
    const hex = toHex(ids[i]!);
    if (chars + hex.length + 3 > MAX_PARAM_CHARS) {
      chunks.push({ offset, json: `["${parts.join('","')}"]` });
      offset = i;
      parts = [];
      chars = 2;
    }
    parts.push(hex);
    chars += hex.length + 3;
  }
  if (parts.length > 0) chunks.push({ offset, json: `["${parts.join('","')}"]` });
  return chunks;
}

/** Runs one statement per chunk in a single round trip; rows carry the request index in column 0. */
async function perChunk<Row extends unknown[]>(
  db: D1Database,
  ids: Uint8Array[],
  sql: string,
  ...params: unknown[]
): Promise<Row[]> {
  const chunks = hexChunks(ids);
  if (chunks.length === 0) return [];
  const statements = chunks.map((chunk) => db.prepare(sql).bind(chunk.json, ...params));
  const results =
    statements.length === 1 ? [await statements[0]!.raw<Row>()] : await Promise.all(statements.map((s) => s.raw<Row>()));
  return results.flatMap((rows, c) => {
    for (const row of rows) (row as unknown[])[0] = (row[0] as number) + chunks[c]!.offset;
    return rows;
  });
}

// CROSS JOIN makes the identifier list the outer loop, so each one is a primary-key probe.
// Exported so that a test can check their query plans.
export const LOOKUP_SQL = {
  registered: `SELECT j.key FROM json_each(?1) AS j CROSS JOIN users AS u ON u.id = unhex(j.value)
     WHERE u.removed_at IS NULL ORDER BY j.key`,
  changes: `SELECT j.key, u.removed_at IS NULL FROM json_each(?1) AS j CROSS JOIN users AS u ON u.id = unhex(j.value)
     WHERE (u.removed_at IS NULL AND u.added_at >= ?2) OR u.removed_at >= ?2 ORDER BY j.key`,
};

/** Indices (in request order) of the identifiers that are registered now: S1. */
export async function findRegistered(db: D1Database, ids: Uint8Array[]): Promise<number[]> {
  const rows = await perChunk<[number]>(db, ids, LOOKUP_SQL.registered);
  return rows.map((row) => row[0]);
}

/**
 * Indices (in request order) of the identifiers whose registration changed at or after `since`: S2.
 * `registered` is 1 for a user (re-)registered since then and still registered, 0 for one removed.
 */
export async function findChanges(
  db: D1Database,
  ids: Uint8Array[],
  since: number,
): Promise<{ index: number; registered: boolean }[]> {
  const rows = await perChunk<[number, number]>(db, ids, LOOKUP_SQL.changes, since);
  return rows.map(([index, registered]) => ({ index, registered: registered === 1 }));
}

/** The token hash of a registered user, and the current bucket epoch; null if not registered. */
export async function findCredentials(
  db: D1Database,
  user: Uint8Array,
): Promise<{ tokenHash: Uint8Array; bucketEpoch: number } | null> {
  const row = await db
    .prepare(
      `SELECT token_hash, (SELECT value FROM meta WHERE key = 'bucket_epoch') FROM users
       WHERE id = ?1 AND removed_at IS NULL`,
    )
    .bind(user)
    .raw<[ArrayBuffer | number[], number | null]>();
  if (row.length === 0) return null;
  const [tokenHash, epoch] = row[0]!;
  return { tokenHash: new Uint8Array(tokenHash), bucketEpoch: epoch ?? 0 };
}

/**
 * Registers a user who is not registered now (new, or removed earlier), atomically: true if this call
 * registered them, false if they were already registered (with whatever token).
 */
export async function registerUser(db: D1Database, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const rows = await db
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
export async function removeUser(db: D1Database, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<boolean> {
  const result = await db
    .prepare(`UPDATE users SET removed_at = ?3 WHERE id = ?1 AND token_hash = ?2 AND removed_at IS NULL`)
    .bind(user, tokenHash, now)
    .run();
  return result.meta.changes === 1;
}

/**
 * Deletes users removed before `before`, at most `batchSize` rows per statement and `maxBatches`
 * statements, so one run stays small; returns how many rows went.
 */
export async function purgeRemovedUsers(db: D1Database, before: number, batchSize: number, maxBatches: number): Promise<number> {
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
}

// --- Local-development test hooks ------------------------------------------------------------

/** Forgets every user, and every bucket by moving to a new bucket epoch. */
export async function resetDirectory(db: D1Database): Promise<void> {
  await db.batch([
    db.prepare(`DELETE FROM users`),
    db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'bucket_epoch'`),
  ]);
}

/**
 * Registers n users with random 16-byte identifiers. Their tokens are random and never revealed, so
 * a random 32-byte value stands for each token's hash: nobody can sign in as them either way.
 * Rows are generated inside SQLite, sorted by key so the B-tree fills in order.
 */
export async function createRandomUsers(db: D1Database, n: number, now: number): Promise<void> {
  await db
    .prepare(
      `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
       INSERT OR IGNORE INTO users (id, token_hash, added_at, removed_at)
       SELECT id, randomblob(32), ?2, NULL FROM (SELECT randomblob(16) AS id FROM seq ORDER BY id)`,
    )
    .bind(n, now)
    .run();
}

/** Registers every identifier not registered now, with a random token; returns how many were new. */
export async function addUsers(db: D1Database, ids: Uint8Array[], now: number): Promise<number> {
  const chunks = hexChunks(ids);
  let added = 0;
  for (const chunk of chunks) {
    const result = await db
      .prepare(
        `INSERT INTO users (id, token_hash, added_at, removed_at)
         SELECT unhex(value), randomblob(32), ?2, NULL FROM json_each(?1) WHERE true
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
         WHERE users.removed_at IS NOT NULL`,
      )
      .bind(chunk.json, now)
      .run();
    added += result.meta.changes;
  }
  return added;
}
