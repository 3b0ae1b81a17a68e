// Migrating a deployment that stores plain identifiers (rows of key version 0, as before pseudonyms)
// to pseudonyms, step by step (src/domain/rekey.ts), with syncs, registrations and deletions between
// the steps: lookups ask for both versions until the last step, writers move a user's old row first,
// and afterwards no row holds an identifier. Storage is per test file: nothing else sees these rows.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { configOf } from "../../src/core/config";
import { keyOf } from "../../src/core/lookup-key";
import { shardOf } from "../../src/core/sharding";
import { hashToken } from "../../src/core/token";
import { shardsOf } from "../../src/db/shards";
import { register, unregister } from "../../src/domain/accounts";
import { discover } from "../../src/domain/discovery";
import { newIsolate } from "../../src/domain/isolate";
import { forgetKeying, keyingOf } from "../../src/domain/pseudonyms";
import { type RekeyStep, rekeyStep } from "../../src/domain/rekey";
import { Result, countRows, hex, newClient, randomIds, stored } from "../helpers";

const isolate = newIsolate();
const options = () => ({ now: Date.now(), waitUntil: () => {}, origin: { ip: undefined, asn: undefined }, isolate });

describe("npm run rekey on plain identifiers", () => {
  it("wraps every row to version 1 while lookups and writes go on, losing and doubling nobody", { timeout: 120_000 }, async () => {
    // A fresh isolate's view of the shards (its own keying), as the service before pseudonyms left them.
    const shards = [...shardsOf(env)];
    const config = configOf(env);
    const clients = Array.from({ length: 30 }, newClient);
    const others = randomIds(400);
    const now = Date.now();
    for (const [id, token] of [...clients.map((c) => [c.user, c.authToken] as const), ...others.map((id) => [id, id] as const)]) {
      await shards[shardOf(id, shards.length)]!
        .prepare("INSERT INTO users (k, id, token_hash, added_at, removed_at, key_version) VALUES (?1, ?2, ?3, ?4, NULL, 0)")
        .bind(keyOf(id), id, await hashToken(token), now - 1000)
        .run();
    }
    await shards[0]!.prepare("UPDATE meta SET value = 0 WHERE key = 'key_version'").run();
    forgetKeying(shards);
    expect(await keyingOf(env, shards)).toMatchObject({ version: 1, rotating: true });

    const everyone = () => [...clients.map((c) => c.user), ...others];
    const fullSync = async (client = clients[0]!, ids = everyone()) => discover(env, shards, config, "full", { ...client, identifiers: ids }, options());
    expect(hex((await fullSync()).added!)).toEqual(hex(everyone()));

    const steps: RekeyStep[] = [];
    let late = newClient();
    for (let n = 0; ; n++) {
      const step = await rekeyStep(env, shards, config, 37, Date.now());
      steps.push(step);
      if (step.action === "none") break;
      if (n === 3) {
        // Between steps: a new user, one leaving, one coming back: each through the writers' move.
        late = newClient();
        expect((await register(env, shards, config, { ...late, identifiers: [] }, Date.now())).result).toBe(Result.SUCCESS);
        expect((await unregister(env, shards, config, { ...clients[1]!, identifiers: [] }, Date.now())).result).toBe(Result.SUCCESS);
      }
      if (n % 3 === 0 && step.action !== "finish") {
        const answer = await fullSync(clients[(n % 10) + 2]!, [...everyone(), late.user]);
        expect(answer.result).toBe(Result.SUCCESS);
        const registered = n >= 3 ? [...everyone().filter((id) => id !== clients[1]!.user), late.user] : everyone();
        expect(new Set(hex(answer.added!)), `after step ${n} (${step.action})`).toEqual(new Set(hex(registered)));
      }
      expect(n).toBeLessThan(200);
    }
    expect(steps.map((s) => s.action)).toContain("finish");
    expect(steps.filter((s) => s.action === "pass").length).toBeGreaterThanOrEqual(1);

    // Nobody lost or doubled, no identifier left, every row at version 1.
    const alive = [...everyone().filter((id) => id !== clients[1]!.user), late.user];
    expect(await countRows("SELECT count(*) AS n FROM users WHERE removed_at IS NULL")).toBeGreaterThanOrEqual(alive.length);
    for (const id of [...everyone(), late.user]) {
      expect(await countRows("SELECT count(*) AS n FROM users WHERE id = ?1", id)).toBe(0);
      expect(await countRows("SELECT count(*) AS n FROM users WHERE id = ?1 AND key_version = 1", stored(id))).toBe(1);
    }
    expect(await countRows("SELECT count(*) AS n FROM users WHERE key_version = 0")).toBe(0);
    expect(await keyingOf(env, shards)).toMatchObject({ version: 1, rotating: false });
    expect(hex((await fullSync(clients[20]!, alive)).added!)).toEqual(hex(alive));
    // Every token works; the one that left is refused.
    for (const c of [...clients.filter((c) => c !== clients[1]), late]) expect((await fullSync(c, [])).result, hex([c.user])[0]).toBe(Result.SUCCESS);
    expect((await fullSync(clients[1]!, [])).result).toBe(Result.AUTHENTICATION_INVALID);
  });
});
