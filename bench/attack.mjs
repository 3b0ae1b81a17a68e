#!/usr/bin/env node
// What a careful attacker learns from the production configuration run locally:
// `node bench/attack.mjs [--sleepers 20] [--crowd 20] [--mimics 3] [--rounds 20] [--honest 0] [--wait 180]
//  [--directory 50000] [--port 8798] [--var NAME=VALUE ...] [--label NAME]` (npm run attack).
// Each strategy group runs on a server of its own (`scripts/start.mjs --env production` on a fresh
// --persist-to directory, admin user routes opened so that the script can register accounts and import
// the directory). The attacker draws candidates from a space where 10% are registered (a pool ten times
// the directory), every account on a network of its own (residential proxies), seeded with SEED users
// the crowd already knows.
//   late:  sleepers. Each first syncs a plausible book (1,000 numbers, 40% registered, from found
//          numbers); then, "days later" -- stood in for by DETECT_YOUNG_HOURS=0 and NOVELTY_FIRST_HOURS=0
//          on this server -- enumerates at 10% density, padding every request with found numbers so that
//          its hit ratio stays ~40%, for ROUNDS requests.
//   fresh: a padded crowd of fresh accounts (same padding from their first request), and CRM-book mimics
//          (a 20,000-contact first sync at ~15% registered, then padded enumeration), with the
//          production NOVELTY_FIRST_HOURS so that their first-book window is open.
// A careful attacker obeys the service: refused with ICD-Novelty-Room it sends only that many new
// identifiers; refused without Retry-After it halves its batch; with a Retry-After of a few seconds it
// waits; a longer one ends its run here (it would come back then: recorded as `waitAskedSeconds`).
// With --honest N, N honest clients re-sync a 300-contact book (40% registered) throughout. After the
// attack no traffic for WAIT seconds, then GET /admin/alerts and /admin/flagged (the local
// configuration has no ALERT_WEBHOOK_URL: alerts are read from the admin API).
// Writes bench/attack.json (under --label, default "novelty-on" or "novelty-off") and prints a table.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { ICD } from "../src/proto/icd.js";
import { request } from "./http.mjs";
import { enroll, importDirectory as importUsersVia, startServer } from "./traffic.mjs";

