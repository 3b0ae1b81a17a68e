// Hex encoding of identifiers, for SQL parameters and Durable Object names.

const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
const DIGITS = new TextEncoder().encode("0123456789abcdef");
const QUOTE = 0x22;
const COMMA = 0x2c;

export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += BYTE_HEX[bytes[i]!];
  return hex;
}

/** Characters that `ids[i]` adds to a JSON list of hex strings: two per byte, two quotes, a comma. */
export const jsonHexChars = (id: Uint8Array) => 2 * id.length + 3;

/**
 * The JSON array of the identifiers `ids[i]` for i in `indices`, as hex strings: written as bytes and
 * decoded once, so that 20,000 identifiers make one string rather than hundreds of thousands.
 */
export function jsonHexList(ids: Uint8Array[], indices: number[]): string {
  let length = 2;
  for (const i of indices) length += jsonHexChars(ids[i]!);
  const out = new Uint8Array(length - (indices.length > 0 ? 1 : 0));
  let at = 0;
  out[at++] = 0x5b; // [
  for (let k = 0; k < indices.length; k++) {
    if (k > 0) out[at++] = COMMA;
    out[at++] = QUOTE;
    const id = ids[indices[k]!]!;
    for (let j = 0; j < id.length; j++) {
      out[at++] = DIGITS[id[j]! >> 4]!;
      out[at++] = DIGITS[id[j]! & 15]!;
    }
    out[at++] = QUOTE;
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
