// The configuration half of `npm run posture`: reads one environment of wrangler.toml as wrangler
// resolves it, runs the service's own config parser on its vars, and lists every setting that
// leaves the deployment weaker than it should be. Secrets cannot be read here, so the audit checks
// which ones the environment declares (`secrets.required`, which `wrangler deploy` enforces); the
// pseudonym key it can see (local development's, in .dev.vars) it checks for strength.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { unstable_readConfig } from "wrangler";
import { type Config, ConfigError, parseConfig } from "../../src/core/config";
import { parseKeyEntries } from "./keys";
import type { Role } from "../../src/core/roles";

/** The parts of wrangler's resolved configuration the audit reads. */
export interface WranglerEnv {
  main?: string;
  vars: Record<string, unknown>;
  secrets?: { required?: string[] };
  compatibility_date?: string;
  compatibility_flags: string[];
  migrations: { tag: string; new_classes?: string[]; new_sqlite_classes?: string[]; renamed_classes?: { from: string; to: string }[]; deleted_classes?: string[] }[];
  durable_objects: { bindings: { name: string; class_name: string; script_name?: string }[] };
  ratelimits?: { name: string }[];
  d1_databases: { binding: string; database_id?: string }[];
}

export interface Finding {
  check: string;
  message: string;
}

export interface Report {
  /** What passed, one line each. */
  passed: string[];
  findings: Finding[];
  /** Worth knowing, not a weakness: placeholders to replace on deployment, what cannot be seen from here. */
  notes: string[];
}

export interface AuditOptions {
  /** The text of the Worker's entry module (its exports: Durable Object classes, AccountService). */
  mainSource: string;
  /** Today, as ms since the epoch: a compatibility date after it is a mistake. */
  now: number;
  /** The newest compatibility date the installed runtime (workerd) supports. */
  runtimeDate: string;
  /**
   * The secrets local development gets from .dev.vars (wrangler loads the names in
   * `secrets.required`), when auditing the top level; undefined: there is no .dev.vars.
   */
  devVars?: Record<string, string>;
}

/** Names that hold a credential or a secret URL: never in `vars`, which live in wrangler.toml in plain text. */
const SECRET_NAMES = ["ADMIN_TOKEN", "AUDIT_KEY", "ALERT_WEBHOOK_URL", "PSEUDONYM_KEYS"];
/** Two keys of one role are a rotation in progress; a third is a key someone forgot to remove. */
const MAX_KEYS_PER_ROLE = 2;

/** Audits environment `env`; `base` is the top-level environment (what `npm start` and the tests run). */
export function auditConfig(env: WranglerEnv, base: WranglerEnv, options: AuditOptions): Report {
  const report: Report = { passed: [], findings: [], notes: [] };
  const find = (check: string, message: string) => report.findings.push({ check, message });
  const pass = (line: string) => report.passed.push(line);
  const secrets = new Set(env.secrets?.required ?? []);
  const declared = (name: string) => secrets.has(name) || (env.vars[name] !== undefined && env.vars[name] !== "");
  const exportsOf = exportedNames(options.mainSource);

  let config: Config | undefined;
  try {
    config = parseConfig(env.vars);
    pass("vars parse (src/core/config.ts)");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    find("config-invalid", `the Worker would refuse its vars: ${error.message}`);
  }

  if (config) {
    if (config.testHooks) find("test-hooks", "TEST_HOOKS = true: /reset and /test/* are reachable without credentials and change the directory");
    else pass("test hooks off");
    if (config.registration === "open") find("registration-open", 'REGISTRATION = "open": anyone can create accounts, each with a full budget; production registers through the account service ("admin")');
    else pass("registration only through the account service");
    if (!config.guard) find("guard-off", "GUARD = false: no per-network rate limit and no per-network registration allowance");
    else if (!env.ratelimits?.some((r) => r.name === "NETWORK_LIMIT")) find("guard-off", "GUARD = true but no NETWORK_LIMIT rate-limiting binding: the guard cannot count");
    else pass("network guard on");
    if (config.quarantineBudget >= 1) find("quarantine-off", `QUARANTINE_BUDGET = ${config.quarantineBudget}: a flagged client keeps its whole full-sync budget (0 refuses it)`);
    else pass(`quarantine on (a flagged client keeps ${config.quarantineBudget * 100}% of its full budget)`);
    if (config.detection.probationLimit >= config.maxContacts) {
      find("probation-off", `DETECT_PROBATION_LIMIT = ${config.detection.probationLimit} is the whole bucket (${config.maxContacts}): a new client's first full sync is not held back until it has been judged`);
    } else pass(`probation on (${config.detection.probationLimit} of ${config.maxContacts} before the first judgement)`);
    auditCredentials(env, config, exportsOf, declared, find, pass, report.notes);
  }

  // Secrets in plain text, whatever else the vars say.
  const plain = SECRET_NAMES.filter((name) => env.vars[name] !== undefined && env.vars[name] !== "");
  if (plain.length > 0) find("credentials-plaintext", `${plain.join(", ")} in vars: wrangler.toml holds them in plain text; set them with \`wrangler secret put\` and list them in secrets.required`);
  else pass("no secret in vars");

  auditPseudonymKeys(env, options, declared, find, pass, report.notes);

  if (!declared("ALERT_WEBHOOK_URL")) find("no-alert-webhook", "ALERT_WEBHOOK_URL is not declared (secrets.required): flags, throttled networks and rate anomalies alert nobody");
  else pass("alert webhook declared");

  auditCompatibility(env, base, options, find, pass);
  auditMigrations(env, base, exportsOf, find, pass);

  for (const db of env.d1_databases) if (/^0{8}-(0{4}-){3}0{12}$/.test(db.database_id ?? "")) report.notes.push(`${db.binding}'s database_id is the all-zero placeholder: put the id of \`wrangler d1 create\` there before deploying`);
  return report;
}

