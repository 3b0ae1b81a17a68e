// Types of the ICD client library (index.js). Hand-written: keep in step with src/*.js.

/** The persisted state: plain JSON, the same in every store (version 1). */
export interface State {
  version: 1;
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

export class MemoryStore implements Store {
  constructor(initial?: State | null);
  load(): Promise<State | null>;
  save(state: State): Promise<void>;
}

/** JSON under one key of localStorage (browsers) or AsyncStorage (React Native). */
export class KeyValueStore implements Store {
  constructor(
    storage: { getItem(key: string): string | null | Promise<string | null>; setItem(key: string, value: string): unknown },
    key?: string,
  );
  load(): Promise<State | null>;
  save(state: State): Promise<void>;
}

export const STATE_VERSION: 1;
export function emptyState(): State;
export function serializeState(state: State): string;
/** Throws on anything that is not a valid state. */
export function parseState(text: string): State;

/** Service limits, in contacts and seconds; the defaults are the service's (see README). */
export interface ClientConfig {
  /** Most identifiers per request, and the size of each bucket. */
  maxContacts: number;
  /** Seconds a change stays in S2; the full bucket drains in this time. */
  s2Delta: number;
  /** Seconds in which the incremental bucket drains. */
  s2Period: number;
  /** Safety margin in seconds: a contact checked more than s2Delta - margin ago is checked in full again. */
  margin: number;
}
export const DEFAULTS: Readonly<ClientConfig>;

export interface ClientOptions {
  store: Store;
  /** Base URL of the service; default http://localhost:8787. */
  server?: string;
  /** Default globalThis.fetch. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** Clock in ms; default Date.now. */
  now?: () => number;
  /** Region (ISO 3166 alpha-2) for numbers in national format; default the country of the user's own number. */
  region?: string;
  config?: Partial<ClientConfig>;
  /** Used to wait out a short 503; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

export interface SyncResult {
  /** "full": first sync, state lost, or the last sync older than s2Delta - margin; every contact went to /discovery/full. */
  mode: "full" | "incremental";
  /** Every contact known to be registered after this sync (E.164, sorted). */
  registered: string[];
  /** Registered now, not known registered before this sync. */
  added: string[];
  /** Known registered before this sync, not registered now. */
  removed: string[];
  /** Contacts left unchecked (rate limit): the next sync() checks them. */
  pending: number;
  /** Seconds until the next sync() can make progress; null when nothing is pending. */
  retryAfter: number | null;
  /** How many contacts this sync checked, per endpoint. */
  checked: { full: number; incremental: number };
  /** Inputs that are not phone numbers, skipped. */
  invalid: string[];
}

export interface Status {
  phone: string | null;
  registered: boolean;
  lastSync: number | null;
  lastFullSync: number | null;
  contacts: number;
  knownRegistered: number;
  /** Contacts the next sync checks in full (new, queued or stale). */
  dueForFullCheck: number;
  nextMode: "full" | "incremental";
}

export type SyncProgress = { done: number; total: number; kind: "full" | "incremental" };

export class IcdClient {
  constructor(options: ClientOptions);
  readonly store: Store;
  readonly config: ClientConfig;
  readonly transport: Transport;
  load(): Promise<State>;
  register(options: { phone: string; region?: string; token?: string }): Promise<{ phone: string }>;
  unregister(): Promise<{ phone: string }>;
  sync(addressBook?: Iterable<string>, options?: { region?: string; onProgress?: (p: SyncProgress) => void }): Promise<SyncResult>;
  status(): Promise<Status>;
}

export function normalisePhone(text: string, region?: string): string | null;
export function normaliseAll(texts: Iterable<string>, region?: string): { numbers: string[]; invalid: string[] };
export function regionOf(e164: string): string | undefined;

/** SHA-256 of the E.164 string's UTF-8 bytes, all 32 bytes. */
export function identifierOf(e164: string): Promise<Uint8Array>;
export const IDENTIFIER_BYTES: 32;
export function toHex(bytes: Uint8Array): string;
export function fromHex(hex: string): Uint8Array;
export function newToken(): string;

export interface Answer {
  status: number;
  result: number;
  added: Uint8Array[];
  removed: Uint8Array[];
  /** Seconds from Retry-After, null without one. */
  retryAfter: number | null;
}

export class Transport {
  constructor(options?: { server?: string; fetch?: (input: string, init: RequestInit) => Promise<Response>; now?: () => number });
  readonly server: string;
  call(path: string, request: { user: Uint8Array; authToken: Uint8Array; identifiers?: Uint8Array[] }): Promise<Answer>;
}

export class IcdError extends Error {
  constructor(message: string, details?: { status?: number; result?: number; retryAfter?: number | null });
  /** HTTP status, 0 when there was no answer. */
  readonly status: number;
  readonly result: number | null;
  readonly retryAfter: number | null;
}

export const Result: {
  readonly SUCCESS: 0;
  readonly AUTHENTICATION_INVALID: 1;
  readonly RATE_LIMIT_EXCEEDED: 2;
  readonly REQUEST_DATA_MISSING: 3;
  readonly REQUEST_DATA_INVALID: 4;
};
export function parseRetryAfter(header: string | null, now: number): number | null;

export interface Contact {
  phone: string;
  name?: string;
}
export function parseContacts(text: string): { format: "csv" | "vcard"; contacts: Contact[] };
export function parseCsv(text: string, delimiter?: string): string[][];
export function parseCsvContacts(text: string): Contact[];
export function parseVCard(text: string): Contact[];
export function looksLikePhone(cell: string): boolean;
