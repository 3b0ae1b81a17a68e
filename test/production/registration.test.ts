// Runs against `[env.production]`: REGISTRATION = "admin", so only the account service registers users.

import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { Result, admin, newClient, post, randomIds } from "../helpers";

describe("registration in production", () => {
  it("refuses self-registration and self-deletion by clients", async () => {
    const client = newClient();
    expect(await post("/user/register", client)).toMatchObject({ status: 401, result: Result.AUTHENTICATION_INVALID });
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(401);
  });

  it("registers through the admin API with the account service's key; the client then syncs, but cannot delete itself", async () => {
    const client = newClient();
    const body = JSON.stringify({ id: toHex(client.user), token: toHex(client.authToken) });
    expect((await admin("/users", { as: "account-service", method: "POST", body })).status).toBe(201);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
    expect((await post("/user/delete", client)).status).toBe(401);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
  });
});
