// POST /user/register and /user/delete through the Worker.

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Result, hex, newClient, post, postRaw, randomId, registered } from "../helpers";

const canSync = async (client: { user: Uint8Array; authToken: Uint8Array }) => (await post("/discovery/full", client, [randomId()])).status;

describe("register", () => {
  it("registers a new user with an empty SUCCESS body", async () => {
    const client = newClient();
    const response = await exports.default.fetch("https://icd.test/user/register", {
      method: "POST",
      body: (await import("../helpers")).encodeRequest(client),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("application/x-protobuf");
    expect((await response.arrayBuffer()).byteLength).toBe(0);
    expect(await canSync(client)).toBe(200);
  });

  it("accepts the same registration again and changes nothing", async () => {
    const client = await registered();
    const watcher = await registered();
    const before = await post("/discovery/incremental", watcher, [client.user]);
    expect(await post("/user/register", client)).toMatchObject({ status: 200, result: Result.SUCCESS });
    expect(await post("/discovery/incremental", watcher, [client.user])).toEqual(before);
  });

  it("refuses to take over a registered user with another token", async () => {
    const victim = await registered();
    const attacker = { user: victim.user, authToken: randomId(16) };
    expect(await post("/user/register", attacker)).toMatchObject({ status: 401, result: Result.AUTHENTICATION_INVALID });
    expect(await canSync(attacker)).toBe(401);
    expect(await canSync(victim)).toBe(200);
  });

  it.each([
    ["an empty user", { authToken: randomId(16) }],
    ["an empty token", { user: randomId(16) }],
    ["a user of 65 bytes", { user: randomId(65), authToken: randomId(16) }],
  ])("refuses %s with 400 REQUEST_DATA_INVALID", async (_, client) => {
    expect(await post("/user/register", client)).toMatchObject({ status: 400, result: Result.REQUEST_DATA_INVALID });
  });

  it("ignores identifiers in the request", async () => {
    const client = newClient();
    expect((await post("/user/register", client, [new Uint8Array(0), randomId(100)])).status).toBe(200);
  });
});

describe("delete", () => {
  it("unregisters the user: gone from full syncs, removed in incremental ones", async () => {
    const client = await registered();
    const watcher = await registered();
    expect(await post("/user/delete", client)).toMatchObject({ status: 200, result: Result.SUCCESS });
    expect(await canSync(client)).toBe(401);
    expect((await post("/discovery/full", watcher, [client.user])).added).toEqual([]);
    expect(hex((await post("/discovery/incremental", watcher, [client.user])).removed)).toEqual(hex([client.user]));
  });

  it("refuses a wrong token, an unknown user and a second delete with 401", async () => {
    const client = await registered();
    const wrong = { user: client.user, authToken: randomId(16) };
    expect(await post("/user/delete", wrong)).toMatchObject({ status: 401, result: Result.AUTHENTICATION_INVALID });
    expect(await canSync(client)).toBe(200);
    expect((await post("/user/delete", newClient())).status).toBe(401);
    expect((await post("/user/delete", client)).status).toBe(200);
    expect((await post("/user/delete", client)).status).toBe(401);
  });

  it("lets a deleted user register again, with a new token", async () => {
    const client = await registered();
    await post("/user/delete", client);
    const renewed = { user: client.user, authToken: randomId(16) };
    expect((await post("/user/register", renewed)).status).toBe(200);
    expect(await canSync(renewed)).toBe(200);
    expect(await canSync(client)).toBe(401);
  });

  it("answers garbage with 400 REQUEST_DATA_INVALID", async () => {
    expect(await postRaw("/user/delete", new Uint8Array([0x0a, 0xff]))).toMatchObject({
      status: 400,
      result: Result.REQUEST_DATA_INVALID,
    });
  });
});