function auditCredentials(
  env: WranglerEnv,
  config: Config,
  exportsOf: Set<string>,
  declared: (name: string) => boolean,
  find: (check: string, message: string) => void,
  pass: (line: string) => void,
  notes: string[],
) {
  const missing: string[] = [];
  if (!declared("AUDIT_KEY")) missing.push("AUDIT_KEY is not declared (secrets.required): the audit log and alerts cannot name the clients they are about");
  const keySecret = env.secrets?.required?.includes("ADMIN_KEYS") ?? false;
  const operatorKey = config.adminKeys.some((k) => k.role === "operator");
  const operatorAccess = config.access?.grants.some((g) => g.role === "operator") ?? false;
  if (!operatorKey && !operatorAccess && !keySecret && !config.legacyAdminToken) {
    missing.push("no operator credential: no operator key in ADMIN_KEYS and nobody granted operator by ACCESS_ROLES; flags could never be cleared");
  }
  if (missing.length > 0) for (const message of missing) find("credentials-missing", message);
  else pass("credentials declared (the audit key, a way in for operators)");
  if (keySecret) notes.push("ADMIN_KEYS is a secret here: its roles cannot be audited from wrangler.toml (keep the hashes in vars instead)");

  const broader: string[] = [];
  if (config.legacyAdminToken) broader.push("ADMIN_TOKEN_LEGACY = true: ADMIN_TOKEN is one credential with every role");
  if (declared("ADMIN_TOKEN")) broader.push("ADMIN_TOKEN is declared: remove the all-roles secret (`wrangler secret delete ADMIN_TOKEN`)");
  const perRole = new Map<Role, string[]>();
  for (const key of config.adminKeys) perRole.set(key.role, [...(perRole.get(key.role) ?? []), key.id]);
  for (const [role, ids] of perRole) {
    if (ids.length > MAX_KEYS_PER_ROLE) broader.push(`${ids.length} ${role} keys (${ids.join(", ")}): a rotation needs two at most; remove the old ones`);
  }
  if (!config.adminUserRoutes && perRole.has("account-service")) {
    broader.push(`account-service key ${perRole.get("account-service")!.join(", ")} while ADMIN_USER_ROUTES = false: it opens nothing, remove it`);
  }
  if (broader.length > 0) for (const message of broader) find("roles-broader", message);
  else pass("no credential broader than its role");

  if (config.adminUserRoutes && exportsOf.has("AccountService")) {
    find("public-user-routes", "ADMIN_USER_ROUTES is on while the Worker exports the AccountService entrypoint: register and delete through the Service Binding and set ADMIN_USER_ROUTES = false");
  } else pass("account service on its Service Binding only");

  if (config.access) {
    if (/^0+$/.test(config.access.audience)) notes.push("ACCESS_AUD is the all-zero placeholder: put your Access application's audience tag there before deploying");
    if (config.access.teamDomain.startsWith("your-team.")) notes.push(`ACCESS_TEAM_DOMAIN is the placeholder ${config.access.teamDomain}: put your team's there before deploying`);
  }
}

/**
 * The keys of the pseudonyms the directory is stored under (docs/keys.md): declared as a secret, and every key that can be seen from here (a value in vars, which
 * is a finding of its own; local development's in .dev.vars) well formed and of 256 bits or more.
 * Whether two environments share a key only the running services can tell: `--url` compares.
 */
function auditPseudonymKeys(
  env: WranglerEnv,
  options: AuditOptions,
  declared: (name: string) => boolean,
  find: (check: string, message: string) => void,
  pass: (line: string) => void,
  notes: string[],
) {
  if (!declared("PSEUDONYM_KEYS")) {
    find("pseudonym-key-missing", "PSEUDONYM_KEYS is not declared (secrets.required): the Worker refuses to serve without its pseudonym keys, and `wrangler deploy` does not check for them unless they are listed (docs/keys.md)");
    return;
  }
  pass("pseudonym keys declared");

  const seen: [where: string, keys: string][] = [];
  const inVars = env.vars.PSEUDONYM_KEYS;
  if (inVars !== undefined && inVars !== "") seen.push(["vars", String(inVars)]);
  if (options.devVars && env.secrets?.required?.includes("PSEUDONYM_KEYS")) {
    const local = options.devVars.PSEUDONYM_KEYS;
    if (local) seen.push([".dev.vars", local]);
    else notes.push("PSEUDONYM_KEYS is not in .dev.vars: the local service refuses to serve until `npm start` makes a key");
  }
  for (const [where, keys] of seen) {
    try {
      const entries = parseKeyEntries(keys);
      pass(`pseudonym keys in ${where} well formed (${entries.length} version${entries.length === 1 ? "" : "s"}, 256 bits or more each)`);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      find("pseudonym-key-weak", `${where}: ${error.message}`);
    }
  }
}

