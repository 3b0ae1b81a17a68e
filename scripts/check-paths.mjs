#!/usr/bin/env node
// `npm run typecheck` runs this: every repository path named in the docs, in comments and in config
// exists, so that a renamed or deleted file cannot leave a stale pointer behind.

import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";

const root = path.join(import.meta.dirname, "..");
const TOP = ["src", "test", "scripts", "docs", "bench", "client", "migrations", "proto", ".ci"];
const ROOT_FILES = ["README.md", "SECURITY.md", "wrangler.toml", "package.json", "tsconfig.json"];
const TEXT = /\.(md|ts|mts|mjs|js|toml|json|sql|proto|sh)$|^run$/;
const SKIP_DIRS = new Set(["node_modules", ".git", ".wrangler", "proto"]);
// Generated data and lockfiles hold no pointers a person wrote.
const SKIP_FILES = [/^docs\/simulation\.json$/, /^bench\/.*\.json$/, /^package-lock\.json$/, /^src\/proto\//, /worker-configuration\.d\.ts$/];

const walk = (dir) =>
  readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return SKIP_DIRS.has(e.name) && dir !== "src" ? [] : walk(rel);
    return TEXT.test(e.name) && !SKIP_FILES.some((re) => re.test(rel)) ? [rel] : [];
  });
const files = [...ROOT_FILES.filter((f) => existsSync(path.join(root, f))), ...TOP.filter((d) => existsSync(path.join(root, d))).flatMap(walk)];

// A path starts at a top-level folder (or is a top-level file) and runs on over path characters.
const named = new RegExp(`(?<![\\w./@-])((?:${TOP.map((d) => d.replace(".", "\\.")).join("|")})/[\\w./-]*|(?:${ROOT_FILES.map((f) => f.replace(".", "\\.")).join("|")}))`, "g");
const markdownLink = /\]\(([^)\s#]+)(?:#[^)]*)?\)/g;

// A stem names every file it begins (`migrations/0004` for 0004_key_users_by_prefix.sql).
const exists = (rel) => {
  if (existsSync(path.join(root, rel))) return true;
  const dir = path.join(root, path.dirname(rel));
  const stem = path.basename(rel);
  return existsSync(dir) && readdirSync(dir).some((name) => name.startsWith(`${stem}.`) || name.startsWith(`${stem}_`));
};
const problems = [];
for (const file of files) {
  const text = readFileSync(path.join(root, file), "utf8");
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    for (const [, raw] of line.matchAll(named)) {
      // Trailing punctuation of prose, and patterns rather than paths.
      const candidate = raw.replace(/[.,:;)]+$/, "");
      if (/[*<>{}$]/.test(candidate) || candidate.endsWith("/-")) continue;
      if (!exists(candidate)) problems.push(`${file}:${i + 1}: ${candidate}`);
    }
    if (file.endsWith(".md")) {
      for (const [, target] of line.matchAll(markdownLink)) {
        if (/^[a-z]+:/.test(target)) continue; // http:, https:, mailto:
        const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), target));
        if (!exists(resolved)) problems.push(`${file}:${i + 1}: link ${target}`);
      }
    }
  });
}

// And every source file opens with its one line on what it is for (docs/design.md maps only folders).
const SOURCE = /^(src|client|scripts|test|bench)\/.*\.(ts|mts|mjs|js)$/;
for (const file of files.filter((f) => SOURCE.test(f) )) {
  const first = readFileSync(path.join(root, file), "utf8").split("\n")[0];
  if (!/^(\/\/|\/\*|#!)/.test(first)) problems.push(`${file}:1: no header comment saying what the file is for`);
}

if (problems.length > 0) {
  console.error(`Paths named but missing, or files without a header (${problems.length}):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`check-paths: every path named in ${files.length} files exists`);
