// The admin API's client and user endpoints, stats and audit log.

import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { hashToken } from "../../src/core/token";
import { Result, admin, newClient, post, randomIds, registered } from "../helpers";

// The admin API answers JSON whose shape each test asserts.
const json = async (response: Response) => [response.status, (await response.json()) as any] as const;

describe("clients", () => {
  it("shows a client's buckets: level, when empty, the largest request that fits now", async () => {
    const client = await registered();
    await post("/discovery/full", client, randomIds(5000));
    const [status, view] = await json(await admin(`/clients/${toHex(client.user)}`));
    expect(status).toBe(200);
    expect(view).toMatchObject({ registered: true, blocked: false });
    expect(view.buckets.full.largestFit).toBe(15000);
    expect(view.buckets.full.level).toBeCloseTo(5000, 0);
    expect(view.buckets.full.emptyAt).toBeGreaterThan(Date.now());
    expect(view.buckets.incremental).toEqual({ level: 0, emptyAt: 0, largestFit: 20000 });
  });

  it("resets a client's buckets", async () => {
    const client = await registered();
    await post("/discovery/full", client, randomIds(20000));
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(429);
    expect(await json(await admin(`/clients/${toHex(client.user)}/buckets`, { method: "DELETE" }))).toEqual([200, { reset: true }]);
    expect((await post("/discovery/full", client, randomIds(20000))).status).toBe(200);
  });

  it("blocks a client (AUTHENTICATION_INVALID, nothing charged) until unblocked", async () => {
    const client = await registered();
    const path = `/clients/${toHex(client.user)}`;
    expect(await json(await admin(`${path}/block`, { method: "POST" }))).toEqual([200, { blocked: true }]);
    expect(await post("/discovery/full", client, randomIds(10))).toMatchObject({ status: 401, result: Result.AUTHENTICATION_INVALID });
    expect((await json(await admin(path)))[1]).toMatchObject({ blocked: true, buckets: { full: { level: 0 } } });
    await admin(`${path}/unblock`, { method: "POST" });
    expect((await post("/discovery/full", client, randomIds(10))).status).toBe(200);
  });

  it("answers 400 for an identifier that is not hex, and 404 for an unknown admin path", async () => {
    expect((await admin("/clients/xyz")).status).toBe(400);
    expect((await admin("/nothing-here")).status).toBe(404);
  });
});

describe("users", () => {
  it("registers a user for the account service, by token or token hash, and deletes it", async () => {
    const [a, b] = [newClient(), newClient()];
    expect((await admin("/users", { method: "POST", body: JSON.stringify({ id: toHex(a.user), token: toHex(a.authToken) }) })).status).toBe(201);
    const hash = toHex(await hashToken(b.authToken));
    expect((await admin("/users", { method: "POST", body: JSON.stringify({ id: toHex(b.user), token_hash: hash }) })).status).toBe(201);
    expect((await admin("/users", { method: "POST", body: JSON.stringify({ id: toHex(b.user), token_hash: hash }) })).status).toBe(200);
    expect((await post("/discovery/full", a, randomIds(1))).status).toBe(200);
    expect((await post("/discovery/full", b, randomIds(1))).status).toBe(200);
    expect(await json(await admin(`/users/${toHex(a.user)}`, { method: "DELETE" }))).toEqual([200, { removed: true }]);
    expect((await post("/discovery/full", a, randomIds(1))).status).toBe(401);
    expect((await admin(`/users/${toHex(a.user)}`, { method: "DELETE" })).status).toBe(404);
  });

  it("refuses to register over a user with another token (409)", async () => {
    const client = await registered();
    const body = JSON.stringify({ id: toHex(client.user), token: toHex(newClient().authToken) });
    expect((await admin("/users", { method: "POST", body })).status).toBe(409);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
  });

  it.each([
    ["no id", { token: "00" }],
    ["no token", { id: "abcd" }],
    ["a token hash of 31 bytes", { id: "abcd", token_hash: "00".repeat(31) }],
  ])("answers 400 for %s", async (_, body) => {
    expect((await admin("/users", { method: "POST", body: JSON.stringify(body) })).status).toBe(400);
  });
});

describe("stats and audit log", () => {
  it("counts users and S2, and names the shards", async () => {
    await registered();
    const [status, stats] = await json(await admin("/stats"));
    expect(status).toBe(200);
    expect(stats.users).toBeGreaterThan(0);
    expect(stats.s2.added).toBeGreaterThan(0);
    expect(stats.shards).toBeGreaterThanOrEqual(1);
  });

  it("logs every admin action, with identifiers only as keyed hashes", async () => {
    const client = await registered();
    await admin(`/clients/${toHex(client.user)}/block`, { method: "POST" });
    await admin(`/clients/${toHex(client.user)}/unblock`, { method: "POST" });
    const [, entries] = await json(await admin("/audit?limit=2"));
    expect(entries.map((e: { action: string }) => e.action)).toEqual(["unblock", "block"]);
    expect(entries[0].subject).toMatch(/^[0-9a-f]{32}$/);
    expect(entries[0].subject).toBe(entries[1].subject);
    expect(JSON.stringify(entries)).not.toContain(toHex(client.user));
  });
});
