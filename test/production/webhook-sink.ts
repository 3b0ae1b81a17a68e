// Setup of the production project: alerts go to ALERT_WEBHOOK_URL, which no server answers here.
// Its fetches (from the Monitor object, which runs in the tests' isolate) are answered here instead
// and kept in `globalThis.sentAlerts` for test/production/detection.test.ts to read.

import { env } from "cloudflare:workers";
import { vi } from "vitest";

declare global {
  var sentAlerts: { url: string; body: any }[];
}
globalThis.sentAlerts = [];

const realFetch = globalThis.fetch;
vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
  const request = new Request(input, init);
  if (request.url !== env.ALERT_WEBHOOK_URL) return realFetch(input, init);
  globalThis.sentAlerts.push({ url: request.url, body: await request.json() });
  return new Response("ok");
});
