// Wiring only: the hono app, its routes, the scheduled purge, the Durable Object classes and the
// account service's Service Binding entrypoint.

import { Hono } from "hono";
import type { AppEnv } from "./http/app-env";
import { configOf } from "./core/config";
import { shardsOf } from "./db/shards";
import { onError } from "./http/errors";
import { newIsolate } from "./domain/isolate";
import { scheduled } from "./domain/purge";
import { pseudonymsOf } from "./domain/pseudonyms";
import { networkGuard } from "./http/guard";
import { adminRoutes } from "./http/routes/admin";
import { discoveryRoutes } from "./http/routes/discovery";
import { testHookRoutes } from "./http/routes/test-hooks";
import { userRoutes } from "./http/routes/user";

export { ClientBuckets } from "./objects/client-buckets";
export { Monitor } from "./objects/monitor";
export { NetworkGuard } from "./objects/network-guard";
export { S2Index } from "./objects/s2-index";
export { AccountService } from "./rpc/account-service";

const app = new Hono<AppEnv>();
const isolate = newIsolate();

app.use(async (c, next) => {
  c.set("config", configOf(c.env));
  c.set("shards", shardsOf(c.env));
  c.set("isolate", isolate);
  pseudonymsOf(c.env); // no request is served without valid PSEUDONYM_KEYS: a ConfigError naming it
  await next();
});
app.use(networkGuard);
app.route("/user", userRoutes);
app.route("/discovery", discoveryRoutes);
app.route("/admin", adminRoutes);
app.route("/", testHookRoutes);
app.onError(onError);

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
