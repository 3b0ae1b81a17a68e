// Wiring only: the hono app, its routes, the scheduled purge and the Durable Object classes.

import { Hono } from "hono";
import type { AppEnv } from "./app-env";
import { configOf, shardsOf } from "./config";
import { onError } from "./errors";
import { scheduled } from "./purge";
import { networkGuard } from "./routes/guard";
import { adminRoutes } from "./routes/admin";
import { discoveryRoutes } from "./routes/discovery";
import { testHookRoutes } from "./routes/test-hooks";
import { userRoutes } from "./routes/user";

export { ClientBuckets } from "./client-buckets";
export { Monitor } from "./monitor";
export { NetworkGuard } from "./network-guard";

const app = new Hono<AppEnv>();

app.use(async (c, next) => {
  c.set("config", configOf(c.env));
  c.set("shards", shardsOf(c.env));
  await next();
});
app.use(networkGuard);
app.route("/user", userRoutes);
app.route("/discovery", discoveryRoutes);
app.route("/admin", adminRoutes);
app.route("/", testHookRoutes);
app.onError(onError);

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
