// The S2 index (src/objects/s2-index.ts, src/domain/s2-filter.ts): an incremental sync asks D1
// only about identifiers that may be in S2, and no change is ever missed. Real objects and D1
// throughout; a failing index is a real object of another class, a failing shard BROKEN_SHARD.

import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { type Config, configOf } from "../../src/core/config";
import type { Shards } from "../../src/db/shards";
import * as db from "../../src/db/users";
import { addUsers } from "../../src/db/test-hooks";
import { hashToken } from "../../src/core/token";
import { register, registerWithHash, removeByOperator, unregister, importUsers } from "../../src/domain/accounts";
import { discover } from "../../src/domain/discovery";
import { newIsolate } from "../../src/domain/isolate";
import { addTestUsers, createRandomUsers } from "../../src/domain/random-users";
import { MARGIN_MS, buildIndex, noteChanges, s2Candidates } from "../../src/domain/s2-filter";
import { s2IndexOf } from "../../src/objects/s2-index";
import { Result, hex, newClient, randomId, randomIds, storedAll } from "../helpers";
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "../../src/core/time";

const good = (): Shards => [env.USERS_0];
const broken = (): Shards => [env.BROKEN_SHARD];
const actor = { role: "account-service", keyId: "test" };

/** Runs work handed to waitUntil, like the runtime does after a response. */
function background() {
  const pending: Promise<unknown>[] = [];
  return { waitUntil: (p: Promise<unknown>) => void pending.push(p), settle: async () => void (await Promise.allSettled(pending.splice(0))) };
}

/** The identifiers the index lets through, and those D1 says changed since `since`: the first must hold the second. */
async function compare(config: Config, epoch: number, identifiers: Uint8Array[], now: number, asStored = false) {
  const ids = asStored ? identifiers : storedAll(identifiers); // the index and D1 hold pseudonyms
  const since = now - config.s2DeltaMs;
  const bg = background();
  const candidates = new Set((await s2Candidates(env, good(), config, epoch, ids, since, { now, waitUntil: bg.waitUntil, unbuilt: newIsolate().unbuiltParts })).positions);
  await bg.settle();
  const changed = (await db.findChanges(good(), ids, since)).rows.map((r) => r.i);
  return { candidates, changed };
}

/** A fresh index: one epoch per test, so no test sees another's keys. */
let epochs = 100;
async function freshIndex(config: Config, now: number): Promise<number> {
  const epoch = epochs++;
  for (let part = 0; part < config.s2Index.parts; part++) for (let r = 0; r < config.s2Index.replicas; r++) await buildIndex(env, good(), config, epoch, part, r, now);
  return epoch;
}

