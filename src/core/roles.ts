// The operator-side roles, and the one table of every /admin/ route and the roles it admits: routes
// are registered from it, so none can exist without an entry. Pure.

export const ROLES = ["account-service", "operator", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: unknown): value is Role => ROLES.includes(value as Role);

// An operator watches the same dashboard a viewer does: reading what it acts on is no extra power.
const READ = ["viewer", "operator"] as const satisfies readonly Role[];
const OPERATE = ["operator"] as const satisfies readonly Role[];
const ACCOUNTS = ["account-service"] as const satisfies readonly Role[];

// Reads that reveal identifiers or network addresses, and the directory scan (stats), are the operator's.
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
  "GET /pseudonym-key": OPERATE,
  "GET /rekey": OPERATE,
  "POST /rekey/step": OPERATE,
  "POST /users": ACCOUNTS,
  "DELETE /users/:id": ACCOUNTS,
  "POST /users/import": ACCOUNTS,
} as const satisfies Record<string, readonly Role[]>;

export type AdminRoute = keyof typeof ADMIN_ROUTES;

/** The routes ADMIN_USER_ROUTES = false switches off. */
export const isUserRoute = (route: AdminRoute) => route.split(" ")[1]!.startsWith("/users");

/** The first of `roles` the route admits, or null: 403. */
export function roleOn(route: AdminRoute, roles: readonly Role[]): Role | null {
  const admitted: readonly Role[] = ADMIN_ROUTES[route];
  return admitted.find((role) => roles.includes(role)) ?? null;
}
