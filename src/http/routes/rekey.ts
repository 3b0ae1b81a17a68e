// The operator's key rotation API under /admin/rekey (operator role; registered by admin.ts from the
// role table): what `npm run rekey` (scripts/rekey.mjs) drives. Each POST /step does one small piece
// of the rotation (src/domain/rekey.ts) and says what it did; repeating one is harmless.

import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { writeAudit } from "../../db/audit";
import { rekeyStatus, rekeyStep } from "../../domain/rekey";

export const MAX_REKEY_BATCH = 5000;

/** GET /admin/rekey: the version written, the version every row is at, the current key's fingerprint, the progress. */
export const rekeyStatusRoute = async (c: Context<AppEnv>) => c.json(await rekeyStatus(c.env, c.get("shards")));

/** POST /admin/rekey/step?batch=N: one step, reading N rows (default 1000). {"action": "none"} once every row is at the current key. */
export const rekeyStepRoute = async (c: Context<AppEnv>) => {
  const text = c.req.query("batch") ?? "1000";
  const batch = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(batch >= 1 && batch <= MAX_REKEY_BATCH)) return c.json({ error: `batch must be 1 to ${MAX_REKEY_BATCH}` }, 400);
  const shards = c.get("shards");
  const step = await rekeyStep(c.env, shards, c.get("config"), batch, Date.now());
  if (step.action === "begin" || step.action === "finish") await writeAudit(shards, Date.now(), `rekey-${step.action}`, null, { target: step.target });
  return c.json(step);
};
