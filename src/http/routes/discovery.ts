// POST /discovery/full (against S1) and POST /discovery/incremental (against S2).

import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import type { BucketKind } from "../../core/bucket";
import { discover } from "../../domain/discovery";
import { isOutcome, parseRequest } from "../../core/wire";
import { toHttpResponse } from "../respond";
import { protobufBodyLimit, readBody } from "../protobuf-body";

export const discoveryRoutes = new Hono<AppEnv>();

discoveryRoutes.use(protobufBodyLimit);

for (const kind of ["full", "incremental"] as const satisfies BucketKind[]) {
  discoveryRoutes.post(`/${kind}`, async (c) => {
    const req = parseRequest(await readBody(c), { identifiers: true, credentials: true });
    if (isOutcome(req)) return toHttpResponse(req);
    return toHttpResponse(await discover(c.env, c.get("shards"), c.get("config"), kind, req, {
      now: Date.now(),
      waitUntil: (p) => c.executionCtx.waitUntil(p),
      origin: { ip: c.req.header("CF-Connecting-IP"), asn: (c.req.raw.cf as { asn?: number } | undefined)?.asn },
      isolate: c.get("isolate"),
    }));
  });
}
