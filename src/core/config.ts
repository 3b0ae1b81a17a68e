// Service configuration from wrangler.toml vars: what each var means and its default (VARS), and
// the parser that validates them once per environment.

import { fromHex } from "./hex";
import { type Role, isRole } from "./roles";
import { DAY_MS, HOUR_MS } from "./time";

import type { EgressConfig } from "./egress";

export interface DetectionConfig {
  /** Distinct identifiers ever checked above which a client is no address book. */
  maxDistinct: number;
  /** Identifiers checked in full syncs before the hit ratio is judged. */
  minVolume: number;
  /** A client whose full-sync hit ratio is below norm x this factor is flagged. */
  hitRatioFactor: number;
  /** Full syncs needed before "always at the bucket's edge" is judged. */
  edgeSyncs: number;
  /** The most a client's full syncs may hold until it has been judged (by the walk, or minVolume checked). */
  probationLimit: number;
  /** The sequential test's error rates (both the false alarm and the miss): its thresholds are ln(e / (1 - e)) and ln((1 - e) / e). */
  walkError: number;
  /**
   * A client is young for this long after its first sync (DETECT_YOUNG_HOURS): what full syncs
   * show it is egress-accounted, and an egress episode holds it even when judged.
   */
  youngMs: number;
  /**
   * Set only while an egress episode lasts (withProbation() in charge-policy.ts): the full-sync limit of
   * a client not yet judged whose walk has not decided; a suspect one gets none, an honest-looking
   * one probationLimit.
   */
  episodeLimit?: number | undefined;
  /** The novelty limit (src/core/novelty.ts); undefined: off. */
  novelty?: NoveltyPolicy | undefined;
}

/** The novelty limit (src/core/novelty.ts). */
export interface NoveltyPolicy {
  /** New distinct identifiers a day after the first book's window (NOVELTY_PER_DAY). */
  perDay: number;
  /** The most that may come at once after the window (NOVELTY_BURST). */
  burst: number;
  /** How long after its first request a client's first book may still grow (NOVELTY_FIRST_HOURS). */
  windowMs: number;
  /** Distinct identifiers the first book may hold, as the sketch estimates them (NOVELTY_BOOK). */
  book: number;
  /** Refusals within a day after which the client is flagged (NOVELTY_FLAG_REFUSALS). */
  flagRefusals: number;
}

export interface Config {
  /** Bucket capacity, and the most identifiers one request may carry. */
  maxContacts: number;
  /** Milliseconds in which a full incremental bucket drains. */
  s2PeriodMs: number;
  /** Milliseconds a change stays in S2; a full "full-sync" bucket drains in this time. */
  s2DeltaMs: number;
  /** Whether the unauthenticated local-development hooks (/reset, /test/...) exist. */
  testHooks: boolean;
  /** The old single admin token (a secret); accepted, for every role, only with legacyAdminToken. */
  adminToken: string | undefined;
  /** ADMIN_TOKEN_LEGACY: whether ADMIN_TOKEN is an all-roles credential (local development, migration). */
  legacyAdminToken: boolean;
  /** ADMIN_KEYS: the admin API's credentials, as SHA-256 hashes of their secrets, each with one role. */
  adminKeys: AdminKey[];
  /** AUDIT_KEY: the HMAC key of the identifiers in the audit log and alerts (a secret). */
  auditKey: string | undefined;
  /** ADMIN_USER_ROUTES: whether /admin/users* exist (off once the account service uses the Service Binding). */
  adminUserRoutes: boolean;
  /** Cloudflare Access in front of /admin/, when configured: whose identities get which roles. */
  access: AccessConfig | undefined;
  /** "open": clients register themselves; "admin": only the operator, through the admin API. */
  registration: "open" | "admin";
  /** Whether the per-network guard runs (src/http/guard.ts). */
  guard: boolean;
  /** Registrations one network (IPv4 address or IPv6 /64) may make per hour, in bursts up to this many. */
  guardRegistrationsPerHour: number;
  /** Thresholds of the per-client enumeration rules (src/core/flag-rules.ts). */
  detection: DetectionConfig;
  /** The share of the full-sync budget a flagged client keeps: 0 refuses its full syncs, 1 only flags. */
  quarantineBudget: number;
  /** New accounts per day from one network (IPv4 address or IPv6 /64) before it is throttled and alerted on. */
  networkAccountsPerDay: number;
  /** The same for one autonomous system (ASN). */
  asnAccountsPerDay: number;
  /** Egress control: revealed users to clients not yet judged (src/core/egress.ts). */
  egress: EgressConfig;
  /** Monitor objects the series, totals, norm, flags and alerts are spread over (MONITOR_SHARDS). */
  monitorShards: number;
  /** How long an isolate tallies syncs before it hands them to a monitor object (MONITOR_FLUSH_SECONDS). */
  monitorFlushMs: number;
  /** How often an isolate reads the merged norm and the egress episode from the monitor objects (MONITOR_READ_SECONDS). */
  monitorReadMs: number;
  /** The S2 index (src/objects/s2-index.ts): parts by key, replicas of each part, the most keys one object keeps, and how long a new object waits before it is built. */
  s2Index: { parts: number; replicas: number; maxKeys: number; buildDelayMs: number };
  /** Where alerts are POSTed as JSON (a new flag, a global rate off its baseline, a network throttled). */
  alertWebhookUrl: string | undefined;
}

