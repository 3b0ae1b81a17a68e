// Local secrets: a value of .dev.vars (KEY=value lines, optionally quoted), for the commands that
// talk to a local service (import, reshard) when no credential is given in the environment, and
// for `npm start`, which fills in the local secrets it can make itself (the pseudonym key).

import { existsSync, readFileSync, writeFileSync } from "node:fs";

export function readDevVar(name, file = ".dev.vars") {
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, "utf8").split("\n").find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim().replace(/^"(.*)"$/, "$1");
}

/**
 * Gives `name` the value `make()` in .dev.vars if it has none: an empty `NAME=` line (as copied from
 * .dev.vars.example) is filled in, else a line is appended. A value already there is never replaced.
 * Returns whether it wrote.
 */
export function fillDevVar(name, make, file = ".dev.vars") {
  if (readDevVar(name, file)) return false;
  const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n") : [];
  if (lines.at(-1) === "") lines.pop();
  const at = lines.findIndex((l) => l.startsWith(`${name}=`));
  lines.splice(at >= 0 ? at : lines.length, at >= 0 ? 1 : 0, `${name}=${make()}`);
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return true;
}
