// The local-development hooks of docs/protocol.md. They take no authentication, so they answer 404
// unless TEST_HOOKS is on (never in the production environment).

import { Hono, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import * as db from "../../db/users";
import { monitorOf } from "../../objects/monitor";
import { ID_BYTES, createRandomUsers } from "../../domain/random-users";
import { Result, isOutcome, outcome, parseRequest } from "../../core/wire";
import { toHttpResponse } from "../respond";
import { protobufBodyLimit, readBody } from "../protobuf-body";

export const MAX_CREATE = 10_000_000;

export const testHookRoutes = new Hono<AppEnv>();

const onlyWithHooks: MiddlewareHandler<AppEnv> = async (c, next) => (c.get("config").testHooks ? next() : c.notFound());
testHookRoutes.use("/reset", onlyWithHooks);
testHookRoutes.use("/test/*", onlyWithHooks);

testHookRoutes.get("/reset", async (c) => {
  await Promise.all([db.resetDirectory(c.get("shards")), monitorOf(c.env).reset()]);
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
  // Millions take tens of seconds. wrangler's local proxy drops its connection to a Worker that sends
  // nothing for that long, and fails the next request; so the answer streams a space a second
  // until "Success" (the reference's clients only read the status).
  const body = new TransformStream<Uint8Array, Uint8Array>();
  const writer = body.writable.getWriter();
  const encoder = new TextEncoder();
  const heartbeat = setInterval(() => void writer.write(encoder.encode(" ")).catch(() => {}), 1000);
  const created = createRandomUsers(c.get("shards"), n, Date.now(), Number(bytes))
    .then(() => writer.write(encoder.encode("Success")))
    .then(() => writer.close(), (error: Error) => writer.abort(error))
    .finally(() => clearInterval(heartbeat));
  c.executionCtx.waitUntil(created);
  return new Response(body.readable, { headers: { "Content-Type": "text/plain; charset=UTF-8" } });
});

testHookRoutes.post("/test/add/many", protobufBodyLimit, async (c) => {
  const body = await readBody(c);
  // Only the identifiers matter here; user and token may be empty.
  const req = parseRequest(body, { identifiers: true, credentials: false });
  if (isOutcome(req)) return toHttpResponse(req);
  await db.addUsers(c.get("shards"), req.identifiers, Date.now());
  return toHttpResponse(outcome(Result.SUCCESS));
});
