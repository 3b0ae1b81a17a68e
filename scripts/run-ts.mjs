#!/usr/bin/env node
// `node scripts/run-ts.mjs FILE.ts [args...]`: runs a TypeScript script on Node 20, which cannot run
// TypeScript itself. esbuild (a runtime dependency: the `icd` bin needs it) bundles the script with
// the src/ modules it imports into one temporary .mjs, which is then imported with the same argv.
// The .mjs goes under the repository's node_modules/.cache (wherever the command runs from) so that
// the packages left external (wrangler, commander, ...) resolve. It removes its own directory as its
// first statement, once Node has read and linked it, so that nothing is left behind when the script
// calls process.exit or is interrupted. Type-only imports vanish; nothing is type-checked here (that
// is `npm run typecheck`'s job). client/icd.mjs (the `icd` bin) runs the CLI through runTs.

import { build } from "esbuild";
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cache = path.join(import.meta.dirname, "..", "node_modules", ".cache");

/** Bundles and runs `entry` with `args` as its command-line arguments. */
export async function runTs(entry, args) {
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(path.join(cache, "run-ts-"));
  const outfile = path.join(dir, `${path.basename(entry, path.extname(entry))}.mjs`);
  const removeSelf = `import { rmSync as __runTsRemove } from "node:fs"; __runTsRemove(${JSON.stringify(dir)}, { recursive: true, force: true });`;
  try {
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      banner: { js: removeSelf },
      logLevel: "warning",
    });
    process.argv = [process.argv[0], path.resolve(entry), ...args];
    await import(pathToFileURL(path.resolve(outfile)).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry, ...args] = process.argv.slice(2);
  if (!entry) {
    console.error("usage: node scripts/run-ts.mjs FILE.ts [args...]");
    process.exit(2);
  }
  await runTs(entry, args);
}
