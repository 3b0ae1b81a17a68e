// `npm run posture [-- --env NAME] [--config FILE] [--url URL]`: the security posture of one
// environment of wrangler.toml (scripts/posture/audit.ts) and, with --url, of a running deployment
// seen from outside (scripts/posture/probe.ts). Exits 1 on any finding, so that CI fails a change
// that weakens production (.ci/run audits --env production). The pseudonym key comparison of --url
// needs an operator's credential: $ADMIN_KEY, an Access service token ($CF_ACCESS_CLIENT_ID and
// $CF_ACCESS_CLIENT_SECRET), or for a local service the ADMIN_TOKEN of .dev.vars.

import path from "node:path";
import { parseArgs } from "node:util";
// The newest date the local runtime (workerd, through wrangler's miniflare) runs: the tests' limit.
import { supportedCompatibilityDate } from "miniflare";
import { type Finding, auditWranglerFile, readDevVars } from "./posture/audit";
import { probe, probeKey } from "./posture/probe";

// wrangler's config warnings (the experimental `secrets` field) would drown the report.
process.env.WRANGLER_LOG ??= "error";
const { values } = parseArgs({ options: { env: { type: "string" }, config: { type: "string", default: "wrangler.toml" }, url: { type: "string" } } });
const target = `${values.config}${values.env ? ` [env.${values.env}]` : " (top level)"}`;

const report = auditWranglerFile(values.config!, values.env, { now: Date.now(), runtimeDate: supportedCompatibilityDate });
const findings: Finding[] = [...report.findings];
console.log(`Posture of ${target}`);
for (const f of report.findings) console.log(`  FINDING  ${f.check}: ${f.message}`);
for (const line of report.passed) console.log(`  ok       ${line}`);
for (const note of report.notes) console.log(`  note     ${note}`);

if (values.url) {
  console.log(`\nProbe of ${values.url} (read only)`);
  const probed = await probe(values.url);
  for (const f of probed.findings) console.log(`  FINDING  ${f.check}: ${f.message}`);
  for (const line of probed.passed) console.log(`  ok       ${line}`);
  findings.push(...probed.findings);

  const devVars = readDevVars(path.join(path.dirname(values.config!), ".dev.vars")) ?? {};
  const keyed = await probeKey(values.url, { headers: operatorHeaders(values.url, devVars), localKeys: devVars.PSEUDONYM_KEYS, local: values.env === undefined });
  for (const f of keyed.findings) console.log(`  FINDING  ${f.check}: ${f.message}`);
  for (const line of keyed.passed) console.log(`  ok       ${line}`);
  for (const note of keyed.notes) console.log(`  note     ${note}`);
  findings.push(...keyed.findings);
}

console.log(findings.length === 0 ? "\nNo findings." : `\n${findings.length} finding${findings.length === 1 ? "" : "s"}.`);
process.exitCode = findings.length === 0 ? 0 : 1;

/** An operator's credential from the environment; the local legacy token only for a service on this machine. */
function operatorHeaders(url: string, devVars: Record<string, string>): Record<string, string> | undefined {
  const { ADMIN_KEY, CF_ACCESS_CLIENT_ID, CF_ACCESS_CLIENT_SECRET } = process.env;
  if (CF_ACCESS_CLIENT_ID && CF_ACCESS_CLIENT_SECRET) return { "CF-Access-Client-Id": CF_ACCESS_CLIENT_ID, "CF-Access-Client-Secret": CF_ACCESS_CLIENT_SECRET };
  const local = ["localhost", "127.0.0.1", "[::1]"].includes(new URL(url).hostname);
  const token = ADMIN_KEY ?? (local ? (process.env.ADMIN_TOKEN ?? devVars.ADMIN_TOKEN) : undefined);
  return token ? { Authorization: `Bearer ${token}` } : undefined;
}