/**
 * The service's defaults: the top-level vars of wrangler.toml (test/core/config.test.ts checks that
 * they agree), for the client, which cannot read them. Seconds, as in wrangler.toml.
 */
export const DEFAULTS = Object.freeze({ maxContacts: 20_000, s2PeriodSeconds: 86_400, s2DeltaSeconds: 864_000 });

/** One admin credential: presented as `Bearer <id>.<secret>`, stored as SHA-256(secret). */
export interface AdminKey {
  role: Role;
  id: string;
  hash: Uint8Array;
}

export interface AccessConfig {
  /** `<team>.cloudflareaccess.com` */
  teamDomain: string;
  /** The `iss` of the team's tokens. */
  issuer: string;
  /** Where the team publishes its signing keys (a JWKS). */
  certsUrl: string;
  /** The Access application's audience (AUD) tag. */
  audience: string;
  /** Identities ("email:<address>", "group:<name>", "token:<service token client id>") and the role each gets. */
  grants: { identity: string; role: Role }[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

// Bounds keep the bucket arithmetic exact in doubles (capacity * drain ms < 2^53) and the largest
// request body (capacity * 66 bytes) within what a Worker can read comfortably.
const MAX_CONTACTS_LIMIT = 100_000;
const PERIOD_LIMIT_SECONDS = 365 * 24 * 3600;

/** How one var (or secret) is read and what it is for. */
export interface VarSpec {
  /** Where it is set: wrangler.toml's vars, a secret (.dev.vars locally, `wrangler secret put`), or either. */
  set: "var" | "secret" | "either";
  /** The Worker refuses to start without it. */
  required?: true;
  /** What applies when it is not set; neither this nor `derived`: nothing does (the feature is off). */
  default?: number | string | boolean;
  /** How the default follows from other vars (markdown), where it does. */
  derived?: string;
  /** Numbers: the least and the most accepted (a string: another var's value, in markdown). Secrets: the fewest characters. */
  min?: number;
  max?: number | string;
  /** The values accepted, where min and max do not say it (markdown). */
  range?: string;
  /** One line on what it does (markdown; links relative to docs/). */
  meaning: string;
}

/**
 * Every var and secret the Worker reads: the one home of each default and description. parseConfig
 * reads its defaults and bounds from here; docs/configuration.md's tables are generated from it and
 * from wrangler.toml (scripts/check-config.ts, run by `npm run typecheck`, fails when they differ).
 */
export const VARS = {
  MAX_CONTACTS: { set: "var", required: true, min: 1, max: MAX_CONTACTS_LIMIT, meaning: "bucket capacity, and the most identifiers one request may carry" },
  S2_PERIOD: { set: "var", required: true, min: 1, max: PERIOD_LIMIT_SECONDS, meaning: "seconds in which a full incremental bucket drains (one contact per 4.32 s)" },
  S2_DELTA: { set: "var", required: true, min: 1, max: PERIOD_LIMIT_SECONDS, meaning: 'seconds a change stays in S2, and in which a full "full-sync" bucket drains (one contact per 43.2 s)' },
  TEST_HOOKS: { set: "var", default: false, meaning: "whether the unauthenticated test hooks exist ([protocol.md](protocol.md#test-hooks-local-development-only)): local development only" },
  REGISTRATION: { set: "var", default: "open", range: '`"open"` or `"admin"`', meaning: '`"open"`: clients register themselves; `"admin"`: `/user/register` and `/user/delete` answer 401, and the account service registers users through the admin API' },
  GUARD: {
    set: "var",
    default: false,
    meaning: "the per-network guard (src/http/guard.ts): every request except the admin API's through the `NETWORK_LIMIT` rate-limiting binding (100 per 10 s per IPv4 address or IPv6 /64), registrations also through the exact `NetworkGuard` object, and the network rule of detection",
  },
  GUARD_REGISTRATIONS_PER_HOUR: { set: "var", default: 10, min: 1, max: 1_000_000, meaning: "registrations one network may make per hour, in a burst of at most this many" },
  DETECT_MAX_DISTINCT: { set: "var", default: 30_000, min: 1, max: 1_000_000_000, meaning: "flag a client that has checked more distinct identifiers than this" },
  DETECT_MIN_VOLUME: {
    set: "var",
    default: 2_000,
    min: 1,
    max: 1_000_000_000,
    meaning: "identifiers a client must have checked in full syncs before its hit ratio is judged, and before it is judged at all (while its walk is not suspect)",
  },
  DETECT_HIT_RATIO_FACTOR: { set: "var", default: 0.25, min: 0, max: 1, meaning: "flag a client whose full-sync hit ratio is below this share of the learned norm" },
  DETECT_EDGE_SYNCS: { set: "var", default: 7, min: 1, max: 1_000_000, meaning: 'full syncs before "always at the bucket\'s edge" (75% of them leaving under 5% of the bucket free) is judged' },
  DETECT_PROBATION_LIMIT: {
    set: "var",
    derived: "`MAX_CONTACTS` (off)",
    min: 1,
    max: "`MAX_CONTACTS`",
    meaning: "the most a client's full bucket may hold until it is judged; a larger request is 429 without `Retry-After`",
  },
  DETECT_WALK_ERROR: {
    set: "var",
    default: 0.01,
    min: 0,
    max: 1,
    range: "above 0, below 0.5",
    meaning: "both error rates of the sequential test on a client's hits and misses ([detection.md](detection.md#the-sequential-test)); its bounds are ±ln((1 − e) / e), ±4.6 at 0.01",
  },
  DETECT_YOUNG_HOURS: { set: "var", default: 24, min: 0, max: 24 * 365, meaning: "hours after its first sync during which a client is young: egress-accounted, and held during an episode even when judged" },
  NOVELTY_PER_DAY: {
    set: "var",
    default: 0,
    min: 0,
    max: 1_000_000,
    meaning: "new distinct identifiers a day a client may ask about once its first book's window is over ([detection.md](detection.md#novelty)); 0 turns the novelty limit off",
  },
  NOVELTY_BURST: { set: "var", default: 250, min: 1, max: 1_000_000, meaning: "the most new distinct identifiers a client may ask about at once after its first book's window" },
  NOVELTY_FIRST_HOURS: { set: "var", default: 336, min: 0, max: 24 * 365, meaning: "hours after its first request during which a client's first book may grow to `NOVELTY_BOOK`" },
  NOVELTY_BOOK: { set: "var", default: 27_000, min: 1, max: 1_000_000_000, meaning: "distinct identifiers a client's first book may hold, as its sketch estimates them (2.3% error: 25,000 contacts and three standard errors)" },
  NOVELTY_FLAG_REFUSALS: { set: "var", default: 30, min: 1, max: 1_000_000, meaning: "refusals by the novelty limit within a day after which the client is flagged (`novelty`)" },
  QUARANTINE_BUDGET: {
    set: "var",
    default: 0,
    min: 0,
    max: 1,
    meaning: "share of the full-sync budget a flagged client keeps: 0 refuses its full syncs (429, no `Retry-After`) until an operator clears it; 1 flags and alerts only",
  },
  DETECT_NETWORK_ACCOUNTS_PER_DAY: {
    set: "var",
    default: 20,
    min: 1,
    max: 1_000_000_000,
    meaning: "new clients (first syncs) per day from one network before it is throttled for a day and alerted on; only with `GUARD` on",
  },
  DETECT_ASN_ACCOUNTS_PER_DAY: { set: "var", default: 2_000, min: 1, max: 1_000_000_000, meaning: "the same for one autonomous system" },
  EGRESS_FLOOR_PER_MINUTE: {
    set: "var",
    default: 20_000,
    min: 1,
    max: 1_000_000_000,
    meaning: "users revealed in a minute (whole service) to clients not established that are never abnormal ([detection.md](detection.md#egress-control))",
  },
  EGRESS_FLOOR_PER_HOUR: {
    set: "var",
    derived: "15 × `EGRESS_FLOOR_PER_MINUTE`",
    min: 1,
    max: 1_000_000_000_000,
    meaning: "the same for the last hour, judged every minute, with `EGRESS_FACTOR` × the hour before and × the hour learned over days above it: a crowd trickling under the minute's floor is seen within its hour",
  },
  EGRESS_FACTOR: { set: "var", default: 4, min: 1, max: 1000, meaning: "a minute above this many times the hour's mean (and the floor) starts an egress episode" },
  EGRESS_BASELINE_DAYS: {
    set: "var",
    default: 7,
    min: 0,
    max: 365,
    meaning: "half-life in days of the hour's baseline learned from what every minute revealed; the hour's limit is at least `EGRESS_FACTOR` × it (0: none learned)",
  },
  EGRESS_CALM_MINUTES: { set: "var", default: 10, min: 1, max: 1440, meaning: "minutes in a row back within the limit that end it" },
  EGRESS_PROBATION_LIMIT: {
    set: "var",
    derived: "min(1000, `MAX_CONTACTS`)",
    min: 1,
    max: "`MAX_CONTACTS`",
    meaning:
      "during an episode, the full-sync limit of a client not established whose walk has not decided (honest-looking: `DETECT_PROBATION_LIMIT`; suspect: none); at least `DETECT_PROBATION_LIMIT` turns the response off (alerts only)",
  },
  EGRESS_NETWORK_PER_DAY: {
    set: "var",
    default: 5_000,
    min: 1,
    max: 1_000_000_000,
    meaning: "users revealed to unjudged clients of one IPv4 address or IPv6 /64 a day before it gets no new clients; only with `GUARD` on",
  },
  EGRESS_ASN_PER_DAY: { set: "var", default: 500_000, min: 1, max: 1_000_000_000, meaning: "the same for one autonomous system" },
  MONITOR_SHARDS: {
    set: "var",
    default: 1,
    min: 1,
    max: 1000,
    meaning: "monitor objects (src/objects/monitor.ts) the series, totals, norm, flags and alerts are spread over ([operations.md](operations.md) sizes it)",
  },
  MONITOR_FLUSH_SECONDS: { set: "var", default: 1, min: 1, max: 60, meaning: "how often an isolate hands its tally of syncs to a monitor object" },
  MONITOR_READ_SECONDS: { set: "var", default: 10, min: 1, max: 3600, meaning: "how often an isolate reads the merged norm and the egress episode from all monitor objects" },
  S2_INDEX_PARTS: {
    set: "var",
    default: 1,
    min: 1,
    max: 1000,
    meaning: "parts the S2 index is split into, by lookup key ([scaling.md](scaling.md#the-s2-index)); another count is another set of objects, built afresh",
  },
  S2_INDEX_REPLICAS: {
    set: "var",
    default: 1,
    min: 1,
    max: 100,
    meaning: "objects holding each part: every change is noted in all of them, a sync asks one; each takes about 1,000 incremental syncs a second. Replicas are named by number: adding some keeps the built ones, each new one is built after `S2_INDEX_BUILD_DELAY_SECONDS`",
  },
  S2_INDEX_BUILD_DELAY_SECONDS: {
    set: "var",
    default: 0,
    min: 0,
    max: 7 * 86_400,
    meaning: "a new index object is built (and serves) only this long after its first call, so that the build's scan of D1 comes after every Worker of an older configuration (which notes other objects) has gone",
  },
  S2_INDEX_MAX_KEYS: {
    set: "var",
    default: 2_000_000,
    min: 1,
    max: 1_000_000_000,
    meaning: 'the most keys one index object keeps; past it the object answers "ask D1" until what it could not keep has left S2',
  },
  USERS_SHARDS: {
    set: "var",
    derived: "every `USERS_n` bound",
    min: 1,
    max: "the `USERS_n` bound",
    meaning:
      "how many of the user shards hold users, until `npm run reshard` has moved users to the others ([scaling.md](scaling.md#adding-shards-to-a-running-deployment)); read with the bindings by src/db/shards.ts",
  },
  ADMIN_TOKEN_LEGACY: {
    set: "var",
    default: false,
    meaning: "whether `ADMIN_TOKEN` is accepted as one credential with every role (and keys the audit hashes when `AUDIT_KEY` is not set): the migration path from the single token, for local development",
  },
  ADMIN_KEYS: {
    set: "either",
    range: "`role:id:sha256hex` entries, apart by commas or spaces",
    meaning: "the admin API's keys for machines, one role each, as hashes of their secrets (`npm run admin-key` makes one); two of one role are a rotation. A var in production, where a review sees who holds which role",
  },
  ADMIN_USER_ROUTES: { set: "var", default: true, meaning: "whether `/admin/users*` exist: off once the account service calls the `AccountService` entrypoint through its Service Binding" },
  ACCESS_TEAM_DOMAIN: {
    set: "var",
    range: "`<team>.cloudflareaccess.com`",
    meaning: "Cloudflare Access in front of `/admin/` for people: the team whose tokens are accepted. Set with `ACCESS_AUD` and `ACCESS_ROLES`, or none of them",
  },
  ACCESS_AUD: { set: "var", range: "hex", meaning: "the audience (AUD) tag of the Access application" },
  ACCESS_ROLES: {
    set: "var",
    range: "a table, or its JSON",
    meaning: "who gets `operator` and `viewer`: lists of emails, `group:<name>` and `token:<service token client id>`",
  },
  ADMIN_TOKEN: {
    set: "secret",
    min: 16,
    meaning: "the legacy token of the admin API and the dashboard under `/admin/`, a credential only where `ADMIN_TOKEN_LEGACY` is on (not in production)",
  },
  AUDIT_KEY: {
    set: "secret",
    min: 32,
    meaning: "the HMAC key of the identifiers in the audit log and the alerts. Without it (and without the legacy token) they name no client",
  },
  PSEUDONYM_KEYS: {
    set: "secret",
    required: true,
    range: "`1:<64 hex digits>,2:<64 hex digits>,...`",
    meaning:
      "the AES-256-CMAC keys of the pseudonyms stored in place of identifiers ([pseudonyms.md](pseudonyms.md)), versions 1 to N, the highest the current one; every older one stays until `npm run rekey` has wrapped every row. Without a valid one the service refuses to serve",
  },
  ALERT_WEBHOOK_URL: {
    set: "secret",
    range: "an http(s) URL",
    meaning:
      "where alerts are POSTed as JSON: a new flag, a network throttled, a global rate off its baseline. Without it, alerts are only listed at `/admin/alerts`. A var works too, but `npm run posture` flags a URL in plain text",
  },
} as const satisfies Record<string, VarSpec>;

export type VarName = keyof typeof VARS;

const spec = (name: VarName): VarSpec => VARS[name];
const numberOf = (value: number | string | boolean | undefined, name: VarName, what: string): number => {
  if (typeof value !== "number") throw new Error(`VARS.${name} has no numeric ${what}`);
  return value;
};

function integerVar(vars: Record<string, unknown>, name: VarName, max: number = numberOf(spec(name).max, name, "max")): number {
  const min = numberOf(spec(name).min, name, "min");
  const raw = vars[name];
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function fractionVar(vars: Record<string, unknown>, name: VarName): number {
  const { min, max } = spec(name);
  const raw = vars[name] ?? spec(name).default;
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min! || value > (max as number)) {
    throw new ConfigError(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** DETECT_WALK_ERROR: an error rate of the sequential test, strictly between 0 and 0.5 (at 0.5 it would decide on nothing). */
function walkErrorVar(vars: Record<string, unknown>): number {
  const value = fractionVar(vars, "DETECT_WALK_ERROR");
  if (value <= 0 || value >= 0.5) throw new ConfigError(`DETECT_WALK_ERROR must be above 0 and below 0.5, got ${JSON.stringify(vars.DETECT_WALK_ERROR)}`);
  return value;
}

/** An integer var with a default: VARS' own, or `fallback` where it follows from other vars. */
const optionalInteger = (vars: Record<string, unknown>, name: VarName, fallback: number = numberOf(spec(name).default, name, "default"), max?: number) =>
  vars[name] === undefined ? fallback : integerVar(vars, name, max);

function urlVar(vars: Record<string, unknown>, name: VarName): string | undefined {
  const raw = vars[name];
  if (raw === undefined || raw === "") return undefined;
  try {
    if (typeof raw === "string" && /^https?:$/.test(new URL(raw).protocol)) return raw;
  } catch {}
  throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
}

function booleanVar(vars: Record<string, unknown>, name: VarName): boolean {
  const raw = vars[name];
  if (raw === undefined) return spec(name).default === true;
  if (raw === false || raw === "false") return false;
  if (raw === true || raw === "true") return true;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function choiceVar<T extends string>(vars: Record<string, unknown>, name: VarName, choices: readonly T[]): T {
  const raw = vars[name] ?? spec(name).default;
  if (!choices.includes(raw as T)) throw new ConfigError(`${name} must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function secretVar(vars: Record<string, unknown>, name: VarName): string | undefined {
  const minLength = numberOf(spec(name).min, name, "min");
  const raw = vars[name];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string" || raw.length < minLength) throw new ConfigError(`${name} must be a string of at least ${minLength} characters`);
  return raw;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * ADMIN_KEYS = "role:id:sha256hex, role:id:sha256hex, ...": hashes only, never the secrets. Two
 * keys of one role are how a credential is rotated. Errors name the entry, never echo it: a secret
 * pasted by mistake must not end up in a log.
 */
function adminKeysVar(vars: Record<string, unknown>): AdminKey[] {
  const raw = vars.ADMIN_KEYS;
  if (raw === undefined || raw === "") return [];
  if (typeof raw !== "string") throw new ConfigError("ADMIN_KEYS must be a string of role:id:sha256hex entries");
  const keys: AdminKey[] = [];
  for (const [k, entry] of raw.split(/[\s,]+/).filter((e) => e !== "").entries()) {
    const [role, id, hex, ...rest] = entry.split(":");
    const hash = typeof hex === "string" && /^[0-9a-fA-F]{64}$/.test(hex) ? fromHex(hex) : null;
    if (!isRole(role) || id === undefined || !KEY_ID.test(id) || !hash || rest.length > 0) {
      throw new ConfigError(`ADMIN_KEYS must be role:id:sha256hex entries (role one of ${ROLE_LIST}, id of letters, digits, - and _, a hash of 64 hex digits); entry ${k + 1} is not`);
    }
    if (keys.some((key) => key.id === id)) throw new ConfigError(`ADMIN_KEYS must not repeat a key id; entry ${k + 1} repeats "${id}"`);
    keys.push({ role, id, hash });
  }
  return keys;
}

const ROLE_LIST = "account-service, operator, viewer";
const PERSON_ROLES: readonly Role[] = ["operator", "viewer"];
const IDENTITY = /^(?:[^\s@:]+@[^\s@:]+|group:\S+|token:\S+)$/;

/** ACCESS_TEAM_DOMAIN, ACCESS_AUD and ACCESS_ROLES: all three or none. */
function accessVars(vars: Record<string, unknown>): AccessConfig | undefined {
  const { ACCESS_TEAM_DOMAIN: domain, ACCESS_AUD: audience, ACCESS_ROLES: roles } = vars;
  const given = [domain, audience, roles].filter((v) => v !== undefined && v !== "");
  if (given.length === 0) return undefined;
  if (given.length < 3) throw new ConfigError("ACCESS_TEAM_DOMAIN, ACCESS_AUD and ACCESS_ROLES must be set together, or none of them");
  if (typeof domain !== "string" || !/^[a-z0-9-]+\.cloudflareaccess\.com$/.test(domain)) {
    throw new ConfigError(`ACCESS_TEAM_DOMAIN must be <team>.cloudflareaccess.com, got ${JSON.stringify(domain)}`);
  }
  if (typeof audience !== "string" || !/^[0-9a-f]{32,128}$/.test(audience)) {
    throw new ConfigError(`ACCESS_AUD must be the application's audience tag (hex), got ${JSON.stringify(audience)}`);
  }
  let table: unknown = roles;
  if (typeof roles === "string") {
    try {
      table = JSON.parse(roles);
    } catch {
      table = null;
    }
  }
  const shape = `ACCESS_ROLES must map "operator" and "viewer" to lists of emails, "group:<name>" or "token:<client id>"`;
  if (typeof table !== "object" || table === null || Array.isArray(table)) throw new ConfigError(shape);
  const grants: AccessConfig["grants"] = [];
  for (const [role, identities] of Object.entries(table)) {
    if (!PERSON_ROLES.includes(role as Role)) {
      throw new ConfigError(`ACCESS_ROLES may grant only operator and viewer, not ${JSON.stringify(role)}: the account service has its key or the Service Binding`);
    }
    if (!Array.isArray(identities) || !identities.every((i) => typeof i === "string" && IDENTITY.test(i))) throw new ConfigError(shape);
    for (const identity of identities as string[]) {
      grants.push({ identity: identity.includes(":") ? identity : `email:${identity.toLowerCase()}`, role: role as Role });
    }
  }
  return { teamDomain: domain, issuer: `https://${domain}`, certsUrl: `https://${domain}/cdn-cgi/access/certs`, audience, grants };
}

/** Off unless NOVELTY_PER_DAY is above 0; every NOVELTY_ var is checked either way. */
function noveltyVars(vars: Record<string, unknown>): NoveltyPolicy | undefined {
  const policy = {
    perDay: optionalInteger(vars, "NOVELTY_PER_DAY"),
    burst: optionalInteger(vars, "NOVELTY_BURST"),
    windowMs: optionalInteger(vars, "NOVELTY_FIRST_HOURS") * HOUR_MS,
    book: optionalInteger(vars, "NOVELTY_BOOK"),
    flagRefusals: optionalInteger(vars, "NOVELTY_FLAG_REFUSALS"),
  };
  return policy.perDay === 0 ? undefined : policy;
}

export function parseConfig(vars: Record<string, unknown>): Config {
  const maxContacts = integerVar(vars, "MAX_CONTACTS");
  return {
    maxContacts,
    s2PeriodMs: integerVar(vars, "S2_PERIOD") * 1000,
    s2DeltaMs: integerVar(vars, "S2_DELTA") * 1000,
    testHooks: booleanVar(vars, "TEST_HOOKS"),
    adminToken: secretVar(vars, "ADMIN_TOKEN"),
    legacyAdminToken: booleanVar(vars, "ADMIN_TOKEN_LEGACY"),
    adminKeys: adminKeysVar(vars),
    auditKey: secretVar(vars, "AUDIT_KEY"),
    adminUserRoutes: booleanVar(vars, "ADMIN_USER_ROUTES"),
    access: accessVars(vars),
    registration: choiceVar(vars, "REGISTRATION", ["open", "admin"] as const),
    guard: booleanVar(vars, "GUARD"),
    guardRegistrationsPerHour: optionalInteger(vars, "GUARD_REGISTRATIONS_PER_HOUR"),
    detection: {
      maxDistinct: optionalInteger(vars, "DETECT_MAX_DISTINCT"),
      minVolume: optionalInteger(vars, "DETECT_MIN_VOLUME"),
      hitRatioFactor: fractionVar(vars, "DETECT_HIT_RATIO_FACTOR"),
      edgeSyncs: optionalInteger(vars, "DETECT_EDGE_SYNCS"),
      probationLimit: optionalInteger(vars, "DETECT_PROBATION_LIMIT", maxContacts, maxContacts),
      walkError: walkErrorVar(vars),
      youngMs: optionalInteger(vars, "DETECT_YOUNG_HOURS") * HOUR_MS,
      novelty: noveltyVars(vars),
    },
    quarantineBudget: fractionVar(vars, "QUARANTINE_BUDGET"),
    networkAccountsPerDay: optionalInteger(vars, "DETECT_NETWORK_ACCOUNTS_PER_DAY"),
    asnAccountsPerDay: optionalInteger(vars, "DETECT_ASN_ACCOUNTS_PER_DAY"),
    egress: {
      floorPerMinute: optionalInteger(vars, "EGRESS_FLOOR_PER_MINUTE"),
      floorPerHour: optionalInteger(vars, "EGRESS_FLOOR_PER_HOUR", 15 * optionalInteger(vars, "EGRESS_FLOOR_PER_MINUTE")),
      factor: optionalInteger(vars, "EGRESS_FACTOR"),
      calmMinutes: optionalInteger(vars, "EGRESS_CALM_MINUTES"),
      probationLimit: optionalInteger(vars, "EGRESS_PROBATION_LIMIT", Math.min(1_000, maxContacts), maxContacts),
      networkPerDay: optionalInteger(vars, "EGRESS_NETWORK_PER_DAY"),
      asnPerDay: optionalInteger(vars, "EGRESS_ASN_PER_DAY"),
      baselineHalfLifeMs: optionalInteger(vars, "EGRESS_BASELINE_DAYS") * DAY_MS,
    },
    monitorShards: optionalInteger(vars, "MONITOR_SHARDS"),
    monitorFlushMs: optionalInteger(vars, "MONITOR_FLUSH_SECONDS") * 1000,
    monitorReadMs: optionalInteger(vars, "MONITOR_READ_SECONDS") * 1000,
    s2Index: {
      parts: optionalInteger(vars, "S2_INDEX_PARTS"),
      replicas: optionalInteger(vars, "S2_INDEX_REPLICAS"),
      maxKeys: optionalInteger(vars, "S2_INDEX_MAX_KEYS"),
      buildDelayMs: optionalInteger(vars, "S2_INDEX_BUILD_DELAY_SECONDS") * 1000,
    },
    alertWebhookUrl: urlVar(vars, "ALERT_WEBHOOK_URL"),
  };
}

/**
 * PSEUDONYM_KEYS = "1:<hex>,2:<hex>,...": the pseudonym keys of versions 1..N in order (each 256
 * bits, 64 hex digits), the current one last. Required: missing, short, malformed or with a gap, it
 * is a ConfigError naming PSEUDONYM_KEYS (and the entry's position, never its value).
 */
export function parsePseudonymKeys(vars: Record<string, unknown>): Uint8Array[] {
  const raw = vars.PSEUDONYM_KEYS;
  const shape = "PSEUDONYM_KEYS must be <version>:<64 hex digits> entries, versions 1, 2, ... in order (`openssl rand -hex 32` makes a key)";
  if (raw === undefined || raw === "") throw new ConfigError(`PSEUDONYM_KEYS is not set: ${shape}`);
  if (typeof raw !== "string") throw new ConfigError(shape);
  const keys: Uint8Array[] = [];
  for (const [k, entry] of raw.split(/[\s,]+/).filter((e) => e !== "").entries()) {
    const [version, hex, ...rest] = entry.split(":");
    if (rest.length > 0 || version !== String(k + 1)) throw new ConfigError(`${shape}; entry ${k + 1} is not version ${k + 1}`);
    if (typeof hex !== "string" || !/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(`${shape}; the key of version ${k + 1} is not 64 hex digits (256 bits)`);
    keys.push(fromHex(hex)!);
  }
  if (keys.length === 0) throw new ConfigError(`PSEUDONYM_KEYS is not set: ${shape}`);
  return keys;
}

/** Parses once per environment object (one per isolate), then answers from memory. */
export function cached<T>(parse: (env: Record<string, unknown>) => T): (env: object) => T {
  const memo = new WeakMap<object, T>();
  return (env) => {
    if (!memo.has(env)) memo.set(env, parse(env as Record<string, unknown>));
    return memo.get(env)!;
  };
}

/** The config of this environment, parsed on first use; a bad value throws a ConfigError naming it. */
export const configOf = cached(parseConfig);
