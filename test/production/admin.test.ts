// Runs against `[env.production]`: the operator's side as deployed. No legacy ADMIN_TOKEN (the
// test sets one, as a forgotten secret would be), and the audit log keyed with AUDIT_KEY.

import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { keyedHash } from "../../src/core/token";
import { admin, newClient } from "../helpers";

const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

describe("the operator's side in production", () => {
  it("does not accept ADMIN_TOKEN, even when the secret is set, as bearer or as Basic password", async () => {
    expect(env.ADMIN_TOKEN).toBeDefined();
    for (const path of ["/", "/stats", "/metrics", "/clients/abcd"]) {
      expect((await admin(path)).status).toBe(401);
      const response = await SELF.fetch(`https://icd.test/admin${path}`, { headers: { Authorization: basic("admin", env.ADMIN_TOKEN!) } });
      expect(response.status).toBe(401);
    }
    expect((await admin("/stats", { as: "operator" })).status).toBe(200);
  });

  it("audits a change with its role, its key id and AUDIT_KEY's keyed hash of the identifier", async () => {
    const client = newClient();
    await admin(`/clients/${toHex(client.user)}/block`, { as: "operator", method: "POST" });
    const [entry] = (await (await admin("/audit?limit=1", { as: "operator" })).json()) as object[];
    expect(entry).toMatchObject({ action: "block", subject: await keyedHash(env.AUDIT_KEY, client.user), role: "operator", keyId: "ops-1" });
  });
});
