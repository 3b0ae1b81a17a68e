// What an answered sync leaves to the monitoring, through discover() on the local configuration
// (the guard off): what a client not yet established was shown counts for egress over the whole
// service even without the guard, at most DETECT_PROBATION_LIMIT a sync; only a client's first
// full sync teaches the norm.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { configOf } from "../../src/core/config";
import { HOUR_MS, MINUTE_MS } from "../../src/core/time";
import { shardsOf } from "../../src/db/shards";
import { addUsers } from "../../src/db/test-hooks";
import { register } from "../../src/domain/accounts";
import { discover } from "../../src/domain/discovery";
import { newIsolate } from "../../src/domain/isolate";
import { readNorm, readSeries, resetMonitoring } from "../../src/domain/monitoring";
import { Result, newClient, randomIds, storedAll } from "../helpers";

const config = () => configOf(env);
const isolate = newIsolate();
const { monitoring } = isolate;

/** A full sync through the domain, with everything it leaves to run after the answer awaited and handed over. */
async function fullSync(client: ReturnType<typeof newClient>, ids: Uint8Array[]) {
  const later: Promise<unknown>[] = [];
  const answer = await discover(env, shardsOf(env), config(), "full", { ...client, identifiers: ids }, { now: Date.now(), waitUntil: (p) => later.push(p), origin: { ip: undefined, asn: undefined }, isolate });
  while (later.length > 0) await Promise.allSettled(later.splice(0));
  await monitoring.flush(env, config());
  return answer;
}

const revealedSoFar = async () => (await readSeries(env, config(), monitoring, Date.now() - HOUR_MS, Date.now() + MINUTE_MS)).reduce((sum, m) => sum + m.revealed, 0);

describe("what a sync leaves to the monitoring", () => {
  it("counts what a client not established was shown, with the guard off, and lets only its first full sync teach the norm", { timeout: 60_000 }, async () => {
    expect(config().guard).toBe(false);
    await resetMonitoring(env, config(), monitoring);
    const users = randomIds(300);
    await addUsers(shardsOf(env), storedAll(users), Date.now());
    const client = newClient();
    expect((await register(env, shardsOf(env), config(), { ...client, identifiers: [] }, Date.now())).result).toBe(Result.SUCCESS);

    const samplesBefore = (await readNorm(env, config(), monitoring, Date.now())).samples;
    expect((await fullSync(client, [...users.slice(0, 120), ...randomIds(180)])).added).toHaveLength(120);
    expect(await revealedSoFar()).toBe(120);
    const taught = (await readNorm(env, config(), monitoring, Date.now())).samples;
    expect(taught).toBeCloseTo(samplesBefore + 1, 3);

    // Its second full sync (a reinstall, say) is counted for egress, but teaches nothing.
    expect((await fullSync(client, [...users.slice(120, 300), ...randomIds(120)])).added).toHaveLength(180);
    expect(await revealedSoFar()).toBe(300);
    expect((await readNorm(env, config(), monitoring, Date.now())).samples).toBeCloseTo(taught, 3);
  });
});
