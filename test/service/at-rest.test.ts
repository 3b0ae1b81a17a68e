// "Nothing at rest is computable from an identifier without a secret key" (docs/pseudonyms.md).
// Users registered through every path the started service has (client registration, /test/add/many,
// the admin API, `npm run import`), synced and some deleted; then every file the runtime wrote
// (local D1, Durable Objects, caches, write-ahead logs) is read and searched for each identifier in
// every form: its bytes, its leading 6 bytes (the old integer key), hex and base64. The account
// service's binding calls the same domain functions (test/rpc/account-service.test.ts checks its rows).
//
// Runs in Node (the "service" project of test/vitest.config.ts), not in the Workers pool.

import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { adminToken, callIcd, envFile, pseudonymOf, runScript, scratchServices } from "./service";

const scratch = scratchServices("icd-at-rest-");

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}

/** Each form an identifier could be found in: its bytes, its first 6 bytes, hex (both cases), base64 (standard and URL-safe). */
function formsOf(id: Buffer): { name: string; bytes: Buffer }[] {
  const b64 = id.toString("base64");
  return [
    { name: "bytes", bytes: id },
    { name: "leading 6 bytes", bytes: id.subarray(0, 6) },
    { name: "hex", bytes: Buffer.from(id.toString("hex")) },
    { name: "HEX", bytes: Buffer.from(id.toString("hex").toUpperCase()) },
    { name: "leading hex", bytes: Buffer.from(id.subarray(0, 6).toString("hex")) },
    { name: "base64", bytes: Buffer.from(b64.replace(/=+$/, "")) },
    { name: "base64url", bytes: Buffer.from(id.toString("base64url")) },
  ];
}

/** The forms of `ids` found in the files, as "<form> in <file>". */
function findForms(files: { file: string; data: Buffer }[], ids: Buffer[]): string[] {
  const found: string[] = [];
  for (const id of ids) for (const form of formsOf(id)) for (const { file, data } of files) if (data.includes(form.bytes)) found.push(`${form.name} of ${id.toString("hex")} in ${file}`);
  return found;
}

const readAll = (dir: string) => filesUnder(dir).map((file) => ({ file: path.relative(dir, file), data: readFileSync(file) }));

it("leaves no registered identifier in any file under the state directory", async () => {
  const key = randomBytes(32);
  const stateDir = path.join(scratch.dir, "state");
  const service = await scratch.start(stateDir, undefined, undefined, envFile(scratch.dir, [key]));
  const admin = { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" };
  const id32 = () => randomBytes(32); // what clients send: SHA-256 of a number
  const everyone: Buffer[] = [];

  // Client registration.
  const clients = Array.from({ length: 40 }, () => ({ user: id32(), authToken: randomBytes(16) }));
  for (const c of clients) expect((await callIcd(service.base, "/user/register", c)).status).toBe(200);
  everyone.push(...clients.map((c) => c.user));
  // /test/add/many.
  const added = Array.from({ length: 40 }, id32);
  expect((await callIcd(service.base, "/test/add/many", { identifiers: added })).status).toBe(200);
  everyone.push(...added);
  // The admin API.
  const enrolled = Array.from({ length: 20 }, id32);
  for (const id of enrolled) {
    const response = await fetch(`${service.base}/admin/users`, { method: "POST", headers: admin, body: JSON.stringify({ id: id.toString("hex"), token: randomBytes(16).toString("hex") }) });
    expect(response.status).toBe(201);
  }
  everyone.push(...enrolled);
  // `npm run import`.
  const imported = Array.from({ length: 40 }, id32);
  const file = path.join(scratch.dir, "users.csv");
  writeFileSync(file, imported.map((id) => `${id.toString("hex")},${createHash("sha256").update(randomBytes(16)).digest("hex")}`).join("\n"));
  const run = runScript(["scripts/import.mjs", file, "--server", service.base, "--announce"]);
  expect(await run.exited, run.output()).toBe(0);
  everyone.push(...imported);

  // Syncs: every path's users are found, and answers carry the identifiers sent.
  const asked = [...added.slice(0, 20), ...enrolled.slice(0, 10), ...imported.slice(0, 20), ...clients.slice(0, 10).map((c) => c.user), ...Array.from({ length: 50 }, id32)];
  const full = await callIcd(service.base, "/discovery/full", { ...clients[0]!, identifiers: asked });
  expect(full.status).toBe(200);
  expect(new Set(full.answer.addedUsers.map((u) => Buffer.from(u).toString("hex")))).toEqual(new Set(asked.slice(0, 60).map((u) => u.toString("hex"))));
  expect((await callIcd(service.base, "/discovery/incremental", { ...clients[1]!, identifiers: asked })).status).toBe(200);
  // Deletions: by the clients themselves and by the operator.
  for (const c of clients.slice(30)) expect((await callIcd(service.base, "/user/delete", c)).status).toBe(200);
  for (const id of enrolled.slice(15)) expect((await fetch(`${service.base}/admin/users/${id.toString("hex")}`, { method: "DELETE", headers: admin })).status).toBe(200);
  const after = await callIcd(service.base, "/discovery/incremental", { ...clients[2]!, identifiers: [...clients.slice(30).map((c) => c.user), ...enrolled.slice(15)] });
  expect(after.answer.removedUsers).toHaveLength(15);
  await service.stop(); // everything written out: databases, their write-ahead logs

  const files = readAll(stateDir);
  expect(files.some((f) => f.file.endsWith(".sqlite"))).toBe(true);
  // The control: what the service stores for a user, P_1(id), is there to be found.
  const stored = Buffer.from(pseudonymOf(added[0]!, [key]));
  expect(files.some((f) => f.data.includes(stored))).toBe(true);
  expect(findForms(files, everyone)).toEqual([]);
  expect(findForms([{ file: "the service's log", data: Buffer.from(service.log()) }], everyone)).toEqual([]);
}, 300_000);

