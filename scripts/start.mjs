#!/usr/bin/env node
// `npm start [-- --env NAME] [--persist-to DIR]`: applies the migrations to every local user shard
// of the chosen wrangler.toml environment, then serves it with `wrangler dev` on $PORT (default 8787).

import { spawnSync, spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { unstable_readConfig } from "wrangler";

const option = (name) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const envName = option("--env");
const persistTo = option("--persist-to");
// Options that both `d1 migrations apply` and `dev` take; anything else goes to `dev` alone.
const sharedArgs = [...(envName ? ["--env", envName] : []), ...(persistTo ? ["--persist-to", persistTo] : [])];
const devArgs = process.argv.slice(2).filter((a, i, all) => !["--env", "--persist-to"].includes(a) && !["--env", "--persist-to"].includes(all[i - 1]));
const port = process.env.PORT ?? "8787";
process.env.WRANGLER_SEND_METRICS ??= "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false"; // offline: no Request.cf download

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("created .dev.vars from .dev.vars.example (local secrets: ADMIN_TOKEN)");
}

const config = unstable_readConfig({ config: "wrangler.toml", env: envName });
for (const { binding } of config.d1_databases) {
  const applied = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", binding, "--local", ...sharedArgs], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (applied.status !== 0) process.exit(applied.status ?? 1);
  console.log(`migrations applied to ${binding}`);
}

const dev = spawn("npx", ["wrangler", "dev", "--port", port, ...sharedArgs, ...devArgs], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