function auditCompatibility(env: WranglerEnv, base: WranglerEnv, options: AuditOptions, find: (check: string, message: string) => void, pass: (line: string) => void) {
  const date = env.compatibility_date;
  const today = new Date(options.now).toISOString().slice(0, 10);
  const problems: string[] = [];
  if (!date) problems.push("no compatibility_date");
  else {
    if (date > today) problems.push(`compatibility_date ${date} is in the future`);
    if (date > options.runtimeDate) problems.push(`compatibility_date ${date} is newer than the installed runtime supports (${options.runtimeDate}): the tests cannot run it`);
    if (date !== base.compatibility_date) problems.push(`compatibility_date ${date} differs from the top level's ${base.compatibility_date}, which npm start and the tests run`);
  }
  const flags = [...env.compatibility_flags].sort().join(", ");
  const baseFlags = [...base.compatibility_flags].sort().join(", ");
  if (flags !== baseFlags) problems.push(`compatibility_flags [${flags}] differ from the top level's [${baseFlags}]`);
  if (problems.length > 0) for (const problem of problems) find("compatibility", problem);
  else pass(`compatibility date ${date}, the same as the tests run`);
}

function auditMigrations(env: WranglerEnv, base: WranglerEnv, exportsOf: Set<string>, find: (check: string, message: string) => void, pass: (line: string) => void) {
  const problems: string[] = [];
  const tags = env.migrations.map((m) => m.tag);
  for (const tag of new Set(tags)) if (tags.filter((t) => t === tag).length > 1) problems.push(`migration tag ${tag} appears twice`);
  const live = new Set<string>();
  for (const m of env.migrations) {
    for (const name of [...(m.new_classes ?? []), ...(m.new_sqlite_classes ?? [])]) {
      if (live.has(name)) problems.push(`migration ${m.tag} creates ${name}, which exists already`);
      live.add(name);
    }
    for (const { from, to } of m.renamed_classes ?? []) {
      if (!live.delete(from)) problems.push(`migration ${m.tag} renames ${from}, which does not exist`);
      live.add(to);
    }
    for (const name of m.deleted_classes ?? []) if (!live.delete(name)) problems.push(`migration ${m.tag} deletes ${name}, which does not exist`);
  }
  for (const binding of env.durable_objects.bindings) {
    if (binding.script_name) continue;
    if (!live.has(binding.class_name)) problems.push(`${binding.name} binds ${binding.class_name}, which no migration creates`);
    if (!exportsOf.has(binding.class_name)) problems.push(`${binding.name} binds ${binding.class_name}, which the Worker does not export`);
  }
  if (JSON.stringify(env.migrations) !== JSON.stringify(base.migrations)) problems.push("the migrations differ from the top level's, which npm start and the tests apply");
  if (problems.length > 0) for (const problem of problems) find("do-migrations", problem);
  else pass(`Durable Object migrations consistent (${tags.join(", ")})`);
}

/** The names a module exports (`export class X`, `export { X } from ...`, `export const X`). */
export function exportedNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const [, name] of source.matchAll(/export\s+(?:class|const|function|let)\s+([A-Za-z_$][\w$]*)/g)) names.add(name!);
  for (const [, list] of source.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const item of list!.split(",")) {
      const name = item.trim().split(/\s+as\s+/).pop()?.trim();
      if (name) names.add(name);
    }
  }
  return names;
}

/**
 * Reads environment `envName` (undefined: the top level) of a wrangler config file and audits it;
 * for the top level, with the .dev.vars beside the file (what `npm start` serves it with).
 */
export function auditWranglerFile(configPath: string, envName: string | undefined, options: Omit<AuditOptions, "mainSource" | "devVars">): Report {
  const env = unstable_readConfig({ config: configPath, env: envName }) as unknown as WranglerEnv;
  const base = unstable_readConfig({ config: configPath }) as unknown as WranglerEnv;
  const mainSource = env.main ? readFileSync(env.main, "utf8") : "";
  const devVars = envName === undefined ? readDevVars(path.join(path.dirname(configPath), ".dev.vars")) : undefined;
  return auditConfig(env, base, { ...options, mainSource, devVars });
}

/** The NAME=value lines of a .dev.vars file (values optionally quoted; # comments), or undefined if there is none. */
export function readDevVars(file: string): Record<string, string> | undefined {
  if (!existsSync(file)) return undefined;
  const vars: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (match) vars[match[1]!] = match[2]!.trim().replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
  }
  return vars;
}
