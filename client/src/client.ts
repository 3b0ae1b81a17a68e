// The sync engine: registration, and full or incremental discovery of an address book, resumable
// across rate limits. See README, "Client library and CLI", for the rules in prose.

import { type BucketKind as Kind, type BucketPolicy, fitAfterRefusal } from "../../src/core/bucket";
import { DEFAULTS as SERVICE_DEFAULTS } from "../../src/core/config";
import { MAX_TOKEN_BYTES } from "../../src/core/wire";
import { fromHex, identifierOf, isTokenHex, newToken, toHex } from "./identifier";
import { normaliseAll, normalisePhone, regionOf } from "./phone";
import { type State, type Store, emptyState } from "./store";
import { type Answer, type FetchLike, IcdError, Result, Transport } from "./transport";

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

/** The service's defaults (src/core/config.ts, equal to wrangler.toml's), and a margin of one day. */
export const DEFAULTS: Readonly<ClientConfig> = Object.freeze({
  maxContacts: SERVICE_DEFAULTS.maxContacts,
  s2Delta: SERVICE_DEFAULTS.s2DeltaSeconds,
  s2Period: SERVICE_DEFAULTS.s2PeriodSeconds,
  margin: 86_400,
});

export interface ClientOptions {
  store: Store;
  /** Base URL of the service; default http://localhost:8787. */
  server?: string;
  /** Default globalThis.fetch. */
  fetch?: FetchLike;
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

export type SyncProgress = { done: number; total: number; kind: Kind };

type Credentials = { user: Uint8Array; authToken: Uint8Array };

/** A 503 with a Retry-After up to this many seconds is retried in place, at most twice. */
const TRANSIENT_RETRY_SECONDS = 5;

const sortedArray = (set: Iterable<string>) => [...set].sort();

export class IcdClient {
  readonly store: Store;
  readonly config: ClientConfig;
  readonly transport: Transport;
  private readonly now: () => number;
  private readonly region: string | undefined;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: ClientOptions) {
    this.store = options.store;
    this.now = options.now ?? (() => Date.now());
    this.transport = new Transport({ server: options.server, fetch: options.fetch, now: this.now });
    this.config = { ...DEFAULTS, ...options.config };
    this.region = options.region;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async load(): Promise<State> {
    return (await this.store.load()) ?? emptyState();
  }

  /**
   * Registers the user of `phone` with the service. The token is kept in the store before it is
   * sent, so a lost answer never loses it; registering again (same phone) reuses it. Pass `token`
   * (hex) to restore an account on a new device whose state was lost.
   */
  async register({ phone, region, token }: { phone: string; region?: string; token?: string }): Promise<{ phone: string }> {
    const e164 = normalisePhone(phone, region ?? this.region);
    if (!e164) throw new IcdError(`not a phone number: ${JSON.stringify(phone)}${region ? "" : " (national numbers need a region)"}`);
    const state = await this.load();
    if (state.user && state.user.phone !== e164 && state.user.registered) {
      throw new IcdError(`this state already belongs to ${state.user.phone}; unregister it first or use another state`);
    }
    const kept = state.user?.phone === e164 ? state.user.token : undefined;
    if (token !== undefined && !isTokenHex(token)) throw new IcdError(`token must be hex, 1 to ${MAX_TOKEN_BYTES} bytes`);
    state.user = { phone: e164, token: token ?? kept ?? newToken(), registered: false };
    await this.store.save(state);
    const answer = await this.transport.call("/user/register", await this.credentials(state));
    if (answer.status === 401) {
      throw new IcdError(`${e164} is already registered with another token`, { status: 401, result: answer.result });
    }
    expectSuccess("/user/register", answer);
    state.user.registered = true;
    await this.store.save(state);
    return { phone: e164 };
  }

  /**
   * Unregisters the user (the service then reports them as removed to their contacts) and forgets
   * the token. The address-book knowledge stays.
   */
  async unregister(): Promise<{ phone: string }> {
    const state = await this.load();
    if (!state.user) throw new IcdError("no user in this state: nothing to unregister");
    const answer = await this.transport.call("/user/delete", await this.credentials(state));
    if (answer.status === 401) throw new IcdError(`${state.user.phone} is not registered with this token`, { status: 401, result: answer.result });
    expectSuccess("/user/delete", answer);
    const phone = state.user.phone;
    state.user = null;
    await this.store.save(state);
    return { phone };
  }

  /**
   * Syncs the address book (raw numbers in any format; omitted: the one of the last sync, to
   * resume after a rate limit). Contacts checked within s2Delta - margin go to the incremental
   * endpoint; the others (new, never checked, or stale) to the full one. Stops at the first rate
   * limit of each endpoint and keeps the rest pending for the next call.
   */
  async sync(addressBook?: Iterable<string>, options: { region?: string; onProgress?: (p: SyncProgress) => void } = {}): Promise<SyncResult> {
    const state = await this.load();
    if (!state.user) throw new IcdError("not registered: register a phone number first");
    const started = this.now();
    const { s2Delta, margin } = this.config;
    const freshFor = (s2Delta - margin) * 1000;

    // The address book, and what the state knows of it. Contacts no longer in the book are forgotten.
    const region = options.region ?? this.region ?? regionOf(state.user.phone);
    const { numbers, invalid } = addressBook ? normaliseAll(addressBook, region) : { numbers: Object.keys(state.contacts), invalid: [] };
    const contacts: Record<string, number | null> = {};
    for (const phone of numbers) contacts[phone] = state.contacts[phone] ?? null;
    const before = new Set(state.registered.filter((p) => p in contacts));
    const registered = new Set(before);
    Object.assign(state, { contacts, registered: sortedArray(registered) });

    const isFresh = (checkedAt: number | null) => checkedAt !== null && started - checkedAt <= freshFor;
    const incremental = numbers.filter((p) => isFresh(contacts[p] ?? null));
    const full = numbers.filter((p) => !isFresh(contacts[p] ?? null));
    // Incremental when the last sync is recent enough; new or stale contacts are checked in full all the same.
    const mode: Kind = isFresh(state.lastSync) ? "incremental" : "full";

    const credentials = await this.credentials(state);
    const total = numbers.length;
    const checkedNow = new Set<string>();
    let done = 0;
    const waits: number[] = [];
    if (total > 0) options.onProgress?.({ done, total, kind: incremental.length > 0 ? "incremental" : "full" });
    for (const [kind, list] of [["incremental", incremental], ["full", full]] as [Kind, string[]][]) {
      const outcome = await this.check(kind, list, credentials, (batch, answerAdded, answerRemoved, checkedAt) => {
        for (const phone of batch) {
          contacts[phone] = checkedAt;
          checkedNow.add(phone);
          if (answerAdded.has(phone)) registered.add(phone);
          else if (kind === "full" || answerRemoved.has(phone)) registered.delete(phone);
        }
        done += batch.length;
        state.registered = sortedArray(registered);
        options.onProgress?.({ done, total, kind });
        return this.store.save(state);
      });
      if (outcome.retryAfter !== null) waits.push(outcome.retryAfter);
    }

    const pending = total - checkedNow.size;
    if (done > 0 || total === 0) state.lastSync = started;
    if (mode === "full" && pending === 0) state.lastFullSync = started;
    await this.store.save(state);
    return {
      mode,
      registered: sortedArray(registered),
      added: sortedArray([...registered].filter((p) => !before.has(p))),
      removed: sortedArray([...before].filter((p) => !registered.has(p))),
      pending,
      retryAfter: pending > 0 && waits.length > 0 ? Math.min(...waits) : null,
      checked: { full: full.filter((p) => checkedNow.has(p)).length, incremental: incremental.filter((p) => checkedNow.has(p)).length },
      invalid,
    };
  }

  /** What the state says: the user, the last syncs, and what the next sync would do. */
  async status(): Promise<Status> {
    const state = await this.load();
    const now = this.now();
    const freshFor = (this.config.s2Delta - this.config.margin) * 1000;
    const times = Object.values(state.contacts);
    const isFresh = (t: number | null) => t !== null && now - t <= freshFor;
    const stale = times.filter((t) => !isFresh(t)).length;
    return {
      phone: state.user?.phone ?? null,
      registered: state.user?.registered ?? false,
      lastSync: state.lastSync,
      lastFullSync: state.lastFullSync,
      contacts: times.length,
      knownRegistered: state.registered.length,
      dueForFullCheck: stale,
      nextMode: isFresh(state.lastSync) ? "incremental" : "full",
    };
  }

  /**
   * Sends `list` in batches of at most maxContacts to the `kind` endpoint; `apply` records each
   * answered batch. On 429 with Retry-After, first sends the part of the batch that fits now (the
   * service's bucket drains maxContacts per s2Delta or s2Period), then stops. A 429 without
   * Retry-After (or 413) means the service takes fewer identifiers per request: batches are halved.
   */
  private async check(
    kind: Kind,
    list: string[],
    credentials: Credentials,
    apply: (batch: string[], added: Set<string>, removed: Set<string>, checkedAt: number) => Promise<void>,
  ): Promise<{ retryAfter: number | null }> {
    const { maxContacts } = this.config;
    const drainSeconds = kind === "full" ? this.config.s2Delta : this.config.s2Period;
    // The service's bucket for this endpoint, as far as the client knows it.
    const policy: BucketPolicy = { capacity: maxContacts, drainMs: drainSeconds * 1000 };
    const path = `/discovery/${kind}`;
    let size = maxContacts;
    let splitTried = false;
    let roomTried = false;
    let transientRetries = 0;
    for (let start = 0; start < list.length; ) {
      const batch = list.slice(start, start + size);
      const ids = await Promise.all(batch.map(identifierOf));
      const checkedAt = this.now();
      const answer = await this.transport.call(path, { ...credentials, identifiers: ids });
      if (answer.status === 200 && answer.result === Result.SUCCESS) {
        const byId = new Map(batch.map((phone, i) => [toHex(ids[i]!), phone]));
        const phonesOf = (list: Uint8Array[]) => new Set(list.map((id) => byId.get(toHex(id))).filter((p) => p !== undefined));
        await apply(batch, phonesOf(answer.added), phonesOf(answer.removed), checkedAt);
        start += batch.length;
        transientRetries = 0;
        continue;
      }
      if (answer.status === 429 && answer.noveltyRoom !== null && answer.noveltyRoom >= 1 && answer.noveltyRoom < batch.length && !roomTried) {
        // The novelty limit: contacts never checked are new to the service; a batch of `room` holds no more of them than fit.
        roomTried = true;
        size = answer.noveltyRoom;
        continue;
      }
      if ((answer.status === 429 && answer.retryAfter === null) || answer.status === 413) {
        if (batch.length === 1) throw new IcdError(`${path}: the service refuses even one identifier`, { status: answer.status });
        size = Math.ceil(batch.length / 2);
        continue;
      }
      if (answer.status === 429 && answer.retryAfter !== null) {
        // The excess is retryAfter seconds' worth of draining; what is left of the batch fits now.
        const fits = fitAfterRefusal(policy, batch.length, answer.retryAfter);
        if (!splitTried && fits >= 1) {
          splitTried = true;
          size = fits;
          continue;
        }
        return { retryAfter: answer.retryAfter };
      }
      if (answer.status === 503) {
        const wait = answer.retryAfter ?? 1;
        if (wait <= TRANSIENT_RETRY_SECONDS && transientRetries < 2) {
          transientRetries++;
          await this.sleep(wait * 1000);
          continue;
        }
        return { retryAfter: wait };
      }
      if (answer.status === 401) {
        throw new IcdError(`${path}: authentication refused: this user is not registered with this token`, { status: 401, result: answer.result });
      }
      expectSuccess(path, answer);
    }
    return { retryAfter: null };
  }

  private async credentials(state: State): Promise<Credentials> {
    if (!state.user) throw new IcdError("not registered: register a phone number first");
    return { user: await identifierOf(state.user.phone), authToken: fromHex(state.user.token) };
  }
}

function expectSuccess(path: string, answer: Answer): void {
  if (answer.status !== 200 || answer.result !== Result.SUCCESS) {
    const name = Object.keys(Result).find((k) => Result[k as keyof typeof Result] === answer.result) ?? String(answer.result);
    throw new IcdError(`${path}: HTTP ${answer.status} ${name}`, { status: answer.status, result: answer.result, retryAfter: answer.retryAfter });
  }
}
