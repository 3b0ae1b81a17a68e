// The operator's API under /admin/: JSON, for the roles of src/core/roles.ts. Every /admin/ path
// answers 401 without a valid credential, including paths that do not exist; a route registered here
// comes from the role table (`on`), so none can be added without saying who may use it.

import { type Context, type Handler, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../app-env";
import { bucketsOf } from "../../objects/client-buckets";
import { readAudit } from "../../db/audit";
import * as db from "../../db/users";
import { fromHex, toHex } from "../../core/hex";
import { EDGE_MARGIN, EDGE_SHARE } from "../../core/flag-rules";
import { SERIES_DAYS } from "../../objects/monitor";
import { announceUnflag, readAlerts, readCallsPerSync, readFlagged, readNorm, readSeries, readTotals } from "../../domain/monitoring";
import { dashboardRoutes } from "./dashboard";
import { reshardStatusRoute, reshardStepRoute } from "./reshard";
import { rekeyStatusRoute, rekeyStepRoute } from "./rekey";
import { prometheusText } from "../prometheus";
import { HOUR_MS, MINUTE_MS } from "../../core/time";
import type { Config } from "../../core/config";
import { hashToken } from "../../core/token";
import { keyingOf, pseudonymsOf, storedUser } from "../../domain/pseudonyms";
import { MAX_IMPORT_BATCH, clientOf, dismissUser, enrollUser, importUsers } from "../../domain/accounts";
import { recordChange } from "../../domain/audit";
import type { AdminRoute } from "../../core/roles";
import { actorOf, authenticate, authorize, noSuchEndpoint } from "../admin-auth";
import { MAX_IDENTIFIER_BYTES, MAX_TOKEN_BYTES, TOKEN_HASH_BYTES, identifierFromHex, isToken } from "../../core/wire";

export const adminRoutes = new Hono<AppEnv>();

/**
 * A browser sends cached Basic credentials with any site's form POST: refuse changes that another
 * site started (Fetch Metadata). The dashboard's own requests are same-origin; scripts and curl send
 * no Sec-Fetch-Site at all.
 */
const sameOriginChanges: MiddlewareHandler<AppEnv> = async (c, next) => {
  const site = c.req.header("Sec-Fetch-Site");
  if (!["GET", "HEAD"].includes(c.req.method) && site !== undefined && site !== "same-origin" && site !== "none") {
    return c.json({ error: "cross-site request refused" }, 403);
  }
  await next();
};

adminRoutes.use("*", authenticate);
adminRoutes.use("*", sameOriginChanges);
adminRoutes.use("*", bodyLimit({ maxSize: 4 * 1024 * 1024, onError: (c) => c.json({ error: "body too large" }, 413) }));

/** Registers a route of the role table, behind its roles. */
function on(route: Exclude<AdminRoute, "GET /">, handler: Handler<AppEnv>) {
  const [method, path] = route.split(" ") as [string, string];
  adminRoutes.on(method, path, authorize(route), handler);
}

export { MAX_IMPORT_BATCH };

/**
 * POST /admin/users/import {"users": [["<hex id>", "<hex SHA-256 of token>"], ...], "announce": false}
 * Idempotent: a batch sent again registers nobody twice, so an interrupted import can resend it.
 */
on("POST /users/import", async (c) => {
  const body = await c.req.json().catch(() => null);
  const parsed = parseImport(body);
  if (typeof parsed === "string") return c.json({ error: parsed }, 400);
  const imported = await importUsers(c.env, c.get("shards"), c.get("config"), actorOf(c), parsed.users, parsed.announce, Date.now());
  return c.json({ received: parsed.users.length, imported });
});

/** Records an operator's change with who made it; the identifier only as a keyed hash. */
const audit = (c: Context<AppEnv>, action: string, id: Uint8Array | null, detail: object = {}) =>
  recordChange(c.get("shards"), c.get("config"), actorOf(c), Date.now(), action, id, detail);

/** The identifier in the path, or null (the handler answers 400). */
const pathId = (c: Context<AppEnv>): Uint8Array | null => identifierFromHex(c.req.param("id"));
/**
 * The user in the path: their stored value (pseudonym), while a rotation lasts the one before, and
 * what the audit names them by (the identifier, or the pseudonym when that is what the path gave);
 * null: answer 400.
 */
const pathUser = async (c: Context<AppEnv>) => {
  // "~<32 hex digits>": a stored value itself, as the flagged list names clients (it knows no identifier).
  const given = /^~[0-9a-f]{32}$/.test(c.req.param("id") ?? "") ? fromHex(c.req.param("id")!.slice(1)) : null;
  if (given) return { user: given, previous: null, named: given };
  const id = pathId(c);
  return id ? { ...storedUser(await keyingOf(c.env, c.get("shards")), id), named: id } : null;
};
const badId = (c: Context<AppEnv>) => c.json({ error: `the identifier must be 1 to ${MAX_IDENTIFIER_BYTES} bytes in hex` }, 400);

const clientBuckets = (c: Context<AppEnv>, id: Uint8Array) => clientOf(c.env, c.get("shards"), c.get("config"), id);

/** GET /admin/clients/{hex id}: registration, block, and both buckets (level, when empty, largest request that fits). */
on("GET /clients/:id", async (c) => {
  const stored = await pathUser(c);
  if (!stored) return badId(c);
  const [credentials, view] = await Promise.all([
    db.findCredentials(c.get("shards"), stored.user, stored.previous),
    clientBuckets(c, stored.user).then((buckets) => buckets.inspectClient()),
  ]);
  return c.json({ registered: credentials !== null, ...view });
});

/** POST /admin/clients/{hex id}/clear: lifts an automatic flag (and its quarantine); the signals start afresh. */
on("POST /clients/:id/clear", async (c) => {
  const user = await pathUser(c);
  if (!user) return badId(c);
  const wasFlagged = await (await clientBuckets(c, user.user)).clearFlag();
  await announceUnflag(c.env, c.get("config"), `~${toHex(user.user)}`); // as the flagged list names it
  await audit(c, "clear-flag", user.named, { wasFlagged });
  return c.json({ flagged: false, wasFlagged });
});

/** GET /admin/flagged: every client flagged and not yet cleared, newest first, with the rules' reasons. */
on("GET /flagged", async (c) => c.json({ clients: await readFlagged(c.env, c.get("config"), c.get("isolate").monitoring) }));

/** GET /admin/series?minutes=N (default a day, at most SERIES_DAYS): the per-minute series, minutes with data only. */
on("GET /series", async (c) => {
  const minutes = Math.min(Math.max(Math.floor(Number(c.req.query("minutes") ?? 1440)) || 1440, 1), SERIES_DAYS * 1440);
  const to = Date.now();
  const from = to - minutes * MINUTE_MS;
  return c.json({ from, to, minutes: await readSeries(c.env, c.get("config"), c.get("isolate").monitoring, from, to) });
});

/** One flat list of numbers, as the dashboard shows them: the novelty limit's as novelty* (absent when it is off). */
function rulesInForce(config: Config): Record<string, number> {
  const { novelty, episodeLimit: _, ...rules } = config.detection;
  const limit: Record<string, number> = novelty ? { noveltyPerDay: novelty.perDay, noveltyBurst: novelty.burst, noveltyFirstHours: novelty.windowMs / HOUR_MS, noveltyBook: novelty.book, noveltyFlagRefusals: novelty.flagRefusals } : {};
  return { ...rules, edgeMargin: EDGE_MARGIN, edgeShare: EDGE_SHARE, ...limit };
}

/** GET /admin/detection: the budgets and rules in force, and the hit-ratio norm learned so far. */
on("GET /detection", async (c) => {
  const config = c.get("config");
  return c.json({
    budgets: { maxContacts: config.maxContacts, s2PeriodSeconds: config.s2PeriodMs / 1000, s2DeltaSeconds: config.s2DeltaMs / 1000 },
    quarantineBudget: config.quarantineBudget,
    rules: rulesInForce(config),
    network: { guard: config.guard, accountsPerDay: config.networkAccountsPerDay, asnAccountsPerDay: config.asnAccountsPerDay },
    norm: await readNorm(c.env, c.get("config"), c.get("isolate").monitoring, Date.now()),
    webhook: config.alertWebhookUrl !== undefined,
  });
});

/** GET /admin/alerts?limit=N: the newest alerts (also sent to ALERT_WEBHOOK_URL when set). */
on("GET /alerts", async (c) => {
  const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 100) || 100, 1), 1000);
  return c.json({ alerts: await readAlerts(c.env, c.get("config"), c.get("isolate").monitoring, limit) });
});

