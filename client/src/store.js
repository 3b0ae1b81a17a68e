// The client's state and where it is kept. A store is anything with load() and save(); the state is
// plain JSON (see README, "Client library and CLI"), so every store keeps the same document.

export const STATE_VERSION = 1;

/**
 * @typedef {import("../index.js").State} State
 * @typedef {import("../index.js").Store} Store
 */

/** @returns {State} */
export function emptyState() {
  return { version: STATE_VERSION, user: null, lastSync: null, lastFullSync: null, contacts: {}, registered: [] };
}

/**
 * The state as the JSON text every store keeps.
 * @param {State} state
 * @returns {string}
 */
export function serializeState(state) {
  return JSON.stringify(state, null, 1) + "\n";
}

/**
 * Reads and checks a state document; throws on anything that is not one, so a damaged file is
 * never mistaken for a lost state (which would lose the secret token).
 * @param {string} text
 * @returns {State}
 */
export function parseState(text) {
  /** @type {any} */
  const s = JSON.parse(text);
  const fail = (/** @type {string} */ what) => {
    throw new Error(`not an ICD client state: ${what}`);
  };
  if (typeof s !== "object" || s === null) fail("not an object");
  if (s.version !== STATE_VERSION) fail(`version ${s.version}, expected ${STATE_VERSION}`);
  if (s.user !== null) {
    if (typeof s.user !== "object" || typeof s.user.phone !== "string" || !/^(?:[0-9a-f]{2}){1,256}$/.test(s.user.token)) fail("bad user");
    if (typeof s.user.registered !== "boolean") fail("bad user.registered");
  }
  for (const key of ["lastSync", "lastFullSync"]) if (s[key] !== null && typeof s[key] !== "number") fail(`bad ${key}`);
  if (typeof s.contacts !== "object" || s.contacts === null || Array.isArray(s.contacts)) fail("bad contacts");
  for (const t of Object.values(s.contacts)) if (t !== null && typeof t !== "number") fail("bad contact time");
  if (!Array.isArray(s.registered) || !s.registered.every((/** @type {unknown} */ p) => typeof p === "string")) fail("bad registered");
  return s;
}

/** Keeps the state in memory (a copy, so the caller's objects are never shared). */
export class MemoryStore {
  /** @param {State | null} [initial] */
  constructor(initial = null) {
    /** @type {string | null} */
    this.text = initial ? serializeState(initial) : null;
  }
  async load() {
    return this.text === null ? null : parseState(this.text);
  }
  /** @param {State} state */
  async save(state) {
    this.text = serializeState(state);
  }
}

/**
 * Keeps the state as JSON under one key of a key-value storage with getItem and setItem, sync or
 * async: window.localStorage in a browser, AsyncStorage in React Native.
 */
export class KeyValueStore {
  /**
   * @param {{ getItem(key: string): string | null | Promise<string | null>; setItem(key: string, value: string): unknown }} storage
   * @param {string} [key]
   */
  constructor(storage, key = "icd-state") {
    this.storage = storage;
    this.key = key;
  }
  async load() {
    const text = await this.storage.getItem(this.key);
    return text === null || text === undefined ? null : parseState(text);
  }
  /** @param {State} state */
  async save(state) {
    await this.storage.setItem(this.key, serializeState(state));
  }
}
