// The client library against `[env.production]`'s novelty limit: a user who adds many contacts at
// once long after the first sync gets what fits, keeps the rest pending with the wait the service
// gave, and gets more after it; the library never fails and the user is never flagged.

import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { IcdClient, MemoryStore, identifierOf } from "../../client/index";
import { toHex } from "../../src/core/hex";
import { DAY_MS } from "../../src/core/time";
import { ICD } from "../../src/proto/icd.js";
import { fakeClock } from "../fake-clock";
import { accountService, admin, enroll } from "../helpers";

const clock = fakeClock();

const randomPhone = () => `+49176${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;

/** An address book of n contacts, 40% of them registered (imported through the account service), as a real one is. */
async function phones(n: number): Promise<string[]> {
  const book = Array.from({ length: n }, randomPhone);
  const users = await Promise.all(book.slice(0, Math.round(0.4 * n)).map(identifierOf));
  expect((await accountService("import", { users: users.map((u) => [toHex(u), "00".repeat(32)]) })).result).toMatchObject({ imported: users.length });
  return book;
}

/** The Worker, with registration through the account service, as production has it (REGISTRATION = "admin"). */
function productionFetch(ip: string) {
  let user: Uint8Array | undefined;
  const fetch = async (input: string, init: RequestInit) => {
    const path = new URL(input).pathname;
    if (path === "/user/register") {
      const request = ICD.Request.decode(init.body as Uint8Array);
      user = request.user;
      await enroll({ user: request.user, authToken: request.authToken });
      return new Response(ICD.Response.encode({ result: ICD.Response.Result.SUCCESS }).finish());
    }
    return exports.default.fetch(input, { ...init, headers: { ...(init.headers as Record<string, string>), "CF-Connecting-IP": ip } });
  };
  return { fetch, user: () => user! };
}

it("checks what the novelty limit lets through, keeps the rest pending with the service's wait, and goes on after it", async () => {
  const service = productionFetch("198.20.0.1");
  const client = new IcdClient({ server: "https://icd.test", fetch: service.fetch, store: new MemoryStore() });
  await client.register({ phone: randomPhone() });
  const book = await phones(300);
  expect(await client.sync(book)).toMatchObject({ pending: 0 });
  clock.at(8 * DAY_MS);
  expect(await client.sync(book)).toMatchObject({ pending: 0, mode: "incremental" });
  // Fifteen days later: 600 new contacts at once (an import), more than a burst of new identifiers.
  clock.at(15 * DAY_MS);
  const grown = [...book, ...(await phones(600))];
  const first = await client.sync(grown);
  expect(first.checked.incremental).toBe(300); // the book itself: free of the limit
  expect(first.checked.full).toBeGreaterThan(0);
  expect(first.pending).toBe(600 - first.checked.full);
  expect(first.retryAfter).toBeGreaterThan(0);
  // After the wait it was given, the next sync makes progress.
  clock.at(15 * DAY_MS + first.retryAfter! * 1000);
  const second = await client.sync();
  expect(second.checked.full).toBeGreaterThan(0);
  expect(second.pending).toBeLessThan(first.pending);
  const view = (await (await admin(`/clients/${toHex(service.user())}`, { as: "operator" })).json()) as { flagged: boolean; novelty: { refusals: number } };
  expect(view.flagged).toBe(false);
  expect(view.novelty.refusals).toBeGreaterThan(0);
  expect(view.novelty.refusals).toBeLessThan(10);
});
