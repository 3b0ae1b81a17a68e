// The integer key of an identifier, which the users table is keyed by: its first KEY_BYTES bytes,
// big-endian, zero-padded. 48 bits are exact in a double. Not unique: every lookup checks the whole id.

export const KEY_BYTES = 6;

export function keyOf(id: Uint8Array): number {
  let k = 0;
  for (let i = 0; i < KEY_BYTES; i++) k = k * 256 + (id[i] ?? 0);
  return k;
}

export function keysOf(ids: Uint8Array[]): Float64Array {
  const keys = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) keys[i] = keyOf(ids[i]!);
  return keys;
}

/** Characters a key adds to a JSON list at most: 15 digits and a comma. */
export const JSON_KEY_CHARS = 16;

export function jsonKeyList(keys: Float64Array, indices: number[]): string {
  const parts = new Array<number>(indices.length);
  for (let k = 0; k < indices.length; k++) parts[k] = keys[indices[k]!]!;
  return `[${parts.join(",")}]`;
}
