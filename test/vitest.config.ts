// Projects in the real Workers runtime with local D1 and Durable Objects: "local" runs the top-level
// wrangler.toml config (as `npm start`, one user shard) and is what `npm test` runs; "abuse" the
// fuzzing on that config; "sharded" the same tests on `[env.sharded]` (four shards); "production"
// `[env.production]`, to prove what a deploy leaves out. In Node: "service" runs test/service/
// against the service started as `npm start` does, "scripts" the scripts' tests.
// `npm run test:all` (and CI) runs every project.

import { createHash } from "node:crypto";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const root = path.join(import.meta.dirname, "..");
/** The legacy all-roles token (accepted where ADMIN_TOKEN_LEGACY is on: not in production). */
export const ADMIN_TOKEN = "test-admin-token-0123456789";
/** Where the production project sends alerts (never reached: the test intercepts the fetch). */
export const ALERT_WEBHOOK_URL = "https://alerts.icd.test/hook";
/** The pseudonym keys (PSEUDONYM_KEYS): one for the local projects, another for production. */
export const PSEUDONYM_KEYS = `1:${"5e".repeat(32)}`;
const PRODUCTION_PSEUDONYM_KEYS = `1:${"a7".repeat(32)}`;

/**
 * One key per role, as `Bearer <id>.<secret>`, and a second operator key (a rotation: both valid).
 * The Worker gets only their hashes (ADMIN_KEYS); the tests get the keys as TEST_KEYS.
 */
const TEST_KEYS = {
  "account-service": { id: "accounts-1", secret: "account-service-secret-0123456789abcdef" },
  operator: { id: "ops-1", secret: "operator-secret-0123456789abcdef0123" },
  "operator-rotated": { id: "ops-2", secret: "operator-secret-rotated-0123456789abc" },
  viewer: { id: "view-1", secret: "viewer-secret-0123456789abcdef012345" },
};
const roleOfKey = (name: string) => name.replace(/-rotated$/, "");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const ADMIN_KEYS = Object.entries(TEST_KEYS).map(([name, k]) => `${roleOfKey(name)}:${k.id}:${sha256(k.secret)}`).join(",");
const presented = Object.fromEntries(Object.entries(TEST_KEYS).map(([name, k]) => [name, `${k.id}.${k.secret}`]));

/** Cloudflare Access for the local projects; test/http/access.test.ts signs tokens for it. */
const ACCESS = {
  ACCESS_TEAM_DOMAIN: "icd-test.cloudflareaccess.com",
  ACCESS_AUD: "a1".repeat(32),
  ACCESS_ROLES: JSON.stringify({ operator: ["ops@example.com", "group:icd-operators"], viewer: ["group:icd-viewers", "token:scraper.access"] }),
};

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, "migrations"));
  const project = (name: string, environment: string | undefined, include: string[], exclude: string[] = [], vars: Record<string, string> = {}, setup: string[] = []) => ({
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, "wrangler.toml"), environment },
        miniflare: {
          bindings: { TEST_MIGRATIONS: migrations, ADMIN_TOKEN, ADMIN_KEYS, TEST_KEYS: presented, PSEUDONYM_KEYS, ...vars },
          // BROKEN_SHARD is a real D1 database that never gets the migrations: queries on it fail,
          // which is how test/domain/faults.test.ts makes a shard go down.
          d1Databases: ["BROKEN_SHARD"],
          serviceBindings: { ACCOUNT_SERVICE: "account-service" },
          // The account service, a second Worker bound to this one's AccountService entrypoint (the
          // pool names the Worker under test "vitest-pool-workers-runner-<project>").
          workers: [
            {
              name: "account-service",
              modules: true,
              scriptPath: path.join(root, "test/account-service-worker.js"),
              compatibilityDate: "2026-04-20",
              serviceBindings: { ICD: { name: `vitest-pool-workers-runner-${name}`, entrypoint: "AccountService" } },
            },
          ],
        },
      }),
    ],
    test: {
      name,
      root,
      include,
      exclude,
      setupFiles: [path.join(root, "test/apply-migrations.ts"), ...setup.map((file) => path.join(root, file))],
    },
  });
  return {
    test: {
      projects: [
        // `npm test`, the loop after a change: every Workers test on one shard but the fuzzing.
        project("local", undefined, ["test/**/*.test.ts"], ["test/production/**", "test/service/**", "test/scripts/**", "test/http/abuse.test.ts"], ACCESS),
        // The fuzzing and timing of every endpoint (over a minute): `npm run test:all` only.
        project("abuse", undefined, ["test/http/abuse.test.ts"], [], ACCESS),
        // The slow fuzzing and timing tests and the simulation do not depend on the shard count: run them once.
        project("sharded", "sharded", ["test/**/*.test.ts"], ["test/production/**", "test/service/**", "test/scripts/**", "test/http/abuse.test.ts", "test/simulate/**"], ACCESS),
        // Alerts go to a webhook there, answered by test/production/webhook-sink.ts. Access keeps the
        // shipped placeholders; the secrets `wrangler secret put` would set are given here.
        project("production", "production", ["test/production/**/*.test.ts"], [], { ALERT_WEBHOOK_URL, AUDIT_KEY: "test-audit-key-0123456789abcdef0123456789", PSEUDONYM_KEYS: PRODUCTION_PSEUDONYM_KEYS }, ["test/production/webhook-sink.ts"]),
        // Node: the scripts (the posture audit) on fixture configurations.
        { test: { name: "scripts", root, include: ["test/scripts/**/*.test.ts"], environment: "node", testTimeout: 60_000 } },
        {
          test: {
            name: "service",
            root,
            include: ["test/service/**/*.test.ts"],
            environment: "node",
            // After the Workers pool is done: wrangler dev, Chromium and a sync of 20,000 running
            // alongside would steal the cores from its timing tests (the production guard's flood).
            sequence: { groupOrder: 1 },
            // One file at a time: each starts its own wrangler dev, and the restart test's load
            // should not share two cores with Chromium.
            maxWorkers: 1,
            testTimeout: 120_000,
            hookTimeout: 180_000,
          },
        },
      ],
    },
  };
});
