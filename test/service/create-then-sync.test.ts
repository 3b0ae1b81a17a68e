// "A full sync right after a long /test/create succeeds" (the reference's test_many_syncs: 20 M users,
// then 20,000-contact full syncs). Locally D1 is a Durable Object in the Worker's own workerd thread:
// a creation that never let workerd poll kept it from its sockets and timers for tens of seconds, so
// every other request hung until the creation ended, and the request right after it found wrangler's
// pooled connection to the Worker reset: a 503 "Your worker restarted mid-request" from wrangler's
// proxy, logged nowhere. So this test asks both: right after each creation a full sync is 200, and
// while millions are created another request is answered within the keep-alive timeout of that
// connection pool (5 s).
//
// Runs in Node (the "service" project of test/vitest.config.ts), against the service as `npm start` runs it.

import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { ICD } from "../../src/proto/icd.js";
import { callIcd, scratchServices } from "./service";

/** Per creation, the reference's size: 10 M take 14 s on a quiet machine, far longer than the 5 s below. */
const CREATE = 10_000_000;
const ROUNDS = 2;
const CONTACTS = 20_000;
/** kj's keep-alive timeout on both ends of wrangler's proxy-to-Worker connections. */
const MAX_STALL_MS = 5_000;

const scratch = scratchServices("icd-create-sync-");

it("answers other requests while it creates millions of users, and a full sync right after", async () => {
  const service = await scratch.start();
  const clients = Array.from({ length: ROUNDS }, () => ({ user: randomBytes(16), authToken: randomBytes(16) }));
  for (const client of clients) expect((await callIcd(service.base, "/user/register", client)).status).toBe(200);
  const contacts = Array.from({ length: CONTACTS }, () => randomBytes(16));
  const known = contacts.slice(0, 20);
  expect((await callIcd(service.base, "/test/add/many", { identifiers: known })).status).toBe(200);

  for (const [round, client] of clients.entries()) {
    // The first round is the reference's sequence as it is; the second also probes the service meanwhile.
    const probe = round === 0 ? undefined : probeWhile(service.base);
    const started = Date.now();
    const created = await fetch(`${service.base}/test/create/${CREATE}`);
    const createdBody = await created.text();
    const createMs = Date.now() - started;
    const probed = probe?.stop();
    expect([created.status, createdBody], `round ${round}: /test/create\n${service.log()}`).toEqual([200, "Success"]);

    // At once, as the reference's client does.
    const sync = await fetch(`${service.base}/discovery/full`, {
      method: "POST",
      body: ICD.Request.encode({ ...client, identifiers: contacts }).finish(),
    });
    const body = new Uint8Array(await sync.arrayBuffer());
    const why = sync.status === 200 ? "" : `${new TextDecoder().decode(body)}\n${service.log().split("\n").slice(-15).join("\n")}`;
    expect(sync.status, `round ${round}: the full sync right after the creation: ${why}`).toBe(200);
    const found = ICD.Response.decode(body).addedUsers.map((id) => Buffer.from(id).toString("hex"));
    expect(found).toEqual(known.map((id) => id.toString("hex")));

    console.log(`round ${round}: ${CREATE.toLocaleString()} users in ${createMs} ms`);
    if (!probed) continue;
    const { answered, worstMs } = await probed;
    console.log(`round ${round}: ${answered} requests answered during the creation, the slowest in ${worstMs} ms`);
    expect(answered).toBeGreaterThan(0);
    expect(worstMs, `round ${round}: creating took ${createMs} ms, a request sent meanwhile waited ${worstMs} ms`).toBeLessThan(MAX_STALL_MS);
  }
}, 600_000);

/**
 * Sends a cheap request (an unauthenticated /admin/: 401) every 200 ms, one at a time, until `stop`,
 * which sends no more at once and resolves once the one in flight is answered, with the longest wait.
 */
function probeWhile(base: string): { stop: () => Promise<{ answered: number; worstMs: number }> } {
  let running = true;
  let answered = 0;
  let worstMs = 0;
  const loop = (async () => {
    while (running) {
      const sent = Date.now();
      const status = await fetch(`${base}/admin/`).then((r) => r.status, () => 0);
      worstMs = Math.max(worstMs, Date.now() - sent);
      if (status === 401) answered += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { answered, worstMs };
    },
  };
}
