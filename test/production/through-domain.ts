// For tests that drive the domain directly (to give it a failing binding, or to await what a sync
// leaves to run after its answer): a user registered in D1, and one full sync through discover().

import { env } from "cloudflare:workers";
import { configOf } from "../../src/core/config";
import { hashToken } from "../../src/core/token";
import { shardsOf } from "../../src/db/shards";
import * as db from "../../src/db/users";
import { discover } from "../../src/domain/discovery";
import { newIsolate } from "../../src/domain/isolate";
import { newClient, stored } from "../helpers";

export const shards = () => shardsOf(env);
export const config = () => configOf(env);
/** What the isolate keeps between syncs (src/index.ts makes one per isolate): the one these syncs run in. */
export const isolate = newIsolate();

/** A client registered in D1 only (its object learns the credential on its first sync). */
export async function enrolled() {
  const client = newClient();
  await db.registerUser(shards(), stored(client.user), await hashToken(client.authToken), Date.now());
  return client;
}

/** One full sync from `ip` with the bindings `bindings`; waits for everything it left to run after the answer. */
export async function fullSync(client: ReturnType<typeof newClient>, ids: Uint8Array[], ip: string, bindings: Env = env) {
  const later: Promise<unknown>[] = [];
  const answer = await discover(bindings, shards(), config(), "full", { ...client, identifiers: ids }, { now: Date.now(), waitUntil: (p) => later.push(p), origin: { ip, asn: undefined }, isolate });
  while (later.length > 0) await Promise.allSettled(later.splice(0));
  return answer;
}
