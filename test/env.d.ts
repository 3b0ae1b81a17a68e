// Test-only bindings, added by test/vitest.config.ts.
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    BROKEN_SHARD: D1Database;
    /** The presented form (`<id>.<secret>`) of the keys whose hashes are ADMIN_KEYS. */
    TEST_KEYS: Record<"account-service" | "operator" | "operator-rotated" | "viewer", string>;
    /** The account service's stand-in Worker (test/account-service-worker.js). */
    ACCOUNT_SERVICE: Fetcher;
  }
}
