#!/usr/bin/env node
// `npm run admin-key -- --role operator --id ops-2026-12`: makes a key for the admin API. Prints the
// secret once, as the caller presents it (`Authorization: Bearer <id>.<secret>`, or Basic with the
// id as user name), and the ADMIN_KEYS entry that holds only its SHA-256. Give the secret to its
// holder and add the entry beside the old key of the role; drop the old entry once nobody uses it.

import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

const ROLES = ["account-service", "operator", "viewer"];
const { values } = parseArgs({ options: { role: { type: "string" }, id: { type: "string" } } });
if (!ROLES.includes(values.role) || !/^[A-Za-z0-9_-]{1,64}$/.test(values.id ?? "")) {
  console.error(`usage: npm run admin-key -- --role ${ROLES.join("|")} --id <letters, digits, - and _>`);
  process.exit(2);
}
const secret = randomBytes(32).toString("base64url");
const hash = createHash("sha256").update(secret).digest("hex");
console.log(`secret (give it to its holder, store it nowhere else):\n  ${values.id}.${secret}`);
console.log(`ADMIN_KEYS entry (a hash: safe in wrangler.toml):\n  ${values.role}:${values.id}:${hash}`);
