// The hono environment every route module shares: the bindings, and the config parsed once.

import type { Config } from "../core/config";
import type { Actor } from "../core/credentials";
import type { Role } from "../core/roles";
import type { Shards } from "../db/shards";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    shards: Shards;
    /** On /admin/ routes, once authenticated (src/http/admin-auth.ts): who calls, and the role the route admitted them in. */
    actor?: Actor;
    role?: Role;
  };
}
