// Hex encoding of identifiers, for SQL parameters (the inserts of many users) and Durable Object names.

const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
const DIGITS = new TextEncoder().encode("0123456789abcdef");
const QUOTE = 0x22;
const COMMA = 0x2c;

export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += BYTE_HEX[bytes[i]!];
  return hex;
}

/** Every identifier's hex digits, back to back in request order: identifier i is start[i] to start[i + 1]. */
export interface HexDigits {
  digits: Uint8Array;
  start: Uint32Array;
}

/** Two hex digits per byte value, as one 16-bit word in the byte order of Workers (little-endian). */
const BYTE_DIGITS = Uint16Array.from({ length: 256 }, (_, byte) => DIGITS[byte >> 4]! | (DIGITS[byte & 15]! << 8));

/** Writes the hex digits of all identifiers in one pass, in request order, two characters at a time. */
export function hexDigits(ids: Uint8Array[]): HexDigits {
  const start = new Uint32Array(ids.length + 1);
  for (let i = 0; i < ids.length; i++) start[i + 1] = start[i]! + 2 * ids[i]!.length;
  const words = new Uint16Array(start[ids.length]! / 2);
  let at = 0;
  for (const id of ids) for (let j = 0; j < id.length; j++) words[at++] = BYTE_DIGITS[id[j]!]!;
  return { digits: new Uint8Array(words.buffer), start };
}

/** Characters that identifier i adds to a JSON list of hex strings: its digits, two quotes, a comma. */
export const jsonHexChars = (hex: HexDigits, i: number) => hex.start[i + 1]! - hex.start[i]! + 3;

/**
 * The JSON array `[[key, "hex"], ...]` of the identifiers i in `indices` with their keys (as
 * lookup-key.ts computes them), written as bytes and decoded once, so that 20,000 identifiers make one string rather than
 * hundreds of thousands: what an insert of many users binds.
 */
export function jsonKeyHexPairs(hex: HexDigits, keys: Float64Array, indices: number[]): string {
  const keyText = indices.map((i) => String(keys[i]!));
  let length = 2;
  for (let k = 0; k < indices.length; k++) length += keyText[k]!.length + jsonHexChars(hex, indices[k]!) + 3; // [ , ] around
  const out = new Uint8Array(length - (indices.length > 0 ? 1 : 0));
  const { digits, start } = hex;
  let at = 0;
  out[at++] = 0x5b; // [
  for (let k = 0; k < indices.length; k++) {
    if (k > 0) out[at++] = COMMA;
    out[at++] = 0x5b;
    const text = keyText[k]!;
    for (let c = 0; c < text.length; c++) out[at++] = text.charCodeAt(c);
    out[at++] = COMMA;
    out[at++] = QUOTE;
    const i = indices[k]!;
    out.set(digits.subarray(start[i]!, start[i + 1]!), at);
    at += start[i + 1]! - start[i]!;
    out[at++] = QUOTE;
    out[at++] = 0x5d;
  }
  out[at] = 0x5d; // ]
  return new TextDecoder().decode(out);
}

/** Parses lowercase or uppercase hex; null for anything else (odd length, other characters). */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}
