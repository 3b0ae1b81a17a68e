// The queries of the local-development test hooks (/reset, /test/create, /test/add/many) on the users shards.

import { hexDigits, jsonKeyHexPairs } from "../core/hex";
import { keysOf } from "../core/lookup-key";
import { layoutGuard } from "./layout";
import { type Shards, eachShard, paramChunks } from "./shards";
import { writeUsersByLayout } from "./user-routing";
import { keyVersionOf } from "./keying";

/** Forgets every user, and every bucket by moving every shard to a new bucket epoch. */
export async function resetDirectory(shards: Shards): Promise<void> {
  await eachShard(shards, (db) =>
    db.batch([db.prepare(`DELETE FROM users`), db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'bucket_epoch'`)]),
  );
}

/** The current bucket epoch (see bucketsOf); 0 unless the local /reset hook ran. */
export async function findBucketEpoch(shards: Shards): Promise<number> {
  return (await shards[0]!.prepare(`SELECT value FROM meta WHERE key = 'bucket_epoch'`).first<number>("value")) ?? 0;
}

/** Registers every identifier not registered now, with a random token; returns how many were new. */
export function addUsers(shards: Shards, ids: Uint8Array[], now: number): Promise<number> {
  const hex = hexDigits(ids);
  const keys = keysOf(ids);
  const pairChars = (i: number) => hex.start[i + 1]! - hex.start[i]! + 22; // [15 digits,"hex"],
  return writeUsersByLayout(
    shards,
    ids,
    (indices) => paramChunks(indices, pairChars),
    (db, chunk, version) =>
      db
        .prepare(
          `INSERT INTO users (k, id, token_hash, added_at, removed_at, key_version)
           SELECT value ->> 0 AS k, unhex(value ->> 1) AS id, randomblob(32), ?2, NULL, ?4 FROM json_each(?1)
           WHERE ${layoutGuard(3)} ORDER BY k, id
           ON CONFLICT (k, id) DO UPDATE SET token_hash = excluded.token_hash, added_at = excluded.added_at, removed_at = NULL
           WHERE users.removed_at IS NOT NULL`,
        )
        .bind(jsonKeyHexPairs(hex, keys, chunk), now, version, keyVersionOf(shards)),
  );
}
