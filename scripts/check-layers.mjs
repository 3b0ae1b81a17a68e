#!/usr/bin/env node
// `npm run typecheck` runs this: every import in src/ points down the layers, never up or sideways.
//
//   index.ts  wiring            may import anything below
//   http/     hono edge         domain, objects, db, core
//   rpc/      Service Binding   domain, objects, db, core (and cloudflare:workers)
//             entrypoints
//   domain/   the operations    objects, db, core
//   objects/  Durable Objects   core (and cloudflare:workers)
//   db/       D1 queries        core
//   core/     pure logic        core only: no cloudflare:*, no bindings (src/core/tsconfig.json
//                               compiles it without the Workers types)
//   proto/    generated code    anyone

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

const src = path.join(import.meta.dirname, "..", "src");
const allowed = {
  http: ["http", "domain", "objects", "db", "core", "proto"],
  rpc: ["rpc", "domain", "objects", "db", "core", "proto"],
  domain: ["domain", "objects", "db", "core", "proto"],
  objects: ["objects", "core", "proto"],
  db: ["db", "core", "proto"],
  core: ["core", "proto"],
};
const layerOf = (file) => path.relative(src, file).split(path.sep)[0];

const problems = [];
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
for (const file of walk(src).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith(".d.ts"))) {
  const layer = layerOf(file);
  if (!(layer in allowed)) continue; // index.ts, proto/
  const text = readFileSync(file, "utf8");
  for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
    const where = path.relative(process.cwd(), file);
    if (spec.startsWith("cloudflare:") && !["objects", "domain", "http", "rpc"].includes(layer)) {
      problems.push(`${where}: ${layer}/ may not import ${spec}`);
    }
    if (!spec.startsWith(".")) continue;
    const target = layerOf(path.resolve(path.dirname(file), spec));
    if (!allowed[layer].includes(target)) problems.push(`${where}: ${layer}/ may not import ${target}/ (${spec})`);
  }
}
if (problems.length > 0) {
  console.error(`Imports against the layers (scripts/check-layers.mjs):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
