// Applies migrations/ to every user shard of the test environment: the same files `npm start` applies.
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { shardsOf } from "../src/db/shards";

await Promise.all(shardsOf(env).map((shard) => applyD1Migrations(shard, env.TEST_MIGRATIONS)));
