// POST /admin/users/import, and the admin API's token check.

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { MAX_IMPORT_BATCH } from "../../src/http/routes/admin";
import { hashToken } from "../../src/core/token";
import { type Client, admin, countRows, hex, newClient, post, randomIds, registered } from "../helpers";

async function importBatch(clients: Client[], announce?: boolean) {
  const users = await Promise.all(clients.map(async (c) => [toHex(c.user), toHex(await hashToken(c.authToken))]));
  return admin("/users/import", { method: "POST", body: JSON.stringify({ users, announce }) });
}

describe("admin token", () => {
  it.each([
    ["no Authorization header", {}],
    ["a wrong token", { Authorization: "Bearer wrong-token-wrong-token" }],
    ["the right token in another scheme", { Authorization: `Basic ${"x".repeat(20)}` }],
  ])("answers 401 to %s, on every /admin/ path", async (_, headers) => {
    for (const [method, path] of [
      ["POST", "/admin/users/import"],
      ["GET", "/admin/"],
      ["GET", "/admin/no/such/path"],
    ] as const) {
      const response = await exports.default.fetch(`https://icd.test${path}`, { method, headers, body: method === "POST" ? "{}" : undefined });
      expect(response.status).toBe(401);
    }
  });
});

describe("bulk import", () => {
  it("registers users with their token hashes, not as news in S2", async () => {
    const watcher = await registered();
    const users = [newClient(), newClient(), newClient()];
    const response = await importBatch(users);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: 3, imported: 3 });
    const ids = users.map((u) => u.user);
    expect(hex((await post("/discovery/full", watcher, ids)).added)).toEqual(hex(ids));
    expect((await post("/discovery/incremental", watcher, ids)).added).toEqual([]);
    // Their own tokens work: the hash was imported, not a token.
    expect((await post("/discovery/full", users[0]!, randomIds(1))).status).toBe(200);
  });

  it("announces imported users in S2 when asked", async () => {
    const watcher = await registered();
    const users = [newClient()];
    await importBatch(users, true);
    expect(hex((await post("/discovery/incremental", watcher, [users[0]!.user])).added)).toEqual(hex([users[0]!.user]));
  });

  it("is idempotent: a batch sent twice registers nobody twice and loses nobody", async () => {
    const users = [newClient(), newClient()];
    const before = await countRows("SELECT count(*) AS n FROM users");
    expect(await (await importBatch(users)).json()).toEqual({ received: 2, imported: 2 });
    expect(await (await importBatch(users)).json()).toEqual({ received: 2, imported: 0 });
    expect(await countRows("SELECT count(*) AS n FROM users")).toBe(before + 2);
  });

  it("leaves a registered user's token alone, and brings a removed user back as added", async () => {
    const watcher = await registered();
    const live = await registered();
    const gone = await registered();
    await post("/user/delete", gone);
    const other = (c: Client) => ({ user: c.user, authToken: newClient().authToken });
    expect(await (await importBatch([other(live), gone])).json()).toEqual({ received: 2, imported: 1 });
    expect((await post("/discovery/full", live, randomIds(1))).status).toBe(200);
    expect((await post("/discovery/full", other(live), randomIds(1))).status).toBe(401);
    const changes = await post("/discovery/incremental", watcher, [gone.user]);
    expect([hex(changes.added), changes.removed]).toEqual([hex([gone.user]), []]);
  });

  it.each([
    ["not JSON", "{users"],
    ["no users", JSON.stringify({ users: [] })],
    ["too many users", JSON.stringify({ users: Array.from({ length: MAX_IMPORT_BATCH + 1 }, () => ["00", "00".repeat(32)]) })],
    ["an id that is not hex", JSON.stringify({ users: [["zz", "00".repeat(32)]] })],
    ["an id of 65 bytes", JSON.stringify({ users: [["ab".repeat(65), "00".repeat(32)]] })],
    ["a token hash of 31 bytes", JSON.stringify({ users: [["ab", "00".repeat(31)]] })],
    ["announce that is not a boolean", JSON.stringify({ users: [["ab", "00".repeat(32)]], announce: "yes" })],
  ])("refuses %s with 400 and imports nothing", async (_, body) => {
    const before = await countRows("SELECT count(*) AS n FROM users");
    const response = await admin("/users/import", { method: "POST", body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBeTruthy();
    expect(await countRows("SELECT count(*) AS n FROM users")).toBe(before);
  });
});
