// `npm run posture`'s configuration audit (scripts/posture/audit.ts), on a clean production fixture
// (test/scripts/fixtures/wrangler.toml) changed one setting at a time: each weakness is found, and
// nothing else; the pseudonym key local development holds (.dev.vars) checked for strength, and a
// running service's key compared with it (scripts/posture/probe.ts, against a stand-in server).
// Then the command itself, on the wrangler.toml this repository ships.

import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditWranglerFile } from "../../scripts/posture/audit";
import { probeKey } from "../../scripts/posture/probe";
import { fingerprint } from "../../scripts/posture/keys";

// wrangler warns of the experimental `secrets` field on every read.
process.env.WRANGLER_LOG = "error";
const root = path.join(import.meta.dirname, "../..");
const fixture = readFileSync(path.join(import.meta.dirname, "fixtures/wrangler.toml"), "utf8").replace('main = "../../../src/index.ts"', `main = ${JSON.stringify(path.join(root, "src/index.ts"))}`);
const scratch = mkdtempSync(path.join(tmpdir(), "posture-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const options = { now: Date.parse("2026-12-01T12:00:00Z"), runtimeDate: "2026-04-26" };
let n = 0;
/**
 * Audits one environment of the fixture (null: its top level) after replacing each `from` with its
 * `to` in its text, with `devVars` as the .dev.vars beside it (none if undefined).
 */
function audit(changes: [string, string][] = [], envName: string | null = "production", devVars?: string) {
  let text = fixture;
  for (const [from, to] of changes) {
    expect(text).toContain(from);
    text = text.replace(from, to);
  }
  const dir = path.join(scratch, String(n++));
  mkdirSync(dir);
  const file = path.join(dir, "wrangler.toml");
  writeFileSync(file, text);
  if (devVars !== undefined) writeFileSync(path.join(dir, ".dev.vars"), devVars);
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

  const required = (...names: string[]) => `secrets = { required = [${names.map((name) => JSON.stringify(name)).join(", ")}] }`;
  const SECRETS = required("AUDIT_KEY", "ALERT_WEBHOOK_URL", "PSEUDONYM_KEYS");
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
    ["no audit key", "credentials-missing", [[SECRETS, required("ALERT_WEBHOOK_URL", "PSEUDONYM_KEYS")]]],
    ["no way in for an operator", "credentials-missing", [['operator = ["group:icd-operators"], ', ""]]],
    ["a secret in plain text", "credentials-plaintext", [[SECRETS, required("ALERT_WEBHOOK_URL", "PSEUDONYM_KEYS")], [VAR, `${VAR}\nAUDIT_KEY = "an-audit-key-in-plain-text-0123456789"`]]],
    ["the webhook URL in plain text", "credentials-plaintext", [[SECRETS, required("AUDIT_KEY", "PSEUDONYM_KEYS")], [VAR, `${VAR}\nALERT_WEBHOOK_URL = "https://hooks.example.com/T0/B0/secret"`]]],
    ["no alert webhook", "no-alert-webhook", [[SECRETS, required("AUDIT_KEY", "PSEUDONYM_KEYS")]]],
    ["no pseudonym key", "pseudonym-key-missing", [[SECRETS, required("AUDIT_KEY", "ALERT_WEBHOOK_URL")]]],
    ["the pseudonym key in plain text", "credentials-plaintext", [[SECRETS, required("AUDIT_KEY", "ALERT_WEBHOOK_URL")], [VAR, `${VAR}\nPSEUDONYM_KEYS = "1:${"4e".repeat(32)}"`]]],
    ["the legacy all-roles token accepted", "roles-broader", [[VAR, `${VAR}\nADMIN_TOKEN_LEGACY = true`]]],
    ["the all-roles ADMIN_TOKEN still declared", "roles-broader", [[SECRETS, required("AUDIT_KEY", "ALERT_WEBHOOK_URL", "PSEUDONYM_KEYS", "ADMIN_TOKEN")]]],
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

  it("finds a short pseudonym key in plain text twice: in plain text, and short", () => {
    const report = audit([[SECRETS, required("AUDIT_KEY", "ALERT_WEBHOOK_URL")], [VAR, `${VAR}\nPSEUDONYM_KEYS = "1:${"4e".repeat(16)}"`]]);
    expect(checks(report)).toEqual(["credentials-plaintext", "pseudonym-key-weak"]);
    expect(report.findings[1]!.message).toBe("vars: PSEUDONYM_KEYS must be <version>:<64 hex digits> entries, versions 1, 2, ... in order (`openssl rand -hex 32` makes a key); the key of version 1 is not 64 hex digits (256 bits)");
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

describe("the local pseudonym key (.dev.vars, as npm start makes it)", () => {
  const local = (devVars?: string) => audit([], null, devVars);
  const baseline = checks(local());
  const KEY = "9c".repeat(32);

  it("passes a key of 256 bits, and every version of a rotated one", () => {
    for (const keys of [`1:${KEY}`, `1:${KEY},2:${"d0".repeat(32)}`]) {
      const report = local(`ADMIN_TOKEN=local-admin-token-change-me\nPSEUDONYM_KEYS=${keys}\n`);
      expect(checks(report)).toEqual(baseline);
      expect(report.passed).toContainEqual(expect.stringMatching(/^pseudonym keys in \.dev\.vars well formed/));
    }
  });

  it.each([
    ["shorter than 256 bits", `1:${KEY.slice(2)}`, "PSEUDONYM_KEYS must be <version>:<64 hex digits> entries, versions 1, 2, ... in order (`openssl rand -hex 32` makes a key); the key of version 1 is not 64 hex digits (256 bits)"],
    ["without its version", KEY, "PSEUDONYM_KEYS must be <version>:<64 hex digits> entries, versions 1, 2, ... in order (`openssl rand -hex 32` makes a key); entry 1 is not version 1"],
    ["with a key that is not hex", `1:${KEY.slice(4)}zz${KEY.slice(0, 2)}`, "PSEUDONYM_KEYS must be <version>:<64 hex digits> entries, versions 1, 2, ... in order (`openssl rand -hex 32` makes a key); the key of version 1 is not 64 hex digits (256 bits)"],
    ["with a version missing", `1:${KEY},3:${KEY}`, "PSEUDONYM_KEYS must be <version>:<64 hex digits> entries, versions 1, 2, ... in order (`openssl rand -hex 32` makes a key); entry 2 is not version 2"],
  ])("finds a key %s, once, without printing it", (_, keys, message) => {
    const report = local(`PSEUDONYM_KEYS="${keys}"\n`);
    expect(checks(report).sort()).toEqual([...baseline, "pseudonym-key-weak"].sort());
    expect(report.findings.filter((f) => f.check === "pseudonym-key-weak")).toEqual([{ check: "pseudonym-key-weak", message: `.dev.vars: ${message}` }]);
    expect(JSON.stringify(report)).not.toContain(KEY.slice(0, 16));
  });

  it("notes a .dev.vars without a key: npm start makes one", () => {
    const report = local("ADMIN_TOKEN=local-admin-token-change-me\nPSEUDONYM_KEYS=\n");
    expect(checks(report)).toEqual(baseline);
    expect(report.notes).toContainEqual(expect.stringMatching(/^PSEUDONYM_KEYS is not in \.dev\.vars/));
  });

  it("is not checked where wrangler would not load it (PSEUDONYM_KEYS not in secrets.required)", () => {
    const changes: [string, string][] = [['required = ["ADMIN_TOKEN", "PSEUDONYM_KEYS"]', 'required = ["ADMIN_TOKEN"]']];
    const report = audit(changes, null, "PSEUDONYM_KEYS=1:short\n");
    expect(checks(report).sort()).toEqual([...baseline, "pseudonym-key-missing"].sort());
  });
});

describe("the running service's pseudonym key (npm run posture -- --url)", () => {
  const LOCAL = `1:${"31".repeat(32)},2:${"32".repeat(32)}`;
  const OPERATOR = { Authorization: "Bearer ops-1.operator-secret" };
  let server: Server;
  let base: string;
  /** What the stand-in service holds as PSEUDONYM_KEYS; its answer is what src/http/routes/admin.ts answers. */
  let serviceKeys = "";
  beforeAll(async () => {
    server = createServer(async (request, response) => {
      if (request.url !== "/admin/pseudonym-key" || request.headers.authorization !== OPERATOR.Authorization) {
        response.writeHead(request.headers.authorization ? 403 : 401).end("{}");
        return;
      }
      const version = serviceKeys.split(",").length;
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ version, fingerprint: await fingerprint(serviceKeys) }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("finds a deployment whose current key is a local one, of any version", async () => {
    for (const [keys, version] of [[`1:${"32".repeat(32)}`, 2], [`1:${"77".repeat(32)},2:${"31".repeat(32)}`, 1]] as const) {
      serviceKeys = keys;
      const report = await probeKey(base, { headers: OPERATOR, localKeys: LOCAL, local: false });
      expect(report.findings).toEqual([{ check: "pseudonym-key-shared", message: expect.stringContaining(`is version ${version} of the local key in .dev.vars`) }]);
      expect(JSON.stringify(report)).not.toMatch(/3131313131|3232323232/);
    }
  });

  it("passes a deployment with a key of its own", async () => {
    serviceKeys = `1:${"77".repeat(32)}`;
    const report = await probeKey(base, { headers: OPERATOR, localKeys: LOCAL, local: false });
    expect(report.findings).toEqual([]);
    expect(report.passed).toEqual([`the service has a pseudonym key of its own (version 1, fingerprint ${await fingerprint(serviceKeys)}), none of the local ones`]);
  });

  it("expects the local key where the service is local development itself", async () => {
    serviceKeys = LOCAL;
    const report = await probeKey(base, { headers: OPERATOR, localKeys: LOCAL, local: true });
    expect(report.findings).toEqual([]);
    expect(report.passed).toEqual([expect.stringMatching(/^the service runs the local pseudonym key \(version 2, /)]);
  });

  it("notes what it could not compare: no credential, a credential refused, no local key", async () => {
    serviceKeys = `1:${"32".repeat(32)}`;
    const cases = [
      [{ localKeys: LOCAL }, /^the pseudonym key was not compared: give an operator's key in ADMIN_KEY/],
      [{ headers: { Authorization: "Bearer view-1.viewer-secret" }, localKeys: LOCAL }, /answered 403 \(the credential is not an operator's there\)$/],
      [{ headers: OPERATOR }, /was not compared: no valid PSEUDONYM_KEYS in \.dev\.vars$/],
      [{ headers: OPERATOR, localKeys: "1:short" }, /was not compared: no valid PSEUDONYM_KEYS in \.dev\.vars$/],
    ] as const;
    for (const [given, note] of cases) {
      const report = await probeKey(base, { ...given, local: false });
      expect(report.findings).toEqual([]);
      expect(report.notes).toEqual([expect.stringMatching(note)]);
    }
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
