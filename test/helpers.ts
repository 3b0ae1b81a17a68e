// Shared by the route tests: a tiny ICD client over exports.default.fetch, and fresh identifiers.

import { env, exports } from "cloudflare:workers";
import { shardsOf } from "../src/db/shards";
import { shardFor } from "../src/db/shards";
import { keyOf } from "../src/core/lookup-key";
import { ICD } from "../src/proto/icd.js";
import { splitPseudonyms } from "../src/core/pseudonym";
import { pseudonymsOf } from "../src/domain/pseudonyms";

export const Result = ICD.Response.Result;

export function randomId(bytes = 32): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(bytes));
}

export const randomIds = (n: number, bytes = 32) => Array.from({ length: n }, () => randomId(bytes));

/**
 * n identifiers that are the same on every run (xorshift32 from `seed`): for assertions on the
 * distinct-identifier estimate, whose error would otherwise vary from run to run.
 */
export function seededIds(n: number, seed: number, bytes = 32): Uint8Array[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    const id = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      id[i] = x & 0xff;
    }
    return id;
  });
}

export interface Client {
  user: Uint8Array;
  authToken: Uint8Array;
}

export const newClient = (): Client => ({ user: randomId(16), authToken: randomId(16) });

export function encodeRequest(client: Partial<Client>, identifiers: Uint8Array[] = []): Uint8Array {
  return ICD.Request.encode({ user: client.user, authToken: client.authToken, identifiers }).finish();
}

export interface Answer {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  result: number;
  added: Uint8Array[];
  removed: Uint8Array[];
}

/** POSTs a raw body and decodes the Response, failing the test if the body is not one. */
export async function postRaw(path: string, body: BodyInit, headers: HeadersInit = {}): Promise<Answer> {
  const response = await exports.default.fetch(`https://icd.test${path}`, { method: "POST", body, headers });
  const decoded = ICD.Response.decode(new Uint8Array(await response.arrayBuffer()));
  return {
    status: response.status,
    contentType: response.headers.get("Content-Type"),
    retryAfter: response.headers.get("Retry-After"),
    result: decoded.result ?? Result.SUCCESS,
    added: decoded.addedUsers ?? [],
    removed: decoded.removedUsers ?? [],
  };
}

export const post = (path: string, client: Partial<Client>, identifiers: Uint8Array[] = []) =>
  postRaw(path, encodeRequest(client, identifiers));

export async function registered(): Promise<Client> {
  const client = newClient();
  const answer = await post("/user/register", client);
  if (answer.status !== 200) throw new Error(`register failed with ${answer.status}`);
  return client;
}

export const hex = (bytes: Uint8Array[]) => bytes.map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""));

/** What the service stores for an identifier: its pseudonym under the test key (PSEUDONYM_KEYS). */
export const stored = (id: Uint8Array): Uint8Array => splitPseudonyms(pseudonymsOf(env).of([id]))[0]!;
export const storedAll = (ids: Uint8Array[]): Uint8Array[] => splitPseudonyms(pseudonymsOf(env).of(ids));

/** The user shards of the environment under test (one locally, four in the "sharded" project). */
export const shards = () => shardsOf(env);

/** Sums a `SELECT count(*) AS n ...` over every shard. */
export async function countRows(sql: string, ...params: unknown[]): Promise<number> {
  const counts = await Promise.all(shards().map((db) => db.prepare(sql).bind(...params).first<number>("n")));
  return counts.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/** The stored times of one user, read from its shard. */
export async function userRow(id: Uint8Array) {
  return shardFor(shards(), id)
    .prepare("SELECT added_at, removed_at FROM users WHERE k = ?1 AND id = ?2")
    .bind(keyOf(id), id)
    .first<{ added_at: number; removed_at: number | null }>();
}

/** n random identifiers that all live on the first shard, for tests of per-shard bounds. */
export function randomIdsOnFirstShard(n: number): Uint8Array[] {
  const ids: Uint8Array[] = [];
  while (ids.length < n) {
    const id = randomId();
    if (shardFor(shards(), id) === shards()[0]) ids.push(id);
  }
  return ids;
}

export type TestKey = keyof Cloudflare.Env["TEST_KEYS"];

/**
 * A request to the admin API: with one role's key (`as`), any bearer `token`, or by default the
 * legacy ADMIN_TOKEN (every role, where ADMIN_TOKEN_LEGACY is on: not in production).
 */
export function admin(path: string, init: RequestInit & { token?: string; as?: TestKey } = {}) {
  const { as, token = as ? env.TEST_KEYS[as] : env.ADMIN_TOKEN, ...rest } = init;
  return exports.default.fetch(`https://icd.test/admin${path}`, {
    ...rest,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...rest.headers },
  });
}

/**
 * Asks the account service's stand-in Worker (test/account-service-worker.js) to call ICD's
 * AccountService entrypoint over its Service Binding: `{ result }`, or `{ error, message }` if it threw.
 */
export async function accountService(call: "register" | "delete" | "import" | "call", body: object): Promise<{ result?: any; error?: string; message?: string }> {
  const response = await env.ACCOUNT_SERVICE.fetch(`https://account-service.test/${call}`, { method: "POST", body: JSON.stringify(body) });
  return response.json();
}

/** Registers a client through the Service Binding, as the account service does in production. */
export async function enroll(client: Client = newClient()): Promise<Client> {
  const tokenHash = new Uint8Array(await crypto.subtle.digest("SHA-256", client.authToken));
  const answer = await accountService("register", { id: hex([client.user])[0], token_hash: hex([tokenHash])[0] });
  if (answer.result !== "created") throw new Error(`enroll failed: ${JSON.stringify(answer)}`);
  return client;
}
