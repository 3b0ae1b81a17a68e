// A Bloom filter of lookup keys (48-bit integers from pseudonyms, so already uniform): the S2 index
// object keeps one in memory, so that an incremental sync's keys that are not in S2 cost no row read.
// No false negatives; about 1% false positives at its capacity. Pure.

const BITS_PER_KEY = 10;
const HASHES = 7;
const TWO_32 = 4_294_967_296;

export class KeyFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;
  private added = 0;

  /** Sized for `capacity` keys; past that its false positives grow (see full()). */
  constructor(readonly capacity: number) {
    this.size = Math.max(1024, Math.ceil(capacity * BITS_PER_KEY));
    this.bits = new Uint32Array(Math.ceil(this.size / 32));
  }

  add(key: number): void {
    this.added++;
    for (const bit of this.positions(key)) this.bits[bit >>> 5]! |= 1 << (bit & 31);
  }

  has(key: number): boolean {
    for (const bit of this.positions(key)) if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    return true;
  }

  /** More keys added than it was sized for. */
  full(): boolean {
    return this.added > this.capacity;
  }

  private *positions(key: number): Generator<number> {
    const low = key >>> 0;
    const high = Math.floor(key / TWO_32);
    const h1 = Math.imul(low ^ (high * 0x85ebca6b), 0xcc9e2d51) >>> 0;
    const h2 = (Math.imul(low ^ (low >>> 16), 0x9e3779b1) ^ high) | 1;
    for (let i = 0; i < HASHES; i++) yield ((h1 + Math.imul(i, h2)) >>> 0) % this.size;
  }
}
