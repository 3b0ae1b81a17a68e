// Runs against `[env.production]`: QUARANTINE_BUDGET = 0 (a flagged client's full syncs are refused),
// the network rule on, and alerts sent to ALERT_WEBHOOK_URL.

import { env } from "cloudflare:workers";
import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { toHex } from "../../src/hex";
import { type Client, admin, encodeRequest, newClient, randomIds } from "../helpers";

let ipCounter = 1;
/** A fresh client network per test, so the per-network limits of one test do not reach the next. */
const newNetwork = () => `198.18.${Math.floor(ipCounter / 250)}.${ipCounter++ % 250}`;

async function enrolled(): Promise<Client> {
  const client = newClient();
  const response = await admin("/users", { method: "POST", body: JSON.stringify({ id: toHex(client.user), token: toHex(client.authToken) }) });
  expect(response.status).toBe(201);
  return client;
}

async function sync(kind: "full" | "incremental", client: Client, ids: Uint8Array[], ip: string) {
  const response = await SELF.fetch(`https://icd.test/discovery/${kind}`, { method: "POST", body: encodeRequest(client, ids), headers: { "CF-Connecting-IP": ip } });
  await response.arrayBuffer();
  return response;
}

const view = async (client: Client) => (await (await admin(`/clients/${toHex(client.user)}`)).json()) as { flagged: boolean };
const flaggedSoon = (client: Client) => vi.waitFor(async () => expect((await view(client)).flagged).toBe(true), { timeout: 5_000, interval: 50 });

afterEach(() => vi.restoreAllMocks());

describe("quarantine", () => {
  it("refuses a flagged client's full syncs (429, no Retry-After: waiting does not help) until an operator clears it", async () => {
    const ip = newNetwork();
    const client = await enrolled();
    expect((await sync("full", client, randomIds(5_000), ip)).status).toBe(200);
    await flaggedSoon(client);
    const refused = await sync("full", client, randomIds(10), ip);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Retry-After")).toBeNull();
    // Incremental syncs reveal only recent changes; they stay open to a flagged client.
    expect((await sync("incremental", client, randomIds(10), ip)).status).toBe(200);
    // The refusal charged nothing: after the clear, the rest of the full budget is there.
    expect((await admin(`/clients/${toHex(client.user)}/clear`, { method: "POST" })).status).toBe(200);
    expect((await sync("full", client, randomIds(15_000), ip)).status).toBe(200);
  });
});

describe("alerts", () => {
  it("posts each new flag to the webhook, with a keyed hash and the reasons, never the identifier", async () => {
    const sent: { url: string; body: any }[] = [];
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      if (request.url !== env.ALERT_WEBHOOK_URL) return realFetch(input, init);
      sent.push({ url: request.url, body: await request.json() });
      return new Response("ok");
    });
    const client = await enrolled();
    expect((await sync("full", client, randomIds(5_000), newNetwork())).status).toBe(200);
    await vi.waitFor(() => expect(sent.some((s) => s.body.type === "flag")).toBe(true), { timeout: 5_000, interval: 50 });
    const alert = sent.find((s) => s.body.type === "flag")!;
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
      const client = await enrolled();
      expect((await sync("full", client, randomIds(50), ip)).status).toBe(200);
      clients.push(client);
    }
    const oneTooMany = await enrolled();
    const refused = await sync("full", oneTooMany, randomIds(50), ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBe(86_400);
    // Nothing was charged to the refused client, and the network's older clients go on as before.
    expect((await (await admin(`/clients/${toHex(oneTooMany.user)}`)).json()) as object).toMatchObject({ buckets: { full: { level: 0 } } });
    expect((await sync("incremental", clients[0]!, randomIds(50), ip)).status).toBe(200);
    for (const client of clients.slice(0, 3)) expect(await view(client)).toMatchObject({ flagged: false });
    // Still throttled for the next new client; another network is not affected.
    expect((await sync("full", await enrolled(), randomIds(1), ip)).status).toBe(429);
    expect((await sync("full", oneTooMany, randomIds(50), newNetwork())).status).toBe(200);
    const alerts = (await (await admin("/alerts")).json()) as { alerts: { type: string; detail: { network: string; limit: number } }[] };
    expect(alerts.alerts).toContainEqual(expect.objectContaining({ type: "network", detail: expect.objectContaining({ network: ip, limit: 20 }) }));
  });
});
