// The operator's dashboard: one HTML page under /admin/, admitted as "GET /" of the role table; it holds
// no secret (the browser sends the operator's credentials, or Access its token, with each fetch).

import { type Context, Hono } from "hono";
import { baseRoutePath } from "hono/route";
import type { AppEnv } from "../app-env";
import { admit } from "../admin-auth";
import { dashboardPage } from "../dashboard-page";

export const dashboardRoutes = new Hono<AppEnv>();

// A fresh nonce per response lets only the page's one inline script and style run; no other site may
// frame the page (clickjacking of the Clear buttons).
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

// GET /admin and /admin/: hono matches trailing slashes strictly, and a pattern for the empty last
// segment would push the whole app off its RegExpRouter.
dashboardRoutes.get("*", async (c, next) => (c.req.path.replace(/\/$/, "") === baseRoutePath(c) ? ((await admit(c, "GET /")) ?? servePage(c)) : next()));
