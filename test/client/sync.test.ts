// The client library's sync engine against the real Worker (D1 and Durable Objects), with explicit
// clocks: first sync, later registrations and removals, new contacts, a reinstall, a long time
// offline, rate limits and an address book larger than one request.

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ClientOptions, type SyncResult, IcdClient, IcdError, MemoryStore, fromHex, identifierOf } from "../../client/index";
import { ICD } from "../../src/proto/icd.js";
import { randomIds } from "../helpers";
import { fakeClock } from "../fake-clock";
import { DAY_MS, SECOND_MS } from "../../src/core/time";

const S2_DELTA = 10 * DAY_MS;
const MARGIN = 1 * DAY_MS;

const { at } = fakeClock();

const SERVER = "https://icd.test";

/** What the client sent and what the Worker answered, request by request. */
interface Call {
  path: string;
  identifiers: number;
  status: number;
  added: number;
  removed: number;
}

/** exports.default.fetch, recording every call; `intercept` may answer instead of the Worker. */
function recordingFetch(intercept?: (path: string, identifiers: number) => Response | undefined) {
  const calls: Call[] = [];
  const fetch = async (input: string, init: RequestInit) => {
    const path = new URL(input).pathname;
    const identifiers = ICD.Request.decode(init.body as Uint8Array).identifiers.length;
    const response = intercept?.(path, identifiers) ?? (await exports.default.fetch(input, init));
    const bytes = new Uint8Array(await response.clone().arrayBuffer());
    const decoded = ICD.Response.decode(bytes);
    calls.push({ path, identifiers, status: response.status, added: decoded.addedUsers.length, removed: decoded.removedUsers.length });
    return response;
  };
  return { calls, fetch };
}

