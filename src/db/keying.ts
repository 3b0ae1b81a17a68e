// The pseudonym key versions of the users table (docs/pseudonyms.md): which version this isolate
// writes, which version every row is at (meta 'key_version' on USERS_0), and the queries of
// `npm run rekey`, which wraps every row of version v - 1 into version v (domain/rekey.ts).

import { toHex } from "../core/hex";
import { keyOf } from "../core/lookup-key";
import { groupByShard, homeOf, shardsInUse } from "../core/sharding";
import { guardedBatch, layoutGuard, withLayout } from "./layout";
import { type Probe, type Shards, probeShards } from "./shards";
import { type MovedRow, ROW_BY_KEY_SQL, copyRows } from "./user-routing";

/** Set by the domain from PSEUDONYM_KEYS. */
const writing = new WeakMap<Shards, number>();

export const setKeyVersion = (shards: Shards, version: number) => void writing.set(shards, version);
/** 1 where nothing set it: the database tests. */
export const keyVersionOf = (shards: Shards): number => writing.get(shards) ?? 1;

/** USERS_0's meta 'key_version'; none: 0, plain identifiers. */
export async function storedKeyVersion(shards: Shards): Promise<number> {
  return (await shards[0]!.prepare(`SELECT value FROM meta WHERE key = 'key_version'`).first<number>("value")) ?? 0;
}

/** Fingerprints are 48 bits, by version ('key_fingerprint_<v>' on USERS_0). One read. */
export async function readKeyState(shards: Shards): Promise<{ stored: number; fingerprints: Map<number, number> }> {
  const { results } = await shards[0]!.prepare(`SELECT key, value FROM meta WHERE key = 'key_version' OR key LIKE 'key_fingerprint_%'`).all<{ key: string; value: number }>();
  const fingerprints = new Map<number, number>();
  let stored = 0;
  for (const { key, value } of results) {
    if (key === "key_version") stored = value;
    else fingerprints.set(Number(key.slice("key_fingerprint_".length)), value);
  }
  return { stored, fingerprints };
}

/** The first key written with wins. */
export async function recordFingerprint(shards: Shards, version: number, fingerprint: number): Promise<void> {
  await shards[0]!.prepare(`INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING`).bind(`key_fingerprint_${version}`, fingerprint).run();
}

/** Only ever upwards. */
export async function raiseStoredKeyVersion(shards: Shards, version: number): Promise<void> {
  await shards[0]!
    .prepare(`INSERT INTO meta (key, value) VALUES ('key_version', ?1) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`)
    .bind(version)
    .run();
}

// --- Progress ----------------------------------------------------------------------------------

export interface RekeyProgress {
  target: number;
  pass: number;
  shard: number;
  afterK: number;
  afterId: Uint8Array;
  done: boolean;
  found: number;
}

export async function readRekeyProgress(shards: Shards, target: number): Promise<RekeyProgress[]> {
  const { results } = await shards[0]!
    .prepare(`SELECT target, pass, shard, after_k, after_id, done, found FROM rekey_progress WHERE target = ?1 ORDER BY pass, shard`)
    .bind(target)
    .all<{ target: number; pass: number; shard: number; after_k: number; after_id: number[] | ArrayBuffer; done: number; found: number }>();
  return results.map((r) => ({ target: r.target, pass: r.pass, shard: r.shard, afterK: r.after_k, afterId: new Uint8Array(r.after_id), done: r.done === 1, found: r.found }));
}

/** A pass already started keeps its progress. */
export async function startRekeyPass(shards: Shards, target: number, pass: number, count: number): Promise<void> {
  const db = shards[0]!;
  await db.batch(
    Array.from({ length: count }, (_, shard) =>
      db.prepare(`INSERT INTO rekey_progress (target, pass, shard, after_k, after_id) VALUES (?1, ?2, ?3, -1, x'') ON CONFLICT DO NOTHING`).bind(target, pass, shard),
    ),
  );
}

/** Never moves a shard's progress back (two commands at once redo, not undo). */
export async function saveRekeyProgress(shards: Shards, p: RekeyProgress, afterK: number, afterId: Uint8Array, done: boolean, found: number): Promise<void> {
  await shards[0]!
    .prepare(
      `UPDATE rekey_progress SET after_k = ?4, after_id = ?5, done = max(done, ?6), found = found + ?7
       WHERE target = ?1 AND pass = ?2 AND shard = ?3 AND (after_k, after_id) <= (?4, ?5)`,
    )
    .bind(p.target, p.pass, p.shard, afterK, afterId, done ? 1 : 0, found)
    .run();
}

