// Who may do what on the operator's side: the roles, and the one table of every /admin/ route and
// the roles it admits. src/http/routes/admin.ts registers its routes from this table, so a route
// cannot exist without an entry; test/http/admin-roles.test.ts tries every role on every route.

export const ROLES = ["account-service", "operator", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: unknown): value is Role => ROLES.includes(value as Role);

// An operator watches the same dashboard a viewer does: reading what it acts on is no extra power.
const READ = ["viewer", "operator"] as const satisfies readonly Role[];
const OPERATE = ["operator"] as const satisfies readonly Role[];
const ACCOUNTS = ["account-service"] as const satisfies readonly Role[];

/**
 * "METHOD /path" under /admin → the roles admitted. Reads that reveal identifiers or network
 * addresses (flagged clients, one client, the audit log) and the directory scan (stats) are the
 * operator's; the account service only registers, deletes and imports users.
 */
export const ADMIN_ROUTES = {
  "GET /": READ, // the dashboard page, at /admin and /admin/
  "GET /series": READ,
  "GET /metrics": READ,
  "GET /alerts": READ,
  "GET /detection": READ,
  "GET /flagged": OPERATE,
  "GET /stats": OPERATE,
  "GET /audit": OPERATE,
  "GET /clients/:id": OPERATE,
  "POST /clients/:id/clear": OPERATE,
  "POST /clients/:id/block": OPERATE,
  "POST /clients/:id/unblock": OPERATE,
  "DELETE /clients/:id/buckets": OPERATE,
  "GET /reshard": OPERATE,
  "POST /reshard/step": OPERATE,
  "GET /rekey": OPERATE,
  "POST /rekey/step": OPERATE,
  "POST /users": ACCOUNTS,
  "DELETE /users/:id": ACCOUNTS,
  "POST /users/import": ACCOUNTS,
} as const satisfies Record<string, readonly Role[]>;

export type AdminRoute = keyof typeof ADMIN_ROUTES;

/** The account service's public routes, which ADMIN_USER_ROUTES = false switches off. */
export const isUserRoute = (route: AdminRoute) => route.split(" ")[1]!.startsWith("/users");

/** The role a caller with `roles` acts in on `route` (the first that the route admits), or null: 403. */
export function roleOn(route: AdminRoute, roles: readonly Role[]): Role | null {
  const admitted: readonly Role[] = ADMIN_ROUTES[route];
  return admitted.find((role) => roles.includes(role)) ?? null;
}
