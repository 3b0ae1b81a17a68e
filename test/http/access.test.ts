// Cloudflare Access in front of /admin/: the Cf-Access-Jwt-Assertion token is verified against the
// team's published keys (fetched from https://<team>/cdn-cgi/access/certs, answered here by keys
// generated for the test), its audience, issuer and expiry, and its identity mapped to roles by
// ACCESS_ROLES (test/vitest.config.ts: ops@example.com and group icd-operators are operators, group
// icd-viewers and service token scraper.access viewers).

import { env, exports } from "cloudflare:workers";
import { type CryptoKey, SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { toHex } from "../../src/core/hex";
import { admin, newClient } from "../helpers";

// Set for the local projects by test/vitest.config.ts (wrangler.toml's are production's placeholders).
const [TEAM_DOMAIN, AUDIENCE] = [env.ACCESS_TEAM_DOMAIN as string, env.ACCESS_AUD as string];
const TEAM = `https://${TEAM_DOMAIN}`;
const CERTS = `${TEAM}/cdn-cgi/access/certs`;
let teamKey: CryptoKey;
let otherKey: CryptoKey;
let certsFetched = 0;

beforeAll(async () => {
  const team = await generateKeyPair("RS256", { extractable: true });
  teamKey = team.privateKey;
  otherKey = (await generateKeyPair("RS256")).privateKey;
  const jwk = { ...(await exportJWK(team.publicKey)), kid: "team-key-1", alg: "RS256", use: "sig" };
  // The only request that leaves the Worker here: Access's key set, as Cloudflare publishes it.
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (request.url !== CERTS) return realFetch(input, init);
    certsFetched++;
    return Response.json({ keys: [jwk], public_cert: { kid: jwk.kid, cert: "" }, public_certs: [] });
  });
});
afterAll(() => vi.restoreAllMocks());

interface TokenOptions {
  claims?: Record<string, unknown>;
  audience?: string;
  issuer?: string;
  expiresAt?: number;
  notBefore?: number;
  key?: CryptoKey;
  kid?: string;
}

/** An Access application token as Cloudflare signs it (RS256, kid of the team key). */
function accessToken({ claims = { email: "ops@example.com" }, audience = AUDIENCE, issuer = TEAM, expiresAt, notBefore, key = teamKey, kid = "team-key-1" }: TokenOptions = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ type: "app", identity_nonce: "n0nce", country: "CH", ...claims })
    .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
    .setSubject("7335d417-61da-459d-899c-0a01c76a2f94")
    .setAudience([audience])
    .setIssuer(issuer)
    .setIssuedAt(now - 60)
    .setNotBefore(notBefore ?? now - 60)
    .setExpirationTime(expiresAt ?? now + 3600)
    .sign(key);
}

const asAccess = async (path: string, token: string | Promise<string>, init: RequestInit = {}) =>
  exports.default.fetch(`https://icd.test/admin${path}`, { ...init, headers: { "Cf-Access-Jwt-Assertion": await token, ...init.headers } });

const lastAudit = async () => ((await (await admin("/audit?limit=1", { as: "operator" })).json()) as object[])[0];

