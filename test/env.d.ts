// Test-only bindings, added by test/vitest.config.ts.
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    BROKEN_SHARD: D1Database;
    /** Set in the production project only. */
    ALERT_WEBHOOK_URL?: string;
  }
}
