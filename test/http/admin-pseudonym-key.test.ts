// GET /admin/pseudonym-key: the current pseudonym key's version and fingerprint for operators (what
// `npm run posture -- --url` compares with the local key), never the key itself.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { currentVersion, fingerprint } from "../../src/core/key-fingerprint";
import { admin } from "../helpers";

const bindings = env as { PSEUDONYM_KEYS?: string };
beforeAll(() => {
  // A key for projects whose config gives none yet (the service reads the binding per request).
  bindings.PSEUDONYM_KEYS ??= `1:${"5a".repeat(32)}`;
});

describe("GET /admin/pseudonym-key", () => {
  it("answers the current version and the fingerprint of its key, and nothing of the key", async () => {
    const response = await admin("/pseudonym-key", { as: "operator" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { version: number; fingerprint: string };
    const keys = bindings.PSEUDONYM_KEYS!;
    expect(body).toEqual({ version: currentVersion(keys), fingerprint: await fingerprint(keys) });
    expect(body.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    for (const entry of keys.split(",")) expect(JSON.stringify(body)).not.toContain(entry.split(":")[1]!.slice(0, 16));
  });

  it("is the operator's: a viewer gets 403, the account service 403, no credential 401", async () => {
    expect((await admin("/pseudonym-key", { as: "viewer" })).status).toBe(403);
    expect((await admin("/pseudonym-key", { as: "account-service" })).status).toBe(403);
    expect((await admin("/pseudonym-key", { token: "" })).status).toBe(401);
  });
});
