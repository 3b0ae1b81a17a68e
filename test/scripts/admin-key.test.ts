// `npm run admin-key`: the secret it prints opens the admin API with the ADMIN_KEYS entry it prints,
// in that role only, and the entry holds no trace of the secret.

import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config";
import { checkKey } from "../../src/core/credentials";

const root = path.join(import.meta.dirname, "../..");
const adminKey = (...args: string[]) => promisify(execFile)(process.execPath, ["scripts/admin-key.mjs", ...args], { cwd: root });

describe("npm run admin-key", () => {
  it("makes a key whose entry authenticates its secret, as bearer and as Basic, in its role", async () => {
    const { stdout } = await adminKey("--role", "operator", "--id", "ops-2026-12");
    const [presented, entry] = [...stdout.matchAll(/^ {2}(\S+)$/gm)].map((m) => m[1]!);
    expect(entry).toMatch(/^operator:ops-2026-12:[0-9a-f]{64}$/);
    const secret = presented!.slice("ops-2026-12.".length);
    expect(secret.length).toBeGreaterThanOrEqual(43); // 32 random bytes
    expect(entry).not.toContain(secret);
    const config = parseConfig({ MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000, ADMIN_KEYS: entry });
    expect(await checkKey(config, `Bearer ${presented}`)).toEqual({ roles: ["operator"], keyId: "ops-2026-12" });
    expect(await checkKey(config, `Basic ${btoa(`ops-2026-12:${secret}`)}`)).toEqual({ roles: ["operator"], keyId: "ops-2026-12" });
    expect(await checkKey(config, `Bearer ops-2026-12.${secret}x`)).toBeNull();
  });

  it("makes a new secret every time", async () => {
    const [a, b] = await Promise.all([adminKey("--role", "viewer", "--id", "v"), adminKey("--role", "viewer", "--id", "v")]);
    expect(a.stdout).not.toBe(b.stdout);
  });

  it("refuses a role that does not exist", async () => {
    await expect(adminKey("--role", "admin", "--id", "x")).rejects.toMatchObject({ code: 2 });
  });
});
