// The scheduled purge: users removed longer than S2_DELTA ago are in neither S1 nor S2, so their rows
// go, in bounded batches so that one run stays short; whatever is left waits for the next run.

import { configOf } from "../core/config";
import { shardsOf } from "../db/shards";
import { purgeRemovedUsers } from "../db/users";

export const PURGE_BATCH = 1000;
export const PURGE_MAX_BATCHES = 100;

export async function purgeExpired(env: Env, now: number): Promise<number> {
  const { s2DeltaMs } = configOf(env);
  return purgeRemovedUsers(shardsOf(env), now - s2DeltaMs, PURGE_BATCH, PURGE_MAX_BATCHES);
}

export const scheduled: ExportedHandlerScheduledHandler<Env> = async (controller, env) => {
  const purged = await purgeExpired(env, controller.scheduledTime);
  console.log(`purge: ${purged} expired removals deleted`);
};
