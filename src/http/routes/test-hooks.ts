// The local-development hooks of docs/protocol.md. They take no authentication, so they answer 404
// unless TEST_HOOKS is on (never in the production environment).

import { Hono, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { resetAccounts } from "../../domain/accounts";
import { resetMonitoring } from "../../domain/monitoring";
import { ID_BYTES, addTestUsers, createRandomUsers } from "../../domain/random-users";
import { Result, isOutcome, outcome, parseRequest } from "../../core/wire";
import { toHttpResponse } from "../respond";
import { protobufBodyLimit, readBody } from "../protobuf-body";

export const MAX_CREATE = 10_000_000;

export const testHookRoutes = new Hono<AppEnv>();

const onlyWithHooks: MiddlewareHandler<AppEnv> = async (c, next) => (c.get("config").testHooks ? next() : c.notFound());
testHookRoutes.use("/reset", onlyWithHooks);
testHookRoutes.use("/test/*", onlyWithHooks);

testHookRoutes.get("/reset", async (c) => {
  await Promise.all([resetAccounts(c.get("shards")), resetMonitoring(c.env, c.get("config"), c.get("isolate").monitoring)]);
  return c.text("Success");
});

testHookRoutes.get("/test/create/:n", async (c) => {
  const text = c.req.param("n");
  if (!/^\d{1,9}$/.test(text)) return c.text("n must be a whole number", 400);
  const n = Number(text);
  // ?bytes=32: identifiers of that length (the benchmark measures 16 and 32), 16 by default.
  const bytes = c.req.query("bytes") ?? String(ID_BYTES.default);
  if (!/^\d{1,2}$/.test(bytes) || Number(bytes) < ID_BYTES.min || Number(bytes) > ID_BYTES.max) return c.text(`bytes must be ${ID_BYTES.min} to ${ID_BYTES.max}`, 400);
  // The reference answers 200 here too; its clients only look at the status of a successful call.
  if (n > MAX_CREATE) return c.text("Too many");
  // Millions take tens of seconds; the answer comes once they are all there, or a logged 500 if not.
  await createRandomUsers(c.env, c.get("shards"), c.get("config"), n, Date.now(), Number(bytes));
  return c.text("Success");
});

testHookRoutes.post("/test/add/many", protobufBodyLimit, async (c) => {
  const body = await readBody(c);
  // Only the identifiers matter here; user and token may be empty.
  const req = parseRequest(body, { identifiers: true, credentials: false });
  if (isOutcome(req)) return toHttpResponse(req);
  await addTestUsers(c.env, c.get("shards"), c.get("config"), req.identifiers, Date.now());
  return toHttpResponse(outcome(Result.SUCCESS));
});
