// The hono environment every route module shares: the bindings, the config parsed once, and what the isolate keeps.

import type { Config } from "../core/config";
import type { Actor } from "../core/credentials";
import type { Role } from "../core/roles";
import type { Shards } from "../db/shards";
import type { Isolate } from "../domain/isolate";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    shards: Shards;
    /** What this isolate keeps between requests (src/domain/isolate.ts), made once in src/index.ts. */
    isolate: Isolate;
    /** On /admin/ routes, once authenticated (src/http/admin-auth.ts): who calls, and the role the route admitted them in. */
    actor?: Actor;
    role?: Role;
  };
}
