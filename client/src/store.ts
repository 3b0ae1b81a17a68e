// The client's state and where it is kept. A store is anything with load() and save(); the state is
// plain JSON (see README, "Client library and CLI"), so every store keeps the same document.

import { isTokenHex } from "./identifier";

export const STATE_VERSION = 1;

/** The persisted state: plain JSON, the same in every store (version 1). */
export interface State {
  version: typeof STATE_VERSION;
  /** The registered user: E.164 phone and secret token (hex); null before register or after unregister. */
  user: { phone: string; token: string; registered: boolean } | null;
  /** ms since the epoch: start of the last sync that checked anything. */
  lastSync: number | null;
  /** ms since the epoch: start of the last sync in "full" mode that left nothing pending. */
  lastFullSync: number | null;
  /** The address book: E.164 number -> when it was last checked (ms), null while queued and never checked. */
  contacts: Record<string, number | null>;
  /** The contacts known to be registered, E.164, sorted. */
  registered: string[];
}

export interface Store {
  /** The state, or null when there is none (new install, or lost). */
  load(): Promise<State | null>;
  save(state: State): Promise<void>;
}

export function emptyState(): State {
  return { version: STATE_VERSION, user: null, lastSync: null, lastFullSync: null, contacts: {}, registered: [] };
}

/** The state as the JSON text every store keeps. */
export function serializeState(state: State): string {
  return JSON.stringify(state, null, 1) + "\n";
}

/**
 * Reads and checks a state document; throws on anything that is not one, so a damaged file is
 * never mistaken for a lost state (which would lose the secret token).
 */
export function parseState(text: string): State {
  // Checked field by field below: `any` is what JSON.parse gives, and what this function narrows.
  const s = JSON.parse(text);
  const fail = (what: string): never => {
    throw new Error(`not an ICD client state: ${what}`);
  };
  if (typeof s !== "object" || s === null) fail("not an object");
  if (s.version !== STATE_VERSION) fail(`version ${s.version}, expected ${STATE_VERSION}`);
  if (s.user !== null) {
    if (typeof s.user !== "object" || typeof s.user.phone !== "string" || !isTokenHex(s.user.token)) fail("bad user");
    if (typeof s.user.registered !== "boolean") fail("bad user.registered");
  }
  for (const key of ["lastSync", "lastFullSync"]) if (s[key] !== null && typeof s[key] !== "number") fail(`bad ${key}`);
  if (typeof s.contacts !== "object" || s.contacts === null || Array.isArray(s.contacts)) fail("bad contacts");
  for (const t of Object.values(s.contacts)) if (t !== null && typeof t !== "number") fail("bad contact time");
  if (!Array.isArray(s.registered) || !s.registered.every((p: unknown) => typeof p === "string")) fail("bad registered");
  return s as State;
}

/** Keeps the state in memory (a copy, so the caller's objects are never shared). */
export class MemoryStore implements Store {
  private text: string | null;

  constructor(initial: State | null = null) {
    this.text = initial ? serializeState(initial) : null;
  }
  async load(): Promise<State | null> {
    return this.text === null ? null : parseState(this.text);
  }
  async save(state: State): Promise<void> {
    this.text = serializeState(state);
  }
}

/** A key-value storage with getItem and setItem, sync or async: window.localStorage, AsyncStorage. */
export interface KeyValueStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): unknown;
}

/**
 * Keeps the state as JSON under one key of a key-value storage with getItem and setItem, sync or
 * async: window.localStorage in a browser, AsyncStorage in React Native.
 */
export class KeyValueStore implements Store {
  private readonly storage: KeyValueStorage;
  private readonly key: string;

  constructor(storage: KeyValueStorage, key = "icd-state") {
    this.storage = storage;
    this.key = key;
  }
  async load(): Promise<State | null> {
    const text = await this.storage.getItem(this.key);
    return text === null || text === undefined ? null : parseState(text);
  }
  async save(state: State): Promise<void> {
    await this.storage.setItem(this.key, serializeState(state));
  }
}
