// POST /user/register and POST /user/delete.

import { Hono } from "hono";
import { register, unregister } from "../../domain/accounts";
import type { AppEnv } from "../app-env";
import { Result, isOutcome, outcome, parseRequest } from "../../core/wire";
import { toHttpResponse } from "../respond";
import { protobufBodyLimit, readBody } from "../protobuf-body";

export const userRoutes = new Hono<AppEnv>();

userRoutes.use(protobufBodyLimit);

// With REGISTRATION = "admin" only the operator's account service registers and deletes users, through
// the admin API; a client's attempt is refused like a bad credential, before its body is read.
userRoutes.use(async (c, next) =>
  c.get("config").registration === "admin" ? toHttpResponse(outcome(Result.AUTHENTICATION_INVALID)) : next(),
);

userRoutes.post("/register", async (c) => {
  const req = parseRequest(await readBody(c), { identifiers: false, credentials: true });
  return toHttpResponse(isOutcome(req) ? req : await register(c.env, c.get("shards"), c.get("config"), req, Date.now()));
});

userRoutes.post("/delete", async (c) => {
  const req = parseRequest(await readBody(c), { identifiers: false, credentials: true });
  return toHttpResponse(isOutcome(req) ? req : await unregister(c.env, c.get("shards"), c.get("config"), req, Date.now()));
});
