// The novelty limit (src/core/novelty.ts) and its place in a charge (chargeClient in src/core/client-state.ts).

import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config";
import type { ClientState } from "../../src/core/charge-policy";
import { chargeClient } from "../../src/core/client-state";
import { emptySignals } from "../../src/core/flag-rules";
import { estimateDistinct, mergeSketch, sketchOf } from "../../src/core/hyperloglog";
import { type NoveltyPolicy, decideNovelty, noveltyRoom } from "../../src/core/novelty";
import { DAY_MS, HOUR_MS } from "../../src/core/time";
import { randomIds } from "../helpers";

const T0 = Date.UTC(2026, 0, 1);
const policy: NoveltyPolicy = { perDay: 10, burst: 250, windowMs: 336 * HOUR_MS, book: 27_000, flagRefusals: 30 };
const AFTER = T0 + 15 * DAY_MS;

describe("decideNovelty", () => {
  const book = randomIds(1_000);
  const known = sketchOf(book);

  it("lets a first book grow to NOVELTY_BOOK within its window, and no further", () => {
    // Sizes four standard errors of the sketch (2.3%) away from NOVELTY_BOOK, so that the estimate decides as the count would.
    expect(decideNovelty(policy, undefined, undefined, undefined, sketchOf(randomIds(20_000)), T0)).toMatchObject({ ok: true });
    const grown = sketchOf(randomIds(23_000));
    expect(decideNovelty(policy, undefined, T0, grown, sketchOf(randomIds(500)), T0 + 13 * DAY_MS)).toMatchObject({ ok: true });
    expect(decideNovelty(policy, undefined, T0, grown, sketchOf(randomIds(8_000)), T0 + 13 * DAY_MS)).toMatchObject({ ok: false, retryAfterSeconds: null }); // more than a burst: send fewer
    const full = sketchOf(randomIds(31_000));
    // A few more wait for the bucket that opens when the window closes; the book itself is still free.
    expect(decideNovelty(policy, undefined, T0, full, sketchOf(randomIds(100)), T0 + 13 * DAY_MS)).toMatchObject({ ok: false, retryAfterSeconds: DAY_MS / 1000 });
    expect(decideNovelty(policy, undefined, T0, full, full, T0 + 13 * DAY_MS)).toMatchObject({ ok: true, novel: 0 });
  });

  it("charges nothing for identifiers asked before, however many and however late", () => {
    expect(decideNovelty(policy, { refusals: 0, emptyAt: AFTER + 25 * DAY_MS }, T0, known, sketchOf(book), AFTER)).toEqual({ ok: true, novel: 0, emptyAt: AFTER + 25 * DAY_MS });
  });

  it("after the window lets new identifiers come at NOVELTY_PER_DAY, at most NOVELTY_BURST at once", () => {
    const first = decideNovelty(policy, undefined, T0, known, sketchOf(randomIds(200)), AFTER);
    if (!first.ok) throw new Error("refused");
    expect(first.novel).toBeGreaterThan(170);
    expect(first.novel).toBeLessThan(230);
    // The bucket holds what came: the next 200 wait for it to drain, at 10 a day.
    const grown = mergeSketch(known.slice(), sketchOf(randomIds(first.novel)));
    const next = decideNovelty(policy, { refusals: 0, emptyAt: first.emptyAt }, T0, grown, sketchOf(randomIds(200)), AFTER);
    expect(next.ok).toBe(false);
    if (next.ok || next.retryAfterSeconds === null) throw new Error("not a refusal with a wait");
    expect(next.retryAfterSeconds).toBeGreaterThan(10 * 86_400); // about (novel + 200 - 250) / 10 days
    expect(next.retryAfterSeconds).toBeLessThan(25 * 86_400);
    expect(decideNovelty(policy, undefined, T0, known, sketchOf(randomIds(400)), AFTER)).toMatchObject({ ok: false, retryAfterSeconds: null });
    expect(noveltyRoom(policy, { refusals: 0, emptyAt: first.emptyAt }, T0, known, AFTER)).toBe(250 - first.novel);
    expect(noveltyRoom(policy, { refusals: 0, emptyAt: first.emptyAt }, T0, known, AFTER + 5 * DAY_MS)).toBe(Math.min(250, 250 - first.novel + 50));
  });

  it("counts new identifiers as the sketches estimate them", () => {
    const request = randomIds(5_000);
    const decision = decideNovelty(policy, undefined, undefined, undefined, sketchOf(request), T0);
    expect(decision.novel).toBe(estimateDistinct(sketchOf(request)));
  });
});

