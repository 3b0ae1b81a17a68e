// Auth tokens are stored only as SHA-256 hashes and compared in constant time.

export async function hashToken(token: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", token));
}

/** Constant-time equality of two token hashes (both SHA-256, so always the same length). */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && crypto.subtle.timingSafeEqual(a, b);
}
