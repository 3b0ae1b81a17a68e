#!/usr/bin/env node
// `npm start [-- --env NAME] [--persist-to DIR] [--inspect] [--inspector-port N] [--log-level LEVEL] [--env-file FILE] [--var NAME=VALUE]`: creates the
// local secrets where they are missing (.dev.vars from .dev.vars.example, a pseudonym key), applies the
// migrations to every local user shard of the chosen wrangler.toml environment, then serves it with
// wrangler's dev server (scripts/serve.mjs) on $PORT (default 8787).

import { spawnSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";
import { fillDevVar } from "./dev-vars.mjs";

// The options of scripts/serve.mjs, which gets them all; --env and --persist-to also go to the migrations.
const { values } = parseArgs({
  options: { env: { type: "string" }, "persist-to": { type: "string" }, inspect: { type: "boolean" }, "inspector-port": { type: "string" }, "log-level": { type: "string" }, "env-file": { type: "string" }, var: { type: "string", multiple: true, default: [] } },
});
const envName = values.env;
const sharedArgs = [...(envName ? ["--env", envName] : []), ...(values["persist-to"] ? ["--persist-to", values["persist-to"]] : [])];
const devArgs = [...(values.inspect ? ["--inspect"] : []), ...(values["inspector-port"] ? ["--inspector-port", values["inspector-port"]] : []), ...(values["log-level"] ? ["--log-level", values["log-level"]] : []), ...(values["env-file"] ? ["--env-file", values["env-file"]] : []), ...values.var.flatMap((pair) => ["--var", pair])];
const port = process.env.PORT ?? "8787";
process.env.WRANGLER_SEND_METRICS ??= "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false"; // offline: no Request.cf download

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("created .dev.vars from .dev.vars.example (local secrets: ADMIN_TOKEN)");
}
// The local pseudonym key: made here, never shipped in .dev.vars.example, never replaced (the local
// directory is stored under it: a new key would orphan every local user; docs/keys.md).
if (fillDevVar("PSEUDONYM_KEYS", () => `1:${randomBytes(32).toString("hex")}`)) {
  console.log("created a local pseudonym key in .dev.vars (PSEUDONYM_KEYS, version 1; docs/keys.md)");
}

const config = unstable_readConfig({ config: "wrangler.toml", env: envName });
for (const { binding } of config.d1_databases) {
  const applied = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", binding, "--local", ...sharedArgs], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (applied.status !== 0) process.exit(applied.status ?? 1);
  console.log(`migrations applied to ${binding}`);
}

// The dev server runs in a process group of its own (with the workerd processes it starts), so that
// stopping this script stops all of them: SIGINT (Ctrl-C), SIGTERM or SIGHUP here goes to the whole
// group, and so does an end of the parent (npm killed: this script is re-parented), with SIGKILL
// 10 s later for anything still there. Its stdin is not the terminal: a background group reading it
// would be stopped, so Ctrl-C comes through here.
const serve = fileURLToPath(new URL("serve.mjs", import.meta.url));
const dev = spawn(process.execPath, [serve, ...sharedArgs, ...devArgs], { stdio: ["ignore", "inherit", "inherit"], detached: true, env: { ...process.env, PORT: port } });
const group = (signal) => {
  try {
    process.kill(-dev.pid, signal);
  } catch {
    // the group is gone already
  }
};
let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  group(signal);
  setTimeout(() => group("SIGKILL"), 10_000).unref();
};
// Importing wrangler (for its config reader) installs handlers that exit at once: ours replace them.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.removeAllListeners(signal);
  process.on(signal, () => stop(signal));
}
const parent = process.ppid;
setInterval(() => process.ppid !== parent && stop("SIGTERM"), 500).unref();
dev.on("exit", (code, signal) => {
  group("SIGKILL"); // whatever wrangler left behind
  process.exit(code ?? (signal ? 0 : 1));
});
