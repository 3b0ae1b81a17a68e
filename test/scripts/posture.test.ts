// `npm run posture`'s configuration audit (scripts/posture/audit.ts), on a clean production fixture
// (test/scripts/fixtures/wrangler.toml) changed one setting at a time: each weakness is found, and
// nothing else. Then the command itself, on the wrangler.toml this repository ships.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { auditWranglerFile } from "../../scripts/posture/audit";

// wrangler warns of the experimental `secrets` field on every read.
process.env.WRANGLER_LOG = "error";
const root = path.join(import.meta.dirname, "../..");
const fixture = readFileSync(path.join(import.meta.dirname, "fixtures/wrangler.toml"), "utf8").replace('main = "../../../src/index.ts"', `main = ${JSON.stringify(path.join(root, "src/index.ts"))}`);
const scratch = mkdtempSync(path.join(tmpdir(), "posture-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const options = { now: Date.parse("2026-12-01T12:00:00Z"), runtimeDate: "2026-04-26" };
let n = 0;
/** Audits one environment of the fixture (null: its top level) after replacing each `from` with its `to` in its text. */
function audit(changes: [string, string][] = [], envName: string | null = "production") {
  let text = fixture;
  for (const [from, to] of changes) {
    expect(text).toContain(from);
    text = text.replace(from, to);
  }
  const file = path.join(scratch, `wrangler-${n++}.toml`);
  writeFileSync(file, text);
  return auditWranglerFile(file, envName ?? undefined, options);
}
const checks = (report: ReturnType<typeof audit>) => [...new Set(report.findings.map((f) => f.check))];

describe("the configuration audit", () => {
  it("finds nothing in the clean fixture, and says what passed", () => {
    const report = audit();
    expect(report.findings).toEqual([]);
    expect(report.passed).toContain("test hooks off");
    expect(report.passed).toContain("network guard on");
  });

  const SECRETS = 'secrets = { required = ["AUDIT_KEY", "ALERT_WEBHOOK_URL"] }';
  const KEYS = 'ADMIN_KEYS = "viewer:scraper-1:';
  const VAR = "QUARANTINE_BUDGET = 0";
  const ENV = "[env.production]\n";
  it.each<[string, string, [string, string][]]>([
    ["test hooks reachable", "test-hooks", [["TEST_HOOKS = false", "TEST_HOOKS = true"]]],
    ["registration open", "registration-open", [['REGISTRATION = "admin"', 'REGISTRATION = "open"']]],
    ["the network guard off", "guard-off", [["GUARD = true", "GUARD = false"]]],
    ["the guard on without its rate-limiting binding", "guard-off", [['ratelimits = [{ name = "NETWORK_LIMIT", namespace_id = "1001", simple = { limit = 100, period = 10 } }]', ""]]],
    ["quarantine off", "quarantine-off", [[VAR, "QUARANTINE_BUDGET = 1"]]],
    ["probation off", "probation-off", [["DETECT_PROBATION_LIMIT = 5000", "DETECT_PROBATION_LIMIT = 20000"]]],
    ["no audit key", "credentials-missing", [[SECRETS, 'secrets = { required = ["ALERT_WEBHOOK_URL"] }']]],
    ["no way in for an operator", "credentials-missing", [['operator = ["group:icd-operators"], ', ""]]],
    ["a secret in plain text", "credentials-plaintext", [[SECRETS, 'secrets = { required = ["ALERT_WEBHOOK_URL"] }'], [VAR, `${VAR}\nAUDIT_KEY = "an-audit-key-in-plain-text-0123456789"`]]],
    ["the webhook URL in plain text", "credentials-plaintext", [[SECRETS, 'secrets = { required = ["AUDIT_KEY"] }'], [VAR, `${VAR}\nALERT_WEBHOOK_URL = "https://hooks.example.com/T0/B0/secret"`]]],
    ["no alert webhook", "no-alert-webhook", [[SECRETS, 'secrets = { required = ["AUDIT_KEY"] }']]],
    ["the legacy all-roles token accepted", "roles-broader", [[VAR, `${VAR}\nADMIN_TOKEN_LEGACY = true`]]],
    ["the all-roles ADMIN_TOKEN still declared", "roles-broader", [[SECRETS, 'secrets = { required = ["AUDIT_KEY", "ALERT_WEBHOOK_URL", "ADMIN_TOKEN"] }']]],
    ["three keys of one role", "roles-broader", [[KEYS, `ADMIN_KEYS = "viewer:a:${"a".repeat(64)},viewer:b:${"b".repeat(64)},viewer:scraper-1:`]]],
    ["an account-service key the binding makes useless", "roles-broader", [[KEYS, `ADMIN_KEYS = "account-service:accounts-1:${"c".repeat(64)},viewer:scraper-1:`]]],
    ["the public admin user routes on beside the Service Binding", "public-user-routes", [["ADMIN_USER_ROUTES = false", "ADMIN_USER_ROUTES = true"]]],
    ["a compatibility date of its own", "compatibility", [[ENV, `${ENV}compatibility_date = "2026-03-01"\n`]]],
    ["compatibility flags of its own", "compatibility", [[ENV, `${ENV}compatibility_flags = ["nodejs_compat"]\n`]]],
    ["a Durable Object no migration creates", "do-migrations", [['new_sqlite_classes = ["NetworkGuard", "Monitor"]', 'new_sqlite_classes = ["NetworkGuard"]']]],
    ["a class created twice", "do-migrations", [['new_sqlite_classes = ["NetworkGuard", "Monitor"]', 'new_sqlite_classes = ["NetworkGuard", "Monitor", "ClientBuckets"]']]],
    ["a bound class the Worker does not export", "do-migrations", [['{ name = "MONITOR", class_name = "Monitor" },\n]', '{ name = "MONITOR", class_name = "Monitor" },\n  { name = "GHOST", class_name = "Ghost" },\n]']]],
    ["migrations of its own", "do-migrations", [[ENV, `${ENV}migrations = [{ tag = "v1", new_sqlite_classes = ["ClientBuckets", "NetworkGuard", "Monitor"] }]\n`]]],
    ["vars the Worker refuses", "config-invalid", [[VAR, "QUARANTINE_BUDGET = 2"]]],
    ["a plaintext secret where a key hash belongs", "config-invalid", [[KEYS + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", `${KEYS}hunter2-hunter2`]]],
  ])("finds %s", (_, check, changes) => {
    const report = audit(changes);
    expect(checks(report)).toEqual([check]);
    expect(JSON.stringify(report)).not.toContain("hunter2");
  });

  it("finds a compatibility date in the future or newer than the runtime", () => {
    const report = audit([['compatibility_date = "2026-04-20"', 'compatibility_date = "2027-01-01"']]);
    expect(report.findings.map((f) => f.message)).toEqual([
      "compatibility_date 2027-01-01 is in the future",
      "compatibility_date 2027-01-01 is newer than the installed runtime supports (2026-04-26): the tests cannot run it",
    ]);
  });

  it("notes placeholders without failing on them", () => {
    const report = audit([['ACCESS_AUD = "3f2a9c1e7b4d8f6a0c5e2b9d7f1a3c8e6b4d2f0a9c7e5b3d1f8a6c4e2b0d9f7a"', `ACCESS_AUD = "${"0".repeat(64)}"`]]);
    expect(report.findings).toEqual([]);
    expect(report.notes).toEqual([expect.stringMatching(/^ACCESS_AUD is the all-zero placeholder/)]);
  });

  it("finds every weakness of a local development configuration at once", () => {
    expect(checks(audit([], null)).sort()).toEqual(
      ["credentials-missing", "guard-off", "no-alert-webhook", "probation-off", "public-user-routes", "quarantine-off", "registration-open", "roles-broader", "test-hooks"],
    );
  });
});

describe("npm run posture", () => {
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, ["scripts/run-ts.mjs", "scripts/posture.ts", ...args], { cwd: root }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

  it("passes the production environment this repository ships", async () => {
    const { code, stdout } = await run("--env", "production");
    expect(stdout).toContain("No findings.");
    expect(code).toBe(0);
  }, 60_000);

  it("exits 1 on the top level (local development), naming each finding", async () => {
    const { code, stdout } = await run();
    expect(code).toBe(1);
    for (const check of ["test-hooks", "registration-open", "guard-off", "quarantine-off", "probation-off", "roles-broader", "public-user-routes"]) expect(stdout).toContain(`FINDING  ${check}:`);
  }, 60_000);
});
