// The real service as `npm start` runs it (scripts/start.mjs: migrations, then wrangler's dev server with local
// D1 and Durable Objects), on a port and a state directory of the caller's choosing, in a process
// group of its own. start.mjs runs the dev server and its workerd processes in a group of theirs and stops
// it when asked politely; a hard kill reaches every process it started, found by parent in /proc.
//
// Node only: the tests of this folder (the "service" project of test/vitest.config.ts) use it.

import { type ChildProcess, spawn } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { ICD } from "../../src/proto/icd.js";
import { PseudonymChain, cmacKey } from "../../src/core/pseudonym";

const root = path.join(import.meta.dirname, "../..");
const STARTUP_MS = 120_000;

export interface Service {
  /** `http://localhost:<port>` */
  readonly base: string;
  readonly port: number;
  readonly stateDir: string;
  /** What the server wrote to stdout and stderr so far. */
  log(): string;
  /** SIGTERM to the group, SIGKILL after 10 s if it is still there; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL to every process of the group at once; resolves once none of them is left. */
  kill(): Promise<void>;
}

/**
 * Starts the service on `port` (a free one if not given) with its state in `stateDir`, as `npm start`
 * runs it, or as `npm start -- --env <envName>`; resolves once it answers.
 */
export async function startService(stateDir: string, port?: number, envName?: string, envFile?: string): Promise<Service> {
  port ??= await freePort();
  const base = `http://localhost:${port}`;
  let log = "";
  // detached: its own process group, whose id is its pid.
  const server: ChildProcess = spawn(process.execPath, ["scripts/start.mjs", "--persist-to", stateDir, ...(envName ? ["--env", envName] : []), ...(envFile ? ["--env-file", envFile] : [])], {
    cwd: root,
    env: { ...process.env, PORT: String(port), WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.on("data", (chunk) => (log += chunk));
  server.stderr!.on("data", (chunk) => (log += chunk));
  const group = server.pid!;
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-group, signal);
    } catch {
      // the group is gone already
    }
  };

  const service: Service = {
    base,
    port,
    stateDir,
    log: () => log,
    async stop() {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      const started = descendants(group);
      signalGroup("SIGKILL");
      for (const pid of started) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      await exited;
      await groupGone(group);
      for (const deadline = Date.now() + 10_000; started.some(alive) && Date.now() < deadline; ) await sleep(50);
    },
  };
  try {
    await waitForServer(base, () => server.exitCode, () => log);
  } catch (error) {
    await service.stop();
    throw error;
  }
  return service;
}

/**
 * A scratch directory for one test file, and a `start` that runs services in it: after the file,
 * every service started is stopped and the directory removed.
 */
export function scratchServices(prefix: string): { dir: string; start: (stateDir?: string, port?: number, envName?: string, envFile?: string) => Promise<Service> } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const started: Service[] = [];
  afterAll(async () => {
    for (const service of started) await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);
  const start = async (stateDir = dir, port?: number, envName?: string, envFile?: string) => {
    const service = await startService(stateDir, port, envName, envFile);
    started.push(service);
    return service;
  };
  return { dir, start };
}

/** The admin API's token: start.mjs creates .dev.vars from .dev.vars.example when it is missing. */
export function adminToken(): string {
  const token = /^ADMIN_TOKEN=(.+)$/m.exec(readFileSync(path.join(root, ".dev.vars"), "utf8"))?.[1]?.trim();
  if (!token) throw new Error(".dev.vars has no ADMIN_TOKEN");
  return token;
}

/**
 * Local secrets of a test's own, for `start(..., envFile)`: the admin token of .dev.vars and the
 * pseudonym keys given (versions 1, 2, ... in order; none: PSEUDONYM_KEYS unset).
 */
export function envFile(dir: string, keys: Buffer[]): string {
  const file = path.join(dir, `secrets-${keys.map((k) => k.toString("hex").slice(0, 8)).join("-") || "none"}.env`);
  writeFileSync(file, `ADMIN_TOKEN=${adminToken()}\nPSEUDONYM_KEYS=${keys.map((k, i) => `${i + 1}:${k.toString("hex")}`).join(",")}\n`);
  return file;
}

/** AES-256-ECB under `key`, as the Worker runs it (src/domain/pseudonyms.ts), in Node. */
export function ecb(key: Uint8Array) {
  const cipher = createCipheriv("aes-256-ecb", key, null);
  cipher.setAutoPadding(false);
  return (data: Uint8Array) => new Uint8Array(cipher.update(data));
}

/** What the service stores for an identifier under `keys` (by default .dev.vars's PSEUDONYM_KEYS): its pseudonym. */
export function pseudonymOf(id: Uint8Array, keys?: Uint8Array[]): Uint8Array {
  const chain = keys ? new PseudonymChain(keys.map((key) => cmacKey(ecb(key)))) : (devChain ??= new PseudonymChain(devKeys().map((key) => cmacKey(ecb(key)))));
  return chain.of([id]);
}
let devChain: PseudonymChain | undefined;

function devKeys(): Uint8Array[] {
  const text = /^PSEUDONYM_KEYS=(.+)$/m.exec(readFileSync(path.join(root, ".dev.vars"), "utf8"))?.[1]?.trim();
  if (!text) throw new Error(".dev.vars has no PSEUDONYM_KEYS");
  return text.split(",").map((entry) => Buffer.from(entry.split(":")[1]!, "hex"));
}

/** POSTs a serialized ICD.Request and decodes the ICD.Response. */
export async function callIcd(base: string, endpoint: string, request: ICD.IRequest): Promise<{ status: number; answer: ICD.Response }> {
  const response = await fetch(`${base}${endpoint}`, { method: "POST", body: ICD.Request.encode(request).finish() });
  return { status: response.status, answer: ICD.Response.decode(new Uint8Array(await response.arrayBuffer())) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitForServer(base: string, exitCode: () => number | null, log: () => string) {
  const deadline = Date.now() + STARTUP_MS;
  while (Date.now() < deadline) {
    if (exitCode() !== null) throw new Error(`the server exited with ${exitCode()}:\n${log()}`);
    // Any answer means the dev server serves the Worker; /admin/ without a token is a 401, and a 500
    // where the Worker refuses to serve (a configuration error: no pseudonym key, say).
    const answered = await fetch(`${base}/admin/`).then((r) => r.status, () => 0);
    if (answered === 401 || answered === 500) return;
    await sleep(500);
  }
  throw new Error(`the server did not answer within ${STARTUP_MS / 1000} s:\n${log()}`);
}

/** A command of scripts/ run against a service with the local admin token, its output collected. */
export function runScript(args: string[]): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  let output = "";
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ADMIN_TOKEN: adminToken() }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** Every process whose parent chain leads to `pid`, from /proc. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parents.set(Number(entry), Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found = new Set<number>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const [child, parent] of parents) {
      if ((parent === pid || found.has(parent)) && !found.has(child)) {
        found.add(child);
        grew = true;
      }
    }
  }
  return [...found];
}

/** Whether a process is still running (a zombie is not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/status`, "utf8").includes("State:\tZ");
  } catch {
    return false;
  }
}

/** Waits until no process is left in the group (the workerd processes are reaped by init, not by us). */
async function groupGone(group: number) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
    try {
      process.kill(-group, 0);
    } catch {
      return;
    }
  }
  throw new Error(`process group ${group} still has processes 10 s after SIGKILL`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