describe("chargeClient with the novelty limit", () => {
  const config = parseConfig({ MAX_CONTACTS: 20_000, S2_PERIOD: 86_400, S2_DELTA: 864_000, NOVELTY_PER_DAY: 10, NOVELTY_FLAG_REFUSALS: 3 });
  const book = randomIds(1_000);
  const state = (): ClientState => ({ emptyAt: { full: 0, incremental: 0 }, flagged: false, vouched: false, signals: { ...emptySignals(T0), judged: true }, sketch: sketchOf(book) });

  it("is off unless NOVELTY_PER_DAY is set", () => {
    expect(parseConfig({ MAX_CONTACTS: 20_000, S2_PERIOD: 86_400, S2_DELTA: 864_000 }).detection.novelty).toBeUndefined();
    expect(config.detection.novelty).toEqual({ perDay: 10, burst: 250, windowMs: 336 * HOUR_MS, book: 27_000, flagRefusals: 3 });
  });

  it("charges the budget and keeps the request's identifiers in the sketch when both allow it", () => {
    const charged = chargeClient(config, state(), "full", 1_100, AFTER, sketchOf([...book, ...randomIds(100)]));
    expect(charged.decision).toMatchObject({ ok: true });
    expect(charged.emptyAt).toBeGreaterThan(AFTER);
    expect(charged.novelty?.emptyAt).toBeGreaterThan(AFTER);
    expect(estimateDistinct(charged.sketch!)).toBeGreaterThan(estimateDistinct(sketchOf(book)));
  });

  it("refuses without charging either bucket, counts the refusal, and flags at NOVELTY_FLAG_REFUSALS", () => {
    let s = state();
    for (let i = 1; i <= 3; i++) {
      const charged = chargeClient(config, { ...s, flagged: s.flagged }, "full", 1_000, AFTER, sketchOf(randomIds(1_000)));
      expect(charged.decision).toEqual({ ok: false, capped: true, noveltyRoom: 225 }); // 90% of a burst: what surely fits
      expect(charged.emptyAt).toBeUndefined();
      expect(charged.sketch).toBeUndefined();
      expect(charged.novelty).toEqual({ refusals: i, day: { since: AFTER, count: i } });
      expect(charged.signals?.refusals).toBe(i);
      s = { ...s, novelty: charged.novelty, signals: charged.signals };
      if (i < 3) expect(charged.newFlag).toBeUndefined();
      else expect(charged.newFlag?.reasons).toEqual([expect.objectContaining({ rule: "novelty", value: 3, threshold: 3 })]);
    }
  });

  it("counts refusals toward the flag within a day: a client refused a few times a day is never flagged", () => {
    let s = state();
    for (let day = 0; day < 20; day++) {
      for (let i = 0; i < 2; i++) {
        const charged = chargeClient(config, s, "full", 1_000, AFTER + day * DAY_MS + i * HOUR_MS, sketchOf(randomIds(1_000)));
        expect(charged.newFlag).toBeUndefined();
        s = { ...s, novelty: charged.novelty, signals: charged.signals };
      }
    }
    expect(s.novelty).toMatchObject({ refusals: 40, day: { count: 2 } });
  });

  it("applies nothing without the request's sketch, or with the limit off", () => {
    expect(chargeClient(config, state(), "full", 1_000, AFTER).decision).toMatchObject({ ok: true });
    const off = parseConfig({ MAX_CONTACTS: 20_000, S2_PERIOD: 86_400, S2_DELTA: 864_000 });
    expect(chargeClient(off, state(), "full", 1_000, AFTER, sketchOf(randomIds(1_000))).decision).toMatchObject({ ok: true });
  });
});
