// migrations/0003 on a table that holds users: every row moves to the (k, id) table with the key
// the Worker computes (src/core/lookup-key.ts), whatever the identifier's length and bytes, and keeps
// its token and times. BROKEN_SHARD is a D1 database without the migrations (test/vitest.config.ts);
// storage is per test file, so here it can get them one by one.

import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import * as db from "../../src/db/users";
import { keyOf } from "../../src/core/lookup-key";
import { hashToken } from "../../src/core/token";
import { randomId } from "../helpers";

it("gives every existing user its key and keeps it findable", async () => {
  const shard = env.BROKEN_SHARD;
  const before = env.TEST_MIGRATIONS.filter((m) => m.name < "0003");
  expect(before.map((m) => m.name)).toEqual(["0001_create_users.sql", "0002_create_audit_log.sql"]);
  await applyD1Migrations(shard, before);

  const ids = [
    new Uint8Array([0]),
    new Uint8Array([0xff]),
    new Uint8Array([0xab, 0]),
    new Uint8Array([0xab]),
    new Uint8Array([0, 0, 0, 0, 0, 0]),
    new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    new Uint8Array([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]),
    ...[2, 5, 7, 16, 32, 64].map((n) => randomId(n)),
  ];
  const T0 = 1_700_000_000_000;
  for (const [n, id] of ids.entries()) {
    await shard
      .prepare("INSERT INTO users (id, token_hash, added_at, removed_at) VALUES (?1, ?2, ?3, ?4)")
      .bind(id, await hashToken(id), T0 + n, n % 3 === 0 ? T0 + 100 + n : null)
      .run();
  }

  await applyD1Migrations(shard, env.TEST_MIGRATIONS);

  const { results } = await shard.prepare("SELECT k, id, token_hash, added_at, removed_at FROM users").all<{ k: number; id: number[]; token_hash: number[]; added_at: number; removed_at: number | null }>();
  expect(results).toHaveLength(ids.length);
  for (const row of results) {
    const id = new Uint8Array(row.id);
    const n = ids.findIndex((x) => x.length === id.length && x.every((b, j) => b === id[j]));
    expect(n).toBeGreaterThanOrEqual(0);
    expect(row.k).toBe(keyOf(id));
    expect(row).toMatchObject({ added_at: T0 + n, removed_at: n % 3 === 0 ? T0 + 100 + n : null });
    expect(new Uint8Array(row.token_hash)).toEqual(await hashToken(id));
  }
  // Found through the new key, removed ones not; the purge's index is back.
  const found = (await db.findRegistered([shard], ids)).rows.map((r) => r.i);
  expect(found).toEqual([...ids.keys()].filter((n) => n % 3 !== 0));
  expect(await db.findCredentials([shard], ids[1]!)).not.toBeNull();
  const indexes = await shard.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users'").all<{ name: string }>();
  expect(indexes.results.map((r) => r.name)).toContain("users_removed_at");
});