const { values } = parseArgs({
  options: {
    sleepers: { type: "string", default: "20" },
    crowd: { type: "string", default: "20" },
    mimics: { type: "string", default: "3" },
    rounds: { type: "string", default: "20" },
    honest: { type: "string", default: "0" },
    wait: { type: "string", default: "180" },
    directory: { type: "string", default: "50000" },
    port: { type: "string", default: "8798" },
    var: { type: "string", multiple: true, default: [] },
    label: { type: "string" },
    only: { type: "string" },
  },
});
const N = { sleepers: Number(values.sleepers), crowd: Number(values.crowd), mimics: Number(values.mimics), rounds: Number(values.rounds), honest: Number(values.honest) };
const WAIT = Number(values.wait);
const DIRECTORY = Number(values.directory);
const DENSITY = 0.1;
const SEED = 500;
const BATCH = 500; // new candidates per request, before refusals shrink it
const MAX_WAIT = 5; // seconds a run waits on a Retry-After; longer ends the account's run
const CONCURRENCY = 4;
const TOKEN = randomBytes(24).toString("hex");
const base = `http://localhost:${values.port}`;
const admin = { Authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const hex = (b) => Buffer.from(b).toString("hex");
const id = () => new Uint8Array(randomBytes(32));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const noveltyOff = values.var.some((v) => /^NOVELTY_PER_DAY=0$/.test(v));
const label = values.label ?? (noveltyOff ? "novelty-off" : "novelty-on");

function startService(extra) {
  const vars = ["ADMIN_USER_ROUTES=true", "ADMIN_TOKEN_LEGACY=true", `ADMIN_TOKEN=${TOKEN}`, "S2_INDEX_BUILD_DELAY_SECONDS=0", ...values.var, ...extra].flatMap((v) => ["--var", v]);
  return startServer({ port: values.port, prefix: "icd-attack-", args: ["--env", "production", ...vars] });
}

const register = (account) => enroll(base, admin, account);
const importDirectory = (directory) => importUsersVia(base, admin, directory);

async function sync(account, identifiers) {
  const body = ICD.Request.encode({ user: account.user, authToken: account.authToken, identifiers }).finish();
  const r = await request(`${base}/discovery/full`, { method: "POST", body, headers: { "CF-Connecting-IP": account.ip } });
  const out = { status: r.status, retryAfter: r.headers["retry-after"] !== undefined ? Number(r.headers["retry-after"]) : undefined, room: r.headers["icd-novelty-room"] !== undefined ? Number(r.headers["icd-novelty-room"]) : undefined, users: [] };
  if (r.status === 200) out.users = ICD.Response.decode(r.body).addedUsers ?? [];
  return out;
}

/** The attacker's world: the directory, its candidate space (10% registered) and what the crowd has found. */
function world() {
  const directory = Array.from({ length: DIRECTORY }, id);
  const found = new Map(); // hex -> bytes, shared by the crowd
  for (const u of directory.slice(0, SEED)) found.set(hex(u), u);
  const candidate = () => (Math.random() < DENSITY ? directory[Math.floor(Math.random() * DIRECTORY)] : id());
  const foundSample = (n) => {
    const all = [...found.values()];
    const out = [];
    for (let k = 0; k < n && all.length > 0; k++) out.push(all[Math.floor(Math.random() * all.length)]);
    return out;
  };
  return { directory, found, candidate, foundSample };
}

let ipCounter = 0;
function newAccount(strategy) {
  const k = ipCounter++;
  return { strategy, user: id(), authToken: id(), ip: `${11 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.${20 + (k % 200)}`, revealed: new Set(), requests: 0, refusals: 0, noveltyRefusals: 0, waitAskedSeconds: 0, done: false };
}

/** One request of `n` new candidates padded with found numbers (`padShare` of the request's size as found). */
async function padded(w, a, n, padShare) {
  const fresh = Array.from({ length: n }, w.candidate);
  const pad = w.foundSample(Math.round((n * padShare) / (1 - padShare)));
  const r = await sync(a, [...fresh, ...pad]);
  a.requests++;
  if (r.status === 200) {
    const freshHex = new Set(fresh.map(hex));
    for (const u of r.users) {
      const h = hex(u);
      if (freshHex.has(h)) a.revealed.add(h);
      w.found.set(h, u);
    }
  } else if (r.status === 429) {
    a.refusals++;
    if (r.room !== undefined) a.noveltyRefusals++;
  }
  return r;
}

/** Enumerate for `rounds` requests, obeying the service as a careful attacker does. */
async function enumerate(w, a, rounds) {
  let n = BATCH;
  for (let k = 0; k < rounds && !a.done; k++) {
    const r = await padded(w, a, n, 1 / 3); // n new at 10% + n/2 found: (0.1n + 0.5n) / 1.5n = 40%
    if (r.status === 200) continue;
    if (r.status !== 429) {
      a.done = true; // flagged or refused for good
      a.endedWith = r.status;
      break;
    }
    if (r.room !== undefined && r.room > 0 && r.room < n) n = r.room;
    else if (r.retryAfter === undefined) n = Math.max(1, Math.floor(n / 2));
    if (r.retryAfter !== undefined) {
      if (r.retryAfter > MAX_WAIT) {
        a.waitAskedSeconds = r.retryAfter;
        a.done = true;
        a.endedWith = "retry-after";
        break;
      }
      await sleep(r.retryAfter * 1000);
    }
  }
}

async function sleeper(w, a) {
  await register(a);
  const book = [...w.foundSample(400), ...Array.from({ length: 600 }, id)];
  a.firstBook = (await sync(a, book)).status;
  a.requests++;
  await enumerate(w, a, N.rounds);
}

async function crowdAccount(w, a) {
  await register(a);
  await enumerate(w, a, N.rounds);
}

async function mimic(w, a) {
  await register(a);
  // x found + (20,000 - x) candidates at 10%: 15% registered at x = 1,111
  let book = shuffle([...w.foundSample(1111), ...Array.from({ length: 20_000 - 1111 }, w.candidate)]);
  a.firstBook = [];
  while (book.length > 0) {
    const r = await sync(a, book);
    a.requests++;
    a.firstBook.push(r.status);
    if (r.status === 200) {
      const bookHex = new Set(book.map(hex));
      for (const u of r.users) {
        const h = hex(u);
        if (bookHex.has(h) && !w.found.has(h)) a.revealed.add(h);
        w.found.set(h, u);
      }
      break;
    }
    if (r.status !== 429) break;
    a.refusals++;
    if (r.room !== undefined) a.noveltyRefusals++;
    if (r.retryAfter !== undefined && r.retryAfter > MAX_WAIT) {
      a.waitAskedSeconds = r.retryAfter;
      break;
    }
    if (r.retryAfter !== undefined) await sleep(r.retryAfter * 1000);
    else book = book.slice(0, Math.floor(book.length / 2)); // what fits now, as the client library does
  }
  await enumerate(w, a, N.rounds);
}

function shuffle(xs) {
  for (let k = xs.length - 1; k > 0; k--) {
    const j = Math.floor(Math.random() * (k + 1));
    [xs[k], xs[j]] = [xs[j], xs[k]];
  }
  return xs;
}

async function pool(tasks, limit) {
  const queue = [...tasks];
  await Promise.all(Array.from({ length: limit }, async () => {
    while (queue.length > 0) await queue.shift()();
  }));
}

async function honestTraffic(w, stop) {
  const clients = Array.from({ length: N.honest }, () => ({ ...newAccount("honest"), book: null, refused: 0, syncs: 0 }));
  for (const c of clients) {
    await register(c);
    const start = Math.floor(Math.random() * (DIRECTORY - 120));
    c.book = [...w.directory.slice(start, start + 120), ...Array.from({ length: 180 }, id)];
  }
  while (!stop.now) {
    for (const c of clients) {
      const r = await sync(c, c.book);
      c.syncs++;
      if (r.status !== 200) c.refused++;
    }
    await sleep(2000);
  }
  return clients;
}

function summarise(accounts, flagged) {
  const revealed = accounts.map((a) => a.revealed.size);
  const byRule = {};
  let flaggedCount = 0;
  for (const a of accounts) {
    const f = flagged.get(hex(a.user));
    if (!f) continue;
    flaggedCount++;
    for (const r of f.reasons ?? []) byRule[r.rule] = (byRule[r.rule] ?? 0) + 1;
  }
  return {
    accounts: accounts.length,
    revealedMean: revealed.length ? Math.round(revealed.reduce((x, y) => x + y, 0) / revealed.length) : 0,
    revealedMax: revealed.length ? Math.max(...revealed) : 0,
    requests: accounts.reduce((s, a) => s + a.requests, 0),
    refusals: accounts.reduce((s, a) => s + a.refusals, 0),
    noveltyRefusals: accounts.reduce((s, a) => s + a.noveltyRefusals, 0),
    stoppedOnLongRetryAfter: accounts.filter((a) => a.endedWith === "retry-after").length,
    medianWaitAskedSeconds: median(accounts.filter((a) => a.waitAskedSeconds > 0).map((a) => a.waitAskedSeconds)),
    flagged: flaggedCount,
    flaggedByRule: byRule,
    firstBookStatuses: accounts.some((a) => a.firstBook !== undefined) ? accounts.map((a) => a.firstBook) : undefined,
  };
}
const median = (xs) => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);

