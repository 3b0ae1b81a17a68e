// `npm run posture [-- --env NAME] [--config FILE] [--url URL]`: the security posture of one
// environment of wrangler.toml (scripts/posture/audit.ts) and, with --url, of a running deployment
// seen from outside (scripts/posture/probe.ts). Exits 1 on any finding, so that CI fails a change
// that weakens production (.ci/run audits --env production).

import { parseArgs } from "node:util";
// The newest date the local runtime (workerd, through wrangler's miniflare) runs: the tests' limit.
import { supportedCompatibilityDate } from "miniflare";
import { type Finding, auditWranglerFile } from "./posture/audit";
import { probe } from "./posture/probe";

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
}

console.log(findings.length === 0 ? "\nNo findings." : `\n${findings.length} finding${findings.length === 1 ? "" : "s"}.`);
process.exitCode = findings.length === 0 ? 0 : 1;
