// The fake clock of the tests that step through days: Date only (timers stay real, so the runtime's
// own work goes on), running a year ahead of the real one so that bucket alarms never fire during a
// test. Call fakeClock() at the top of a file; `at(ms)` sets the time to T0 + ms.

import { afterEach, beforeEach, vi } from "vitest";

export const SECOND = 1000;
export const DAY = 86_400 * SECOND;
export const T0 = Math.floor(Date.now() / SECOND) * SECOND + 365 * DAY;

export function fakeClock(): { at: (ms: number) => void } {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());
  return { at: (ms) => vi.setSystemTime(T0 + ms) };
}
