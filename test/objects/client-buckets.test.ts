// The per-client bucket Durable Object, through its RPC methods, with explicit clocks.

import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bucketsOf } from "../../src/objects/client-buckets";
import { randomId } from "../helpers";

const DAY = 86_400_000;
// A year ahead, so that the alarms these charges set never fire on their own during the test.
const T0 = Math.floor(Date.now() / 1000) * 1000 + 365 * DAY;
const fresh = () => bucketsOf(env, randomId(16), 0);

async function storedKeys(stub: ReturnType<typeof fresh>) {
  return runInDurableObject(stub, (_, state) => [...state.storage.kv.list()].map(([key]) => key));
}

describe("ClientBuckets", () => {
  it("charges each bucket independently and refuses what does not fit, changing nothing", async () => {
    const buckets = fresh();
    expect(await buckets.charge("full", 20000, T0)).toMatchObject({ ok: true, emptyAt: T0 + 10 * DAY });
    expect(await buckets.charge("incremental", 20000, T0)).toMatchObject({ ok: true, emptyAt: T0 + DAY });
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

  it("gives a refunded charge back", async () => {
    const buckets = fresh();
    await buckets.charge("full", 5000, T0);
    await buckets.charge("full", 15000, T0);
    await buckets.refund("full", 15000, T0);
    expect((await buckets.inspect(T0)).full.largestFit).toBe(15000);
  });

  it("sets an alarm for when both buckets are empty, and then forgets everything", async () => {
    const buckets = fresh();
    await buckets.charge("incremental", 100, T0);
    await buckets.charge("full", 100, T0);
    const alarm = await runInDurableObject(buckets, (_, state) => state.storage.getAlarm());
    expect(alarm).toBe(T0 + 100 * 43_200); // the full bucket drains last
    await buckets.sweep(T0 + 100 * 4_320); // only the incremental one is empty: keep
    expect(await storedKeys(buckets)).toEqual(["full", "incremental"]);
    await buckets.sweep(T0 + 100 * 43_200);
    expect(await storedKeys(buckets)).toEqual([]);
    expect(await runInDurableObject(buckets, (_, state) => state.storage.getAlarm())).toBeNull();
  });

  it("runs the sweep from its alarm", async () => {
    const buckets = fresh();
    // Charged long ago: drained by now, so the alarm finds nothing worth keeping.
    await buckets.charge("full", 1, Date.now() - 11 * DAY);
    await runDurableObjectAlarm(buckets);
    expect(await storedKeys(buckets)).toEqual([]);
  });

  it("names objects by identifier and reset epoch", async () => {
    const id = randomId(16);
    await bucketsOf(env, id, 0).charge("full", 20000, T0);
    expect((await bucketsOf(env, id, 1).inspect(T0)).full.level).toBe(0);
    expect((await bucketsOf(env, id, 0).inspect(T0)).full.level).toBe(20000);
  });
});
