// The hono environment every route module shares: the bindings, and the config parsed once.

import type { Config } from "../core/config";
import type { Shards } from "../db/shards";

export interface AppEnv {
  Bindings: Env;
  Variables: { config: Config; shards: Shards };
}