/** GET /admin/metrics: Prometheus text exposition. */
on("GET /metrics", async (c) => {
  const [env, config, monitoring] = [c.env, c.get("config"), c.get("isolate").monitoring];
  const [totals, flagged, norm, calls] = await Promise.all([readTotals(env, config, monitoring), readFlagged(env, config, monitoring), readNorm(env, config, monitoring, Date.now()), readCallsPerSync(env, config, monitoring)]);
  return c.text(prometheusText(totals, flagged.length, norm.hitRatio, c.get("shards").length, calls), 200, {
    "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
  });
});

on("DELETE /clients/:id/buckets", async (c) => {
  const user = await pathUser(c);
  if (!user) return badId(c);
  await (await clientBuckets(c, user.user)).resetBuckets();
  await audit(c, "reset-buckets", user.named);
  return c.json({ reset: true });
});

for (const action of ["block", "unblock"] as const) {
  on(`POST /clients/:id/${action}`, async (c) => {
    const user = await pathUser(c);
    if (!user) return badId(c);
    const buckets = await clientBuckets(c, user.user);
    await (action === "block" ? buckets.block() : buckets.unblock());
    await audit(c, action, user.named);
    return c.json({ blocked: action === "block" });
  });
}

/**
 * POST /admin/users {"id": hex, "token": hex} or {"id": hex, "token_hash": hex SHA-256}: registers a
 * user on behalf of the account service. The same token again is a no-op; another token is 409.
 */
