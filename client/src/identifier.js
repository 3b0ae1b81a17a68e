// Identifiers: what the service sees of a phone number, the same on every platform.

const encoder = new TextEncoder();

/** Bytes in an identifier: the whole SHA-256 digest. */
export const IDENTIFIER_BYTES = 32;

/**
 * The identifier of an E.164 number: SHA-256 of its UTF-8 bytes ("+49301234567", with the plus and
 * no spaces), all 32 bytes. Used both as a user's own id on registration and for contacts in
 * discovery, so a contact's identifier equals the id its owner registered with.
 * @param {string} e164
 * @returns {Promise<Uint8Array>}
 */
export async function identifierOf(e164) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(e164)));
}

/**
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * @param {string} hex
 * @returns {Uint8Array}
 */
export function fromHex(hex) {
  if (!/^(?:[0-9a-f]{2})*$/i.test(hex)) throw new TypeError("not a hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * A fresh secret token: 32 random bytes, as hex.
 * @returns {string}
 */
export function newToken() {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}
