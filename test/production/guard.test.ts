// Runs against `[env.production]`, where the network guard is on.

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin, encodeRequest, newClient, randomIds } from "../helpers";

// One unknown client for all the requests: each is then one object call and one D1 read before
// its 401, not a new object as well, so the flood is as fast as this machine allows.
const stranger = newClient();
const from = (ip: string) =>
  exports.default.fetch("https://icd.test/discovery/full", {
    method: "POST",
    body: encodeRequest(stranger, randomIds(1)),
    headers: { "CF-Connecting-IP": ip },
  });

describe("the network guard", () => {
  // The refusal is judged by the count of requests, not by the clock: a loaded machine may take longer to send them.
  it("throttles one address flooding 50 requests a second within 10 seconds, and no other", { timeout: 60_000 }, async () => {
    const statuses: number[] = [];
    let firstRefusal: Response | undefined;
    // 500 requests is 10 seconds at 50 a second; sent as fast as the test can.
    for (let i = 0; i < 500 && !firstRefusal; i++) {
      const response = await from("192.0.2.10");
      statuses.push(response.status);
      if (response.status === 429) firstRefusal = response;
    }
    expect(firstRefusal).toBeDefined();
    // The binding allows 100 per 10 s window; a flood that starts late in one window gets up to 100
    // more in the next, so the refusal comes within 200 requests: 4 s at 50 a second.
    expect(statuses.length).toBeLessThanOrEqual(201);
    expect(Number(firstRefusal!.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect((await from("192.0.2.11")).status).toBe(401); // another address: through the guard, to auth
    // The admin API (the account service registers users from one address) is not guarded per network.
    expect((await admin("/stats", { as: "operator", headers: { "CF-Connecting-IP": "192.0.2.10" } })).status).toBe(200);
  });

  // An unknown client costs its object and a D1 read before the 401: 250 of them take more than 5 s here.
  it("counts an IPv6 /64 as one network", { timeout: 60_000 }, async () => {
    let refused = false;
    for (let i = 0; i < 250 && !refused; i++) { // two windows' worth, as above
      const response = await from(`2001:db8:77:1::${(i + 1).toString(16)}`);
      refused = response.status === 429;
    }
    expect(refused).toBe(true);
  });
});
