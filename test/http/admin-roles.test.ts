// Every /admin/ route against every role (src/core/roles.ts): admitted roles get the route's answer,
// every other role 403 (audited with its role and key id), no credential 401. Two keys of one role
// (a rotation) both work.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/core/hex";
import { ADMIN_ROUTES, type AdminRoute, ROLES, type Role } from "../../src/core/roles";
import { hashToken } from "../../src/core/token";
import { adminRoutes } from "../../src/http/routes/admin";
import { type TestKey, admin, newClient, registered } from "../helpers";

interface Call {
  path: string;
  body?: object;
  /** The status of a successful call. */
  ok: number;
}

/** A valid call of each route on fresh identifiers, so that every admitted role gets its success status. */
const calls: Record<AdminRoute, () => Promise<Call>> = {
  "GET /": async () => ({ path: "/", ok: 200 }),
  "GET /series": async () => ({ path: "/series?minutes=5", ok: 200 }),
  "GET /metrics": async () => ({ path: "/metrics", ok: 200 }),
  "GET /alerts": async () => ({ path: "/alerts", ok: 200 }),
  "GET /detection": async () => ({ path: "/detection", ok: 200 }),
  "GET /flagged": async () => ({ path: "/flagged", ok: 200 }),
  "GET /stats": async () => ({ path: "/stats", ok: 200 }),
  "GET /audit": async () => ({ path: "/audit?limit=1", ok: 200 }),
  "GET /clients/:id": async () => ({ path: `/clients/${toHex(newClient().user)}`, ok: 200 }),
  "POST /clients/:id/clear": async () => ({ path: `/clients/${toHex(newClient().user)}/clear`, ok: 200 }),
  "POST /clients/:id/block": async () => ({ path: `/clients/${toHex(newClient().user)}/block`, ok: 200 }),
  "POST /clients/:id/unblock": async () => ({ path: `/clients/${toHex(newClient().user)}/unblock`, ok: 200 }),
  "DELETE /clients/:id/buckets": async () => ({ path: `/clients/${toHex(newClient().user)}/buckets`, ok: 200 }),
  "GET /reshard": async () => ({ path: "/reshard", ok: 200 }),
  "POST /reshard/step": async () => ({ path: "/reshard/step?batch=1", ok: 200 }), // nothing to move: {"action": "none"}
  "GET /pseudonym-key": async () => ({ path: "/pseudonym-key", ok: 200 }),
  "GET /rekey": async () => ({ path: "/rekey", ok: 200 }),
  "POST /rekey/step": async () => ({ path: "/rekey/step?batch=1", ok: 200 }), // every row at the current key: {"action": "none"}
  "POST /users": async () => {
    const client = newClient();
    return { path: "/users", body: { id: toHex(client.user), token: toHex(client.authToken) }, ok: 201 };
  },
  "DELETE /users/:id": async () => ({ path: `/users/${toHex((await registered()).user)}`, ok: 200 }),
  "POST /users/import": async () => {
    const client = newClient();
    return { path: "/users/import", body: { users: [[toHex(client.user), toHex(await hashToken(client.authToken))]] }, ok: 200 };
  },
};

const routes = Object.keys(ADMIN_ROUTES) as AdminRoute[];
const roleOfKey = (key: TestKey) => key.replace(/-rotated$/, "") as Role;

async function send(route: AdminRoute, init: { as?: TestKey; token?: string; headers?: HeadersInit } = {}) {
  const call = await calls[route]();
  const method = route.split(" ")[0]!;
  const body = call.body ? JSON.stringify(call.body) : method === "POST" ? "{}" : undefined;
  const response = await admin(call.path, { ...init, method, body });
  await response.arrayBuffer();
  return { status: response.status, call };
}

describe("the role table", () => {
  it("names every route the admin API has, and nothing else", () => {
    const registered = adminRoutes.routes
      .filter((r) => r.method !== "ALL" && r.path !== "/*")
      .map((r) => `${r.method} ${r.path.replace(/^\/\//, "/")}`);
    expect(new Set(registered)).toEqual(new Set(routes.filter((r) => r !== "GET /")));
  });

  it("gives each role exactly what issue 14 asks, nothing more", () => {
    const routesOf = (role: Role) => routes.filter((r) => (ADMIN_ROUTES[r] as readonly Role[]).includes(role));
    for (const route of routes) for (const role of ADMIN_ROUTES[route]) expect(ROLES).toContain(role);
    expect(routesOf("account-service")).toEqual(["POST /users", "DELETE /users/:id", "POST /users/import"]);
    // Read only: the dashboard and what it charts; not the identifiers (flagged, clients), the audit log's networks or the directory scan.
    expect(routesOf("viewer")).toEqual(["GET /", "GET /series", "GET /metrics", "GET /alerts", "GET /detection"]);
    expect(routesOf("operator")).toEqual(routes.filter((r) => !r.includes("/users")));
  });
});

