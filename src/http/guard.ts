// The network guard, in front of every endpoint when GUARD is on: the NETWORK_LIMIT binding is cheap and
// approximate (per location; fine for a flood), registrations also go through the exact NetworkGuard object.

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env";
import { networkOf } from "../core/network";
import { guardOf } from "../objects/network-guard";
import { Result, outcome } from "../core/wire";
import { toHttpResponse } from "./respond";

const LIMIT_PERIOD_SECONDS = 10;

const refuse = (retryAfterSeconds: number) => toHttpResponse(outcome(Result.RATE_LIMIT_EXCEEDED, { retryAfterSeconds }));

// Not the admin API: the account service registers users through it from one address, and the token is its guard.
const isAdmin = (path: string) => path === "/admin" || path.startsWith("/admin/");

export const networkGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get("config").guard || isAdmin(c.req.path)) return next();
  const network = networkOf(c.req.header("CF-Connecting-IP"));
  const { success } = await c.env.NETWORK_LIMIT.limit({ key: network });
  if (!success) return refuse(LIMIT_PERIOD_SECONDS);
  if (c.req.method === "POST" && c.req.path === "/user/register") {
    const taken = await guardOf(c.env, network).register();
    if (!taken.ok) return refuse(taken.retryAfterSeconds);
  }
  return next();
};
