// Local secrets: a value of .dev.vars (KEY=value lines, optionally quoted), for the commands that
// talk to a local service (import, reshard) when no credential is given in the environment.

import { existsSync, readFileSync } from "node:fs";

export function readDevVar(name) {
  if (!existsSync(".dev.vars")) return undefined;
  const line = readFileSync(".dev.vars", "utf8").split("\n").find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim().replace(/^"(.*)"$/, "$1");
}
