#!/usr/bin/env node
// A/B of two checkouts of this service on the same workload, for a change whose effect is smaller
// than the noise of a busy machine: `node bench/ab.mjs TREE_A TREE_B` starts both (four shards each,
// ports 8841 and 8842), fills each with AB_SIZE random users (default 1,000,000) of AB_BYTES bytes
// (default 32) plus 2,000 known ones, then sends AB_ROUNDS (default 40) full syncs of 20,000
// identifiers (10% registered) from fresh clients to each, alternating which goes first, and prints
// the medians of end to end, the lookup and charge steps, SQL and D1 time (Server-Timing) with B / A. Trees are worktrees, e.g.
// `git worktree add /tmp/a <commit>`, with node_modules beside them.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
const [treeA, treeB] = process.argv.slice(2);
const BYTES = Number(process.env.AB_BYTES ?? 32), SIZE = Number(process.env.AB_SIZE ?? 1000000), ROUNDS = Number(process.env.AB_ROUNDS ?? 40);
const { ICD } = await import(path.join(treeA, "src/proto/icd.js"));
const log = (m) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);
const servers = [];
async function start(tree, port) {
  const persist = fs.mkdtempSync(path.join(os.tmpdir(), "icd-ab-"));
  const out = fs.openSync(`${persist}.log`, "w");
  const child = spawn(process.execPath, ["scripts/start.mjs", "--env", "sharded", "--persist-to", persist], { cwd: tree, env: { ...process.env, PORT: String(port) }, detached: true, stdio: ["ignore", out, out] });
  const s = { tree, pid: child.pid, base: `http://localhost:${port}`, persist };
  servers.push(s);
  for (const deadline = Date.now() + 240000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    if (await fetch(`${s.base}/reset`).then((r) => r.ok, () => false)) return s;
  }
  throw new Error(`${tree} not ready`);
}
async function stopAll() {
  for (const s of servers) { try { process.kill(-s.pid, "SIGTERM"); } catch {} }
  await new Promise((r) => setTimeout(r, 5000));
  for (const s of servers) { try { process.kill(-s.pid, "SIGKILL"); } catch {} fs.rmSync(s.persist, { recursive: true, force: true }); fs.rmSync(`${s.persist}.log`, { force: true }); }
}
process.on("SIGTERM", () => stopAll().then(() => process.exit(1)));
const enc = (user, authToken, identifiers) => ICD.Request.encode({ user, authToken, identifiers }).finish();
async function call(s, method, route, body) {
  const t = performance.now();
  const res = await fetch(s.base + route, { method, body });
  const buf = new Uint8Array(await res.arrayBuffer());
  const steps = Object.fromEntries((res.headers.get("server-timing") ?? "").split(",").map((x) => /(\w+);dur=([\d.]+)/.exec(x)).filter(Boolean).map((m) => [m[1], Number(m[2])]));
  return { status: res.status, ms: performance.now() - t, steps, buf };
}
try {
  const [A, B] = await Promise.all([start(treeA, 8841), start(treeB, 8842)]);
  log("both ready");
  const pool = Array.from({ length: 2000 }, () => randomBytes(BYTES));
  for (const s of [A, B]) {
    const r = await call(s, "GET", `/test/create/${SIZE}?bytes=${BYTES}`);
    if (r.status !== 200) throw new Error("create");
    const added = await call(s, "POST", "/test/add/many", enc(new Uint8Array(0), new Uint8Array(0), pool));
    if (added.status !== 200) throw new Error(`add/many: ${added.status}`);
    const probe = { user: randomBytes(BYTES), token: randomBytes(16) };
    await call(s, "POST", "/user/register", enc(probe.user, probe.token, []));
    const seen = ICD.Response.decode((await call(s, "POST", "/discovery/full", enc(probe.user, probe.token, pool.slice(0, 10)))).buf);
    log(`${s.tree}: create ${r.status}, add ${added.status}, probe finds ${seen.addedUsers.length} of 10`);
    log(`${s.tree} filled`);
  }
  const STEPS = ["e2e", "lookup", "charge", "sql", "d1"];
  const res = { A: Object.fromEntries(STEPS.map((k) => [k, []])), B: Object.fromEntries(STEPS.map((k) => [k, []])) };
  for (let round = 0; round < ROUNDS + 3; round++) {
    for (const [name, s] of (round % 2 ? [["B", B], ["A", A]] : [["A", A], ["B", B]])) {
      const client = { user: randomBytes(BYTES), token: randomBytes(16) };
      if ((await call(s, "POST", "/user/register", enc(client.user, client.token, []))).status !== 200) throw new Error("register");
      const noise = randomBytes(18000 * BYTES); const ids = [...pool];
      for (let at = 0; at < noise.length; at += BYTES) ids.push(noise.subarray(at, at + BYTES));
      ids.sort(() => Math.random() - 0.5);
      const r = await call(s, "POST", "/discovery/full", enc(client.user, client.token, ids));
      const answer = ICD.Response.decode(r.buf);
      if (r.status !== 200 || answer.addedUsers.length !== 2000) throw new Error(`${name}: ${r.status} ${answer.addedUsers.length}`);
      if (round < 3) continue;
      res[name].e2e.push(r.ms); for (const k of STEPS.slice(1)) res[name][k].push(r.steps[k]);
    }
  }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
  const out = {};
  for (const k of STEPS) out[k] = { A: med(res.A[k]), B: med(res.B[k]), ratio: med(res.B[k]) / med(res.A[k]) };
  console.log(JSON.stringify({ A: treeA, B: treeB, bytes: BYTES, size: SIZE, rounds: ROUNDS, load: os.loadavg(), medians: out }));
} finally { await stopAll(); }
