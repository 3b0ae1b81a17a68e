#!/usr/bin/env node
// What `npm start` runs after the migrations (scripts/start.mjs starts it in a process group of its
// own): wrangler's dev server, through the API `wrangler dev` itself runs on (unstable_startWorker),
// for the one thing the command line cannot turn off: the devtools inspector. With devtools attached,
// wrangler reports every D1 and Durable Object call of the Worker to them, through its inspector
// proxy and Node: about 7 ms of CPU per D1 call on a 2-core machine, more than the call itself
// (docs/scaling.md, "Measured locally"). `npm start -- --inspect` serves with devtools on port 9229;
// `--inspector-port N` on port N instead (npm run profile: bench/profile.mjs takes a CPU profile
// through it, talking to workerd's own inspector, which this one fronts).
//
// Options: --env NAME, --persist-to DIR, --inspect, --log-level LEVEL (default "warn": one line per
// request costs the dev server another half millisecond; "info" shows them), --env-file FILE (the
// local secrets from FILE instead of .dev.vars: a test's own keys), --var NAME=VALUE (repeatable: a
// var of the environment replaced for this run, as `wrangler dev --var` does; bench/costs.mjs opens
// the admin API of the production configuration with it), --config FILE (default wrangler.toml;
// bench/floor.mjs serves bench/floor/wrangler.toml with it). PORT (default 8787).

import { parseArgs } from "node:util";
import { unstable_startWorker } from "wrangler";

const { values } = parseArgs({
  options: { config: { type: "string", default: "wrangler.toml" }, env: { type: "string" }, "persist-to": { type: "string" }, inspect: { type: "boolean", default: false }, "inspector-port": { type: "string" }, "log-level": { type: "string", default: "warn" }, "env-file": { type: "string" }, var: { type: "string", multiple: true, default: [] } },
});
const vars = Object.fromEntries(
  values.var.map((pair) => {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`--var ${pair}: expected NAME=VALUE`);
    return [pair.slice(0, at), { type: "plain_text", value: pair.slice(at + 1) }];
  }),
);
const port = Number(process.env.PORT ?? 8787);
const inspectorPort = values["inspector-port"] ? Number(values["inspector-port"]) : values.inspect ? 9229 : null;

const worker = await unstable_startWorker({
  config: values.config,
  env: values.env,
  ...(values["env-file"] ? { envFiles: [values["env-file"]] } : {}),
  ...(Object.keys(vars).length > 0 ? { bindings: vars } : {}),
  dev: {
    server: { hostname: "localhost", port },
    inspector: inspectorPort === null ? false : { port: inspectorPort },
    persist: values["persist-to"] ?? ".wrangler/state",
    logLevel: values["log-level"],
    watch: true,
  },
});
await worker.ready;
console.log(`Ready on ${await worker.url}${inspectorPort === null ? "" : ` (devtools: chrome://inspect, port ${inspectorPort})`}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.removeAllListeners(signal);
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    worker.dispose().finally(() => process.exit(0));
  });
}
