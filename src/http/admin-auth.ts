// Authentication (401 on every /admin/ path, existing or not) and authorization (403, audited) of
// /admin/, by the role table of src/core/roles.ts.

import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env";
import { type AdminRoute, isUserRoute, roleOn } from "../core/roles";
import { type AuditActor, writeAudit } from "../db/audit";
import { authenticateOperator } from "../domain/operator-auth";

export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const headers = { authorization: c.req.header("Authorization"), accessAssertion: c.req.header("Cf-Access-Jwt-Assertion") };
  const actor = await authenticateOperator(c.get("config"), headers, Date.now());
  if (!actor) return c.json({ error: "credentials required" }, 401, { "WWW-Authenticate": 'Basic realm="icd admin", charset="UTF-8"' });
  c.set("actor", actor);
  await next();
};

export const noSuchEndpoint = (c: Context<AppEnv>) => c.json({ error: "no such admin endpoint" }, 404);

/** Null once admitted. The account service's routes do not exist while ADMIN_USER_ROUTES is off: it uses the Service Binding. */
export async function admit(c: Context<AppEnv>, route: AdminRoute): Promise<Response | null> {
  if (isUserRoute(route) && !c.get("config").adminUserRoutes) return noSuchEndpoint(c);
  const actor = c.get("actor")!;
  const role = roleOn(route, actor.roles);
  if (role) {
    c.set("role", role);
    return null;
  }
  // The pattern, never the path: a path holds the identifier acted on.
  await writeAudit(c.get("shards"), Date.now(), "denied", null, { route }, { role: actor.roles.join(",") || "none", keyId: actor.keyId });
  return c.json({ error: "this credential's role may not use this endpoint" }, 403);
}

export const authorize =
  (route: AdminRoute): MiddlewareHandler<AppEnv> =>
  async (c, next) =>
    (await admit(c, route)) ?? next();

export const actorOf = (c: Context<AppEnv>): AuditActor => ({ role: c.get("role")!, keyId: c.get("actor")!.keyId });
