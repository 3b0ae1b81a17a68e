// The sync engine: registration, and full or incremental discovery of an address book, resumable
// across rate limits. See README, "Client library and CLI", for the rules in prose.

import { fromHex, identifierOf, newToken, toHex } from "./identifier.js";
import { normaliseAll, normalisePhone, regionOf } from "./phone.js";
import { emptyState } from "./store.js";
import { IcdError, Result, Transport } from "./transport.js";

/** The service's defaults (wrangler.toml): per-request and per-bucket contacts, drain times in seconds. */
export const DEFAULTS = Object.freeze({ maxContacts: 20000, s2Delta: 864000, s2Period: 86400, margin: 86400 });

/**
 * @typedef {import("../index.js").State} State
 * @typedef {import("../index.js").SyncResult} SyncResult
 * @typedef {import("../index.js").ClientOptions} ClientOptions
 * @typedef {"full" | "incremental"} Kind
 */

/** A 503 with a Retry-After up to this many seconds is retried in place, at most twice. */
const TRANSIENT_RETRY_SECONDS = 5;

const sortedArray = (/** @type {Iterable<string>} */ set) => [...set].sort();

export class IcdClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    this.store = options.store;
    this.now = options.now ?? (() => Date.now());
    this.transport = new Transport({ server: options.server, fetch: options.fetch, now: this.now });
    this.config = { ...DEFAULTS, ...options.config };
    this.region = options.region;
    this.sleep = options.sleep ?? ((/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** @returns {Promise<State>} */
  async load() {
    return (await this.store.load()) ?? emptyState();
  }

  /**
   * Registers the user of `phone` with the service. The token is kept in the store before it is
   * sent, so a lost answer never loses it; registering again (same phone) reuses it. Pass `token`
   * (hex) to restore an account on a new device whose state was lost.
   * @param {{ phone: string; region?: string; token?: string }} options
   * @returns {Promise<{ phone: string }>}
   */
  async register({ phone, region, token }) {
    const e164 = normalisePhone(phone, region ?? this.region);
    if (!e164) throw new IcdError(`not a phone number: ${JSON.stringify(phone)}${region ? "" : " (national numbers need a region)"}`);
    const state = await this.load();
    if (state.user && state.user.phone !== e164 && state.user.registered) {
      throw new IcdError(`this state already belongs to ${state.user.phone}; unregister it first or use another state`);
    }
    const kept = state.user?.phone === e164 ? state.user.token : undefined;
    if (token !== undefined && !/^(?:[0-9a-f]{2}){1,256}$/.test(token)) throw new IcdError("token must be hex, 1 to 256 bytes");
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
   * @returns {Promise<{ phone: string }>}
   */
  async unregister() {
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
   * @param {Iterable<string>} [addressBook]
   * @param {{ region?: string; onProgress?: (p: { done: number; total: number; kind: Kind }) => void }} [options]
   * @returns {Promise<SyncResult>}
   */
  async sync(addressBook, options = {}) {
    const state = await this.load();
    if (!state.user) throw new IcdError("not registered: register a phone number first");
    const started = this.now();
    const { s2Delta, margin } = this.config;
    const freshFor = (s2Delta - margin) * 1000;

    // The address book, and what the state knows of it. Contacts no longer in the book are forgotten.
    const region = options.region ?? this.region ?? regionOf(state.user.phone);
    const { numbers, invalid } = addressBook ? normaliseAll(addressBook, region) : { numbers: Object.keys(state.contacts), invalid: [] };
    /** @type {Record<string, number | null>} */
    const contacts = {};
    for (const phone of numbers) contacts[phone] = state.contacts[phone] ?? null;
    const before = new Set(state.registered.filter((p) => p in contacts));
    const registered = new Set(before);
    Object.assign(state, { contacts, registered: sortedArray(registered) });

    const isFresh = (/** @type {number | null} */ checkedAt) => checkedAt !== null && started - checkedAt <= freshFor;
    const incremental = numbers.filter((p) => isFresh(contacts[p] ?? null));
    const full = numbers.filter((p) => !isFresh(contacts[p] ?? null));
    // Incremental when the last sync is recent enough; new or stale contacts are checked in full all the same.
    /** @type {Kind} */
    const mode = isFresh(state.lastSync) ? "incremental" : "full";

    const credentials = await this.credentials(state);
    const total = numbers.length;
    /** @type {Set<string>} */
    const checkedNow = new Set();
    let done = 0;
    /** @type {number[]} */
    const waits = [];
    if (total > 0) options.onProgress?.({ done, total, kind: incremental.length > 0 ? "incremental" : "full" });
    for (const [kind, list] of /** @type {[Kind, string[]][]} */ ([["incremental", incremental], ["full", full]])) {
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

  /**
   * What the state says: the user, the last syncs, and what the next sync would do.
   * @returns {Promise<import("../index.js").Status>}
   */
  async status() {
    const state = await this.load();
    const now = this.now();
    const freshFor = (this.config.s2Delta - this.config.margin) * 1000;
    const times = Object.values(state.contacts);
    const isFresh = (/** @type {number | null} */ t) => t !== null && now - t <= freshFor;
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
   * @param {Kind} kind
   * @param {string[]} list
   * @param {{ user: Uint8Array; authToken: Uint8Array }} credentials
   * @param {(batch: string[], added: Set<string>, removed: Set<string>, checkedAt: number) => Promise<void>} apply
   * @returns {Promise<{ retryAfter: number | null }>}
   */
  async check(kind, list, credentials, apply) {
    const { maxContacts } = this.config;
    const drainSeconds = kind === "full" ? this.config.s2Delta : this.config.s2Period;
    const path = `/discovery/${kind}`;
    let size = maxContacts;
    let splitTried = false;
    let transientRetries = 0;
    for (let start = 0; start < list.length; ) {
      const batch = list.slice(start, start + size);
      const ids = await Promise.all(batch.map(identifierOf));
      const checkedAt = this.now();
      const answer = await this.transport.call(path, { ...credentials, identifiers: ids });
      if (answer.status === 200 && answer.result === Result.SUCCESS) {
        const byId = new Map(batch.map((phone, i) => [toHex(/** @type {Uint8Array} */ (ids[i])), phone]));
        const phonesOf = (/** @type {Uint8Array[]} */ list) => new Set(list.map((id) => byId.get(toHex(id))).filter((p) => p !== undefined));
        await apply(batch, phonesOf(answer.added), phonesOf(answer.removed), checkedAt);
        start += batch.length;
        transientRetries = 0;
        continue;
      }
      if ((answer.status === 429 && answer.retryAfter === null) || answer.status === 413) {
        if (batch.length === 1) throw new IcdError(`${path}: the service refuses even one identifier`, { status: answer.status });
        size = Math.ceil(batch.length / 2);
        continue;
      }
      if (answer.status === 429 && answer.retryAfter !== null) {
        // The excess is retryAfter seconds' worth of draining; what is left of the batch fits now.
        const fits = batch.length - Math.ceil((answer.retryAfter * maxContacts) / drainSeconds);
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

  /** @param {State} state */
  async credentials(state) {
    if (!state.user) throw new IcdError("not registered: register a phone number first");
    return { user: await identifierOf(state.user.phone), authToken: fromHex(state.user.token) };
  }
}

/**
 * @param {string} path
 * @param {import("../index.js").Answer} answer
 */
function expectSuccess(path, answer) {
  if (answer.status !== 200 || answer.result !== Result.SUCCESS) {
    const name = Object.keys(Result).find((k) => Result[/** @type {keyof typeof Result} */ (k)] === answer.result) ?? String(answer.result);
    throw new IcdError(`${path}: HTTP ${answer.status} ${name}`, { status: answer.status, result: answer.result, retryAfter: answer.retryAfter });
  }
}
