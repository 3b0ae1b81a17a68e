// The operator dashboard in a real browser (Debian's Chromium, driven by playwright-core) against the
// real service as `npm start` runs it: wrangler dev with local D1 and Durable Objects, on a free port
// and with a state directory of its own, so the totals on the page are exactly what this file sent.
// The scenario runs twice, once for each way an operator opens the page: with `admin:<token>@` in the
// address, and by answering the browser's Basic prompt. Each run sends its own traffic and flags its
// own enumerator; the totals are what both runs sent so far.
//
// Runs in Node (the "service" project of test/vitest.config.ts), not in the Workers pool.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ICD } from "../../src/proto/icd.js";
import { type Service, adminToken, callIcd, pseudonymOf, startService } from "./service";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const POLL = { timeout: 30_000, interval: 250 };

let service: Service | undefined;
let stateDir: string;
let base: string;
let token: string;
let browser: Browser;

// A fresh machine may not have Chromium: the test then says so and is skipped, unless
// ICD_REQUIRE_BROWSER=1 (set by .ci/run, which installs it), where its absence fails the run.
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  if (process.env.ICD_REQUIRE_BROWSER === "1") throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  console.warn(`SKIPPED the dashboard's browser test: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  stateDir = mkdtempSync(path.join(tmpdir(), "icd-dashboard-"));
  service = await startService(stateDir);
  base = service.base;
  token = adminToken();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 150_000);

afterAll(async () => {
  if (!HAVE_CHROMIUM) return;
  await browser?.close();
  await service?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}, 30_000);

// --- the ICD protocol, over HTTP ---

const randomId = () => crypto.getRandomValues(new Uint8Array(32));
const randomIds = (n: number) => Array.from({ length: n }, randomId);
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

interface Client {
  user: Uint8Array;
  authToken: Uint8Array;
}

const call = (endpoint: string, request: ICD.IRequest) => callIcd(base, endpoint, request);

async function register(): Promise<Client> {
  const client = { user: randomId(), authToken: randomId() };
  const { status } = await call("/user/register", client);
  expect(status).toBe(200);
  return client;
}

/** A sync the service answers; returns how many identifiers it matched (added plus removed). */
async function sync(kind: "full" | "incremental", client: Client, identifiers: Uint8Array[]): Promise<number> {
  const { status, answer } = await call(`/discovery/${kind}`, { ...client, identifiers });
  expect(status).toBe(200);
  return answer.addedUsers.length + answer.removedUsers.length;
}

const admin = (endpoint: string, init: RequestInit = {}) =>
  fetch(`${base}/admin${endpoint}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...init.headers } });
const adminJson = async (endpoint: string) => (await admin(endpoint)).json() as Promise<any>;

type Opening = "address" | "prompt";

/**
 * A fresh browser context, and the address to open /admin/ at with `password` as the admin token:
 * in the address itself, or given to the Basic prompt (playwright answers it). Without a password,
 * the bare address and no answer.
 */
async function openDashboard(opening: Opening, password?: string): Promise<{ context: BrowserContext; page: Page; url: string }> {
  const context = await browser.newContext(opening === "prompt" && password !== undefined ? { httpCredentials: { username: "admin", password } } : {});
  const page = await context.newPage();
  const url = new URL("/admin/", base);
  if (opening === "address" && password !== undefined) {
    url.username = "admin";
    url.password = password;
  }
  return { context, page, url: url.href };
}

// --- the scenario ---

// What the whole file sent, across both runs: the service's series sums all of it.
const sent = { syncs: 0, full: 0, incremental: 0, identifiers: 0, matches: 0, refusals: 0, flags: 0 };

const OPENINGS: { opening: Opening; how: string }[] = [
  { opening: "address", how: "with admin:<token>@ in its address" },
  { opening: "prompt", how: "through the browser's Basic prompt" },
];

