// `npm start` stops what it started: `kill <pid>` of npm (SIGTERM to that one process), or Ctrl-C in
// a terminal (SIGINT to the whole foreground process group), leaves no process of it running and
// its port free. wrangler dev and its workerd processes run in a process group of their own
// (scripts/start.mjs), so this follows them by parent, from /proc.
//
// Runs in Node (the "service" project of test/vitest.config.ts), against `npm start` itself.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { alive, descendants, freePort } from "./service";

const root = path.join(import.meta.dirname, "../..");
const scratch = mkdtempSync(path.join(tmpdir(), "icd-stop-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });

/** `npm start` in a process group of its own, as a terminal runs it; resolves once it answers. */
async function npmStart(): Promise<{ npm: ChildProcess; port: number; started: number[] }> {
  const port = await freePort();
  const npm = spawn("npm", ["start", "--", "--persist-to", mkdtempSync(path.join(scratch, "state-"))], {
    cwd: root,
    env: { ...process.env, PORT: String(port) },
    detached: true,
    stdio: "ignore",
  });
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; await sleep(500)) {
    const status = await fetch(`http://localhost:${port}/admin/`).then((r) => r.status, () => 0);
    if (status === 401) return { npm, port, started: descendants(npm.pid!) };
  }
  process.kill(-npm.pid!, "SIGKILL");
  throw new Error("npm start did not answer within 90 s");
}

async function expectAllGone(started: number[], port: number) {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline && started.some(alive); ) await sleep(100);
  expect(started.filter(alive)).toEqual([]);
  expect(await portFree(port)).toBe(true);
}

describe("npm start", () => {
  it("stops every process it started on SIGTERM to npm alone, and frees its port", async () => {
    const { npm, port, started } = await npmStart();
    expect(started.length).toBeGreaterThanOrEqual(4); // npm's shell, start.mjs, wrangler, workerd
    process.kill(npm.pid!, "SIGTERM");
    await expectAllGone(started, port);
  });

  it("stops every process it started on Ctrl-C (SIGINT to its process group), and frees its port", async () => {
    const { npm, port, started } = await npmStart();
    process.kill(-npm.pid!, "SIGINT");
    await expectAllGone(started, port);
  });
});
