// The one place the unexpected becomes a response: a generic 500 that leaks nothing of the request.

import type { ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app-env";

export const onError: ErrorHandler<AppEnv> = (error) => {
  if (error instanceof HTTPException) return error.getResponse();
  // The message names a variable for a ConfigError; it never holds identifiers or tokens.
  console.error(`${error.name}: ${error.message}`);
  return new Response("internal error", { status: 500, headers: { "Content-Type": "text/plain" } });
};
