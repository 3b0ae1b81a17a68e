// Auth tokens are stored only as SHA-256 hashes and compared in constant time.

export async function hashToken(token: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", token));
}

/** Constant-time equality of two token hashes (both SHA-256, so always the same length). */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && crypto.subtle.timingSafeEqual(a, b);
}

/** A keyed hash of an identifier for logs: stable for one key, meaningless without it. */
export async function keyedHash(key: string, data: Uint8Array): Promise<string> {
  const hmacKey = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, data));
  return Array.from(mac.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}
