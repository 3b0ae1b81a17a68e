// The hono environment every route module shares: the bindings, and the config parsed once.

import type { Config } from "./config";

export interface AppEnv {
  Bindings: Env;
  Variables: { config: Config };
}
