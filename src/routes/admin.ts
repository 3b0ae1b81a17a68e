// The operator's API under /admin/: JSON, behind the bearer token ADMIN_TOKEN. Every /admin/ path
// answers 401 without a valid token, including paths that do not exist.

import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../app-env";
import * as db from "../db";
import { fromHex } from "../hex";
import { sameHash, hashToken } from "../token";
import { MAX_IDENTIFIER_BYTES } from "../wire";

export const adminRoutes = new Hono<AppEnv>();

const encoder = new TextEncoder();

/** Compares hashes of the two tokens, so that the comparison takes the same time for any length. */
const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expected = c.get("config").adminToken;
  const given = /^Bearer (.+)$/.exec(c.req.header("Authorization") ?? "")?.[1];
  if (expected === undefined || given === undefined) return c.json({ error: "admin token required" }, 401);
  const [a, b] = await Promise.all([hashToken(encoder.encode(given)), hashToken(encoder.encode(expected))]);
  if (!sameHash(a, b)) return c.json({ error: "admin token required" }, 401);
  await next();
};

adminRoutes.use("*", requireAdmin);
adminRoutes.use("*", bodyLimit({ maxSize: 4 * 1024 * 1024, onError: (c) => c.json({ error: "body too large" }, 413) }));

export const MAX_IMPORT_BATCH = 10_000;

/**
 * POST /admin/users/import {"users": [["<hex id>", "<hex SHA-256 of token>"], ...], "announce": false}
 * Idempotent: a batch sent again registers nobody twice, so an interrupted import can resend it.
 */
adminRoutes.post("/users/import", async (c) => {
  const body = await c.req.json().catch(() => null);
  const parsed = parseImport(body);
  if (typeof parsed === "string") return c.json({ error: parsed }, 400);
  const now = Date.now();
  const imported = await db.importUsers(c.get("shards"), parsed.users, parsed.announce ? now : 0, now);
  return c.json({ received: parsed.users.length, imported });
});

function parseImport(body: unknown): { users: db.ImportedUser[]; announce: boolean } | string {
  if (typeof body !== "object" || body === null) return "body must be a JSON object";
  const { users, announce = false } = body as { users?: unknown; announce?: unknown };
  if (typeof announce !== "boolean") return "announce must be true or false";
  if (!Array.isArray(users) || users.length === 0 || users.length > MAX_IMPORT_BATCH) {
    return `users must be an array of 1 to ${MAX_IMPORT_BATCH} [id, token hash] pairs`;
  }
  const parsed: db.ImportedUser[] = [];
  for (const [k, pair] of users.entries()) {
    const id = Array.isArray(pair) && typeof pair[0] === "string" ? fromHex(pair[0]) : null;
    const tokenHash = Array.isArray(pair) && typeof pair[1] === "string" ? fromHex(pair[1]) : null;
    if (!id || id.length === 0 || id.length > MAX_IDENTIFIER_BYTES) return `users[${k}]: the id must be 1 to 64 bytes in hex`;
    if (!tokenHash || tokenHash.length !== 32) return `users[${k}]: the token hash must be 32 bytes (SHA-256) in hex`;
    parsed.push({ id, tokenHash });
  }
  return { users: parsed, announce };
}
