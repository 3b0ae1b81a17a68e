// The per-client bucket Durable Object, through its RPC methods, with explicit clocks.

import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { bucketsOf } from "../../src/objects/client-buckets";
import { sketchOf } from "../../src/core/hyperloglog";
import { randomId } from "../helpers";
import { DAY_MS } from "../../src/core/time";

// A year ahead, so that the alarms these charges set never fire on their own during the test.
const T0 = Math.floor(Date.now() / 1000) * 1000 + 365 * DAY_MS;
const fresh = () => bucketsOf(env, randomId(16), 0);

/** The fields of the object's one stored record. */
async function storedKeys(stub: ReturnType<typeof fresh>) {
  return runInDurableObject(stub, (_, state) => {
    const rows = state.storage.sql.exec<{ record: string }>("SELECT record FROM client").toArray();
    return rows.length === 0 ? [] : Object.keys(JSON.parse(rows[0]!.record) as object);
  });
}

describe("ClientBuckets", () => {
  it("charges each bucket independently and refuses what does not fit, changing nothing", async () => {
    const buckets = fresh();
    expect(await buckets.charge("full", 20000, T0)).toMatchObject({ ok: true, emptyAt: T0 + 10 * DAY_MS });
    expect(await buckets.charge("incremental", 20000, T0)).toMatchObject({ ok: true, emptyAt: T0 + DAY_MS });
    const before = await buckets.inspect(T0 + 1000);
    expect(await buckets.charge("full", 1, T0 + 1000)).toEqual({ ok: false, retryAfterSeconds: 43 }); // 43.2 s - 1 s, rounded up
    expect(await buckets.inspect(T0 + 1000)).toEqual(before);
    expect(before.full.largestFit).toBe(0);
  });

  it("never lets 50 concurrent charges spend more than the bucket holds", async () => {
    const buckets = fresh();
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => buckets.charge("full", 1000, T0)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(20);
    expect((await buckets.inspect(T0)).full.level).toBe(20000);
  });

  it("keeps its state when the object restarts", async () => {
    const name = randomId(16);
    await bucketsOf(env, name, 0).charge("incremental", 12345, T0);
    await abortAllDurableObjects();
    expect((await bucketsOf(env, name, 0).inspect(T0)).incremental.level).toBe(12345);
  });

  it("reads the state an earlier version kept as separate keys, and moves it into its one record", async () => {
    const name = randomId(16);
    await runInDurableObject(bucketsOf(env, name, 0), (_, state) => {
      state.storage.sql.exec("DROP TABLE IF EXISTS client"); // as the object was before: keys only
      state.storage.kv.put("full", T0 + DAY_MS);
      state.storage.kv.put("credential", { tokenHash: new Uint8Array(32).fill(9), addedAt: T0 });
    });
    await abortAllDurableObjects();
    const buckets = bucketsOf(env, name, 0);
    expect((await buckets.inspect(T0)).full.level).toBe(2000); // a day of a ten-day bucket of 20,000
    expect(await buckets.sync({ kind: "incremental", n: 5, maxContacts: 20_000, tokenHash: new Uint8Array(32).fill(9) }, T0)).toMatchObject({ auth: "ok", charged: { ok: true } });
    expect(await storedKeys(buckets)).toEqual(expect.arrayContaining(["full", "credential", "incremental"]));
    expect(await runInDurableObject(buckets, (_, state) => [...state.storage.kv.list()].length)).toBe(0);
  });

  it("never lets 50 concurrent syncs that each bring their observation spend more than the bucket holds", async () => {
    const buckets = fresh();
    const tokenHash = new Uint8Array(32).fill(3);
    await buckets.setCredential({ tokenHash, addedAt: T0 }, T0);
    const observation = { matches: 1, normHitRatio: 0.4, teaches: false };
    const sketch = sketchOf([randomId()]);
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => buckets.sync({ kind: "incremental", n: 1000, maxContacts: 20_000, tokenHash, sketch, observation }, T0)));
    expect(verdicts.filter((v) => v.auth === "ok" && v.charged?.ok)).toHaveLength(20);
    expect((await buckets.inspect(T0)).incremental.level).toBe(20_000);
    expect((await buckets.inspectClient(T0)).signals).toMatchObject({ requests: { incremental: 20 }, refusals: 30 });
  });

  it("gives a refunded charge back", async () => {
    const buckets = fresh();
    await buckets.charge("full", 5000, T0);
    await buckets.charge("full", 15000, T0);
    await buckets.refund("full", 15000, T0);
    expect((await buckets.inspect(T0)).full.largestFit).toBe(15000);
  });

  it("sets an alarm once, never after the state may go, and at it keeps what is held and forgets the rest", async () => {
    const buckets = fresh();
    await buckets.charge("incremental", 100, T0);
    await buckets.charge("full", 100, T0);
    const alarm = () => runInDurableObject(buckets, (_, state) => state.storage.getAlarm());
    expect(await alarm()).toBe(T0 + 100 * 4_320); // set by the first charge; the second writes no alarm
    await buckets.sweep(T0 + 100 * 4_320); // only the incremental one is empty: keep, and wake when the full one is
    expect(await storedKeys(buckets)).toEqual(["incremental", "full"]);
    expect(await alarm()).toBe(T0 + 100 * 43_200);
    await buckets.sweep(T0 + 100 * 43_200);
    expect(await storedKeys(buckets)).toEqual([]);
    expect(await runInDurableObject(buckets, (_, state) => state.storage.getAlarm())).toBeNull();
  });

  it("runs the sweep from its alarm", async () => {
    const buckets = fresh();
    // Charged long ago: drained by now, so the alarm finds nothing worth keeping.
    await buckets.charge("full", 1, Date.now() - 11 * DAY_MS);
    await runDurableObjectAlarm(buckets); // the alarm is due now: the runtime may be running it already
    await vi.waitFor(async () => expect(await storedKeys(buckets)).toEqual([]), { timeout: 2000 });
  });

  it("names objects by identifier and reset epoch", async () => {
    const id = randomId(16);
    await bucketsOf(env, id, 0).charge("full", 20000, T0);
    expect((await bucketsOf(env, id, 1).inspect(T0)).full.level).toBe(0);
    expect((await bucketsOf(env, id, 0).inspect(T0)).full.level).toBe(20000);
  });

  describe("the credential copy", () => {
    const hash = (byte: number) => new Uint8Array(32).fill(byte);
    const request = (tokenHash: Uint8Array, n = 10) => ({ kind: "full" as const, n, maxContacts: 20_000, tokenHash });

    it("authenticates and charges in one call once it holds the credential, and refuses another token", async () => {
      const buckets = fresh();
      expect(await buckets.sync(request(hash(1)), T0)).toMatchObject({ auth: "unknown" });
      await buckets.setCredential({ tokenHash: hash(1), addedAt: T0 }, T0);
      expect(await buckets.sync(request(hash(1)), T0)).toMatchObject({ auth: "ok", charged: { ok: true, fresh: true } });
      expect(await buckets.sync(request(hash(2)), T0)).toMatchObject({ auth: "invalid" });
      expect((await buckets.inspect(T0)).full.level).toBe(10); // the wrong token charged nothing
    });

    it("records the observation a sync brings in the same call and one row written, once the charge succeeded", async () => {
      const buckets = fresh();
      await buckets.setCredential({ tokenHash: hash(5), addedAt: T0 }, T0);
      const observation = { matches: 4, normHitRatio: 0.4, teaches: true };
      const sketch = sketchOf([randomId(), randomId()]);
      // A first sync too: its admission (none here: no guards asked) comes before the charge, in the same call.
      const first = await buckets.sync({ ...request(hash(5)), sketch, observation }, T0);
      expect(first).toMatchObject({ auth: "ok", charged: { ok: true, fresh: true }, observed: { newFlag: null }, costs: { rowsWritten: 1 } });
      const second = await buckets.sync({ ...request(hash(5)), sketch, observation }, T0 + 1000);
      expect(second.costs).toEqual({ rowsRead: 0, rowsWritten: 1 }); // the record is read once per object lifetime
      expect(second).toMatchObject({ auth: "ok", charged: { ok: true, fresh: false }, observed: { newFlag: null } });
      const { signals } = await buckets.inspectClient(T0 + 1000);
      expect(signals).toMatchObject({ requests: { full: 2 }, identifiers: { full: 20 }, matches: { full: 8 } });
      // A refused charge records nothing.
      const refused = await buckets.sync({ ...request(hash(5), 20_000), sketch, observation: { ...observation, matches: 9999 } }, T0 + 2000);
      expect(refused).toMatchObject({ charged: { ok: false } });
      expect((await buckets.inspectClient(T0 + 2000)).signals).toMatchObject({ matches: { full: 8 } });
    });

    it("learns the credential from D1 when it has none, and keeps it", async () => {
      const buckets = fresh();
      const learned = { tokenHash: hash(3), addedAt: 0 };
      expect(await buckets.sync({ ...request(hash(3)), learned }, T0)).toMatchObject({ auth: "ok", charged: { ok: true } });
      expect(await buckets.sync(request(hash(3)), T0)).toMatchObject({ auth: "ok" });
    });

    it("charges nothing for no identifiers or more than a bucket, and still refuses a blocked client", async () => {
      const buckets = fresh();
      await buckets.setCredential({ tokenHash: hash(4), addedAt: T0 }, T0);
      expect(await buckets.sync(request(hash(4), 0), T0)).toMatchObject({ auth: "ok", charged: null });
      expect(await buckets.sync(request(hash(4), 20_001), T0)).toMatchObject({ auth: "ok", charged: null });
      expect((await buckets.inspect(T0)).full.level).toBe(0);
      await buckets.block();
      expect(await buckets.sync(request(hash(4), 0), T0)).toMatchObject({ auth: "ok", charged: { ok: false, blocked: true } });
    });

    it("stops a revoked token at once, and refuses a copy of it from a D1 read that began before the deletion", async () => {
      const buckets = fresh();
      await buckets.setCredential({ tokenHash: hash(5), addedAt: T0 }, T0);
      await buckets.revokeCredential(hash(5), T0 + 1000);
      expect(await buckets.sync(request(hash(5)), T0 + 1001)).toMatchObject({ auth: "unknown" });
      // A stale read of the old registration (added at T0) must not bring the token back.
      expect(await buckets.sync({ ...request(hash(5)), learned: { tokenHash: hash(5), addedAt: T0 } }, T0 + 1002)).toMatchObject({ auth: "invalid" });
      // A registration after the deletion is learned as usual, even with the same token.
      expect(await buckets.sync({ ...request(hash(5)), learned: { tokenHash: hash(5), addedAt: T0 + 2000 } }, T0 + 2001)).toMatchObject({ auth: "ok" });
    });

    it("lets a new registration replace a tombstone, and the operator's delete revoke any token", async () => {
      const buckets = fresh();
      await buckets.revokeCredential(null, T0);
      expect(await buckets.sync({ ...request(hash(6)), learned: { tokenHash: hash(6), addedAt: T0 - 1 } }, T0 + 1)).toMatchObject({ auth: "invalid" });
      await buckets.setCredential({ tokenHash: hash(7), addedAt: T0 + 5 }, T0 + 5);
      expect(await buckets.sync(request(hash(7)), T0 + 6)).toMatchObject({ auth: "ok" });
      await buckets.revokeCredential(null, T0 + 7);
      expect(await buckets.sync(request(hash(7)), T0 + 8)).toMatchObject({ auth: "unknown" });
    });
  });
});
