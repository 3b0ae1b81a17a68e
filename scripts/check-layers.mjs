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
//
// And client/ (the library and the CLI) shares src/core and src/proto only: no cloudflare:*, and
// no node:* in the library (index.ts, src/), which runs in browsers; cli.ts and file-store.ts are Node's.
//
// And no import cycle anywhere in src/, scripts/, client/, test/ or bench/ (type-only imports count).

import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";

const root = path.join(import.meta.dirname, "..");
const src = path.join(root, "src");
const client = path.join(root, "client");
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
const sources = (dir) => walk(dir).filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith(".d.ts"));
const importsOf = (file) => [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);

for (const file of sources(src)) {
  const layer = layerOf(file);
  if (!(layer in allowed)) continue; // index.ts, proto/
  for (const spec of importsOf(file)) {
    const where = path.relative(process.cwd(), file);
    if (spec.startsWith("cloudflare:") && !["objects", "domain", "http", "rpc"].includes(layer)) {
      problems.push(`${where}: ${layer}/ may not import ${spec}`);
    }
    if (!spec.startsWith(".")) continue;
    const target = layerOf(path.resolve(path.dirname(file), spec));
    if (!allowed[layer].includes(target)) problems.push(`${where}: ${layer}/ may not import ${target}/ (${spec})`);
  }
}
for (const file of sources(client)) {
  const where = path.relative(process.cwd(), file);
  const name = path.relative(client, file);
  const library = !["cli.ts", "file-store.ts", "icd.mjs"].includes(name);
  for (const spec of importsOf(file)) {
    if (spec.startsWith("cloudflare:")) problems.push(`${where}: client/ may not import ${spec}`);
    if (library && spec.startsWith("node:")) problems.push(`${where}: the client library may not import ${spec} (it runs in browsers)`);
    if (!spec.startsWith(".")) continue;
    const target = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep);
    const shim = name === "icd.mjs" && target.join("/") === "scripts/run-ts.mjs"; // the bin runs the CLI with it
    const ok = shim || target[0] === "client" || (target[0] === "src" && ["core", "proto"].includes(target[1] ?? ""));
    if (!ok) problems.push(`${where}: client/ may import src/core and src/proto only, not ${target.slice(0, 2).join("/")} (${spec})`);
  }
}

// Cycles: a depth-first walk over the relative imports (of statements, not comments), resolved to files.
const importGraph = new Map();
for (const file of ["src", "scripts", "client", "test", "bench"].flatMap((dir) => sources(path.join(root, dir)))) {
  const code = readFileSync(file, "utf8").replace(/^\s*\/\/.*$/gm, "");
  const specs = [...code.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*["'](\.[^"']*)["']|import\(\s*["'](\.[^"']*)["']\s*\)/gm)].map((m) => m[1] ?? m[2]);
  const resolve = (spec) => {
    const base = path.resolve(path.dirname(file), spec);
    return [base, `${base}.ts`, `${base}.mjs`, `${base}.js`, base.replace(/\.js$/, ".ts"), path.join(base, "index.ts")].find((f) => /\.(ts|js|mjs)$/.test(f) && existsSync(f));
  };
  importGraph.set(file, specs.map(resolve).filter(Boolean));
}
const done = new Set();
const visit = (file, trail) => {
  if (trail.includes(file)) {
    const cycle = [...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(root, f));
    problems.push(`an import cycle: ${cycle.join(" -> ")}`);
    return;
  }
  if (done.has(file)) return;
  for (const next of importGraph.get(file) ?? []) visit(next, [...trail, file]);
  done.add(file);
};
for (const file of importGraph.keys()) visit(file, []);

if (problems.length > 0) {
  console.error(`Imports against the layers or in a cycle (scripts/check-layers.mjs):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
