// The client's Durable Object as a detector: signals without contacts, rules, flags, clearing, retention.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bucketsOf } from "../../src/objects/client-buckets";
import { SIGNALS_RETENTION_MS } from "../../src/core/flag-rules";
import { sketchOf } from "../../src/core/hyperloglog";
import { randomId, randomIds, seededIds } from "../helpers";
import { DAY_MS } from "../../src/core/time";

const T0 = Math.floor(Date.now() / 1000) * 1000 + 365 * DAY_MS; // alarms never fire during the test
const fresh = () => bucketsOf(env, randomId(16), 0);
const answered = (kind: "full" | "incremental", identifiers: number, matches: number, edge = false) => ({ kind, identifiers, matches, edge });

describe("client signals", () => {
  it("counts requests, identifiers, matches and distinct identifiers, and stores no identifier", async () => {
    const client = fresh();
    const book = seededIds(800, 800); // the same on every run: the estimate below is exact to repeat
    await client.charge("full", 800, T0);
    await client.observe(answered("full", 800, 320), sketchOf(book), null, 0.4, T0);
    await client.charge("incremental", 800, T0 + DAY_MS);
    await client.observe(answered("incremental", 800, 4), sketchOf(book), null, 0.4, T0 + DAY_MS);
    const view = await client.inspectClient(T0 + DAY_MS);
    expect(view).toMatchObject({ flagged: false, reasons: [] });
    expect(view.signals).toMatchObject({
      firstAt: T0,
      lastAt: T0 + DAY_MS,
      requests: { full: 1, incremental: 1 },
      identifiers: { full: 800, incremental: 800 },
      matches: { full: 320, incremental: 4 },
      hitRatio: { full: 0.4, incremental: 0.005 },
    });
    expect(Math.abs(view.signals!.distinct - 800)).toBeLessThan(30);
    // What is stored: counters and a 2 KB sketch; no stored value contains any identifier.
    const stored = await runInDurableObject(client, (_, state) => state.storage.sql.exec<{ record: string; sketch: ArrayBuffer }>("SELECT record, sketch FROM client").toArray());
    expect(stored).toHaveLength(1); // one record, one row
    expect(stored[0]!.sketch.byteLength).toBe(2048);
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    const dump = stored[0]!.record + hex(new Uint8Array(stored[0]!.sketch));
    for (const id of book.slice(0, 50)) expect(dump).not.toContain(hex(id).slice(0, 16));
  });

  it("flags a client once its signals break a rule, keeps the flag, and tells only once", async () => {
    const client = fresh();
    await client.charge("full", 20_000, T0);
    const first = await client.observe(answered("full", 20_000, 3, true), sketchOf(randomIds(20_000)), null, 0.4, T0);
    expect(first.newFlag?.reasons.map((r) => r.rule)).toEqual(["hit-ratio"]);
    await client.charge("incremental", 20_000, T0 + 1);
    const second = await client.observe(answered("incremental", 20_000, 0), sketchOf(randomIds(20_000)), null, 0.4, T0 + 1);
    expect(second.newFlag).toBeNull();
    const view = await client.inspectClient(T0 + 2);
    expect(view).toMatchObject({ flagged: true, flaggedAt: T0 });
    expect(view.reasons[0]!.message).toContain("of 20000 identifiers in full syncs were registered");
  });

  it("counts a refused charge among the signals and marks a client's first sync as fresh", async () => {
    const client = fresh();
    expect(await client.charge("full", 20_000, T0)).toMatchObject({ ok: true, fresh: true, edge: true, flagged: false });
    await client.observe(answered("full", 20_000, 8_000, true), sketchOf(randomIds(10)), null, 0.4, T0);
    expect(await client.charge("full", 1, T0)).toMatchObject({ ok: false });
    expect(await client.charge("incremental", 10, T0)).toMatchObject({ ok: true, fresh: false, edge: false });
    expect((await client.inspectClient(T0)).signals).toMatchObject({ refusals: 1, edgeFullSyncs: 1 });
  });

  it("clears a flag, and starts the signals afresh so the old evidence does not flag again", async () => {
    const client = fresh();
    await client.observe(answered("full", 20_000, 0), sketchOf(randomIds(100)), null, 0.4, T0);
    expect((await client.inspectClient(T0)).flagged).toBe(true);
    expect(await client.clearFlag(T0)).toBe(true);
    expect(await client.inspectClient(T0)).toMatchObject({ flagged: false, reasons: [], signals: { requests: { full: 0, incremental: 0 }, distinct: 0 } });
    const again = await client.observe(answered("full", 100, 40), sketchOf(randomIds(100)), null, 0.4, T0 + 1);
    expect(again.newFlag).toBeNull();
  });

  it("forgets a quiet client's signals after the retention period, but keeps a flag", async () => {
    const quiet = fresh();
    await quiet.observe(answered("full", 300, 100), sketchOf(randomIds(300)), null, 0.4, T0);
    const alarm = await runInDurableObject(quiet, (_, state) => state.storage.getAlarm());
    expect(alarm).toBe(T0 + SIGNALS_RETENTION_MS);
    await quiet.sweep(T0 + SIGNALS_RETENTION_MS - 1);
    expect((await quiet.inspectClient(T0)).signals).not.toBeNull();
    await quiet.sweep(T0 + SIGNALS_RETENTION_MS);
    expect(await runInDurableObject(quiet, (_, state) => state.storage.sql.exec("SELECT 1 FROM client").toArray().length)).toBe(0);

    const flagged = fresh();
    await flagged.observe(answered("full", 20_000, 0), sketchOf(randomIds(10)), null, 0.4, T0);
    await flagged.sweep(T0 + 2 * SIGNALS_RETENTION_MS);
    expect(await flagged.inspectClient(T0)).toMatchObject({ flagged: true, signals: { identifiers: { full: 20_000 } } });
  });

  it("remembers its norm samples so they can be taken out when it is flagged", async () => {
    const client = fresh();
    const sample = { bin: 0, at: T0 };
    const { newFlag, samples } = await client.observe(answered("full", 20_000, 0), sketchOf(randomIds(10)), sample, 0.4, T0);
    expect(newFlag).not.toBeNull();
    expect(samples).toEqual([sample]);
  });
});
