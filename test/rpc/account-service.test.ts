// The account service's Service Binding: a second Worker (test/account-service-worker.js) calls the
// AccountService entrypoint over RPC, as the account service does in production.

import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { hashToken } from "../../src/core/token";
import { AccountService } from "../../src/rpc/account-service";
import { keyOf } from "../../src/core/lookup-key";
import { type Client, accountService, admin, countRows, hex, newClient, post, randomIds, registered, stored } from "../helpers";

const tokenHashHex = async (c: Client) => toHex(await hashToken(c.authToken));
const register = async (c: Client, token: Client = c) => accountService("register", { id: toHex(c.user), token_hash: await tokenHashHex(token) });

describe("the AccountService entrypoint, called by another Worker", () => {
  it("registers a user with their token hash; the same again changes nothing; another token is refused", async () => {
    const client = newClient();
    expect(await register(client)).toEqual({ result: "created" });
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
    expect(await register(client)).toEqual({ result: "repeat" });
    expect(await register(client, newClient())).toEqual({ result: "taken" });
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
  });

  it("deletes a user: they leave, and a second delete finds nobody", async () => {
    const client = await registered();
    expect(await accountService("delete", { id: toHex(client.user) })).toEqual({ result: "removed" });
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(401);
    expect(await accountService("delete", { id: toHex(client.user) })).toEqual({ result: "not-registered" });
  });

  it("imports a batch idempotently, announced in S2 when asked", async () => {
    const watcher = await registered();
    const users = [newClient(), newClient()];
    const pairs = await Promise.all(users.map(async (u) => [toHex(u.user), await tokenHashHex(u)]));
    expect(await accountService("import", { users: pairs, announce: true })).toEqual({ result: { received: 2, imported: 2 } });
    expect(await accountService("import", { users: pairs, announce: true })).toEqual({ result: { received: 2, imported: 0 } });
    const ids = users.map((u) => u.user);
    expect(hex((await post("/discovery/incremental", watcher, ids)).added)).toEqual(hex(ids));
    expect((await post("/discovery/full", users[1]!, randomIds(1))).status).toBe(200);
  });

  it("stores what it registers and imports as pseudonyms, never the identifiers", async () => {
    const [one, batch] = [newClient(), [newClient(), newClient()]];
    expect(await register(one)).toEqual({ result: "created" });
    const pairs = await Promise.all(batch.map(async (u) => [toHex(u.user), await tokenHashHex(u)]));
    expect(await accountService("import", { users: pairs })).toEqual({ result: { received: 2, imported: 2 } });
    for (const u of [one, ...batch]) {
      // Neither the identifier nor its leading 6 bytes, as a key or as the stored value's start.
      expect(await countRows("SELECT count(*) AS n FROM users WHERE id = ?1 OR hex(id) LIKE ?2 || '%' OR k = ?3", u.user, toHex(u.user.slice(0, 6)).toUpperCase(), keyOf(u.user))).toBe(0);
      expect(await countRows("SELECT count(*) AS n FROM users WHERE id = ?1 AND key_version = 1", stored(u.user))).toBe(1);
    }
  });

  it("audits every change as the account service on its binding", async () => {
    const client = newClient();
    await register(client);
    await accountService("delete", { id: toHex(client.user) });
    const entries = (await (await admin("/audit?limit=2", { as: "operator" })).json()) as { action: string; role: string; keyId: string; subject: string }[];
    expect(entries.map(({ action, role, keyId }) => ({ action, role, keyId }))).toEqual([
      { action: "delete", role: "account-service", keyId: "binding" },
      { action: "register", role: "account-service", keyId: "binding" },
    ]);
    expect(entries[0]!.subject).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(entries)).not.toContain(toHex(client.user));
  });

  it.each([
    ["an identifier of 65 bytes", "register", { id: "ab".repeat(65), token_hash: "00".repeat(32) }, /the identifier must be a Uint8Array of 1 to 64 bytes/],
    ["a token hash of 31 bytes", "register", { id: "abcd", token_hash: "00".repeat(31) }, /the token hash must be a Uint8Array of 32 bytes/],
    ["an empty identifier", "delete", { id: "" }, /the identifier must be/],
    ["an empty batch", "import", { users: [] }, /users must be an array of 1 to 10000/],
    ["a bad pair in a batch", "import", { users: [["abcd", "00".repeat(32)], ["abcd", "00"]] }, /users\[1\]: the token hash must be/],
  ] as const)("throws back a TypeError that says what is wrong: %s", async (_, call, body, message) => {
    const answer = await accountService(call, body);
    expect(answer.error).toBe("TypeError");
    expect(answer.message).toMatch(message);
  });

  it("offers register, delete and import, nothing else", async () => {
    expect(Object.getOwnPropertyNames(AccountService.prototype).sort()).toEqual(["constructor", "delete", "import", "register"]);
    for (const method of ["block", "clearFlag", "resetBuckets", "fetch"]) {
      const answer = await accountService("call", { method });
      expect(answer.error).toBeDefined();
    }
  });
});
