// The shared monitoring down: a client's own rules never wait on it. Here the monitor namespace is
// a real Durable Object class without the monitor's methods, so every call to it fails, as an
// overloaded or broken monitor would. An enumerator is still flagged and quarantined
// ([env.production]: QUARANTINE_BUDGET = 0), and an honest client is served as always.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { addUsers } from "../../src/db/test-hooks";
import { monitorShard } from "../../src/objects/monitor";
import { bucketsOf } from "../../src/objects/client-buckets";
import { Result, randomIds, stored, storedAll } from "../helpers";
import { config, enrolled, fullSync, shards } from "./through-domain";

const broken = { ...env, MONITOR: env.NETWORK_GUARD } as unknown as Env;

describe("with the shared monitoring failing", () => {
  it("fails for real", async () => {
    let failed = false;
    try {
      await monitorShard(broken, 0).normState(Date.now());
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
  });

  it("still flags and quarantines an enumerator, and serves an honest client", { timeout: 60_000 }, async () => {
    const users = randomIds(2_000);
    await addUsers(shards(), storedAll(users), Date.now()); // as the service stores them: pseudonyms

    const enumerator = await enrolled();
    expect((await fullSync(enumerator, randomIds(1_000), "198.51.100.1", broken)).result).toBe(Result.SUCCESS);
    const view = await bucketsOf(env, stored(enumerator.user), 0).inspectClient();
    expect(view.flagged).toBe(true);
    expect(view.reasons.map((r) => r.rule)).toContain("hit-ratio");
    const refused = await fullSync(enumerator, randomIds(10), "198.51.100.1", broken);
    expect(refused).toMatchObject({ result: Result.RATE_LIMIT_EXCEEDED });
    expect(refused.retryAfterSeconds).toBeUndefined();

    const honest = await enrolled();
    for (let i = 0; i < 8; i++) {
      const book = [...users.slice(i * 100, i * 100 + 100), ...randomIds(150)]; // 40% registered
      const answer = await fullSync(honest, book, "198.51.100.2", broken);
      expect(answer.result).toBe(Result.SUCCESS);
      expect(answer.added).toHaveLength(100);
    }
    expect((await bucketsOf(env, stored(honest.user), 0).inspectClient()).flagged).toBe(false);
  });
});
