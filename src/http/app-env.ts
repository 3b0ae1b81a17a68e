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
    isolate: Isolate;
    /** Set on /admin/ routes once authenticated and admitted. */
    actor?: Actor;
    role?: Role;
  };
}
