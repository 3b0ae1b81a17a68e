// Runs against `[env.production]`: REGISTRATION = "admin", so only the account service registers
// users, through its Service Binding (ADMIN_USER_ROUTES = false: no public /admin/users*).

import { describe, expect, it } from "vitest";
import { Result, enroll, newClient, post, randomIds } from "../helpers";

describe("registration in production", () => {
  it("refuses self-registration and self-deletion by clients", async () => {
    const client = newClient();
    expect(await post("/user/register", client)).toMatchObject({ status: 401, result: Result.AUTHENTICATION_INVALID });
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(401);
  });

  it("registers through the account service's binding; the client then syncs, but cannot delete itself", async () => {
    const client = await enroll();
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
    expect((await post("/user/delete", client)).status).toBe(401);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(200);
  });
});
