// Configuration parsing: defaults, bounds, and every bad value naming its variable.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, VARS, type VarSpec, configOf, parseConfig } from "../../src/core/config";
import { fromHex } from "../../src/core/hex";

const good = { MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000, TEST_HOOKS: true };

describe("configuration", () => {
  it("reads the vars of wrangler.toml, as numbers or strings", () => {
    expect(parseConfig(good)).toEqual({
      maxContacts: 20000,
      s2PeriodMs: 86_400_000,
      s2DeltaMs: 864_000_000,
      testHooks: true,
      adminToken: undefined,
      legacyAdminToken: false,
      adminKeys: [],
      auditKey: undefined,
      adminUserRoutes: true,
      access: undefined,
      registration: "open",
      guard: false,
      guardRegistrationsPerHour: 10,
      detection: { maxDistinct: 30_000, minVolume: 2_000, hitRatioFactor: 0.25, edgeSyncs: 7, probationLimit: 20_000, walkError: 0.01, youngMs: 86_400_000 },
      quarantineBudget: 0,
      networkAccountsPerDay: 20,
      asnAccountsPerDay: 2_000,
      egress: { floorPerMinute: 20_000, floorPerHour: 300_000, factor: 4, calmMinutes: 10, probationLimit: 1_000, networkPerDay: 5_000, asnPerDay: 500_000, baselineHalfLifeMs: 7 * 86_400_000 },
      monitorShards: 1,
      monitorFlushMs: 1_000,
      monitorReadMs: 10_000,
      s2Index: { parts: 1, replicas: 1, maxKeys: 2_000_000, buildDelayMs: 0 },
      alertWebhookUrl: undefined,
    });
    expect(parseConfig({ MAX_CONTACTS: "5", S2_PERIOD: "60", S2_DELTA: "600", TEST_HOOKS: "false" })).toEqual({
      maxContacts: 5,
      s2PeriodMs: 60_000,
      s2DeltaMs: 600_000,
      testHooks: false,
      adminToken: undefined,
      legacyAdminToken: false,
      adminKeys: [],
      auditKey: undefined,
      adminUserRoutes: true,
      access: undefined,
      registration: "open",
      guard: false,
      guardRegistrationsPerHour: 10,
      detection: { maxDistinct: 30_000, minVolume: 2_000, hitRatioFactor: 0.25, edgeSyncs: 7, probationLimit: 5, walkError: 0.01, youngMs: 86_400_000 },
      quarantineBudget: 0,
      networkAccountsPerDay: 20,
      asnAccountsPerDay: 2_000,
      egress: { floorPerMinute: 20_000, floorPerHour: 300_000, factor: 4, calmMinutes: 10, probationLimit: 5, networkPerDay: 5_000, asnPerDay: 500_000, baselineHalfLifeMs: 7 * 86_400_000 },
      monitorShards: 1,
      monitorFlushMs: 1_000,
      monitorReadMs: 10_000,
      s2Index: { parts: 1, replicas: 1, maxKeys: 2_000_000, buildDelayMs: 0 },
      alertWebhookUrl: undefined,
    });
    expect(parseConfig({ ...good, GUARD: true, GUARD_REGISTRATIONS_PER_HOUR: "3" })).toMatchObject({ guard: true, guardRegistrationsPerHour: 3 });
    expect(parseConfig({ ...good, REGISTRATION: "admin" }).registration).toBe("admin");
    expect(parseConfig({ ...good, S2_INDEX_PARTS: "4", S2_INDEX_REPLICAS: 3, S2_INDEX_MAX_KEYS: "500", S2_INDEX_BUILD_DELAY_SECONDS: 60 }).s2Index).toEqual({ parts: 4, replicas: 3, maxKeys: 500, buildDelayMs: 60_000 });
    expect(parseConfig({ ...good, ADMIN_TOKEN: "a-long-enough-secret" }).adminToken).toBe("a-long-enough-secret");
  });

  it("reads the operator's credentials: hashed keys, the legacy token switch, the audit key, the user routes", () => {
    const hash = "ab".repeat(32);
    const vars = {
      ...good,
      ADMIN_KEYS: `operator:ops-1:${hash}, operator:ops-2:${"CD".repeat(32)}\nviewer:scraper_1:${hash}`,
      ADMIN_TOKEN_LEGACY: "true",
      AUDIT_KEY: "k".repeat(32),
      ADMIN_USER_ROUTES: false,
    };
    expect(parseConfig(vars)).toMatchObject({
      adminKeys: [
        { role: "operator", id: "ops-1", hash: fromHex(hash) },
        { role: "operator", id: "ops-2", hash: fromHex("cd".repeat(32)) },
        { role: "viewer", id: "scraper_1", hash: fromHex(hash) },
      ],
      legacyAdminToken: true,
      auditKey: "k".repeat(32),
      adminUserRoutes: false,
    });
  });

  it("reads Cloudflare Access: the team's issuer and keys, the audience, and who gets which role", () => {
    const vars = {
      ...good,
      ACCESS_TEAM_DOMAIN: "acme.cloudflareaccess.com",
      ACCESS_AUD: "0f".repeat(32),
      ACCESS_ROLES: { operator: ["Alice@Example.com", "group:ops"], viewer: ["token:abc.access"] },
    };
    const access = {
      teamDomain: "acme.cloudflareaccess.com",
      issuer: "https://acme.cloudflareaccess.com",
      certsUrl: "https://acme.cloudflareaccess.com/cdn-cgi/access/certs",
      audience: "0f".repeat(32),
      grants: [
        { identity: "email:alice@example.com", role: "operator" },
        { identity: "group:ops", role: "operator" },
        { identity: "token:abc.access", role: "viewer" },
      ],
    };
    expect(parseConfig(vars).access).toEqual(access);
    expect(parseConfig({ ...vars, ACCESS_ROLES: JSON.stringify(vars.ACCESS_ROLES) }).access).toEqual(access);
  });

  it.each([
    ["a role that does not exist", `admin:k1:${"ab".repeat(32)}`],
    ["a secret instead of a hash", "operator:k1:correct-horse-battery-staple"],
    ["a hash of 63 digits", `operator:k1:${"a".repeat(63)}`],
    ["no key id", `operator::${"ab".repeat(32)}`],
    ["a key id with a dot", `operator:k.1:${"ab".repeat(32)}`],
    ["a repeated key id", `operator:k1:${"ab".repeat(32)},viewer:k1:${"cd".repeat(32)}`],
  ])("refuses ADMIN_KEYS with %s, without echoing the entry", (_, keys) => {
    const parse = () => parseConfig({ ...good, ADMIN_KEYS: keys });
    expect(parse).toThrow(/^ADMIN_KEYS must/);
    expect(parse).not.toThrow(/correct-horse/);
  });

  const access = { ACCESS_TEAM_DOMAIN: "acme.cloudflareaccess.com", ACCESS_AUD: "0f".repeat(32), ACCESS_ROLES: { viewer: ["group:v"] } };
  it.each([
    ["only part of it", { ACCESS_TEAM_DOMAIN: access.ACCESS_TEAM_DOMAIN }, /^ACCESS_TEAM_DOMAIN, ACCESS_AUD and ACCESS_ROLES must be set together/],
    ["a team domain elsewhere", { ...access, ACCESS_TEAM_DOMAIN: "evil.example.com" }, /^ACCESS_TEAM_DOMAIN must be/],
    ["an audience that is no tag", { ...access, ACCESS_AUD: "my-app" }, /^ACCESS_AUD must be/],
    ["roles that are not JSON", { ...access, ACCESS_ROLES: "{operator" }, /^ACCESS_ROLES must map/],
    ["a person as the account service", { ...access, ACCESS_ROLES: { "account-service": ["bob@example.com"] } }, /^ACCESS_ROLES may grant only operator and viewer/],
    ["an identity that is none", { ...access, ACCESS_ROLES: { viewer: ["everyone"] } }, /^ACCESS_ROLES must map/],
  ])("refuses Access configuration with %s", (_, vars, error) => {
    expect(() => parseConfig({ ...good, ...vars })).toThrow(error);
  });

  it("reads the detection thresholds, the quarantine share and the alert webhook", () => {
    const vars = {
      ...good,
      DETECT_MAX_DISTINCT: "50000",
      DETECT_MIN_VOLUME: 500,
      DETECT_HIT_RATIO_FACTOR: "0.1",
      DETECT_EDGE_SYNCS: 5,
      DETECT_PROBATION_LIMIT: "4000",
      DETECT_WALK_ERROR: "0.001",
      QUARANTINE_BUDGET: 0.5,
      DETECT_NETWORK_ACCOUNTS_PER_DAY: 7,
      DETECT_ASN_ACCOUNTS_PER_DAY: 70,
      ALERT_WEBHOOK_URL: "https://hooks.example.com/icd",
    };
    expect(parseConfig(vars)).toMatchObject({
      detection: { maxDistinct: 50_000, minVolume: 500, hitRatioFactor: 0.1, edgeSyncs: 5, probationLimit: 4_000, walkError: 0.001, youngMs: 86_400_000 },
      quarantineBudget: 0.5,
      networkAccountsPerDay: 7,
      asnAccountsPerDay: 70,
      alertWebhookUrl: "https://hooks.example.com/icd",
    });
  });

  it("has DEFAULTS (what the client assumes) equal to the vars of wrangler.toml", () => {
    const config = configOf(env);
    expect({ maxContacts: config.maxContacts, s2PeriodSeconds: config.s2PeriodMs / 1000, s2DeltaSeconds: config.s2DeltaMs / 1000 }).toEqual(DEFAULTS);
  });

  // docs/configuration.md shows VARS' bounds as each var's values: they must be what the parser enforces.
  const bounded = (Object.entries(VARS) as [string, VarSpec][]).filter(([name, s]) => name !== "USERS_SHARDS" && s.range === undefined && typeof s.min === "number" && typeof s.max === "number");
  it.each(bounded.filter(([, s]) => s.set === "var").map(([name, s]) => [name, s.min!, s.max as number]))("takes %s from %d to %d, and nothing outside", (name, min, max) => {
    expect(() => parseConfig({ ...good, [name]: min })).not.toThrow();
    expect(() => parseConfig({ ...good, [name]: max })).not.toThrow();
    for (const value of [min - 1, max + 1]) expect(() => parseConfig({ ...good, [name]: value })).toThrow(new RegExp(`^${name} must be`));
  });
  it.each(bounded.filter(([, s]) => s.set === "secret").map(([name, s]) => [name, s.min!]))("takes %s of at least %d characters", (name, min) => {
    expect(parseConfig({ ...good, [name]: "k".repeat(min) })).toBeTruthy();
    expect(() => parseConfig({ ...good, [name]: "k".repeat(min - 1) })).toThrow(new RegExp(`^${name} must be`));
  });

  it("takes each var's default from VARS where it is not set", () => {
    expect(parseConfig(good)).toMatchObject({
      registration: VARS.REGISTRATION.default,
      guard: VARS.GUARD.default,
      adminUserRoutes: VARS.ADMIN_USER_ROUTES.default,
      quarantineBudget: VARS.QUARANTINE_BUDGET.default,
      monitorShards: VARS.MONITOR_SHARDS.default,
      detection: { maxDistinct: VARS.DETECT_MAX_DISTINCT.default, walkError: VARS.DETECT_WALK_ERROR.default },
    });
  });

  it("leaves the test hooks off unless asked", () => {
    const { TEST_HOOKS: _, ...withoutHooks } = good;
    expect(parseConfig(withoutHooks).testHooks).toBe(false);
  });

  it.each([
    ["MAX_CONTACTS", "abc"],
    ["MAX_CONTACTS", 0],
    ["MAX_CONTACTS", 1.5],
    ["MAX_CONTACTS", 100_001],
    ["MAX_CONTACTS", undefined],
    ["S2_PERIOD", -1],
    ["S2_PERIOD", ""],
    ["S2_DELTA", "10 days"],
    ["S2_DELTA", 400 * 24 * 3600],
    ["TEST_HOOKS", "yes"],
    ["ADMIN_TOKEN", "short"],
    ["REGISTRATION", "closed"],
    ["GUARD", "on"],
    ["GUARD_REGISTRATIONS_PER_HOUR", 0],
    ["ADMIN_TOKEN", 12345678901234567],
    ["DETECT_MAX_DISTINCT", 0],
    ["DETECT_MIN_VOLUME", "many"],
    ["DETECT_HIT_RATIO_FACTOR", 1.5],
    ["DETECT_HIT_RATIO_FACTOR", "low"],
    ["DETECT_EDGE_SYNCS", 2.5],
    ["DETECT_PROBATION_LIMIT", 20_001],
    ["DETECT_WALK_ERROR", 0],
    ["DETECT_WALK_ERROR", 0.5],
    ["QUARANTINE_BUDGET", -0.1],
    ["DETECT_NETWORK_ACCOUNTS_PER_DAY", 0],
    ["DETECT_ASN_ACCOUNTS_PER_DAY", "lots"],
    ["ALERT_WEBHOOK_URL", "ftp://hooks.example.com"],
    ["ALERT_WEBHOOK_URL", "not a url"],
    ["ADMIN_TOKEN_LEGACY", "yes"],
    ["ADMIN_USER_ROUTES", "off"],
    ["AUDIT_KEY", "too-short-for-an-hmac-key"],
    ["S2_INDEX_PARTS", 0],
    ["S2_INDEX_REPLICAS", 1.5],
    ["S2_INDEX_MAX_KEYS", "many"],
  ])("refuses %s = %j with an error naming it", (name, value) => {
    const parse = () => parseConfig({ ...good, [name]: value });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(new RegExp(`^${name} must be`));
  });
});
