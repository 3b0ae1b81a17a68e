// POST /user/register and POST /user/delete.

import { Hono } from "hono";
import { register, unregister } from "../accounts";
import type { AppEnv } from "../app-env";
import { isOutcome, parseRequest, toHttpResponse } from "../wire";
import { protobufBodyLimit, readBody } from "./protobuf-body";

export const userRoutes = new Hono<AppEnv>();

userRoutes.use(protobufBodyLimit);

userRoutes.post("/register", async (c) => {
  const req = parseRequest(await readBody(c), { identifiers: false, credentials: true });
  return toHttpResponse(isOutcome(req) ? req : await register(c.get("shards"), req, Date.now()));
});

userRoutes.post("/delete", async (c) => {
  const req = parseRequest(await readBody(c), { identifiers: false, credentials: true });
  return toHttpResponse(isOutcome(req) ? req : await unregister(c.get("shards"), req, Date.now()));
});
