// Keyed pseudonyms of identifiers, AES-256-CMAC chained over key versions (docs/pseudonyms.md). Pure:
// the block cipher comes in as a function (domain/pseudonyms.ts gives it workerd's node:crypto).
// Batched into one flat buffer: a typed-array object per identifier would cost more than the PRF.

export const PSEUDONYM_BYTES = 16;
const BLOCK = 16;

/** Same length out; `data` is a multiple of 16 bytes. */
export type EncryptBlocks = (data: Uint8Array) => Uint8Array;

/** Subkeys as 32-bit words. */
export interface CmacKey {
  encrypt: EncryptBlocks;
  k1: Uint32Array;
  k2: Uint32Array;
}

/** The subkey step K1 = dbl(L), K2 = dbl(K1). */
function double(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i]! << 1) | (i < BLOCK - 1 ? block[i + 1]! >>> 7 : 0)) & 0xff;
  if (block[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

/** K1 for a whole last block, K2 for a padded one. */
export function cmacKey(encrypt: EncryptBlocks): CmacKey {
  const l = encrypt(new Uint8Array(BLOCK)).slice(0, BLOCK);
  const k1 = double(l);
  return { encrypt, k1: new Uint32Array(k1.buffer), k2: new Uint32Array(double(k1).buffer) };
}

/** Copied when `out` is not 4-byte aligned. */
const words = (out: Uint8Array): Uint32Array => (out.byteOffset % 4 === 0 ? new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2) : new Uint32Array(out.slice().buffer));

function encryptWords(key: CmacKey, data: Uint8Array): Uint32Array {
  const out = key.encrypt(data);
  if (out.length !== data.length) throw new Error("the block cipher returned a partial batch");
  return words(out);
}

/** Tag i is bytes 16i .. 16i+15. */
export function cmacAll(key: CmacKey, ids: readonly Uint8Array[]): Uint8Array {
  const n = ids.length;
  // At least one block each: the empty string is one padded block.
  const blocks = new Int32Array(n);
  let maxBlocks = 0;
  for (let i = 0; i < n; i++) {
    const m = Math.max(1, (ids[i]!.length + BLOCK - 1) >>> 4);
    blocks[i] = m;
    if (m > maxBlocks) maxBlocks = m;
  }
  // X_0 = 0; X_j = E_K(X_{j-1} XOR M_j), the last M_j XORed with K1 (whole) or padded 10* and XORed
  // with K2; the tag is the last X. Position j is batched over the identifiers that have a j-th block.
  let state: Uint32Array = new Uint32Array(n * 4);
  const active = new Int32Array(n);
  const input = new Uint8Array(n * BLOCK);
  const input32 = new Uint32Array(input.buffer);
  for (let j = 0; j < maxBlocks; j++) {
    let count = 0;
    for (let i = 0; i < n; i++) if (blocks[i]! > j) active[count++] = i;
    for (let c = 0; c < count; c++) {
      const i = active[c]!;
      const id = ids[i]!;
      const start = c * BLOCK;
      const last = j === blocks[i]! - 1;
      const end = Math.min(id.length, (j + 1) * BLOCK);
      let to = start;
      for (let from = j * BLOCK; from < end; ) input[to++] = id[from++]!;
      const whole = to === start + BLOCK;
      if (!whole) input[to++] = last ? 0x80 : 0; // 10* padding of a short last block
      while (to < start + BLOCK) input[to++] = 0;
      const subkey = last ? (whole ? key.k1 : key.k2) : null;
      for (let t = 0; t < 4; t++) input32[c * 4 + t]! ^= state[i * 4 + t]! ^ (subkey ? subkey[t]! : 0);
    }
    const out = encryptWords(key, input.subarray(0, count * BLOCK));
    if (count === n) state = out; // every identifier still active, in order
    else for (let c = 0; c < count; c++) for (let t = 0; t < 4; t++) state[active[c]! * 4 + t] = out[c * 4 + t]!;
  }
  return new Uint8Array(state.buffer, state.byteOffset, n * BLOCK);
}

/** One whole block each, so one ECB pass of (value XOR K1): the step from P_v to P_{v+1}. */
export function cmacFlat(key: CmacKey, flat: Uint8Array): Uint8Array {
  if (flat.length % BLOCK !== 0) throw new Error("pseudonyms come in whole 16-byte blocks");
  const input = new Uint8Array(flat);
  const input32 = new Uint32Array(input.buffer);
  for (let w = 0; w < input32.length; w += 4) for (let t = 0; t < 4; t++) input32[w + t]! ^= key.k1[t]!;
  const out = key.encrypt(input);
  if (out.length !== input.length) throw new Error("the block cipher returned a partial batch");
  return out;
}

export function splitPseudonyms(flat: Uint8Array): Uint8Array[] {
  const out = new Array<Uint8Array>(flat.length / PSEUDONYM_BYTES);
  for (let i = 0; i < out.length; i++) out[i] = flat.subarray(i * PSEUDONYM_BYTES, (i + 1) * PSEUDONYM_BYTES);
  return out;
}

export function joinPseudonyms(list: readonly Uint8Array[]): Uint8Array {
  const flat = new Uint8Array(list.length * PSEUDONYM_BYTES);
  for (let i = 0; i < list.length; i++) {
    if (list[i]!.length !== PSEUDONYM_BYTES) throw new Error("a pseudonym is 16 bytes");
    flat.set(list[i]!, i * PSEUDONYM_BYTES);
  }
  return flat;
}

export class PseudonymChain {
  /** keys[v - 1] is version v. */
  constructor(private readonly keys: readonly CmacKey[]) {
    if (keys.length === 0) throw new Error("a pseudonym chain needs at least one key");
  }

  get current(): number {
    return this.keys.length;
  }

  /** P_0 is the identifiers themselves. */
  of(ids: readonly Uint8Array[], version = this.current): Uint8Array {
    if (version < 1 || version > this.keys.length) throw new Error(`no pseudonym key version ${version}`);
    let flat = cmacAll(this.keys[0]!, ids);
    for (let v = 2; v <= version; v++) flat = cmacFlat(this.keys[v - 1]!, flat);
    return flat;
  }

  /** For the time a rotation to v lasts. */
  ofBoth(ids: readonly Uint8Array[], version = this.current): { previous: Uint8Array; current: Uint8Array } {
    const previous = this.of(ids, version - 1);
    return { previous, current: cmacFlat(this.keys[version - 1]!, previous) };
  }

  /** From version 0 (plain identifiers of any length) to 1, or from 16-byte pseudonyms onwards. */
  wrap(stored: readonly Uint8Array[], from: number): Uint8Array {
    const key = this.keys[from];
    if (!key) throw new Error(`no pseudonym key version ${from + 1}`);
    return from === 0 ? cmacAll(key, stored) : cmacFlat(key, joinPseudonyms(stored));
  }

  /** Lets two environments sharing a key be told apart, and a wrong key noticed, without reading it. */
  fingerprint(version = this.current): string {
    const tag = cmacAll(this.keys[version - 1]!, [new TextEncoder().encode("icd pseudonym key fingerprint")]);
    let hex = "";
    for (let i = 0; i < 8; i++) hex += tag[i]!.toString(16).padStart(2, "0");
    return hex;
  }
}
