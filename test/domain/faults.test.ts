// Faults lose nothing: a shard or a bucket object failing mid-request gives 503 with Retry-After,
// takes no quota and writes no user; and each 503 logs one line that names its cause, no identifier. The failures are real: BROKEN_SHARD is a D1 database without
// the schema, and the "broken" bucket namespace is a Durable Object class without a charge method.

import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { bucketsOf } from "../../src/objects/client-buckets";
import { configOf } from "../../src/core/config";
import * as db from "../../src/db/users";
import { shardFor } from "../../src/db/shards";
import { discover } from "../../src/domain/discovery";
import { newIsolate } from "../../src/domain/isolate";
import { buildIndex, noteChanges } from "../../src/domain/s2-filter";
import { hashToken } from "../../src/core/token";
import { Result, hex, newClient, randomId, randomIds, stored, storedAll } from "../helpers";

const good = () => env.USERS_0;
/** What the isolate keeps between syncs (src/index.ts makes one per isolate): one for this file's syncs. */
const isolate = newIsolate();

/** Two shards, the second one down. */
const halfBroken = () => [good(), env.BROKEN_SHARD] as const;

/** A client on the working shard, and identifiers of which some fall on the broken one. */
async function clientOnWorkingShard() {
  let client = newClient();
  while (shardFor(halfBroken(), stored(client.user)) !== good()) client = newClient();
  await db.registerUser(halfBroken(), stored(client.user), await hashToken(client.authToken), Date.now());
  return client;
}

/** What console.error printed during `run`, one entry per call. */
async function errorsLoggedBy(run: () => Promise<void>): Promise<string[]> {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    await run();
    return spy.mock.calls.map((args) => args.join(" "));
  } finally {
    spy.mockRestore();
  }
}

describe("faults", () => {
  it("gives the charge back when a shard fails during the lookup, and answers 503 with Retry-After", async () => {
    const client = await clientOnWorkingShard();
    const ids = randomIds(100);
    expect(ids.some((id) => shardFor(halfBroken(), stored(id)) === env.BROKEN_SHARD)).toBe(true);
    // In S2 as far as the S2 index knows, so that the incremental sync asks D1 too.
    await buildIndex(env, [good()], configOf(env), 0, 0, 0, Date.now());
    await noteChanges(env, configOf(env), 0, storedAll(ids), Date.now());
    for (const kind of ["full", "incremental"] as const) {
      let answer;
      const logged = await errorsLoggedBy(async () => {
        answer = await discover(env, halfBroken(), configOf(env), kind, { ...client, identifiers: ids }, { now: Date.now(), waitUntil: () => {}, origin: { ip: undefined, asn: undefined }, isolate });
      });
      expect(answer).toMatchObject({ result: Result.RATE_LIMIT_EXCEEDED, status: 503, retryAfterSeconds: 1 });
      expect((await bucketsOf(env, stored(client.user), 0).inspect())[kind].level).toBe(0);
      expectOneCause(logged, /^discovery lookup failed: .*no such table/, [client.user, ...ids]);
    }
  });

  it("answers 503 without charging when the bucket object fails", async () => {
    const client = await clientOnWorkingShard();
    const broken = { ...env, CLIENT_BUCKETS: env.NETWORK_GUARD } as unknown as Env;
    const ids = randomIds(10);
    let answer;
    const logged = await errorsLoggedBy(async () => {
      answer = await discover(broken, [good()], configOf(env), "full", { ...client, identifiers: ids }, { now: Date.now(), waitUntil: () => {}, origin: { ip: undefined, asn: undefined }, isolate });
    });
    expect(answer).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    expect((await bucketsOf(env, stored(client.user), 0).inspect()).full.level).toBe(0);
    expectOneCause(logged, /^bucket charge failed: /, [client.user, ...ids]);
  });

  it("writes no half user when the shard of a registration is down", async () => {
    let id = randomId(16);
    while (shardFor(halfBroken(), id) !== env.BROKEN_SHARD) id = randomId(16);
    await expect(db.registerUser(halfBroken(), id, await hashToken(id), Date.now())).rejects.toThrow();
    expect(await good().prepare("SELECT count(*) AS n FROM users WHERE id = ?1").bind(id).first("n")).toBe(0);
  });
});

/** Exactly one line, naming the cause, with none of the request's identifiers in it (in hex). */
function expectOneCause(logged: string[], cause: RegExp, ids: Uint8Array[]) {
  expect(logged, JSON.stringify(logged)).toHaveLength(1);
  const line = logged[0]!;
  expect(line).toMatch(cause);
  expect(line).not.toContain("\n");
  for (const id of hex(ids)) expect(line.toLowerCase()).not.toContain(id);
}
