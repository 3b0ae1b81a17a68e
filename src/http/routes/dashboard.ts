// The operator's dashboard: one HTML page under /admin/ that reads the admin API's JSON from the same
// origin. Mounted inside the admin routes, after their authentication, and admitted as route "GET /"
// of the role table (viewers and operators); the page holds no secret: the browser sends the
// operator's credentials (or Cloudflare Access its token) with each of its fetches.

import { type Context, Hono } from "hono";
import { baseRoutePath } from "hono/route";
import type { AppEnv } from "../app-env";
import { admit } from "../admin-auth";
import { dashboardPage } from "../dashboard-page";

export const dashboardRoutes = new Hono<AppEnv>();

/**
 * A fresh nonce per response lets the page's one inline script and one inline style run and nothing
 * else: no injected <script>, no inline event handler, no style attribute. Data may only be fetched
 * from this origin, and no other site may frame the page (clickjacking of the Clear buttons).
 */
function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function servePage(c: Context<AppEnv>) {
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  return c.html(dashboardPage(nonce), 200, {
    "Content-Security-Policy": contentSecurityPolicy(nonce),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  });
}

// GET /admin and GET /admin/. Hono matches trailing slashes strictly, and mounted at /admin a
// sub-app's "/" is "/admin" alone; a pattern for the empty last segment would push the whole app
// off its RegExpRouter. So the page takes the mount path with or without its slash, and every other
// path goes on to the rest of the admin API (and its 404).
dashboardRoutes.get("*", async (c, next) => (c.req.path.replace(/\/$/, "") === baseRoutePath(c) ? ((await admit(c, "GET /")) ?? servePage(c)) : next()));
