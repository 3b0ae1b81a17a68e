// The integer key of an identifier, which the users table is keyed by: its first KEY_BYTES bytes read
// as a big-endian integer, shorter identifiers padded with zero bytes. Pure.
//
// 48 bits are exact in a double, so a lookup sends D1 a JSON list of plain numbers (at most 15
// digits, where a 32-byte identifier in hex takes 64) and SQLite compares integers. A key is not
// unique (identifiers that share their first 6 bytes, or [1] and [1, 0]): the table's primary key
// is (k, id), and every lookup checks the whole identifier of what it finds.

export const KEY_BYTES = 6;

export function keyOf(id: Uint8Array): number {
  let k = 0;
  for (let i = 0; i < KEY_BYTES; i++) k = k * 256 + (id[i] ?? 0);
  return k;
}

/** Every identifier's key, in request order. */
export function keysOf(ids: Uint8Array[]): Float64Array {
  const keys = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) keys[i] = keyOf(ids[i]!);
  return keys;
}

/** Characters a key adds to a JSON list at most: 15 digits and a comma. */
export const JSON_KEY_CHARS = 16;

/** The JSON array of the keys of identifiers i in `indices`, in that order. */
export function jsonKeyList(keys: Float64Array, indices: number[]): string {
  const parts = new Array<number>(indices.length);
  for (let k = 0; k < indices.length; k++) parts[k] = keys[indices[k]!]!;
  return `[${parts.join(",")}]`;
}
