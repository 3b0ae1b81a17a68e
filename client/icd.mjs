#!/usr/bin/env node
// The `icd` command (package.json "bin"): Node 20 cannot run TypeScript, so this bundles cli.ts on
// the fly with scripts/run-ts.mjs (esbuild, a runtime dependency in package.json). Nothing to build
// after `npm install`, and never a stale build.

import { fileURLToPath } from "node:url";
import { runTs } from "../scripts/run-ts.mjs";

await runTs(fileURLToPath(new URL("cli.ts", import.meta.url)), process.argv.slice(2));
