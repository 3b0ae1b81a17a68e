#!/usr/bin/env node
// `node scripts/run-ts.mjs FILE.ts [args...]`: runs a TypeScript script on Node 20, which cannot run
// TypeScript itself. esbuild (wrangler's own bundler, so always installed) bundles the script with
// the src/ modules it imports into one temporary .mjs, which is then imported with the same argv.
// The .mjs goes under node_modules/.cache so that the packages left external (wrangler, ...) resolve.
// Type-only imports vanish; nothing is type-checked here (that is `npm run typecheck`'s job).

import { build } from "esbuild";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error("usage: node scripts/run-ts.mjs FILE.ts [args...]");
  process.exit(2);
}
const cache = path.join("node_modules", ".cache");
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(path.join(cache, "run-ts-"));
const outfile = path.join(dir, `${path.basename(entry, path.extname(entry))}.mjs`);
try {
  await build({ entryPoints: [entry], outfile, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "warning" });
  process.argv = [process.argv[0], path.resolve(entry), ...args];
  await import(pathToFileURL(path.resolve(outfile)).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