describe.each(Object.keys(env.TEST_KEYS) as TestKey[])("the %s key", (key) => {
  it.each(routes)("%s: its answer if the role is admitted, else 403", async (route) => {
    const admitted = (ADMIN_ROUTES[route] as readonly Role[]).includes(roleOfKey(key));
    const { status, call } = await send(route, { as: key });
    expect(status).toBe(admitted ? call.ok : 403);
  });
});

describe("without a role's key", () => {
  it.each(routes)("%s: 401 without a credential, or with an unknown key id or a wrong secret", async (route) => {
    const [id] = env.TEST_KEYS.operator.split(".");
    for (const headers of [{ Authorization: "" }, { Authorization: "Bearer nobody.0123456789abcdef0123456789" }, { Authorization: `Bearer ${id}.wrong-secret-0123456789abcdef` }]) {
      expect((await send(route, { headers })).status).toBe(401);
    }
  });

  it.each(routes)("%s: the legacy ADMIN_TOKEN holds every role (locally)", async (route) => {
    const { status, call } = await send(route);
    expect(status).toBe(call.ok);
  });
});

describe("keys", () => {
  it("work as Basic credentials too (key id as user name, secret as password), for the browser", async () => {
    const [id, secret] = env.TEST_KEYS.viewer.split(/\.(.*)/);
    const response = await exports.default.fetch("https://icd.test/admin/", { headers: { Authorization: `Basic ${btoa(`${id}:${secret}`)}` } });
    expect(response.status).toBe(200);
    const wrongUser = await exports.default.fetch("https://icd.test/admin/", { headers: { Authorization: `Basic ${btoa(`ops-1:${secret}`)}` } });
    expect(wrongUser.status).toBe(401);
  });

  it("rotate without downtime: both keys of a role are valid at once, and the audit log tells them apart", async () => {
    const client = newClient();
    for (const as of ["operator", "operator-rotated"] as const) {
      expect((await admin(`/clients/${toHex(client.user)}/block`, { as, method: "POST" })).status).toBe(200);
    }
    const entries = (await (await admin("/audit?limit=2", { as: "operator" })).json()) as { action: string; role: string; keyId: string }[];
    expect(entries.map(({ action, role, keyId }) => ({ action, role, keyId }))).toEqual([
      { action: "block", role: "operator", keyId: "ops-2" },
      { action: "block", role: "operator", keyId: "ops-1" },
    ]);
  });
});

describe("the audit log", () => {
  it("names the role and key id of every change", async () => {
    const client = newClient();
    const id = toHex(client.user);
    await admin("/users", { as: "account-service", method: "POST", body: JSON.stringify({ id, token: toHex(client.authToken) }) });
    await admin(`/clients/${id}/block`, { as: "operator", method: "POST" });
    await admin(`/clients/${id}/unblock`, { method: "POST" }); // the legacy token, acting as operator
    const entries = (await (await admin("/audit?limit=3", { as: "operator" })).json()) as { action: string; role: string; keyId: string }[];
    expect(entries.map(({ action, role, keyId }) => ({ action, role, keyId }))).toEqual([
      { action: "unblock", role: "operator", keyId: "legacy" },
      { action: "block", role: "operator", keyId: "ops-1" },
      { action: "register", role: "account-service", keyId: "accounts-1" },
    ]);
  });

  it("records a credential used outside its role: its role, its key id and the route, never the identifier", async () => {
    const client = newClient();
    const refused = await admin(`/clients/${toHex(client.user)}/block`, { as: "viewer", method: "POST" });
    expect(refused.status).toBe(403);
    const [entry] = (await (await admin("/audit?limit=1", { as: "operator" })).json()) as object[];
    expect(entry).toMatchObject({ action: "denied", role: "viewer", keyId: "view-1", subject: null, detail: { route: "POST /clients/:id/block" } });
    expect(JSON.stringify(entry)).not.toContain(toHex(client.user));
    // The refusal changed nothing.
    expect(await (await admin(`/clients/${toHex(client.user)}`, { as: "operator" })).json()).toMatchObject({ blocked: false });
  });

  it("does not record requests without a valid credential (a flood of them must not fill it)", async () => {
    const before = (await (await admin("/audit?limit=1", { as: "operator" })).json()) as object[];
    expect((await admin("/clients/abcd/block", { token: "view-1.wrong-secret-0123456789", method: "POST" })).status).toBe(401);
    expect(await (await admin("/audit?limit=1", { as: "operator" })).json()).toEqual(before);
  });
});
