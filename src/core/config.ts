// Service configuration from wrangler.toml vars, parsed and validated once per environment.

import { fromHex } from "./hex";
import { type Role, isRole } from "./roles";

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

function integerVar(vars: Record<string, unknown>, name: string, min: number, max: number): number {
  const raw = vars[name];
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function fractionVar(vars: Record<string, unknown>, name: string, fallback: number): number {
  const raw = vars[name] ?? fallback;
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(`${name} must be a number from 0 to 1, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** DETECT_WALK_ERROR: an error rate of the sequential test, strictly between 0 and 0.5 (at 0.5 it would decide on nothing). */
function walkErrorVar(vars: Record<string, unknown>): number {
  const value = fractionVar(vars, "DETECT_WALK_ERROR", 0.01);
  if (value <= 0 || value >= 0.5) throw new ConfigError(`DETECT_WALK_ERROR must be above 0 and below 0.5, got ${JSON.stringify(vars.DETECT_WALK_ERROR)}`);
  return value;
}

const optionalInteger = (vars: Record<string, unknown>, name: string, fallback: number, min: number, max: number) =>
  vars[name] === undefined ? fallback : integerVar(vars, name, min, max);

function urlVar(vars: Record<string, unknown>, name: string): string | undefined {
  const raw = vars[name];
  if (raw === undefined || raw === "") return undefined;
  try {
    if (typeof raw === "string" && /^https?:$/.test(new URL(raw).protocol)) return raw;
  } catch {}
  throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
}

function booleanVar(vars: Record<string, unknown>, name: string): boolean {
  const raw = vars[name];
  if (raw === undefined || raw === false || raw === "false") return false;
  if (raw === true || raw === "true") return true;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function choiceVar<T extends string>(vars: Record<string, unknown>, name: string, choices: readonly T[], fallback: T): T {
  const raw = vars[name] ?? fallback;
  if (!choices.includes(raw as T)) throw new ConfigError(`${name} must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function secretVar(vars: Record<string, unknown>, name: string, minLength: number): string | undefined {
  const raw = vars[name];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string" || raw.length < minLength) throw new ConfigError(`${name} must be a string of at least ${minLength} characters`);
  return raw;
}

/** Whether a boolean var that is on unless switched off is on. */
const booleanVarOn = (vars: Record<string, unknown>, name: string) => vars[name] === undefined || booleanVar(vars, name);

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

export function parseConfig(vars: Record<string, unknown>): Config {
  const maxContacts = integerVar(vars, "MAX_CONTACTS", 1, MAX_CONTACTS_LIMIT);
  return {
    maxContacts,
    s2PeriodMs: integerVar(vars, "S2_PERIOD", 1, PERIOD_LIMIT_SECONDS) * 1000,
    s2DeltaMs: integerVar(vars, "S2_DELTA", 1, PERIOD_LIMIT_SECONDS) * 1000,
    testHooks: booleanVar(vars, "TEST_HOOKS"),
    adminToken: secretVar(vars, "ADMIN_TOKEN", 16),
    legacyAdminToken: booleanVar(vars, "ADMIN_TOKEN_LEGACY"),
    adminKeys: adminKeysVar(vars),
    auditKey: secretVar(vars, "AUDIT_KEY", 32),
    adminUserRoutes: booleanVarOn(vars, "ADMIN_USER_ROUTES"),
    access: accessVars(vars),
    registration: choiceVar(vars, "REGISTRATION", ["open", "admin"] as const, "open"),
    guard: booleanVar(vars, "GUARD"),
    guardRegistrationsPerHour: optionalInteger(vars, "GUARD_REGISTRATIONS_PER_HOUR", 10, 1, 1_000_000),
    detection: {
      maxDistinct: optionalInteger(vars, "DETECT_MAX_DISTINCT", 30_000, 1, 1_000_000_000),
      minVolume: optionalInteger(vars, "DETECT_MIN_VOLUME", 2_000, 1, 1_000_000_000),
      hitRatioFactor: fractionVar(vars, "DETECT_HIT_RATIO_FACTOR", 0.25),
      edgeSyncs: optionalInteger(vars, "DETECT_EDGE_SYNCS", 7, 1, 1_000_000),
      probationLimit: optionalInteger(vars, "DETECT_PROBATION_LIMIT", maxContacts, 1, maxContacts),
      walkError: walkErrorVar(vars),
      youngMs: optionalInteger(vars, "DETECT_YOUNG_HOURS", 24, 0, 24 * 365) * 3600_000,
    },
    quarantineBudget: fractionVar(vars, "QUARANTINE_BUDGET", 0),
    networkAccountsPerDay: optionalInteger(vars, "DETECT_NETWORK_ACCOUNTS_PER_DAY", 20, 1, 1_000_000_000),
    asnAccountsPerDay: optionalInteger(vars, "DETECT_ASN_ACCOUNTS_PER_DAY", 2_000, 1, 1_000_000_000),
    egress: {
      floorPerMinute: optionalInteger(vars, "EGRESS_FLOOR_PER_MINUTE", 20_000, 1, 1_000_000_000),
      floorPerHour: optionalInteger(vars, "EGRESS_FLOOR_PER_HOUR", 15 * optionalInteger(vars, "EGRESS_FLOOR_PER_MINUTE", 20_000, 1, 1_000_000_000), 1, 1_000_000_000_000),
      factor: optionalInteger(vars, "EGRESS_FACTOR", 4, 1, 1000),
      calmMinutes: optionalInteger(vars, "EGRESS_CALM_MINUTES", 10, 1, 1440),
      probationLimit: optionalInteger(vars, "EGRESS_PROBATION_LIMIT", Math.min(1_000, maxContacts), 1, maxContacts),
      networkPerDay: optionalInteger(vars, "EGRESS_NETWORK_PER_DAY", 5_000, 1, 1_000_000_000),
      asnPerDay: optionalInteger(vars, "EGRESS_ASN_PER_DAY", 500_000, 1, 1_000_000_000),
    },
    monitorShards: optionalInteger(vars, "MONITOR_SHARDS", 1, 1, 1000),
    monitorFlushMs: optionalInteger(vars, "MONITOR_FLUSH_SECONDS", 1, 1, 60) * 1000,
    monitorReadMs: optionalInteger(vars, "MONITOR_READ_SECONDS", 10, 1, 3600) * 1000,
    s2Index: {
      parts: optionalInteger(vars, "S2_INDEX_PARTS", 1, 1, 1000),
      replicas: optionalInteger(vars, "S2_INDEX_REPLICAS", 1, 1, 100),
      maxKeys: optionalInteger(vars, "S2_INDEX_MAX_KEYS", 2_000_000, 1, 1_000_000_000),
      buildDelayMs: optionalInteger(vars, "S2_INDEX_BUILD_DELAY_SECONDS", 0, 0, 7 * 86_400) * 1000,
    },
    alertWebhookUrl: urlVar(vars, "ALERT_WEBHOOK_URL"),
  };
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