/** A German mobile number nobody else uses, in E.164. */
const randomPhone = () => `+49176${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
/** The national form of a German E.164 number, as people write it: "0176 12345678". */
const national = (e164: string) => `0${e164.slice(3, 6)} ${e164.slice(6)}`;

interface User {
  phone: string;
  client: IcdClient;
  store: MemoryStore;
  calls: Call[];
}

function newUser(phone = randomPhone(), options: Partial<ClientOptions> = {}): User {
  const store = new MemoryStore();
  const { calls, fetch } = recordingFetch();
  const client = new IcdClient({ server: SERVER, fetch, store, ...options });
  return { phone, client, store, calls };
}

async function registeredUser(phone = randomPhone(), options: Partial<ClientOptions> = {}): Promise<User> {
  const user = newUser(phone, options);
  expect(await user.client.register({ phone })).toEqual({ phone });
  user.calls.length = 0;
  return user;
}

const paths = (calls: Call[]) => calls.map((c) => `${c.path} ${c.identifiers} ${c.status}`);
const changes = (r: SyncResult) => ({ mode: r.mode, registered: r.registered, added: r.added, removed: r.removed, pending: r.pending });
const sorted = (...phones: string[]) => [...phones].sort();

describe("first sync", () => {
  it("is full and finds the registered contacts among numbers written in national and international formats", async () => {
    const me = await registeredUser();
    const [a, b] = [await registeredUser(), await registeredUser()];
    const stranger = randomPhone();
    const book = [national(a.phone), `+49 ${b.phone.slice(3, 6)} ${b.phone.slice(6)}`, `0049${stranger.slice(3)}`, "not a number", national(a.phone)];
    const result = await me.client.sync(book);
    expect(changes(result)).toEqual({ mode: "full", registered: sorted(a.phone, b.phone), added: sorted(a.phone, b.phone), removed: [], pending: 0 });
    expect(result.invalid).toEqual(["not a number"]);
    expect(result.checked).toEqual({ full: 3, incremental: 0 });
    expect(paths(me.calls)).toEqual(["/discovery/full 3 200"]);
    expect(await me.client.status()).toMatchObject({ contacts: 3, knownRegistered: 2, dueForFullCheck: 0, nextMode: "incremental" });
  });

  it("cannot happen before registration, and a state with a wrong token is refused with 401", async () => {
    const nobody = newUser();
    await expect(nobody.client.sync([randomPhone()])).rejects.toThrow(/not registered/);
    const me = await registeredUser();
    const state = await me.store.load();
    const forged = new MemoryStore({ ...state!, user: { ...state!.user!, token: "00".repeat(32) } });
    const client = new IcdClient({ server: SERVER, fetch: recordingFetch().fetch, store: forged });
    await expect(client.sync([randomPhone()])).rejects.toMatchObject({ name: "IcdError", status: 401 });
  });
});

describe("incremental sync", () => {
  it("adds a contact who registers later, without adding again one it already knew", async () => {
    const me = await registeredUser();
    const known = await registeredUser();
    const later = randomPhone();
    const book = [known.phone, later];
    expect(changes(await me.client.sync(book))).toMatchObject({ mode: "full", registered: [known.phone] });
    at(1 * DAY_MS);
    await registeredUser(later);
    at(1 * DAY_MS + 1 * SECOND_MS);
    me.calls.length = 0;
    const result = await me.client.sync(book);
    expect(changes(result)).toEqual({ mode: "incremental", registered: sorted(known.phone, later), added: [later], removed: [], pending: 0 });
    // The service's own answer lists both (both registered within S2_DELTA): only one is news.
    expect(me.calls).toEqual([{ path: "/discovery/incremental", identifiers: 2, status: 200, added: 2, removed: 0 }]);
    // Nothing changed since: the next sync adds nothing.
    expect(changes(await me.client.sync(book))).toMatchObject({ mode: "incremental", added: [], removed: [], registered: sorted(known.phone, later) });
  });

  it("removes a contact who unregisters, and adds them again when they come back", async () => {
    const me = await registeredUser();
    const [stays, leaves] = [await registeredUser(), await registeredUser()];
    const book = [stays.phone, leaves.phone];
    await me.client.sync(book);
    at(1 * DAY_MS);
    await leaves.client.unregister();
    at(2 * DAY_MS);
    me.calls.length = 0;
    expect(changes(await me.client.sync(book))).toEqual({ mode: "incremental", registered: [stays.phone], added: [], removed: [leaves.phone], pending: 0 });
    expect(paths(me.calls)).toEqual(["/discovery/incremental 2 200"]);
    at(3 * DAY_MS);
    await leaves.client.register({ phone: leaves.phone }); // a fresh token: the old account was deleted
    at(4 * DAY_MS);
    expect(changes(await me.client.sync(book))).toEqual({ mode: "incremental", registered: sorted(...book), added: [leaves.phone], removed: [], pending: 0 });
  });

  it("checks a contact new to the address book in full and the known ones incrementally; forgets dropped ones", async () => {
    const me = await registeredUser();
    const [old, added] = [await registeredUser(), await registeredUser()];
    const stranger = randomPhone();
    await me.client.sync([old.phone]);
    at(1 * DAY_MS);
    me.calls.length = 0;
    const result = await me.client.sync([old.phone, added.phone, stranger]);
    expect(changes(result)).toEqual({ mode: "incremental", registered: sorted(old.phone, added.phone), added: [added.phone], removed: [], pending: 0 });
    expect(result.checked).toEqual({ full: 2, incremental: 1 });
    expect(paths(me.calls)).toEqual(["/discovery/incremental 1 200", "/discovery/full 2 200"]);
    // A contact deleted from the address book is not "removed": it is no longer asked about.
    at(2 * DAY_MS);
    me.calls.length = 0;
    expect(changes(await me.client.sync([added.phone]))).toEqual({ mode: "incremental", registered: [added.phone], added: [], removed: [], pending: 0 });
    expect(paths(me.calls)).toEqual(["/discovery/incremental 1 200"]);
    // An address book of new contacts only, after a recent sync: an incremental sync, all checked in full.
    at(3 * DAY_MS);
    me.calls.length = 0;
    expect(changes(await me.client.sync([old.phone]))).toEqual({ mode: "incremental", registered: [old.phone], added: [old.phone], removed: [], pending: 0 });
    expect(paths(me.calls)).toEqual(["/discovery/full 1 200"]);
  });

  it("survives a restart of the app: a new client on the same store goes on incrementally", async () => {
    const me = await registeredUser();
    const a = await registeredUser();
    await me.client.sync([a.phone]);
    at(1 * DAY_MS);
    const { calls, fetch } = recordingFetch();
    const restarted = new IcdClient({ server: SERVER, fetch, store: me.store });
    expect(changes(await restarted.sync([a.phone]))).toEqual({ mode: "incremental", registered: [a.phone], added: [], removed: [], pending: 0 });
    expect(paths(calls)).toEqual(["/discovery/incremental 1 200"]);
  });
});

describe("reinstall and long absences", () => {
  it("after a reinstall (state lost) syncs in full; the old token restores the account, a fresh one is refused", async () => {
    const me = await registeredUser();
    const a = await registeredUser();
    await me.client.sync([a.phone, randomPhone()]);
    const oldToken = (await me.store.load())!.user!.token;
    at(1 * DAY_MS);

    const reinstalled = newUser(me.phone);
    const refused = await reinstalled.client.register({ phone: me.phone }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IcdError);
    expect(refused).toMatchObject({ status: 401 });
    await reinstalled.client.register({ phone: national(me.phone), region: "DE", token: oldToken });
    reinstalled.calls.length = 0;
    const result = await reinstalled.client.sync([a.phone]);
    // Nothing is known after a reinstall: every registered contact is news.
    expect(changes(result)).toEqual({ mode: "full", registered: [a.phone], added: [a.phone], removed: [], pending: 0 });
    expect(paths(reinstalled.calls)).toEqual(["/discovery/full 1 200"]);
    // Registering again with the state kept reuses its token.
    await expect(me.client.register({ phone: me.phone })).resolves.toEqual({ phone: me.phone });
  });

  it("goes full again once its last check is older than S2_DELTA minus the margin, and stays incremental up to it", async () => {
    const me = await registeredUser();
    const a = await registeredUser();
    await me.client.sync([a.phone]);
    at(S2_DELTA - MARGIN);
    me.calls.length = 0;
    expect((await me.client.sync([a.phone])).mode).toBe("incremental");
    at(2 * (S2_DELTA - MARGIN) + 1);
    expect(await me.client.status()).toMatchObject({ nextMode: "full", dueForFullCheck: 1 });
    expect((await me.client.sync([a.phone])).mode).toBe("full");
    expect(paths(me.calls)).toEqual(["/discovery/incremental 1 200", "/discovery/full 1 200"]);
  });

  it("offline longer than S2_DELTA: a full sync finds the changes an incremental one no longer could", async () => {
    const me = await registeredUser();
    const [stays, leaves] = [await registeredUser(), await registeredUser()];
    const joins = randomPhone();
    const book = [stays.phone, leaves.phone, joins];
    expect(changes(await me.client.sync(book))).toMatchObject({ mode: "full", registered: sorted(stays.phone, leaves.phone) });
    at(1 * DAY_MS);
    await leaves.client.unregister();
    await registeredUser(joins);
    at(12 * DAY_MS); // both changes are older than S2_DELTA: the incremental endpoint forgot them
    const { calls, fetch } = recordingFetch();
    const probe = new IcdClient({ server: SERVER, fetch, store: new MemoryStore(await me.store.load()), config: { margin: -1000 * DAY_MS } });
    expect(changes(await probe.sync(book))).toMatchObject({ mode: "incremental", added: [], removed: [] }); // what a naive client would see
    expect(paths(calls)).toEqual(["/discovery/incremental 3 200"]);
    me.calls.length = 0;
    expect(changes(await me.client.sync(book))).toEqual({ mode: "full", registered: sorted(stays.phone, joins), added: [joins], removed: [leaves.phone], pending: 0 });
    expect(paths(me.calls)).toEqual(["/discovery/full 3 200"]);
  });
});

describe("rate limits", () => {
  /** Spends `n` of the user's full bucket with random identifiers, as another device of theirs would. */
  async function spendFullBucket(user: User, n: number) {
    const state = (await user.store.load())!;
    const body = ICD.Request.encode({ user: await identifierOf(state.user!.phone), authToken: fromHex(state.user!.token), identifiers: randomIds(n) }).finish();
    expect((await exports.default.fetch(`${SERVER}/discovery/full`, { method: "POST", body })).status).toBe(200);
  }

  it("on 429 sends the part that fits, keeps the rest pending with Retry-After, and resumes", async () => {
    const me = await registeredUser();
    const [early, late] = [await registeredUser(), await registeredUser()];
    const strangers = Array.from({ length: 23 }, randomPhone);
    const book = [early.phone, ...strangers, late.phone];
    await spendFullBucket(me, 19990); // 10 contacts of budget left

    const first = await me.client.sync(book);
    // 25 do not fit (15 too many: 648 s at 43.2 s a contact), the first 10 do; then the next 10 wait 432 s.
    expect(paths(me.calls)).toEqual(["/discovery/full 25 429", "/discovery/full 10 200", "/discovery/full 10 429"]);
    expect(changes(first)).toEqual({ mode: "full", registered: [early.phone], added: [early.phone], removed: [], pending: 15 });
    expect(first.retryAfter).toBe(432);
    expect(await me.client.status()).toMatchObject({ contacts: 25, dueForFullCheck: 15, nextMode: "incremental" });

    at(43 * SECOND_MS); // too early: not one contact has drained, nothing is lost
    me.calls.length = 0;
    const tooEarly = await me.client.sync();
    expect(changes(tooEarly)).toEqual({ mode: "incremental", registered: [early.phone], added: [], removed: [], pending: 15 });
    expect(paths(me.calls)).toEqual(["/discovery/incremental 10 200", "/discovery/full 15 429"]);
    expect(tooEarly.retryAfter).toBe(605); // 15 contacts at 43.2 s, minus the 43 s waited

    at(648 * SECOND_MS);
    me.calls.length = 0;
    const done = await me.client.sync(); // no address book given: resumes the stored one
    expect(changes(done)).toEqual({ mode: "incremental", registered: sorted(early.phone, late.phone), added: [late.phone], removed: [], pending: 0 });
    expect(done.retryAfter).toBeNull();
    expect(paths(me.calls)).toEqual(["/discovery/incremental 10 200", "/discovery/full 15 200"]);
  });

  it("halves its batches when the service answers 429 without Retry-After (a smaller per-request limit)", async () => {
    const { calls, fetch } = recordingFetch((path, identifiers) =>
      path.startsWith("/discovery/") && identifiers > 8 ? new Response(ICD.Response.encode({ result: 2 }).finish(), { status: 429 }) : undefined,
    );
    const me = await registeredUser(randomPhone(), { fetch, config: { maxContacts: 20 } });
    const a = await registeredUser();
    const book = [...Array.from({ length: 19 }, randomPhone), a.phone];
    calls.length = 0;
    expect(changes(await me.client.sync(book))).toEqual({ mode: "full", registered: [a.phone], added: [a.phone], removed: [], pending: 0 });
    expect(paths(calls)).toEqual([
      "/discovery/full 20 429",
      "/discovery/full 10 429",
      "/discovery/full 5 200",
      "/discovery/full 5 200",
      "/discovery/full 5 200",
      "/discovery/full 5 200",
    ]);
  });

  it("waits out a short 503 and retries in place; a long one leaves the contacts pending", async () => {
    let failures = 1;
    const { calls, fetch } = recordingFetch((path) =>
      path === "/discovery/full" && failures-- > 0
        ? new Response(ICD.Response.encode({ result: 2 }).finish(), { status: 503, headers: { "Retry-After": "1" } })
        : undefined,
    );
    const slept: number[] = [];
    const me = await registeredUser(randomPhone(), { fetch, sleep: async (ms: number) => void slept.push(ms) });
    const a = await registeredUser();
    calls.length = 0;
    expect(changes(await me.client.sync([a.phone]))).toMatchObject({ registered: [a.phone], pending: 0 });
    expect(paths(calls)).toEqual(["/discovery/full 1 503", "/discovery/full 1 200"]);
    expect(slept).toEqual([1000]);

    failures = 100;
    const b = await registeredUser();
    const result = await me.client.sync([a.phone, b.phone]);
    expect(changes(result)).toEqual({ mode: "incremental", registered: [a.phone], added: [], removed: [], pending: 1 });
    expect(result.retryAfter).toBe(1);
  });
});

describe("an address book over MAX_CONTACTS", () => {
  it("is sent in requests of at most 20,000; what the full budget cannot take waits, and a later sync finishes", async () => {
    const me = await registeredUser();
    const friend = await registeredUser();
    // 20,010 distinct numbers in national format; the friend is in the second request.
    const book = Array.from({ length: 20010 }, (_, i) => `0152 ${String(10_000_000 + i)}`);
    book[20005] = national(friend.phone);

    const first = await me.client.sync(book);
    expect(paths(me.calls)).toEqual(["/discovery/full 20000 200", "/discovery/full 10 429"]);
    expect(changes(first)).toEqual({ mode: "full", registered: [], added: [], removed: [], pending: 10 });
    expect(first.retryAfter).toBe(432); // 10 contacts at 43.2 s

    at(432 * SECOND_MS);
    me.calls.length = 0;
    const second = await me.client.sync(book);
    expect(paths(me.calls)).toEqual(["/discovery/incremental 20000 200", "/discovery/full 10 200"]);
    expect(changes(second)).toEqual({ mode: "incremental", registered: [friend.phone], added: [friend.phone], removed: [], pending: 0 });
    expect(second.checked).toEqual({ full: 10, incremental: 20000 });
  });
});