/** One group of strategies on a server of its own. */
async function runGroup(name, extraVars, strategies) {
  const { server, state } = await startService(extraVars);
  try {
    const w = world();
    await importDirectory(w.directory);
    const stop = { now: false };
    const honest = N.honest > 0 ? honestTraffic(w, stop) : Promise.resolve([]);
    const started = Date.now();
    const accounts = {};
    const tasks = [];
    for (const [strategy, count, fn] of strategies) {
      accounts[strategy] = Array.from({ length: count }, () => newAccount(strategy));
      for (const a of accounts[strategy]) tasks.push(() => fn(w, a));
    }
    await pool(tasks, CONCURRENCY);
    const attackSeconds = (Date.now() - started) / 1000;
    stop.now = true;
    const honestClients = await honest;
    await sleep(WAIT * 1000); // no traffic: are alerts raised anyway?
    const alerts = JSON.parse((await request(`${base}/admin/alerts?limit=1000`, { headers: admin })).body).alerts ?? [];
    const flaggedList = JSON.parse((await request(`${base}/admin/flagged`, { headers: admin })).body).clients ?? [];
    const flagged = new Map(flaggedList.map((f) => [String(f.id).replace(/^~/, ""), f]));
    const first = [...alerts].sort((a, b) => a.at - b.at).find((a) => a.at >= started);
    const alertKinds = {};
    for (const a of alerts) alertKinds[a.type] = (alertKinds[a.type] ?? 0) + 1;
    return {
      vars: extraVars,
      attackSeconds,
      crowdFound: w.found.size - SEED,
      strategies: Object.fromEntries(Object.entries(accounts).map(([s, list]) => [s, summarise(list, flagged)])),
      honest: { clients: honestClients.length, syncs: honestClients.reduce((s, c) => s + c.syncs, 0), refused: honestClients.reduce((s, c) => s + c.refused, 0), flagged: honestClients.filter((c) => flagged.has(hex(c.user))).length },
      alerts: { count: alerts.length, kinds: alertKinds, firstAfterSeconds: first ? Math.round((first.at - started) / 1000) : null, firstType: first?.type ?? null, waitedSeconds: WAIT },
    };
  } finally {
    process.kill(-server.pid, "SIGTERM");
    await sleep(1000);
    fs.rmSync(state, { recursive: true, force: true });
  }
}

