// The round trips of a sync: the client's object authenticates (it holds a copy of the credential)
// and charges in one call, so D1 is not on the path of authentication. Shown with a real D1
// database that fails every query (BROKEN_SHARD has no schema) standing in for the users table.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { configOf } from "../../src/core/config";
import { register, unregister } from "../../src/domain/accounts";
import { discover } from "../../src/domain/discovery";
import { newIsolate } from "../../src/domain/isolate";
import { Result, newClient } from "../helpers";

const good = () => [env.USERS_0] as const;
const broken = () => [env.BROKEN_SHARD] as const;
const isolate = newIsolate();
const options = () => ({ now: Date.now(), waitUntil: () => {}, origin: { ip: undefined, asn: undefined }, isolate });

describe("the sync path", () => {
  it("authenticates a registered client without reading D1", async () => {
    const client = newClient();
    expect((await register(env, good(), configOf(env), { ...client, identifiers: [] }, Date.now())).result).toBe(Result.SUCCESS);
    // No identifiers: nothing to look up, so the answer needs the client's object alone.
    const answer = await discover(env, broken(), configOf(env), "full", { ...client, identifiers: [] }, options());
    expect(answer.result).toBe(Result.SUCCESS);
  });

  it("refuses a deleted user's token at once, although D1 is not read", async () => {
    const client = newClient();
    await register(env, good(), configOf(env), { ...client, identifiers: [] }, Date.now());
    expect((await unregister(env, good(), configOf(env), { ...client, identifiers: [] }, Date.now())).result).toBe(Result.SUCCESS);
    // The object no longer knows the credential; D1 (broken here) would be the only way back in.
    await expect(discover(env, broken(), configOf(env), "full", { ...client, identifiers: [] }, options())).resolves.toMatchObject({ status: 503 });
    const answer = await discover(env, good(), configOf(env), "full", { ...client, identifiers: [] }, options());
    expect(answer.result).toBe(Result.AUTHENTICATION_INVALID);
  });
});