export async function clearRekeyProgress(shards: Shards, target: number): Promise<void> {
  await shards[0]!.prepare(`DELETE FROM rekey_progress WHERE target = ?1`).bind(target).run();
}

// --- Wrapping rows -------------------------------------------------------------------------------

export interface OldRow extends MovedRow {
  bytes: Uint8Array;
  at: number;
}

export async function scanOldRows(db: D1Database, layoutVersion: number, from: number, afterK: number, afterId: Uint8Array, limit: number): Promise<OldRow[]> {
  const [result] = await guardedBatch(db, layoutVersion, [
    db
      .prepare(
        `SELECT k, id, lower(hex(token_hash)) AS token_hash, added_at, removed_at FROM users
         WHERE (k, id) > (?1, ?2) AND key_version = ?4 AND ${layoutGuard(5)} ORDER BY k, id LIMIT ?3`,
      )
      .bind(afterK, afterId, limit, from, layoutVersion),
  ]);
  return (result!.results as { k: number; id: number[]; token_hash: string; added_at: number; removed_at: number | null }[]).map((r) => {
    const bytes = new Uint8Array(r.id);
    return { k: r.k, id: toHex(bytes), bytes, tokenHash: r.token_hash, addedAt: r.added_at, removedAt: r.removed_at, keyVersion: from, at: Math.max(r.added_at, r.removed_at ?? 0) };
  });
}

/**
 * Copies rows of version `from` to their wrapped values on the new value's shard, unless a row is
 * there already (written since, so newer), then deletes them where they were. Safe to repeat.
 */
export function moveRows(shards: Shards, shard: number, rows: OldRow[], wrapped: Uint8Array[], from: number): Promise<number> {
  return withLayout(shards, async (layout, version) => {
    if (layout.moving) throw new Error("users are moving to a new shard: finish `npm run reshard` first");
    const byShard = new Map<number, MovedRow[]>();
    rows.forEach((row, i) => {
      const id = wrapped[i]!;
      const home = homeOf(id, layout);
      if (!byShard.has(home)) byShard.set(home, []);
      byShard.get(home)!.push({ k: keyOf(id), id: toHex(id), tokenHash: row.tokenHash, addedAt: row.addedAt, removedAt: row.removedAt, keyVersion: from + 1 });
    });
    let copied = 0;
    for (const [home, moved] of byShard) copied += await copyRows(shards[home]!, version, moved);
    const db = shards[shard]!;
    await guardedBatch(db, version, [
      db
        .prepare(`DELETE FROM users WHERE (k, id) IN (SELECT value ->> 0, unhex(value ->> 1) FROM json_each(?1)) AND key_version = ?3 AND ${layoutGuard(2)}`)
        .bind(JSON.stringify(rows.map((r) => [r.k, r.id])), version, from),
    ]);
    return copied;
  });
}

interface FoundRow {
  i: number;
  token_hash: string;
  added_at: number;
  removed_at: number | null;
  key_version: number;
}

/** During a rotation: what `npm run rekey` would do for these users, now, so a write at `to` acts on their current state. */
export function moveForward(shards: Shards, from: Uint8Array[], to: Uint8Array[], fromVersion: number): Promise<void> {
  return withLayout(shards, async (layout, version) => {
    const probes = groupByShard(from, shardsInUse(layout))
      .map((indices, shard): Probe => ({ shard, indices }))
      .filter((p) => p.indices.length > 0);
    const { rows } = await probeShards<FoundRow>(
      shards,
      version,
      probes,
      from,
      ROW_BY_KEY_SQL,
    );
    for (const [p, found] of rows.entries()) {
      const old = found.filter((r) => r.key_version === fromVersion);
      if (old.length === 0) continue;
      const moved: OldRow[] = old.map((r) => {
        const bytes = from[r.i]!;
        return { k: keyOf(bytes), id: toHex(bytes), bytes, tokenHash: r.token_hash, addedAt: r.added_at, removedAt: r.removed_at, keyVersion: fromVersion, at: 0 };
      });
      await moveRows(shards, probes[p]!.shard, moved, old.map((r) => to[r.i]!), fromVersion);
    }
  });
}
