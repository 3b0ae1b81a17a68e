// GET /admin/pseudonym-key: the current pseudonym key's version and fingerprint for operators (what
// `npm run posture -- --url` compares with the local key), never the key itself.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { pseudonymsOf } from "../../src/domain/pseudonyms";
import { admin } from "../helpers";

const bindings = env as { PSEUDONYM_KEYS?: string };

describe("GET /admin/pseudonym-key", () => {
  it("answers the current version and the fingerprint of its key, and nothing of the key", async () => {
    const response = await admin("/pseudonym-key", { as: "operator" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { version: number; fingerprint: string };
    const keys = bindings.PSEUDONYM_KEYS!;
    const chain = pseudonymsOf(env);
    expect(body).toEqual({ version: chain.current, fingerprint: chain.fingerprint() });
    expect(body.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    for (const entry of keys.split(",")) expect(JSON.stringify(body)).not.toContain(entry.split(":")[1]!.slice(0, 16));
  });

  it("is the operator's: a viewer gets 403, the account service 403, no credential 401", async () => {
    expect((await admin("/pseudonym-key", { as: "viewer" })).status).toBe(403);
    expect((await admin("/pseudonym-key", { as: "account-service" })).status).toBe(403);
    expect((await admin("/pseudonym-key", { token: "" })).status).toBe(401);
  });
});