describe("the S2 index", () => {
  it("answers an incremental sync of identifiers outside S2 without D1", async () => {
    const client = newClient();
    const now = Date.now();
    await freshIndex(configOf(env), now);
    expect((await register(env, good(), configOf(env), { ...client, identifiers: [] }, now)).result).toBe(Result.SUCCESS);
    const bg = background();
    await s2Candidates(env, good(), configOf(env), 0, [randomId()], now - configOf(env).s2DeltaMs, { now, waitUntil: bg.waitUntil, unbuilt: newIsolate().unbuiltParts });
    await bg.settle(); // the service's own index, built
    const options = { now, waitUntil: () => {}, origin: { ip: undefined, asn: undefined }, isolate: newIsolate() };
    // BROKEN_SHARD fails every query: an answer means D1 was not asked.
    const answer = await discover(env, broken(), configOf(env), "incremental", { ...client, identifiers: randomIds(300) }, options);
    expect(answer).toMatchObject({ result: Result.SUCCESS, costs: { d1Calls: 0, d1RowsRead: 0 } });
    expect(answer.added ?? []).toHaveLength(0);
    // One identifier in S2 sends the sync to D1 (which fails here).
    const known = randomId();
    await addTestUsers(env, good(), configOf(env), [known], now);
    const asked = await discover(env, broken(), configOf(env), "incremental", { ...client, identifiers: [...randomIds(10), known] }, options);
    expect(asked).toMatchObject({ status: 503 });
    const answered = await discover(env, good(), configOf(env), "incremental", { ...client, identifiers: [...randomIds(10), known] }, options);
    expect(hex(answered.added ?? [])).toEqual(hex([known]));
  });

  it("keeps a change noted for a write that failed as a false positive, never a wrong answer", async () => {
    const config = configOf(env);
    const now = Date.now();
    const epoch = await freshIndex(config, now);
    const id = randomId();
    await noteChanges(env, config, epoch, [id], now); // noted, then the write does not happen
    const { candidates, changed } = await compare(config, epoch, [id, randomId()], now, true);
    expect([...candidates]).toEqual([0]);
    expect(changed).toEqual([]); // D1 is asked and says no
  });

  it("writes nothing when the index cannot note the change", async () => {
    const brokenIndex = { ...env, S2_INDEX: env.NETWORK_GUARD } as unknown as Env;
    const client = newClient();
    const now = Date.now();
    await expect(registerWithHash(brokenIndex, good(), configOf(env), client.user, await hashToken(client.authToken), now)).rejects.toThrow();
    expect(await db.findCredentials(good(), client.user)).toBeNull();
  });

  it("asks D1 about everything when the index does not answer", async () => {
    const brokenIndex = { ...env, S2_INDEX: env.NETWORK_GUARD } as unknown as Env;
    const ids = randomIds(20);
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const found = (await s2Candidates(brokenIndex, good(), configOf(env), 0, ids, Date.now() - DAY_MS, { now: Date.now(), waitUntil: () => {}, unbuilt: newIsolate().unbuiltParts })).positions;
      expect(found).toEqual(ids.map((_, i) => i));
      expect(spy.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/^S2 index unreachable, asking D1: /)]);
    } finally {
      spy.mockRestore();
    }
  });

  it("is left alone for a minute by an isolate it answered unbuilt: a rollout of new objects costs no more than no index", async () => {
    const config = { ...configOf(env), s2Index: { parts: 1, replicas: 1, maxKeys: 1000, buildDelayMs: HOUR_MS } };
    const now = Date.now();
    const epoch = epochs++;
    const ids = randomIds(5);
    const unbuilt = newIsolate().unbuiltParts;
    const ask = (at: number) => s2Candidates(env, good(), config, epoch, ids, at - config.s2DeltaMs, { now: at, waitUntil: () => {}, unbuilt });
    expect(await ask(now)).toMatchObject({ positions: [0, 1, 2, 3, 4], calls: 1 }); // unbuilt, not yet to be claimed: D1 answers
    expect(await ask(now + 30 * SECOND_MS)).toMatchObject({ positions: [0, 1, 2, 3, 4], calls: 0 });
    expect(await ask(now + MINUTE_MS)).toMatchObject({ positions: [0, 1, 2, 3, 4], calls: 1 }); // asked again after a minute
  });

  it("answers keys not in S2 from its in-memory filter, without reading a row", async () => {
    const config = { ...configOf(env), s2Index: { parts: 1, replicas: 1, maxKeys: 1000, buildDelayMs: 0 } };
    const now = Date.now();
    const epoch = await freshIndex(config, now);
    const [changed, ...others] = randomIds(301);
    await noteChanges(env, config, epoch, [changed!], now);
    const unbuilt = newIsolate().unbuiltParts;
    const warm = await s2Candidates(env, good(), config, epoch, others, now - config.s2DeltaMs, { now, waitUntil: () => {}, unbuilt });
    expect(warm.positions.length).toBeLessThan(10); // the filter's false positives, about 1%
    const again = await s2Candidates(env, good(), config, epoch, [...others, changed!], now - config.s2DeltaMs, { now, waitUntil: () => {}, unbuilt });
    expect(again.positions).toContain(300); // noted after the filter was made: still found
    expect(again.rowsRead).toBeLessThan(40); // a row or two per key the filter lets through, instead of two for each of 301
  });

  it("is built from what D1 held before it existed, and answers unknown until then", async () => {
    const config = configOf(env);
    const now = Date.now();
    const [before, old, stranger] = randomIds(3);
    // Written around the index (as before it existed): in S2, and registered long before S2's window.
    await addUsers(good(), [before!], now - DAY_MS);
    await addUsers(good(), [old!], now - 30 * DAY_MS);
    const epoch = epochs++;
    const ids = [before!, old!, stranger!];
    const bg = background();
    const first = (await s2Candidates(env, good(), config, epoch, ids, now - config.s2DeltaMs, { now, waitUntil: bg.waitUntil, unbuilt: newIsolate().unbuiltParts })).positions;
    expect(first).toEqual([0, 1, 2]); // unbuilt: everything goes to D1
    await bg.settle(); // the build this call claimed
    expect(await s2IndexOf(env, epoch, config.s2Index, 0, 0).describe()).toMatchObject({ builtAt: now });
    expect((await s2Candidates(env, good(), config, epoch, ids, now - config.s2DeltaMs, { now, waitUntil: bg.waitUntil, unbuilt: newIsolate().unbuiltParts })).positions).toEqual([0]);
  });

  it("claims one build at a time, and gives the claim to another caller when the builder does not finish", async () => {
    const index = s2IndexOf(env, epochs++, { parts: 1 }, 0, 0);
    const now = Date.now();
    expect(await index.candidates([1], 0, now)).toMatchObject({ state: "unbuilt", claim: true });
    expect(await index.candidates([1], 0, now + 1000)).toMatchObject({ state: "unbuilt", claim: false });
    expect(await index.candidates([1], 0, now + 61_000)).toMatchObject({ state: "unbuilt", claim: true });
  });

  it("is claimed for building only S2_INDEX_BUILD_DELAY_SECONDS after its first call (a rollout's older writers note other objects)", async () => {
    const index = s2IndexOf(env, epochs++, { parts: 1 }, 0, 0);
    const now = Date.now();
    await index.note([7], now, { keepFrom: now - DAY_MS, maxKeys: 100, offFor: DAY_MS });
    expect(await index.candidates([7], 0, now + HOUR_MS - SECOND_MS, HOUR_MS)).toMatchObject({ state: "unbuilt", claim: false });
    expect(await index.candidates([7], 0, now + HOUR_MS, HOUR_MS)).toMatchObject({ state: "unbuilt", claim: true });
  });

  it("goes off past S2_INDEX_MAX_KEYS for as long as what it could not keep stays in S2, and notes what follows", async () => {
    const config = { ...configOf(env), s2Index: { parts: 1, replicas: 1, maxKeys: 10, buildDelayMs: 0 } };
    const now = Date.now();
    const epoch = await freshIndex(configOf(env), now); // built with room for what D1 holds already
    const index = s2IndexOf(env, epoch, config.s2Index, 0, 0);
    const { keys } = await index.describe();
    const many = randomIds(11);
    await noteChanges(env, config, epoch, many, now);
    expect(await index.describe()).toMatchObject({ offUntil: now + config.s2DeltaMs + MARGIN_MS, keys });
    const later = randomId();
    await noteChanges(env, config, epoch, [later], now + DAY_MS);
    expect((await compare(config, epoch, [...many, later], now + DAY_MS, true)).candidates.size).toBe(12); // off: all of them
    const back = now + config.s2DeltaMs + MARGIN_MS;
    const { candidates } = await compare(config, epoch, [...many, later], back, true);
    expect([...candidates]).toEqual([11]); // on again: the change made while off is there
  });

  it("goes off before a creation of random users, which it does not note", async () => {
    const config = configOf(env);
    const now = Date.now();
    await createRandomUsers(env, good(), config, 100, now);
    expect(await s2IndexOf(env, 0, config.s2Index, 0, 0).describe()).toMatchObject({ offUntil: now + config.s2DeltaMs + MARGIN_MS });
    expect((await s2IndexOf(env, 0, config.s2Index, 0, 0).describe()).keys).toBeLessThan(100);
  });

  it("notes every replica, and a sync may ask any", async () => {
    const config = { ...configOf(env), s2Index: { parts: 2, replicas: 3, maxKeys: 1000, buildDelayMs: 0 } };
    const now = Date.now();
    const epoch = await freshIndex(config, now);
    const ids = randomIds(30);
    await noteChanges(env, config, epoch, ids.slice(0, 10), now);
    for (let part = 0; part < 2; part++) {
      const answers = await Promise.all([0, 1, 2].map((r) => s2IndexOf(env, epoch, config.s2Index, part, r).describe()));
      expect(new Set(answers.map((a) => a.keys)).size).toBe(1);
    }
    for (let round = 0; round < 5; round++) expect((await compare(config, epoch, ids, now, true)).candidates).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  });
  it("has each writer note its change, however long ago the user last changed", async () => {
    const config = configOf(env);
    const t0 = Date.now() + 400 * DAY_MS; // after the history below: no note of this test's users is left by then
    const writers: [string, (u: ReturnType<typeof newClient>, at: number) => Promise<unknown>, "registered" | "removed"][] = [
      ["registration", (u, at) => register(env, good(), config, { ...u, identifiers: [] }, at), "removed"],
      ["deletion", (u, at) => unregister(env, good(), config, { ...u, identifiers: [] }, at), "registered"],
      ["the operator's deletion", (u, at) => removeByOperator(env, good(), config, u.user, at), "registered"],
      ["an announced import", async (u, at) => importUsers(env, good(), config, actor, [{ id: u.user, tokenHash: await hashToken(u.authToken) }], true, at), "removed"],
      ["an import not announced", async (u, at) => importUsers(env, good(), config, actor, [{ id: u.user, tokenHash: await hashToken(u.authToken) }], false, at), "removed"],
      ["/test/add/many", (u, at) => addTestUsers(env, good(), config, [u.user], at), "removed"],
    ];
    for (const [name, write, before] of writers) {
      const u = newClient();
      const req = { ...u, identifiers: [] };
      await register(env, good(), config, req, t0);
      if (before === "removed") await unregister(env, good(), config, req, t0);
      const at = t0 + 9 * DAY_MS; // the earlier change leaves S2 before this one does
      await write(u, at);
      const check = at + config.s2DeltaMs - MINUTE_MS;
      const { candidates, changed } = await compare(config, 0, [u.user], check);
      expect(changed, name).toEqual([0]);
      expect([...candidates], name).toEqual([0]);
    }
  });

  // Last: its clock runs weeks ahead, and D1 keeps what it wrote.
  it("misses no change over a random history of registrations, deletions, imports and time", async () => {
    // Through the operations the service uses, each with its own clock; compared after every step.
    const config = { ...configOf(env), s2Index: { parts: 3, replicas: 2, maxKeys: 1_000_000, buildDelayMs: 0 } };
    const epoch = 0; // the operations use the service's epoch
    let now = Date.now();
    for (let part = 0; part < 3; part++) for (let r = 0; r < 2; r++) await buildIndex(env, good(), config, epoch, part, r, now);
    const users = Array.from({ length: 40 }, newClient);
    const strangers = randomIds(40, 16);
    const probe = [...users.map((u) => u.user), ...strangers];
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    let changes = 0;
    for (let step = 0; step < 120; step++) {
      const u = pick(users);
      const req = { ...u, identifiers: [] };
      switch (Math.floor(random() * 6)) {
        case 0:
          await register(env, good(), config, req, now);
          break;
        case 1:
          await unregister(env, good(), config, req, now);
          break;
        case 2:
          await removeByOperator(env, good(), config, u.user, now);
          break;
        case 3:
          await importUsers(env, good(), config, actor, [{ id: u.user, tokenHash: await hashToken(u.authToken) }], random() < 0.5, now);
          break;
        case 4:
          await addTestUsers(env, good(), config, [pick(users).user, pick(users).user], now);
          break;
        default:
          now += pick([MINUTE_MS, HOUR_MS, DAY_MS, 4 * DAY_MS, 9 * DAY_MS, 11 * DAY_MS]);
      }
      const { candidates, changed } = await compare(config, epoch, probe, now);
      for (const i of changed) expect(candidates.has(i), `step ${step}: ${i} changed but was filtered out`).toBe(true);
      changes += changed.length;
    }
    expect(changes).toBeGreaterThan(100); // the history did change S2
  }, 60_000); // a few seconds alone; far more on two loaded cores
});
