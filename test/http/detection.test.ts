// Enumeration detection end to end: honest clients and enumerators through the real endpoints, then
// the operator's view through the admin API. Locally QUARANTINE_BUDGET = 1: flagged, not refused
// (test/production/detection.test.ts covers the refusal).

import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { toHex } from "../../src/core/hex";
import { type Client, admin, encodeRequest, post, randomIds, registered, seededIds, stored } from "../helpers";

const json = async (path: string, init?: RequestInit) => (await (await admin(path, init)).json()) as any;
const clientView = (client: Client) => json(`/clients/${toHex(client.user)}`);

/** Registers `n` users through the local hook and answers their identifiers. */
async function directory(n: number, ids = randomIds(n)): Promise<Uint8Array[]> {
  const response = await exports.default.fetch("https://icd.test/test/add/many", { method: "POST", body: encodeRequest({}, ids) });
  expect(response.status).toBe(200);
  return ids;
}

/** An honest address book: `size` contacts of which `share` are registered. */
function addressBook(users: Uint8Array[], size: number, share: number): Uint8Array[] {
  const known = Math.round(size * share);
  const start = Math.floor(Math.random() * (users.length - known));
  return [...users.slice(start, start + known), ...randomIds(size - known)];
}

const flaggedSoon = (client: Client) => vi.waitFor(async () => {
  const view = await clientView(client);
  if (!view.flagged) throw new Error("not flagged yet");
  return view;
}, { timeout: 20_000, interval: 50 });

