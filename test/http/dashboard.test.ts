// The dashboard page under /admin/: behind the admin token, locked down by its headers, and no
// shadow over the rest of the admin API. test/service/dashboard.test.ts drives it in Chromium.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { admin } from "../helpers";

const page = (path: string, headers: HeadersInit = {}) => exports.default.fetch(`https://icd.test${path}`, { headers });
const basic = (user: string, password: string) => ({ Authorization: `Basic ${btoa(`${user}:${password}`)}` });

describe("dashboard", () => {
  it("is served at /admin/ and /admin with the admin token, as bearer or as Basic password", async () => {
    for (const path of ["/admin/", "/admin"]) {
      for (const headers of [{ Authorization: `Bearer ${env.ADMIN_TOKEN}` }, basic("operator", env.ADMIN_TOKEN!)]) {
        const response = await page(path, headers);
        expect(response.status).toBe(200);
        expect(response.headers.get("Content-Type")).toMatch(/^text\/html; charset=utf-8/i);
        expect(await response.text()).toContain("<title>ICD operator dashboard</title>");
      }
    }
  });

  it("is refused without the token, with a Basic challenge, and shows nothing of the page", async () => {
    for (const path of ["/admin/", "/admin"]) {
      for (const headers of [{}, basic("operator", "wrong-token-0123456789"), { Authorization: "Bearer wrong-token-0123456789" }]) {
        const response = await page(path, headers);
        expect(response.status).toBe(401);
        expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic realm="icd admin"/);
        expect(await response.text()).not.toContain("<html");
      }
    }
  });

  it("holds no secret and runs only its own inline script and style, with a fresh nonce each time", async () => {
    const [first, second] = [await admin("/"), await admin("/")];
    const html = await first.text();
    expect(html).not.toContain(env.ADMIN_TOKEN);
    const csp = first.headers.get("Content-Security-Policy") ?? "";
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]{22,})'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(csp.split("; ")).toEqual([
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      "img-src data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ]);
    expect(html.match(/<script\b[^>]*>/g)).toEqual([`<script nonce="${nonce}">`]);
    expect(html.match(/<style\b[^>]*>/g)).toEqual([`<style nonce="${nonce}">`]);
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers: the policy would block them
    expect(second.headers.get("Content-Security-Policy")).not.toContain(nonce);
    expect(first.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(first.headers.get("Cache-Control")).toBe("no-store");
    expect(first.headers.get("Referrer-Policy")).toBe("no-referrer");
  });

  it("leaves the rest of the admin API as it was", async () => {
    expect((await admin("/series?minutes=5")).headers.get("Content-Type")).toMatch(/^application\/json/);
    for (const path of ["/nope", "//", "/index.html"]) {
      const response = await admin(path);
      expect([response.status, await response.json()]).toEqual([404, { error: "no such admin endpoint" }]);
    }
    expect((await admin("/", { method: "POST" })).status).toBe(404);
  });
});
