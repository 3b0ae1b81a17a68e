// Auth tokens are stored only as SHA-256 hashes and compared in constant time. Pure (WebCrypto only).

export async function hashToken(token: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", token as Uint8Array<ArrayBuffer>));
}

/** Constant time; written out because crypto.subtle.timingSafeEqual exists only on Workers, and core/ stays pure. */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/** A keyed hash of an identifier for logs: stable for one key, meaningless without it. */
export async function keyedHash(key: string, data: Uint8Array): Promise<string> {
  const hmacKey = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, data as Uint8Array<ArrayBuffer>));
  return Array.from(mac.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}
