// The novelty limit against `[env.production]` (NOVELTY_PER_DAY = 10, NOVELTY_BURST = 250,
// NOVELTY_FIRST_HOURS = 336, NOVELTY_BOOK = 27,000, NOVELTY_FLAG_REFUSALS = 30), on a fake clock that
// steps through days: a sleeper that looked honest and then enumerates with padding is refused and
// flagged; honest clients (a typical book, a few new contacts a week, a reinstall, a CRM book of
// 25,000 in its first days, a client back after weeks) are never refused.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { toHex } from "../../src/core/hex";
import { keyedHash } from "../../src/core/token";
import { DAY_MS, HOUR_MS } from "../../src/core/time";
import { fakeClock } from "../fake-clock";
import { type Client, accountService, admin, encodeRequest, enroll, randomIds } from "../helpers";

const clock = fakeClock();

let ipCounter = 1;
/** A network per client: the per-network limits are not what this file tests. */
const newNetwork = () => `198.19.${Math.floor(ipCounter / 250)}.${ipCounter++ % 250}`;

interface View {
  flagged: boolean;
  reasons: { rule: string }[];
  signals: { judged?: boolean; refusals: number } | null;
  buckets: { full: { level: number } };
  novelty: { room: number; windowEndsAt: number; refusals: number } | null;
}

const view = async (client: Client) => (await (await admin(`/clients/${toHex(client.user)}`, { as: "operator" })).json()) as View;

async function sync(kind: "full" | "incremental", client: Client, ids: Uint8Array[], ip: string) {
  const response = await exports.default.fetch(`https://icd.test/discovery/${kind}`, { method: "POST", body: encodeRequest(client, ids), headers: { "CF-Connecting-IP": ip } });
  await response.arrayBuffer();
  return response;
}

/** Registered users to find, imported through the account service. */
async function directory(n: number): Promise<Uint8Array[]> {
  const users = randomIds(n);
  const tokenHash = toHex(new Uint8Array(32));
  for (let at = 0; at < n; at += 5_000) {
    const batch = users.slice(at, at + 5_000);
    expect((await accountService("import", { users: batch.map((u) => [toHex(u), tokenHash]) })).result).toMatchObject({ imported: batch.length });
  }
  return users;
}

/** A client whose first sync, a book of 1,000 with 40% registered, got it judged honest. */
async function established(ip: string) {
  const client = await enroll();
  const book = [...(await directory(400)), ...randomIds(600)];
  expect((await sync("full", client, book, ip)).status).toBe(200);
  expect((await view(client)).signals).toMatchObject({ judged: true });
  return { client, book };
}

describe("a sleeper: honest-looking for its first days, then enumerating with padding", () => {
  it("gets at most NOVELTY_BURST new identifiers at once, then NOVELTY_PER_DAY, each refusal charging nothing; 30 refusals in a day flag it", async () => {
    const ip = newNetwork();
    const { client, book } = await established(ip);
    clock.at(15 * DAY_MS);
    // Padded with its own book, so that the hit ratio looks honest: 600 new ones are more than a burst.
    const before = await view(client);
    const padded = await sync("full", client, [...book, ...randomIds(600)], ip);
    expect(padded.status).toBe(429);
    expect(padded.headers.get("Retry-After")).toBeNull(); // send fewer new ones: waiting does not help
    expect((await view(client)).buckets.full.level).toBeCloseTo(before.buckets.full.level, 6); // nothing charged
    // 100 new ones fit the burst; the next 200 wait for the bucket to drain at 10 a day.
    expect((await sync("full", client, [...book, ...randomIds(100)], ip)).status).toBe(200);
    const room = (await view(client)).novelty!.room;
    expect(room).toBeGreaterThan(100);
    expect(room).toBeLessThan(200);
    const waiting = await sync("full", client, [...book, ...randomIds(200)], ip);
    expect(waiting.status).toBe(429);
    const retryAfter = Number(waiting.headers.get("Retry-After"));
    // One new identifier drains in a tenth of a day: the wait is what the 200 (as the sketch counts them) exceed the room by.
    expect(retryAfter / 8_640).toBeGreaterThan(200 - room - 30);
    expect(retryAfter / 8_640).toBeLessThan(200 - room + 30);
    expect((await view(client)).novelty).toMatchObject({ refusals: 2, windowEndsAt: 0 });
    // A day later, 10 more: and the book itself, however often, is free.
    clock.at(16 * DAY_MS);
    expect((await sync("full", client, [...book, ...randomIds(5)], ip)).status).toBe(200);
    expect((await sync("incremental", client, book, ip)).status).toBe(200);
    // Going on being refused is what an enumerator does: the 30th refusal within a day flags it, and the operator hears of it.
    for (let i = 1; i <= 29; i++) expect((await sync("full", client, [...book, ...randomIds(300)], ip)).status).toBe(429);
    expect((await view(client)).flagged).toBe(false);
    expect((await sync("full", client, [...book, ...randomIds(300)], ip)).status).toBe(429);
    const flagged = await view(client);
    expect(flagged).toMatchObject({ flagged: true, reasons: [{ rule: "novelty" }], novelty: { refusals: 32 } });
    const subject = await keyedHash(env.AUDIT_KEY, client.user);
    await vi.waitFor(() => expect(globalThis.sentAlerts.some((s) => s.body.detail?.subject === subject && s.body.detail?.reasons?.[0]?.rule === "novelty")).toBe(true), { timeout: 20_000, interval: 50 });
    // Quarantined: even its own book is refused in full until an operator clears it.
    expect((await sync("full", client, book, ip)).status).toBe(429);
  });
});

