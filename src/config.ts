// Service configuration from wrangler.toml vars, parsed and validated once per environment.

export interface Config {
  /** Bucket capacity, and the most identifiers one request may carry. */
  maxContacts: number;
  /** Milliseconds in which a full incremental bucket drains. */
  s2PeriodMs: number;
  /** Milliseconds a change stays in S2; a full "full-sync" bucket drains in this time. */
  s2DeltaMs: number;
  /** Whether the unauthenticated local-development hooks (/reset, /test/...) exist. */
  testHooks: boolean;
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

function booleanVar(vars: Record<string, unknown>, name: string): boolean {
  const raw = vars[name];
  if (raw === undefined || raw === false || raw === "false") return false;
  if (raw === true || raw === "true") return true;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

export function parseConfig(vars: Record<string, unknown>): Config {
  return {
    maxContacts: integerVar(vars, "MAX_CONTACTS", 1, MAX_CONTACTS_LIMIT),
    s2PeriodMs: integerVar(vars, "S2_PERIOD", 1, PERIOD_LIMIT_SECONDS) * 1000,
    s2DeltaMs: integerVar(vars, "S2_DELTA", 1, PERIOD_LIMIT_SECONDS) * 1000,
    testHooks: booleanVar(vars, "TEST_HOOKS"),
  };
}

const parsed = new WeakMap<object, Config>();

/** The config of this environment, parsed on first use; a bad value throws a ConfigError naming it. */
export function configOf(env: object): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env as Record<string, unknown>);
    parsed.set(env, config);
  }
  return config;
}