describe("a person signed in through Access", () => {
  it("is an operator by email: inspects and blocks a client, audited with the role and the email", async () => {
    const id = toHex(newClient().user);
    expect((await asAccess(`/clients/${id}`, accessToken())).status).toBe(200);
    expect((await asAccess(`/clients/${id}/block`, accessToken({ claims: { email: "Ops@Example.com" } }), { method: "POST" })).status).toBe(200);
    expect(await lastAudit()).toMatchObject({ action: "block", role: "operator", keyId: "access:ops@example.com" });
  });

  it("is an operator or a viewer by their identity provider's groups", async () => {
    const id = toHex(newClient().user);
    const operator = accessToken({ claims: { email: "carol@example.com", groups: ["staff", "icd-operators"] } });
    expect((await asAccess(`/clients/${id}/unblock`, operator, { method: "POST" })).status).toBe(200);
    const viewer = () => accessToken({ claims: { email: "dave@example.com", custom: { groups: ["icd-viewers"] } } });
    expect((await asAccess("/", viewer())).status).toBe(200);
    expect((await asAccess("/series?minutes=5", viewer())).status).toBe(200);
    expect((await asAccess(`/clients/${id}/block`, viewer(), { method: "POST" })).status).toBe(403);
    expect(await lastAudit()).toMatchObject({ action: "denied", role: "viewer", keyId: "access:dave@example.com", detail: { route: "POST /clients/:id/block" } });
  });

  it("with no role in ACCESS_ROLES is known but refused everywhere (403, audited)", async () => {
    const nobody = () => accessToken({ claims: { email: "eve@example.com", groups: ["staff"] } });
    for (const path of ["/", "/metrics", "/flagged"]) expect((await asAccess(path, nobody())).status).toBe(403);
    expect(await lastAudit()).toMatchObject({ action: "denied", role: "none", keyId: "access:eve@example.com" });
  });

  it("never gets the account service's routes", async () => {
    const client = newClient();
    const body = JSON.stringify({ id: toHex(client.user), token: toHex(client.authToken) });
    expect((await asAccess("/users", accessToken(), { method: "POST", body })).status).toBe(403);
  });
});

describe("an Access service token", () => {
  it("is a viewer by its client id (common_name): a metrics scraper", async () => {
    const scraper = () => accessToken({ claims: { common_name: "scraper.access" } });
    expect((await asAccess("/metrics", scraper())).status).toBe(200);
    expect((await asAccess("/flagged", scraper())).status).toBe(403);
  });
});

describe("a token that proves nothing", () => {
  const now = () => Math.floor(Date.now() / 1000);
  it.each([
    ["expired", () => accessToken({ expiresAt: now() - 1 })],
    ["not yet valid", () => accessToken({ notBefore: now() + 600 })],
    ["for another application (audience)", () => accessToken({ audience: "b2".repeat(32) })],
    ["from another team (issuer)", () => accessToken({ issuer: "https://evil.cloudflareaccess.com" })],
    ["forged: signed with another key under the team key's id", () => accessToken({ key: otherKey })],
    ["signed with a key the team never published", () => accessToken({ kid: "unknown-key" })],
    ["tampered with: the payload changed after signing", async () => {
      const [header, , signature] = (await accessToken({ claims: { email: "eve@example.com" } })).split(".");
      const payload = btoa(JSON.stringify({ email: "ops@example.com", aud: [AUDIENCE], iss: TEAM, exp: now() + 3600 })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
      return `${header}.${payload}.${signature}`;
    }],
    ["unsigned (alg none)", async () => {
      const part = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "");
      return `${part({ alg: "none", typ: "JWT" })}.${part({ email: "ops@example.com", aud: [AUDIENCE], iss: TEAM, exp: now() + 3600 })}.`;
    }],
    ["about nobody (no email, no service token)", () => accessToken({ claims: { groups: ["icd-operators"] } })],
    ["not a token at all", async () => "not-a-jwt"],
  ])("is refused with 401 when %s", async (_, token) => {
    const response = await asAccess("/stats", token());
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain("users");
  });

  it("does not fall back to another credential: an invalid Access token beside a valid key is still 401", async () => {
    const response = await asAccess("/stats", accessToken({ expiresAt: now() - 1 }), { headers: { Authorization: `Bearer ${env.TEST_KEYS.operator}` } });
    expect(response.status).toBe(401);
  });
});

describe("the team's keys", () => {
  it("are fetched once and kept, not fetched per request", async () => {
    const before = certsFetched;
    for (let i = 0; i < 5; i++) expect((await asAccess("/series?minutes=5", accessToken())).status).toBe(200);
    expect(certsFetched - before).toBe(0);
    expect(certsFetched).toBeGreaterThanOrEqual(1);
  });
});
