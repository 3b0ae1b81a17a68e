// Runs against `[env.production]`: QUARANTINE_BUDGET = 0 (a flagged client's full syncs are refused),
// the network rule on, and alerts sent to ALERT_WEBHOOK_URL.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { toHex } from "../../src/core/hex";
import { keyedHash } from "../../src/core/token";
import { type Client, accountService, admin, encodeRequest, enroll, randomIds } from "../helpers";

// Clients are enrolled as in production: by the account service, through its Service Binding.
let ipCounter = 1;
/** A fresh client network per test, so the per-network limits of one test do not reach the next. */
const newNetwork = () => `198.18.${Math.floor(ipCounter / 250)}.${ipCounter++ % 250}`;

async function sync(kind: "full" | "incremental", client: Client, ids: Uint8Array[], ip: string) {
  const response = await exports.default.fetch(`https://icd.test/discovery/${kind}`, { method: "POST", body: encodeRequest(client, ids), headers: { "CF-Connecting-IP": ip } });
  await response.arrayBuffer();
  return response;
}

const operator = (path: string, init: RequestInit = {}) => admin(path, { ...init, as: "operator" });
const view = async (client: Client) => (await (await operator(`/clients/${toHex(client.user)}`)).json()) as { flagged: boolean };
const flaggedSoon = (client: Client) => vi.waitFor(async () => expect((await view(client)).flagged).toBe(true), { timeout: 20_000, interval: 50 });

describe("quarantine", () => {
  it("refuses a flagged client's full syncs (429, no Retry-After: waiting does not help) until an operator clears it", async () => {
    const ip = newNetwork();
    const client = await enroll();
    expect((await sync("full", client, randomIds(1_000), ip)).status).toBe(200);
    await flaggedSoon(client);
    const refused = await sync("full", client, randomIds(10), ip);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Retry-After")).toBeNull();
    // Incremental syncs reveal only recent changes; they stay open to a flagged client.
    expect((await sync("incremental", client, randomIds(10), ip)).status).toBe(200);
    // The refusal charged nothing; after the clear, full syncs are answered again.
    const level = async () => ((await (await operator(`/clients/${toHex(client.user)}`)).json()) as { buckets: { full: { level: number } } }).buckets.full.level;
    expect(await level()).toBeCloseTo(1_000, 0);
    expect((await operator(`/clients/${toHex(client.user)}/clear`, { method: "POST" })).status).toBe(200);
    expect((await sync("full", client, randomIds(10), ip)).status).toBe(200);
  });
});

describe("probation", () => {
  it("holds a new client's full syncs to DETECT_PROBATION_LIMIT until it is judged, then opens the bucket", async () => {
    const ip = newNetwork();
    // A directory to find: 500 users imported through the account service.
    const users = randomIds(500);
    const tokenHash = toHex(new Uint8Array(32));
    const imported = await accountService("import", { users: users.map((u) => [toHex(u), tokenHash]) });
    expect(imported.result).toEqual({ received: 500, imported: 500 });
    const client = await enroll();
    const tooMuch = await sync("full", client, randomIds(1_001), ip);
    expect(tooMuch.status).toBe(429);
    expect(tooMuch.headers.get("Retry-After")).toBeNull(); // a smaller request helps, waiting does not
    // An address book of 1,000 with half of it registered: judged, and honest.
    expect((await sync("full", client, [...users, ...randomIds(500)], ip)).status).toBe(200);
    await vi.waitFor(async () => {
      const signals = ((await (await operator(`/clients/${toHex(client.user)}`)).json()) as { signals: { identifiers: { full: number }; judged?: boolean } | null }).signals;
      expect(signals).toMatchObject({ identifiers: { full: 1_000 }, judged: true });
    }, { timeout: 20_000, interval: 50 });
    expect(await view(client)).toMatchObject({ flagged: false });
    expect((await sync("full", client, randomIds(12_000), ip)).status).toBe(200);
  });
});

describe("alerts", () => {
  it("posts each new flag to the webhook, with a keyed hash and the reasons, never the identifier", async () => {
    const sent = globalThis.sentAlerts; // test/production/webhook-sink.ts
    const client = await enroll();
    expect((await sync("full", client, randomIds(1_000), newNetwork())).status).toBe(200);
    const subject = await keyedHash(env.AUDIT_KEY, client.user);
    await vi.waitFor(() => expect(sent.some((s) => s.body.detail?.subject === subject)).toBe(true), { timeout: 20_000, interval: 50 });
    const alert = sent.find((s) => s.body.detail?.subject === subject)!;
    expect(alert.url).toBe(env.ALERT_WEBHOOK_URL);
    expect(alert.body).toMatchObject({ service: "icd", type: "flag", detail: { reasons: [{ rule: "hit-ratio" }] } });
    expect(alert.body.detail.subject).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(alert.body)).not.toContain(toHex(client.user));
  });
});

describe("the network rule", () => {
  it("throttles a network's new clients past its daily allowance and alerts, without flagging or refusing its existing clients", async () => {
    const ip = newNetwork();
    const clients: Client[] = [];
    for (let i = 0; i < 20; i++) {
      const client = await enroll();
      expect((await sync("full", client, randomIds(50), ip)).status).toBe(200);
      clients.push(client);
    }
    const oneTooMany = await enroll();
    const refused = await sync("full", oneTooMany, randomIds(50), ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBe(86_400);
    // Nothing was charged to the refused client, and the network's older clients go on as before.
    expect((await (await operator(`/clients/${toHex(oneTooMany.user)}`)).json()) as object).toMatchObject({ buckets: { full: { level: 0 } } });
    expect((await sync("incremental", clients[0]!, randomIds(50), ip)).status).toBe(200);
    for (const client of clients.slice(0, 3)) expect(await view(client)).toMatchObject({ flagged: false });
    // Still throttled for the next new client; another network is not affected.
    expect((await sync("full", await enroll(), randomIds(1), ip)).status).toBe(429);
    expect((await sync("full", oneTooMany, randomIds(50), newNetwork())).status).toBe(200);
    const alerts = (await (await admin("/alerts", { as: "viewer" })).json()) as { alerts: { type: string; detail: { network: string; limit: number } }[] };
    expect(alerts.alerts).toContainEqual(expect.objectContaining({ type: "network", detail: expect.objectContaining({ network: ip, limit: 20 }) }));
    const audit = (await (await operator("/audit?limit=50")).json()) as { action: string; detail: { network?: string } }[];
    expect(audit).toContainEqual(expect.objectContaining({ action: "throttle-network", detail: expect.objectContaining({ network: ip, limit: 20 }) }));
  }, 20_000); // 22 registrations, each noted in the 48 replicas of its part of the S2 index
});