describe("honest clients under the novelty limit", () => {
  it("never refuses a client that re-sends its book, adds a few contacts a week, reinstalls, or comes back after weeks", async () => {
    const ip = newNetwork();
    const { client, book } = await established(ip);
    let contacts = book;
    for (let week = 1; week <= 4; week++) {
      clock.at(week * 7 * DAY_MS);
      contacts = [...contacts, ...randomIds(5)];
      expect((await sync("incremental", client, contacts, ip)).status).toBe(200);
    }
    // A reinstall: the account service deletes the user and registers it again with a new token; the same book comes back.
    expect(await accountService("delete", { id: toHex(client.user) })).toEqual({ result: "removed" });
    const reinstalled = { ...client, authToken: randomIds(1)[0]! };
    await enroll(reinstalled);
    clock.at(29 * DAY_MS);
    expect((await sync("full", reinstalled, contacts, ip)).status).toBe(200);
    // Three weeks offline, then the book with the contacts gained meanwhile.
    clock.at(50 * DAY_MS);
    expect((await sync("full", reinstalled, [...contacts, ...randomIds(20)], ip)).status).toBe(200);
    expect((await view(client)).novelty).toMatchObject({ refusals: 0 });
    expect((await view(client)).flagged).toBe(false);
  });

  it("answers a CRM book of 25,000 within its first days, and its re-syncs after them", async () => {
    const ip = newNetwork();
    const registered = await directory(3_000);
    const client = await enroll();
    // 15% registered, as a CRM phone's book: its first 1,000 get it judged, the bucket takes 19,000
    // more at once, and the last 5,000 as it drains (2,000 a day: MAX_CONTACTS per S2_DELTA).
    const book = [...registered.slice(0, 400), ...randomIds(600), ...registered.slice(400), ...randomIds(16_400), ...randomIds(5_000)];
    expect((await sync("full", client, book.slice(0, 1_000), ip)).status).toBe(200);
    clock.at(HOUR_MS);
    expect((await sync("full", client, book.slice(1_000, 20_000), ip)).status).toBe(200);
    clock.at(2.5 * DAY_MS + HOUR_MS);
    expect((await sync("full", client, book.slice(20_000), ip)).status).toBe(200);
    expect(await view(client)).toMatchObject({ flagged: false, novelty: { refusals: 0 } });
    // Its re-syncs are free of the limit: only the budget applies.
    clock.at(15 * DAY_MS);
    expect((await sync("full", client, book.slice(0, 20_000), ip)).status).toBe(200);
    expect((await sync("incremental", client, book.slice(5_000), ip)).status).toBe(200);
    expect((await view(client)).novelty).toMatchObject({ refusals: 0 });
  });
});

describe("the operator's view", () => {
  it("lists the novelty limit among the rules in force, as numbers the dashboard shows", async () => {
    const detection = (await (await admin("/detection", { as: "viewer" })).json()) as { rules: Record<string, unknown> };
    expect(detection.rules).toMatchObject({ noveltyPerDay: 10, noveltyBurst: 250, noveltyFirstHours: 336, noveltyBook: 27_000, noveltyFlagRefusals: 30 });
    for (const value of Object.values(detection.rules)) expect(typeof value).toBe("number");
  });
});
