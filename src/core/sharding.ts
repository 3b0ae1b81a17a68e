// Which shard (D1 database) holds an identifier, also while users move to a new shard. Pure.
//
// FNV-1a spreads any identifier (hash or not) over 32 bits; jump consistent hashing (Lamping and
// Veach, 2014) maps that to one of n shards so that growing from n to n + 1 shards moves only the
// 1 / (n + 1) of users that belong on the new shard, and nobody between old shards.

function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}

/** The shard of an identifier among n shards, 0 <= shard < n. */
export function shardOf(id: Uint8Array, n: number): number {
  if (n === 1) return 0;
  // Jump hash: a pseudo-random walk seeded by the key; each step lands on a higher bucket with
  // probability 1 / (bucket + 1). mulberry32 stands in for the paper's 64-bit LCG.
  let seed = fnv1a(id);
  let bucket = -1;
  let jump = 0;
  while (jump < n) {
    bucket = jump;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const unit = (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967296; // uniform in (0, 1]
    jump = Math.floor((bucket + 1) / unit);
  }
  return bucket;
}

/** The request indices of the identifiers that fall on each shard, each in the order of `order`. */
export function groupByShard(ids: Uint8Array[], n: number, order?: readonly number[]): number[][] {
  const groups: number[][] = Array.from({ length: n }, () => []);
  const shard = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) shard[i] = shardOf(ids[i]!, n);
  if (!order) for (let i = 0; i < ids.length; i++) groups[shard[i]!]!.push(i);
  else for (let k = 0; k < order.length; k++) groups[shard[order[k]!]!]!.push(order[k]!);
  return groups;
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

// --- Moving users to a new shard -----------------------------------------------------------------
//
// A deployment's users are spread over `count` shards, or are moving from `count` to `count + 1`
// (npm run reshard; docs/scaling.md). Jump hashing means the users that move are exactly those whose
// shard among count + 1 is the new one; everyone else stays where they are. While they move, such a
// user is written to the new shard and read from it first, then from their old shard if the new one
// has no row for them yet.

export interface Layout {
  count: number;
  moving: boolean;
}

/** One number per layout, rising with every step: 2 * count, plus 1 while moving to count + 1. */
export const layoutVersion = (layout: Layout): number => 2 * layout.count + (layout.moving ? 1 : 0);
export const layoutOfVersion = (version: number): Layout => ({ count: Math.floor(version / 2), moving: version % 2 === 1 });

/** How many shards a layout reads and writes: count, and while moving the new one too. */
export const shardsInUse = (layout: Layout): number => layout.count + (layout.moving ? 1 : 0);

/** The shard that holds a user, or that is written and read first while they move. */
export const homeOf = (id: Uint8Array, layout: Layout): number => shardOf(id, shardsInUse(layout));

/** While moving, the old shard of a user who moves (read when the new one has no row for them); else -1. */
export function previousOf(id: Uint8Array, layout: Layout): number {
  return layout.moving && shardOf(id, layout.count + 1) === layout.count ? shardOf(id, layout.count) : -1;
}
