// Runs against `[env.production]`: the operator's side as deployed. No legacy ADMIN_TOKEN (the
// test sets one, as a forgotten secret would be), no public /admin/users*, the account service on
// its Service Binding, and the audit log keyed with AUDIT_KEY.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { keyedHash } from "../../src/core/token";
import { accountService, admin, newClient } from "../helpers";

const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

describe("the operator's side in production", () => {
  it("does not accept ADMIN_TOKEN, even when the secret is set, as bearer or as Basic password", async () => {
    expect(env.ADMIN_TOKEN).toBeDefined();
    for (const path of ["/", "/stats", "/metrics", "/clients/abcd"]) {
      expect((await admin(path)).status).toBe(401);
      const response = await exports.default.fetch(`https://icd.test/admin${path}`, { headers: { Authorization: basic("admin", env.ADMIN_TOKEN!) } });
      expect(response.status).toBe(401);
    }
    expect((await admin("/stats", { as: "operator" })).status).toBe(200);
  });

  it("audits an operator's change with its role, its key id and AUDIT_KEY's keyed hash of the identifier", async () => {
    const client = newClient();
    await admin(`/clients/${toHex(client.user)}/block`, { as: "operator", method: "POST" });
    const [entry] = (await (await admin("/audit?limit=1", { as: "operator" })).json()) as object[];
    expect(entry).toMatchObject({ action: "block", subject: await keyedHash(env.AUDIT_KEY, client.user), role: "operator", keyId: "ops-1" });
  });

  it("has no public /admin/users*: 404 for every key, 401 without one", async () => {
    const client = newClient();
    const body = JSON.stringify({ id: toHex(client.user), token: toHex(client.authToken) });
    for (const as of ["account-service", "operator", "viewer"] as const) {
      expect((await admin("/users", { as, method: "POST", body })).status).toBe(404);
      expect((await admin("/users/import", { as, method: "POST", body: JSON.stringify({ users: [] }) })).status).toBe(404);
      expect((await admin(`/users/${toHex(client.user)}`, { as, method: "DELETE" })).status).toBe(404);
    }
    expect((await exports.default.fetch("https://icd.test/admin/users", { method: "POST", body })).status).toBe(401);
  });

  it("registers and deletes through the Service Binding, audited as the account service with AUDIT_KEY's keyed hash", async () => {
    const client = newClient();
    const hash = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", client.authToken)));
    expect(await accountService("register", { id: toHex(client.user), token_hash: hash })).toEqual({ result: "created" });
    expect(await accountService("delete", { id: toHex(client.user) })).toEqual({ result: "removed" });
    const entries = (await (await admin("/audit?limit=2", { as: "operator" })).json()) as { action: string; subject: string; role: string; keyId: string }[];
    const subject = await keyedHash(env.AUDIT_KEY, client.user);
    expect(entries).toEqual([
      expect.objectContaining({ action: "delete", subject, role: "account-service", keyId: "binding" }),
      expect.objectContaining({ action: "register", subject, role: "account-service", keyId: "binding" }),
    ]);
  });
});