describe("enumeration detection", () => {
  it("flags an enumerator of random numbers in its first burst, and no honest client", async () => {
    const users = await directory(5_000);
    const honest: Client[] = [];
    for (let i = 0; i < 12; i++) {
      const client = await registered();
      const book = addressBook(users, 200 + 60 * i, 0.3 + 0.025 * i);
      expect((await post("/discovery/full", client, book)).status).toBe(200);
      expect((await post("/discovery/incremental", client, book)).status).toBe(200);
      honest.push(client);
    }
    const enumerator = await registered();
    const burst = await post("/discovery/full", enumerator, randomIds(20_000));
    expect(burst.status).toBe(200);

    const view = await flaggedSoon(enumerator);
    expect(view.reasons.map((r: { rule: string }) => r.rule)).toContain("hit-ratio");
    expect(view.signals).toMatchObject({ requests: { full: 1 }, identifiers: { full: 20_000 }, matches: { full: 0 } });
    for (const client of honest) expect(await clientView(client)).toMatchObject({ flagged: false, reasons: [] });

    const listed = await json("/flagged");
    // Named by their pseudonym, "~<hex>", which the admin routes take as well as an identifier.
    expect(listed.clients.map((c: { id: string }) => c.id)).toContain(`~${toHex(stored(enumerator.user))}`);
    expect(listed.clients.map((c: { id: string }) => c.id)).not.toContain(`~${toHex(stored(honest[0]!.user))}`);
  });

  it("flags a client checking more distinct identifiers than any address book", async () => {
    const client = await registered();
    // All registered, so the hit ratio is no reason: only the number of distinct identifiers is.
    // Identifiers that are the same on every run, so that the estimate of their number is too.
    expect((await post("/discovery/full", client, await directory(16_000, seededIds(16_000, 16)))).status).toBe(200);
    expect((await post("/discovery/incremental", client, seededIds(16_000, 17))).status).toBe(200);
    const view = await flaggedSoon(client);
    expect(view.reasons.map((r: { rule: string }) => r.rule)).toEqual(["distinct"]);
    expect(view.signals.distinct).toBeGreaterThan(30_000);
  });

  it("lets the operator clear a flag, audits it with a keyed hash, and lists it no more", async () => {
    const client = await registered();
    await post("/discovery/full", client, randomIds(20_000));
    await flaggedSoon(client);
    expect(await json(`/clients/${toHex(client.user)}/clear`, { method: "POST" })).toEqual({ flagged: false, wasFlagged: true });
    expect(await clientView(client)).toMatchObject({ flagged: false, signals: { identifiers: { full: 0 }, distinct: 0 } });
    expect((await json("/flagged")).clients.map((c: { id: string }) => c.id)).not.toContain(toHex(client.user));
    expect((await json("/flagged")).clients.map((c: { id: string }) => c.id)).not.toContain(`~${toHex(stored(client.user))}`);
    const audit = (await json("/audit?limit=200")) as { action: string; subject: string | null; detail: unknown }[];
    const actions = audit.map((e) => e.action);
    expect(actions).toContain("flag");
    expect(actions).toContain("clear-flag");
    expect(JSON.stringify(audit)).not.toContain(toHex(client.user));
    expect(audit.find((e) => e.action === "flag")!.subject).toMatch(/^[0-9a-f]{32}$/);
  });

  it("counts syncs, identifiers, matches and refusals in the series and in Prometheus", async () => {
    const before = await (await admin("/metrics")).text();
    const counter = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    const users = await directory(100);
    const client = await registered();
    await post("/discovery/full", client, [...users.slice(0, 40), ...randomIds(60)]);
    await post("/discovery/incremental", client, users.slice(0, 10));
    await post("/discovery/full", client, randomIds(19_950)); // 19,900 left: refused
    await vi.waitFor(async () => {
      const after = await (await admin("/metrics")).text();
      expect(counter(after, "icd_syncs_total") - counter(before, "icd_syncs_total")).toBe(2);
      expect(counter(after, "icd_full_syncs_total") - counter(before, "icd_full_syncs_total")).toBe(1);
      expect(counter(after, "icd_identifiers_checked_total") - counter(before, "icd_identifiers_checked_total")).toBe(110);
      expect(counter(after, "icd_matches_total") - counter(before, "icd_matches_total")).toBe(50);
      expect(counter(after, "icd_refusals_total") - counter(before, "icd_refusals_total")).toBe(1);
    }, { timeout: 20_000, interval: 50 });
    const metrics = await admin("/metrics");
    expect(metrics.headers.get("Content-Type")).toContain("text/plain; version=0.0.4");
    expect(await metrics.text()).toMatch(/# TYPE icd_flagged_clients gauge\nicd_flagged_clients \d+/);
    const series = await json("/series?minutes=5");
    const last = series.minutes.at(-1);
    expect(last.at).toBeLessThanOrEqual(series.to);
    expect(last.identifiers).toBeGreaterThanOrEqual(110);
  });

  it("shows the budgets, the rules and the learned norm", async () => {
    const detection = await json("/detection");
    expect(detection).toMatchObject({
      budgets: { maxContacts: 20000, s2PeriodSeconds: 86400, s2DeltaSeconds: 864000 },
      quarantineBudget: 1,
      rules: { maxDistinct: 30000, minVolume: 2000, hitRatioFactor: 0.25, edgeSyncs: 7, probationLimit: 20000 },
    });
    expect(detection.norm.hitRatio).toBeGreaterThan(0);
  });

  it("answers the admin endpoints of detection only with the admin token", async () => {
    for (const path of ["/flagged", "/series", "/detection", "/metrics", "/alerts", "/clients/00/clear"]) {
      const response = await admin(path, { token: "wrong-token-0123456789", method: path.endsWith("clear") ? "POST" : "GET" });
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toContain("Basic");
    }
    // Cached Basic credentials ride along with another site's form POST: such changes are refused.
    const client = await registered();
    const clear = (site: string) => admin(`/clients/${toHex(client.user)}/clear`, { method: "POST", headers: { "Sec-Fetch-Site": site } });
    expect((await clear("cross-site")).status).toBe(403);
    expect((await clear("same-site")).status).toBe(403);
    expect((await clear("same-origin")).status).toBe(200);
    const basic = await exports.default.fetch("https://icd.test/admin/detection", { headers: { Authorization: `Basic ${btoa(`admin:${"test-admin-token-0123456789"}`)}` } });
    expect(basic.status).toBe(200);
  });
});
