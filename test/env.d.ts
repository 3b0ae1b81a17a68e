// Test-only bindings, added by test/vitest.config.ts.
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    BROKEN_SHARD: D1Database;
  }
}