describe.skipIf(!HAVE_CHROMIUM).each(OPENINGS)("operator dashboard, opened $how", ({ opening }) => {
  let honest: Client[];
  let enumerator: Client;

  beforeAll(async () => {
    // A run that failed before its Clear leaves its enumerator flagged: each run starts with none.
    for (const { id } of (await adminJson("/flagged")).clients) expect((await admin(`/clients/${id}/clear`, { method: "POST" })).status).toBe(200);
    // 40 contacts, the first 12 of them registered.
    const contacts = randomIds(40);
    expect((await call("/test/add/many", { identifiers: contacts.slice(0, 12) })).status).toBe(200);
    honest = [await register(), await register(), await register()];
    const [alice, bob, carol] = honest as [Client, Client, Client];
    const syncs: [kind: "full" | "incremental", Client, Uint8Array[], expectedMatches: number][] = [
      ["full", alice, contacts.slice(0, 30), 12],
      ["full", bob, [...contacts.slice(5, 40), ...randomIds(5)], 7],
      ["full", carol, contacts.slice(10, 25), 2],
      // All 12 were registered within S2_DELTA, so an incremental check reports the 12 among the first 20.
      ["incremental", carol, contacts.slice(0, 20), 12],
    ];
    for (const [kind, client, identifiers, expectedMatches] of syncs) {
      expect(await sync(kind, client, identifiers)).toBe(expectedMatches);
      count(kind, identifiers.length, expectedMatches);
    }
    // 20,000 random numbers, none registered: a hit ratio far below any address book's.
    enumerator = await register();
    expect(await sync("full", enumerator, randomIds(20_000))).toBe(0);
    count("full", 20_000, 0);
    sent.flags += 1; // the test below waits until detection has flagged it
    // Its bucket is now full: one more is refused (and is not a sync).
    expect((await call("/discovery/full", { ...enumerator, identifiers: randomIds(1) })).status).toBe(429);
    sent.refusals += 1;
  }, 120_000);

  function count(kind: "full" | "incremental", identifiers: number, matches: number) {
    sent.syncs += 1;
    sent[kind] += 1;
    sent.identifiers += identifiers;
    sent.matches += matches;
  }

  it("refuses the page without the admin token, with a Basic challenge a browser answers", async () => {
    for (const page of ["/admin/", "/admin"]) {
      const response = await fetch(`${base}${page}`);
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic realm="icd admin"/);
      expect(await response.text()).not.toContain("<html");
    }
    const wrong = `Basic ${Buffer.from("admin:not-the-token").toString("base64")}`;
    expect((await fetch(`${base}/admin/`, { headers: { Authorization: wrong } })).status).toBe(401);

    // A browser answers the challenge with what it was given, and without the right token gets no
    // page: Chromium shows the 401, or (with nothing to answer) gives up on the navigation.
    for (const password of [undefined, "not-the-token"]) {
      const { context, page, url } = await openDashboard(opening, password);
      const outcome = await page.goto(url).then((r) => String(r?.status()), (e: Error) => e.message);
      expect(outcome).toMatch(/^401$|ERR_INVALID_AUTH_CREDENTIALS/);
      expect(await page.getByTestId("total-syncs").count()).toBe(0);
      await context.close();
    }
  });

  it("shows the totals sent, the flagged client and why, the detection settings, and clears a flag", async () => {
    // Monitoring and detection run after each response: wait until the API has caught up.
    await expect.poll(async () => totals((await adminJson("/series?minutes=60")).minutes), POLL).toEqual(sent);
    const enumeratorId = `~${toHex(pseudonymOf(enumerator.user))}`; // the flagged list names clients by pseudonym
    await expect.poll(async () => (await adminJson("/flagged")).clients.map((c: { id: string }) => c.id), POLL).toContain(enumeratorId);
    const flagged = (await adminJson("/flagged")).clients.find((c: { id: string }) => c.id === enumeratorId);
    const detection = await adminJson("/detection");

    const { context, page, url } = await openDashboard(opening, token);
    const problems = watchForProblems(page);
    const response = await page.goto(url);
    expect(response?.status()).toBe(200);

    const shown = (testid: string) => page.getByTestId(testid).textContent();
    const number = (n: number) => n.toLocaleString("en-US");
    await expect.poll(() => shown("total-identifiers"), POLL).toBe(number(sent.identifiers));
    expect(await shown("total-syncs")).toBe(number(sent.syncs));
    expect(await shown("total-full")).toBe(number(sent.full));
    expect(await shown("total-incremental")).toBe(number(sent.incremental));
    expect(await shown("total-matches")).toBe(number(sent.matches));
    expect(await shown("total-refusals")).toBe(number(sent.refusals));
    expect(await shown("total-flags")).toBe(number(sent.flags));
    expect(await page.locator("[data-testid^=chart-]").count()).toBe(5);

    // The enumerator is listed with the hit-ratio rule and the API's explanation; honest clients are not.
    const row = page.locator(`[data-testid=flagged-row][data-client="${enumeratorId}"]`);
    await expect.poll(() => row.count(), POLL).toBe(1);
    expect(await row.getByTestId("reason-rule").allTextContents()).toContain("hit-ratio");
    expect(await row.getByTestId("reason-message").allTextContents()).toEqual(flagged.reasons.map((r: { message: string }) => r.message));
    for (const client of honest) expect(await page.locator(`[data-client="${toHex(client.user)}"]`).count()).toBe(0);
    expect(await shown("flagged-count")).toBe("1");

    expect(await shown("budget-max-contacts")).toBe(number(detection.budgets.maxContacts));
    expect(await shown("budget-s2-period")).toContain(number(detection.budgets.s2PeriodSeconds));
    expect(await shown("budget-s2-delta")).toContain(number(detection.budgets.s2DeltaSeconds));
    for (const name of Object.keys(detection.rules)) expect(await page.getByTestId(`rule-${name}`).count()).toBe(1);
    expect(await shown("norm-samples")).not.toBe("–");

    // The longer windows sum the same minutes into wider bins.
    for (const window of ["day", "month", "hour"]) {
      await page.getByTestId(`window-${window}`).click();
      await expect.poll(() => page.getByTestId(`window-${window}`).getAttribute("aria-pressed"), POLL).toBe("true");
      await expect.poll(() => shown("total-identifiers"), POLL).toBe(number(sent.identifiers));
    }

    if (process.env.DASHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });

    await row.getByTestId("clear").click();
    await expect.poll(() => row.count(), POLL).toBe(0);
    expect(await page.getByTestId("flagged-empty").isVisible()).toBe(true);
    expect(await adminJson(`/clients/${enumeratorId}`)).toMatchObject({ flagged: false });
    expect(await page.getByTestId("error").isVisible()).toBe(false);

    expect(problems).toEqual([]);
    await context.close();
  });
});

/** The sums of the per-minute series. */
function totals(minutes: Record<string, number>[]): Record<string, number> {
  const sum = (name: string) => minutes.reduce((total, m) => total + (m[name] ?? 0), 0);
  const names = ["syncs", "full", "incremental", "identifiers", "matches", "refusals", "flags"];
  return Object.fromEntries(names.map((name) => [name, sum(name)]));
}

/** Console errors (a CSP violation is one), uncaught exceptions and failed requests of the page. */
function watchForProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  return problems;
}
