// `npm run typecheck` runs this (`node scripts/run-ts.mjs scripts/check-config.ts [--write]`): keeps
// wrangler.toml and docs/configuration.md in step with VARS in src/core/config.ts, the one home of
// each var's default and meaning.
//
//   - every var and secret wrangler.toml names is in VARS, and every environment's vars parse;
//   - local development (the top level, [env.sharded], [env.reshard]) sets no var to what its
//     absence gives: a default lives in VARS only;
//   - [env.sharded] and [env.reshard] set every var of the top level, with its value (wrangler does
//     not inherit vars), plus their own;
//   - docs/configuration.md's tables of vars and secrets are the ones VARS and wrangler.toml give.
//     With --write, this rewrites them instead of failing.

import { readFileSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { unstable_readConfig } from "wrangler";
import { ConfigError, VARS, type VarName, type VarSpec, parseConfig } from "../src/core/config";

// wrangler's config warnings (the experimental `secrets` field) would drown the report.
process.env.WRANGLER_LOG ??= "error";
const CONFIG = "wrangler.toml";
const DOC = "docs/configuration.md";
/** The environments of local development, which set only what differs from the defaults. */
const DEVELOPMENT = ["sharded", "reshard"];
const ENVIRONMENTS = [undefined, ...DEVELOPMENT, "production"];

interface Environment {
  name: string;
  vars: Record<string, unknown>;
  secrets: string[];
}
const read = (env: string | undefined): Environment => {
  const config = unstable_readConfig({ config: CONFIG, env }) as unknown as { vars: Record<string, unknown>; secrets?: { required?: string[] } };
  return { name: env === undefined ? "the top level" : `[env.${env}]`, vars: config.vars, secrets: config.secrets?.required ?? [] };
};
const [top, ...others] = ENVIRONMENTS.map(read);
const development = others.slice(0, DEVELOPMENT.length);
const production = others.at(-1)!;

const problems: string[] = [];
const specOf = (name: string): VarSpec | undefined => (Object.hasOwn(VARS, name) ? VARS[name as VarName] : undefined);

for (const env of [top!, ...others]) {
  for (const name of Object.keys(env.vars)) {
    const spec = specOf(name);
    if (!spec) problems.push(`${CONFIG} ${env.name} sets ${name}, which VARS in src/core/config.ts does not know: add it there, with its default and meaning`);
    else if (spec.set === "secret") problems.push(`${CONFIG} ${env.name} sets ${name} in vars, which VARS says is a secret`);
  }
  for (const name of env.secrets) {
    const spec = specOf(name);
    if (!spec || spec.set === "var") problems.push(`${CONFIG} ${env.name} requires the secret ${name}, which VARS in src/core/config.ts does not know as one`);
  }
  try {
    parseConfig(env.vars);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(`${CONFIG} ${env.name}: the Worker would refuse its vars: ${error.message}`);
  }
}

// A var of local development whose absence parses the same is a default said twice. (USERS_SHARDS
// is read with the bindings, not by parseConfig: its default, every shard bound, is never written.)
for (const env of [top!, ...development]) {
  for (const name of Object.keys(env.vars).filter((n) => n !== "USERS_SHARDS" && specOf(n))) {
    const { [name]: _, ...without } = env.vars;
    let same = false;
    try {
      same = isDeepStrictEqual(parseConfig(without), parseConfig(env.vars));
    } catch {
      // required: not a default
    }
    if (same) problems.push(`${CONFIG} ${env.name} sets ${name} = ${JSON.stringify(env.vars[name])}, its default (VARS in src/core/config.ts): leave it out`);
  }
}

for (const env of development) {
  for (const [name, value] of Object.entries(top!.vars)) {
    if (!isDeepStrictEqual(env.vars[name], value)) {
      problems.push(`${CONFIG} ${env.name} must set ${name} = ${JSON.stringify(value)}, as the top level does (wrangler does not inherit vars)`);
    }
  }
}

// The tables of docs/configuration.md, between their markers.
const escape = (text: string) => text.replaceAll("|", "\\|");
const number = (n: number) => n.toLocaleString("en-US");
function shown(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return value.length > 40 ? `\`"${value.slice(0, 8)}…"\`` : `\`${JSON.stringify(value)}\``;
  return `\`${JSON.stringify(value)}\``;
}
function defaultOf(spec: VarSpec): string {
  if (spec.required) return "required";
  if (spec.derived) return spec.derived;
  return spec.default === undefined ? "none" : shown(spec.default);
}
function valuesOf(spec: VarSpec): string {
  if (spec.range) return spec.range;
  if (typeof spec.default === "boolean") return "`true`, `false`";
  if (spec.set === "secret") return spec.min === undefined ? "" : `at least ${spec.min} characters`;
  if (spec.min === undefined || spec.max === undefined) return "";
  return `${number(spec.min)} to ${typeof spec.max === "number" ? number(spec.max) : spec.max}`;
}
function localOf(name: string): string {
  const here = name in top!.vars ? shown(top!.vars[name]) : "—";
  const own = development.filter((env) => name in env.vars && !(name in top!.vars)).map((env) => `${shown(env.vars[name])} in \`${env.name}\``);
  return escape(own.length > 0 ? `${here} (${own.join(", ")})` : here);
}
const productionOf = (name: string) => escape(name in production.vars ? shown(production.vars[name]) : "—");

const entries = Object.entries(VARS) as [VarName, VarSpec][];
const varsTable = [
  "| var | default | local | production | values | meaning |",
  "|---|---|---|---|---|---|",
  ...entries
    .filter(([, s]) => s.set !== "secret")
    .map(([name, s]) => `| \`${name}\`${s.set === "either" ? " (or a secret)" : ""} | ${escape(defaultOf(s))} | ${localOf(name)} | ${productionOf(name)} | ${escape(valuesOf(s))} | ${escape(s.meaning)} |`),
].join("\n");
const secretsTable = [
  "| secret | production | values | meaning |",
  "|---|---|---|---|",
  ...entries
    .filter(([, s]) => s.set !== "var")
    .map(([name, s]) => `| \`${name}\`${s.set === "either" ? " (or a var)" : ""} | ${production.secrets.includes(name) ? "required" : name in production.vars ? "a var" : "—"} | ${escape(valuesOf(s))} | ${escape(s.meaning)} |`),
].join("\n");

const doc = readFileSync(DOC, "utf8");
const MARK = (table: string, end = "") => `<!-- ${end}${table} table: generated from src/core/config.ts and wrangler.toml by scripts/check-config.ts -->`;
function withTable(text: string, table: string, rows: string): string {
  const [start, stop] = [MARK(table), MARK(table, "end of the ")];
  const [a, b] = [text.indexOf(start), text.indexOf(stop)];
  if (a < 0 || b < a) {
    problems.push(`${DOC} lacks the markers of its ${table} table: ${start} ... ${stop}`);
    return text;
  }
  return `${text.slice(0, a + start.length)}\n${rows}\n${text.slice(b)}`;
}
const generated = withTable(withTable(doc, "vars", varsTable), "secrets", secretsTable);

if (generated !== doc) {
  if (process.argv.includes("--write")) {
    writeFileSync(DOC, generated);
    console.log(`${DOC}: tables rewritten`);
  } else {
    problems.push(`${DOC}'s tables are not what src/core/config.ts and wrangler.toml give: run \`node scripts/run-ts.mjs scripts/check-config.ts --write\``);
  }
}

for (const problem of problems) console.error(problem);
process.exitCode = problems.length === 0 ? 0 : 1;
