// Which layout of the user shards (core/sharding.ts) this isolate reads and writes by, and how every
// statement checks that the shards agree: every write is guarded by the layout version and every read
// returns it; on a mismatch the isolate rereads USERS_0 and redoes the operation (docs/scaling.md).
// A shard without the row (never resharded) accepts any version.

import { ConfigError } from "../core/config";
import { mapLimit } from "../core/concurrency";
import { type Layout, layoutOfVersion, shardsInUse } from "../core/sharding";

type Shards = readonly D1Database[];

/** The shard count USERS_SHARDS gives, if smaller than the bindings. */
const configured = new WeakMap<Shards, number>();
/** The version this isolate last saw, per list of shards. */
const seen = new WeakMap<Shards, number>();

export const setConfiguredCount = (shards: Shards, count: number) => void configured.set(shards, count);
export const configuredVersion = (shards: Shards) => 2 * (configured.get(shards) ?? shards.length);
export const versionOf = (shards: Shards) => seen.get(shards) ?? configuredVersion(shards);

export class StaleLayout extends Error {
  constructor(readonly shardVersion: number) {
    super(`a shard is at layout ${shardVersion}`);
  }
}

/** A shard without the row has no version. */
export const LAYOUT_SQL = `SELECT value FROM meta WHERE key = 'layout'`;
/** Every write's condition (a shard without a version passes). */
export const layoutGuard = (n: number) => `NOT EXISTS (SELECT 1 FROM meta WHERE key = 'layout' AND value <> ?${n})`;

export function checkLayout(shardVersion: number | null | undefined, version: number): void {
  if (shardVersion !== null && shardVersion !== undefined && shardVersion !== version) throw new StaleLayout(shardVersion);
}

/** Writes and the version read are one transaction: if it is not `version`, nothing was written. */
export async function guardedBatch(db: D1Database, version: number, statements: D1PreparedStatement[]): Promise<D1Result[]> {
  const results = await db.batch([...statements, db.prepare(LAYOUT_SQL)]);
  checkLayout((results.at(-1)!.results[0] as { value: number } | undefined)?.value, version);
  return results.slice(0, -1);
}

const ATTEMPTS = 4;

/** Operations must be safe to repeat (every write in src/db is). */
export async function withLayout<T>(shards: Shards, operation: (layout: Layout, version: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const version = versionOf(shards);
    try {
      return await operation(layoutOfVersion(version), version);
    } catch (error) {
      if (!(error instanceof StaleLayout) || attempt === ATTEMPTS) throw error;
      await refreshLayout(shards, version, error.shardVersion);
    }
  }
}

/** USERS_0's version, which every shard has reached; without the row, the configured one. */
export async function headVersion(shards: Shards): Promise<number> {
  return (await shards[0]!.prepare(LAYOUT_SQL).first<number>("value")) ?? configuredVersion(shards);
}

async function refreshLayout(shards: Shards, had: number, shardVersion: number): Promise<void> {
  const head = await headVersion(shards);
  if (head !== had) return adopt(shards, head);
  // USERS_0 is behind the shard: a step is half applied (its command is still at it, or was killed
  // between two shards). Finishing it is what the command would do next, and safe to do twice.
  if (shardVersion === head + 1) {
    await applyVersion(shards, shardVersion);
    return adopt(shards, shardVersion);
  }
  throw new Error(`a shard is at layout ${shardVersion} and USERS_0 at ${head}: they should be at most one step apart`);
}

function adopt(shards: Shards, version: number): void {
  const layout = layoutOfVersion(version);
  if (layout.count < 1 || shardsInUse(layout) > shards.length) {
    throw new ConfigError(`the users table is at layout ${version} (${layout.count} shards${layout.moving ? ", moving to one more" : ""}), but USERS_0 ... USERS_${shards.length - 1} are bound`);
  }
  seen.set(shards, version);
}

/** USERS_0 last, so that a layout is on USERS_0 only once every shard has it. Idempotent. */
export async function applyVersion(shards: Shards, version: number): Promise<void> {
  const raise = async (db: D1Database) => {
    const [, check] = await db.batch([
      db
        .prepare(
          `INSERT INTO meta (key, value) VALUES ('layout', ?1)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value = excluded.value - 1`,
        )
        .bind(version),
      db.prepare(LAYOUT_SQL),
    ]);
    const now = (check!.results[0] as { value: number } | undefined)?.value;
    if (now !== version) throw new Error(`a shard is at layout ${now}, which is not one step before ${version}`);
  };
  await mapLimit(shards.slice(1), 6, raise); // D1's 6 connections per invocation
  await raise(shards[0]!);
}