const groups = {};
if (!values.only || values.only === "late") {
  groups.late = await runGroup("late", ["DETECT_YOUNG_HOURS=0", "NOVELTY_FIRST_HOURS=0"], [["sleepers", N.sleepers, sleeper]]);
}
if (!values.only || values.only === "fresh") {
  groups.fresh = await runGroup("fresh", [], [["paddedCrowd", N.crowd, crowdAccount], ["crmMimics", N.mimics, mimic]]);
}
const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
const result = {
  commit,
  at: new Date().toISOString(),
  command: `npm run attack -- ${process.argv.slice(2).join(" ")}`.trim(),
  configuration: `production (scripts/start.mjs --env production)${values.var.length ? ` with ${values.var.join(", ")}` : ""}; admin user routes open; the sleepers' server with DETECT_YOUNG_HOURS=0 and NOVELTY_FIRST_HOURS=0 standing in for "days later"`,
  sizes: { directory: DIRECTORY, density: DENSITY, seed: SEED, ...N, batch: BATCH, maxWaitSeconds: MAX_WAIT },
  groups,
};
const file = new URL("./attack.json", import.meta.url);
const kept = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
fs.writeFileSync(file, JSON.stringify({ ...kept, [label]: result }, null, 2) + "\n");

console.log(`${label}: sleepers on a server with DETECT_YOUNG_HOURS=0 NOVELTY_FIRST_HOURS=0 (standing in for days later); crowd and mimics fresh`);
console.log(`${"strategy".padEnd(14)} ${"accts".padStart(5)} ${"mean".padStart(6)} ${"max".padStart(6)} ${"reqs".padStart(5)} ${"429".padStart(5)} ${"nov429".padStart(6)} ${"flagged (rules)".padEnd(28)} first alert`);
for (const [g, r] of Object.entries(groups)) {
  for (const [s, x] of Object.entries(r.strategies)) {
    const rules = Object.entries(x.flaggedByRule).map(([k, v]) => `${k}:${v}`).join(" ");
    console.log(`${s.padEnd(14)} ${String(x.accounts).padStart(5)} ${String(x.revealedMean).padStart(6)} ${String(x.revealedMax).padStart(6)} ${String(x.requests).padStart(5)} ${String(x.refusals).padStart(5)} ${String(x.noveltyRefusals).padStart(6)} ${`${x.flagged} ${rules}`.padEnd(28)} ${r.alerts.firstAfterSeconds === null ? "none" : `${r.alerts.firstAfterSeconds}s ${r.alerts.firstType}`} (${g})`);
  }
  console.log(`  ${g}: honest ${r.honest.clients} clients, ${r.honest.syncs} syncs, ${r.honest.refused} refused, ${r.honest.flagged} flagged; alerts ${JSON.stringify(r.alerts.kinds)}; crowd found ${r.crowdFound}`);
}
