// The operator's resharding API under /admin/reshard, which `npm run reshard` (scripts/reshard.mjs)
// drives: each POST /step does one small, repeatable piece of the move (src/domain/reshard.ts).

import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { writeAudit } from "../../db/audit";
import { reshardStatus, reshardStep } from "../../domain/reshard";

export const MAX_RESHARD_BATCH = 5000;

export const reshardStatusRoute = async (c: Context<AppEnv>) => c.json(await reshardStatus(c.get("shards")));

/** POST /admin/reshard/step?batch=N&lane=J&lanes=L: lane J of L when several commands share the work; {"action": "none"} once done. */
export const reshardStepRoute = async (c: Context<AppEnv>) => {
  const [batch, lane, lanes] = [c.req.query("batch") ?? "1000", c.req.query("lane") ?? "0", c.req.query("lanes") ?? "1"].map((t) => (/^\d{1,5}$/.test(t) ? Number(t) : NaN)) as [number, number, number];
  if (!(batch >= 1 && batch <= MAX_RESHARD_BATCH)) return c.json({ error: `batch must be 1 to ${MAX_RESHARD_BATCH}` }, 400);
  if (!(lanes >= 1 && lanes <= 64 && lane >= 0 && lane < lanes)) return c.json({ error: "lanes must be 1 to 64, and lane 0 to lanes - 1" }, 400);
  const shards = c.get("shards");
  const step = await reshardStep(shards, batch, lane, lanes);
  if (step.action === "begin" || step.action === "commit" || step.action === "finish") {
    await writeAudit(shards, Date.now(), `reshard-${step.action}`, null, { to: step.to, bound: step.bound });
  }
  return c.json(step);
};
