// Reads a protobuf Request body with the size cap of docs/protocol.md: anything longer than the largest
// valid Request is refused with 413 as soon as that is known, before the body is read whole.

import type { Context, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./app-env";
import { Result, maxRequestBytes, outcome } from "../core/wire";
import { toHttpResponse } from "./respond";

export const protobufBodyLimit = (c: Context<AppEnv>, next: Next) =>
  bodyLimit({
    maxSize: maxRequestBytes(c.get("config").maxContacts),
    onError: () => toHttpResponse(outcome(Result.REQUEST_DATA_INVALID, { status: 413 })),
  })(c, next);

export async function readBody(c: Context<AppEnv>): Promise<Uint8Array> {
  return new Uint8Array(await c.req.arrayBuffer());
}
