// Three projects in the real Workers runtime with local D1 and Durable Objects: "local" runs the
// top-level wrangler.toml config (as `npm start`, one user shard), "sharded" the same tests on
// `[env.sharded]` (four shards), and "production" `[env.production]`, to prove what a deploy leaves out.
// A fourth, "service", runs test/service/ in Node against the service started as `npm start` does:
// the dashboard in Chromium, and a hard kill and restart under load.

import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const root = path.join(import.meta.dirname, "..");
/** The admin API's bearer token in tests; test/helpers.ts uses the same. */
export const ADMIN_TOKEN = "test-admin-token-0123456789";
/** Where the production project sends alerts (never reached: the test intercepts the fetch). */
export const ALERT_WEBHOOK_URL = "https://alerts.icd.test/hook";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, "migrations"));
  const project = (name: string, environment: string | undefined, include: string[], exclude: string[] = [], vars: Record<string, string> = {}, setup: string[] = []) => ({
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, "wrangler.toml"), environment },
        // BROKEN_SHARD is a real D1 database that never gets the migrations: queries on it fail,
        // which is how test/faults.test.ts makes a shard go down.
        miniflare: { bindings: { TEST_MIGRATIONS: migrations, ADMIN_TOKEN, ...vars }, d1Databases: ["BROKEN_SHARD"] },
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
        project("local", undefined, ["test/**/*.test.ts"], ["test/production/**", "test/service/**"]),
        // The slow fuzzing and timing tests and the simulation do not depend on the shard count: run them once.
        project("sharded", "sharded", ["test/**/*.test.ts"], ["test/production/**", "test/service/**", "test/http/abuse.test.ts", "test/simulate/**"]),
        // Alerts go to a webhook there, answered by test/production/webhook-sink.ts.
        project("production", "production", ["test/production/**/*.test.ts"], [], { ALERT_WEBHOOK_URL }, ["test/production/webhook-sink.ts"]),
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