on("POST /users", async (c) => {
  const body = (await c.req.json().catch(() => null)) as { id?: unknown; token?: unknown; token_hash?: unknown } | null;
  const id = identifierFromHex(body?.id);
  if (!id) return badId(c);
  const token = typeof body?.token === "string" ? fromHex(body.token) : null;
  const given = typeof body?.token_hash === "string" ? fromHex(body.token_hash) : null;
  let tokenHash: Uint8Array;
  if (token && isToken(token)) tokenHash = await hashToken(token);
  else if (given && given.length === TOKEN_HASH_BYTES) tokenHash = given;
  else return c.json({ error: `give token (1 to ${MAX_TOKEN_BYTES} bytes in hex) or token_hash (${TOKEN_HASH_BYTES} bytes in hex)` }, 400);
  const registered = await enrollUser(c.env, c.get("shards"), c.get("config"), actorOf(c), id, tokenHash, Date.now());
  if (registered === "taken") return c.json({ error: "registered with another token" }, 409);
  const created = registered === "created";
  return c.json({ registered: true, created }, created ? 201 : 200);
});

on("DELETE /users/:id", async (c) => {
  const id = pathId(c);
  if (!id) return badId(c);
  const removed = await dismissUser(c.env, c.get("shards"), c.get("config"), actorOf(c), id, Date.now());
  return removed ? c.json({ removed: true }) : c.json({ error: "not registered" }, 404);
});

/** GET /admin/stats: users, the size of S2, shards. Scans the directory: for operators, not for polling. */
on("GET /stats", async (c) => {
  const shards = c.get("shards");
  const counts = await db.countUsers(shards, Date.now() - c.get("config").s2DeltaMs);
  return c.json({ users: counts.registered, s2: { added: counts.recentlyAdded, removed: counts.recentlyRemoved }, shards: shards.length });
});

/** GET /admin/audit?limit=N: the newest audit entries, each with the role and key id that made it. */
on("GET /audit", async (c) => {
  const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 100) || 100, 1), 1000);
  const entries = await readAudit(c.get("shards"), limit);
  return c.json(entries.map((e) => ({ ...e, detail: JSON.parse(e.detail) })));
});

// Moving users to a new shard (npm run reshard): operator only.
on("GET /reshard", reshardStatusRoute);
on("POST /reshard/step", reshardStepRoute);
// Wrapping every row under a new pseudonym key (npm run rekey): operator only.
on("GET /rekey", rekeyStatusRoute);
on("POST /rekey/step", rekeyStepRoute);

/**
 * GET /admin/pseudonym-key: the current pseudonym key's version and fingerprint, never the key: how
 * `npm run posture -- --url` tells whether a deployment shares its key with local development.
 */
on("GET /pseudonym-key", (c) => {
  const chain = pseudonymsOf(c.env);
  return c.json({ version: chain.current, fingerprint: chain.fingerprint() });
});

// The operator dashboard at /admin and /admin/, route "GET /" of the table (a browser sends a key
// as Basic user name and password, or comes through Cloudflare Access).
adminRoutes.route("/", dashboardRoutes);

adminRoutes.all("*", noSuchEndpoint);

function parseImport(body: unknown): { users: db.ImportedUser[]; announce: boolean } | string {
  if (typeof body !== "object" || body === null) return "body must be a JSON object";
  const { users, announce = false } = body as { users?: unknown; announce?: unknown };
  if (typeof announce !== "boolean") return "announce must be true or false";
  if (!Array.isArray(users) || users.length === 0 || users.length > MAX_IMPORT_BATCH) {
    return `users must be an array of 1 to ${MAX_IMPORT_BATCH} [id, token hash] pairs`;
  }
  const parsed: db.ImportedUser[] = [];
  for (const [k, pair] of users.entries()) {
    const id = Array.isArray(pair) ? identifierFromHex(pair[0]) : null;
    const tokenHash = Array.isArray(pair) && typeof pair[1] === "string" ? fromHex(pair[1]) : null;
    if (!id) return `users[${k}]: the id must be 1 to ${MAX_IDENTIFIER_BYTES} bytes in hex`;
    if (!tokenHash || tokenHash.length !== TOKEN_HASH_BYTES) return `users[${k}]: the token hash must be ${TOKEN_HASH_BYTES} bytes (SHA-256) in hex`;
    parsed.push({ id, tokenHash });
  }
  return { users: parsed, announce };
}
