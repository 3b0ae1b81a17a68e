// The fake clock of the tests that step through days: Date only (timers stay real, so the runtime's
// own work goes on), running a year ahead of the real one so that bucket alarms never fire during a
// test. Call fakeClock() at the top of a file; `at(ms)` sets the time to T0 + ms.

import { afterEach, beforeEach, vi } from "vitest";
import { DAY_MS, SECOND_MS } from "../src/core/time";

export const T0 = Math.floor(Date.now() / SECOND_MS) * SECOND_MS + 365 * DAY_MS;

export function fakeClock(): { at: (ms: number) => void } {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());
  return { at: (ms) => vi.setSystemTime(T0 + ms) };
}
