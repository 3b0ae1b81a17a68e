// `npm run posture -- --url URL` against the service as `npm start` runs it (which exposes what
// local development needs: the test hooks, no network guard) and as `npm start -- --env
// production` runs it (which exposes nothing), read only: the probe changes no state.

import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { probe } from "../../scripts/posture/probe";
import { adminToken, scratchServices } from "./service";

const root = path.join(import.meta.dirname, "../..");
const { dir, start } = scratchServices("icd-posture-");

const posture = (...args: string[]) =>
  promisify(execFile)(process.execPath, ["scripts/run-ts.mjs", "scripts/posture.ts", ...args], { cwd: root }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );

describe("the posture probe", () => {
  it("finds the local service's test hooks and unthrottled flood, sees /admin/ closed, and changes nothing", async () => {
    const service = await start(path.join(dir, "local"));
    const admin = async (endpoint: string) => (await fetch(`${service.base}/admin${endpoint}`, { headers: { Authorization: `Bearer ${adminToken()}` } })).json();
    const before = { stats: await admin("/stats"), audit: await admin("/audit?limit=5"), series: await admin("/series?minutes=5") };

    const report = await probe(service.base);
    expect(report.findings.map((f) => f.check).sort()).toEqual(["flood", "test-hooks"]);
    expect(report.passed).toEqual([expect.stringMatching(/^\/admin\/ refuses callers without credentials/)]);

    expect(await admin("/stats")).toEqual(before.stats);
    expect(await admin("/audit?limit=5")).toEqual(before.audit);
    // The flood's requests are not syncs: nothing to count in the series.
    const series = (await admin("/series?minutes=5")) as { minutes: object[] };
    expect(series.minutes).toEqual((before.series as { minutes: object[] }).minutes);

    const cli = await posture("--url", service.base);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain("FINDING  test-hooks: GET /test/create/… answered 400");
    await service.stop();
  });

  it("finds nothing in the production environment, from outside or in its configuration", async () => {
    const service = await start(path.join(dir, "production"), undefined, "production");
    const { code, stdout } = await posture("--env", "production", "--url", service.base);
    const probed = stdout.slice(stdout.indexOf("Probe of"));
    expect(probed).toContain("ok       test hooks not reachable (404)");
    expect(probed).toContain("ok       /admin/ refuses callers without credentials");
    expect(probed).toMatch(/ok {7}a flood from one address is throttled \(429 after \d+ requests, Retry-After \d+\)/);
    expect(stdout).toContain("No findings.");
    expect(code).toBe(0);
    await service.stop();
  });
});
