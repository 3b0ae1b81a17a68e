// Runs against `[env.production]` of wrangler.toml: the unauthenticated hooks must not exist there.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countRows, encodeRequest, enroll, post, randomIds } from "../helpers";

const userCount = () => countRows("SELECT count(*) AS n FROM users");

describe("the production environment", () => {
  it("has the test hooks off", () => {
    expect(env.TEST_HOOKS).toBe(false);
  });

  it.each([
    ["GET", "/reset"],
    ["GET", "/test/create/10"],
    ["POST", "/test/add/many"],
  ])("answers %s %s with 404 and changes nothing", async (method, path) => {
    const client = await enroll(); // self-registration is off in production: the account service registers
    const before = await userCount();
    const body = method === "POST" ? encodeRequest({}, randomIds(10)) : undefined;
    const response = await exports.default.fetch(`https://icd.test${path}`, { method, body });
    expect(response.status).toBe(404);
    expect(await userCount()).toBe(before);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
  });
});
