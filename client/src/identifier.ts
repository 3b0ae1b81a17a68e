// Identifiers: what the service sees of a phone number, the same on every platform. Hex and the
// token rule are the service's own (src/core/hex.ts, src/core/wire.ts).

import { fromHex as parseHex, toHex } from "../../src/core/hex";
import { isToken } from "../../src/core/wire";

export { toHex };

const encoder = new TextEncoder();

/** Bytes in an identifier: the whole SHA-256 digest. */
export const IDENTIFIER_BYTES = 32;

/**
 * The identifier of an E.164 number: SHA-256 of its UTF-8 bytes ("+49301234567", with the plus and
 * no spaces), all 32 bytes. Used both as a user's own id on registration and for contacts in
 * discovery, so a contact's identifier equals the id its owner registered with.
 */
export async function identifierOf(e164: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(e164)));
}

/** The bytes of a hex string; throws a TypeError on anything that is not one. */
export function fromHex(hex: string): Uint8Array {
  const bytes = parseHex(hex);
  if (bytes === null) throw new TypeError("not a hex string");
  return bytes;
}

/** Whether `hex` is a token as the state keeps it: lowercase hex of a token the service accepts (1 to MAX_TOKEN_BYTES bytes). */
export function isTokenHex(hex: unknown): hex is string {
  const bytes = typeof hex === "string" && /^[0-9a-f]*$/.test(hex) ? parseHex(hex) : null;
  return bytes !== null && isToken(bytes);
}

/** A fresh secret token: 32 random bytes, as hex. */
export function newToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}
