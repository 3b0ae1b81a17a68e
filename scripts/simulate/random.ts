// Seeded randomness: an independent stream per purpose, so that changing one part of a scenario
// leaves the others' draws alone.

export type Rand = () => number;

function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The stream `name` of the scenario seeded with `seed`. */
export function streamOf(seed: number, name: string): Rand {
  let h = 2166136261; // FNV-1a of "seed:name", then a final mix
  for (const c of `${seed}:${name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return mulberry32(h ^ (h >>> 13));
}

export const below = (rand: Rand, n: number) => Math.floor(rand() * n);
export const between = (rand: Rand, lo: number, hi: number) => lo + rand() * (hi - lo);

/**
 * An order of the number space 0 .. space-1 without repeats, i -> (a*i + b) mod space with a coprime
 * with space: not a random permutation, but the directory is a uniform random subset, so any fixed
 * walk sees its density.
 */
export function permutation(rand: Rand, space: number): (i: number) => number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  let a = 0;
  do a = 1 + below(rand, space - 1);
  while (gcd(a, space) !== 1 || a < space / 10);
  const b = below(rand, space);
  return (i) => (((a * i) % space) + b) % space; // exact: a * i < space^2 < 2^53
}
