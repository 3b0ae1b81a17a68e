// "Restarting the server under load loses no registration and no bucket state." The service runs as
// `npm start` runs it; 64 clients register and full-sync at once; mid-load its whole process group
// (npx, wrangler, both workerd) gets SIGKILL; it starts again on the same state directory and port.
// What the first server answered 200 must still hold: every registration (the client authenticates,
// its identifier is in S1) and every full sync's charge (the full bucket holds at least the answered
// syncs' identifiers, minus what drained since). A request the kill cut off may or may not have taken
// effect: nothing is required of it, except that no charge exceeds what was sent.
//
// Runs in Node (the "service" project of test/vitest.config.ts), not in the Workers pool.

import { expect, it } from "vitest";
import { mapLimit } from "../../src/core/concurrency";
import { ICD } from "../../src/proto/icd.js";
import { adminToken, callIcd, scratchServices } from "./service";

const CLIENTS = 64;
const SYNCS_PER_ACCOUNT = 3;
/** The kill comes once this many of each were answered: well into the load, with every client busy. */
const KILL_AFTER = { registrations: 150, syncs: 300 };

interface Account {
  user: Uint8Array;
  authToken: Uint8Array;
  /** The server answered its registration 200. */
  registered: boolean;
  /** Identifiers of its full syncs answered 200, and of all it sent (answered or cut off). */
  charged: number;
  sent: number;
  /** When its first full sync left: no charge of it can have started earlier. */
  firstSyncAt: number | null;
}

type Kind = "register" | "full";

const scratch = scratchServices("icd-restart-");

it("loses no registration and no charge it answered when killed hard under load", async () => {
  const first = await scratch.start();
  const { maxContacts, s2DeltaSeconds } = (await adminJson(first.base, "/detection")).budgets as { maxContacts: number; s2DeltaSeconds: number };
  const msPerContact = (s2DeltaSeconds * 1000) / maxContacts; // how fast a full bucket drains

  // --- load, and the kill in the middle of it ---

  const accounts: Account[] = [];
  const answered = { register: 0, full: 0 };
  const inFlight = { register: 0, full: 0 };
  const cutOff = { register: 0, full: 0 };
  const unexpected: string[] = [];
  let killedAt: number | undefined;
  let startKill!: () => void;
  const killTime = new Promise<void>((resolve) => (startKill = resolve));

  /** The status, once the server answered; null if the request was cut off by the kill. */
  async function send(kind: Kind, request: ICD.IRequest): Promise<number | null> {
    inFlight[kind] += 1;
    try {
      const response = await fetch(`${first.base}${kind === "register" ? "/user/register" : "/discovery/full"}`, {
        method: "POST",
        body: ICD.Request.encode(request).finish(),
      });
      // The status line is the server's word: the work was done. The body may be cut off.
      await response.arrayBuffer().catch(() => {});
      if (response.status === 200) answered[kind] += 1;
      else unexpected.push(`${kind}: ${response.status}`);
      return response.status;
    } catch (error) {
      if (killedAt === undefined) unexpected.push(`${kind} failed before the kill: ${(error as Error).message}`);
      cutOff[kind] += 1;
      return null;
    } finally {
      inFlight[kind] -= 1;
      if (answered.register >= KILL_AFTER.registrations && answered.full >= KILL_AFTER.syncs) startKill();
    }
  }

  /** One client after another: registers, then a few full syncs of new and registered identifiers. */
  async function runClient() {
    while (killedAt === undefined) {
      const account: Account = { user: randomId(), authToken: randomId(), registered: false, charged: 0, sent: 0, firstSyncAt: null };
      accounts.push(account);
      if ((await send("register", account)) !== 200) return;
      account.registered = true;
      for (let i = 0; i < SYNCS_PER_ACCOUNT && killedAt === undefined; i++) {
        const known = accounts.filter((a) => a.registered).slice(-3).map((a) => a.user);
        const identifiers = [...randomIds(5 + Math.floor(Math.random() * 46)), ...known];
        account.sent += identifiers.length;
        account.firstSyncAt ??= Date.now();
        if ((await send("full", { ...account, identifiers })) !== 200) return;
        account.charged += identifiers.length;
      }
    }
  }

  const load = Promise.all(Array.from({ length: CLIENTS }, runClient));
  await Promise.race([killTime, load.then(() => Promise.reject(new Error(`the load ended before the kill: ${unexpected.slice(0, 5).join("; ")}`)))]);
  const atKill = { ...inFlight };
  killedAt = Date.now();
  await first.kill();
  await load;
  const confirmed = accounts.filter((a) => a.registered);
  console.log(
    `killed with ${atKill.register} registrations and ${atKill.full} full syncs in flight; answered 200 in all: ` +
      `${answered.register} registrations, ${answered.full} full syncs; cut off: ${cutOff.register} and ${cutOff.full}`,
  );
  expect(unexpected).toEqual([]);
  // The kill came mid-load: requests of both kinds were on their way.
  expect(atKill.register).toBeGreaterThan(0);
  expect(atKill.full).toBeGreaterThan(0);
  expect(cutOff.register + cutOff.full).toBeGreaterThan(0);

  // --- the restart, on the same state directory and port ---

  const second = await scratch.start(scratch.dir, first.port);

  // Every answered registration is there, and its bucket holds every answered charge.
  const lost: string[] = [];
  const tookEffect = { register: 0, full: 0 }; // of the requests cut off: for the log, nothing is required
  await mapLimit(accounts, 16, async (account) => {
    const id = toHex(account.user);
    const client = await adminJson(second.base, `/clients/${id}`);
    const seenAt = Date.now(); // the server's clock read the level before this
    if (!account.registered) {
      if (client.registered) tookEffect.register += 1;
      return;
    }
    if (client.registered !== true) lost.push(`${id}: registration answered 200, not registered after the restart`);
    const level = client.buckets.full.level as number;
    const drained = account.firstSyncAt === null ? 0 : (seenAt - account.firstSyncAt) / msPerContact;
    if (level < account.charged - drained - 1e-6) {
      lost.push(`${id}: full syncs of ${account.charged} identifiers answered 200, bucket level ${level} after the restart (at most ${drained.toFixed(3)} drained)`);
    }
    if (level > account.charged + 0.5) tookEffect.full += 1;
    if (level > account.sent + 1e-6) lost.push(`${id}: bucket level ${level}, more than the ${account.sent} identifiers ever sent`);
  });
  console.log(
    `after the restart: ${confirmed.length} answered registrations checked; of those cut off, ` +
      `${tookEffect.register} registrations and the syncs of ${tookEffect.full} clients had taken effect`,
  );
  expect(lost).toEqual([]);

  // Each answered client still authenticates with its token (a sync of 1, not 401)...
  const refused: string[] = [];
  await mapLimit(confirmed, 16, async (account) => {
    const { status } = await callIcd(second.base, "/discovery/full", { ...account, identifiers: [randomId()] });
    if (status !== 200) refused.push(`${toHex(account.user)}: ${status}`);
  });
  expect(refused).toEqual([]);

  // ...and is in S1: a new client's full sync of all of them finds every one.
  const checker = { user: randomId(), authToken: randomId() };
  expect((await callIcd(second.base, "/user/register", checker)).status).toBe(200);
  const everyone = confirmed.map((a) => a.user);
  expect(everyone.length).toBeLessThanOrEqual(maxContacts);
  const { status, answer } = await callIcd(second.base, "/discovery/full", { ...checker, identifiers: everyone });
  expect(status).toBe(200);
  expect(answer.addedUsers.map(toHex)).toEqual(everyone.map(toHex));
});

const randomId = () => crypto.getRandomValues(new Uint8Array(32));
const randomIds = (n: number) => Array.from({ length: n }, randomId);
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

async function adminJson(base: string, endpoint: string): Promise<any> {
  const response = await fetch(`${base}/admin${endpoint}`, { headers: { Authorization: `Bearer ${adminToken()}` } });
  if (response.status !== 200) throw new Error(`GET /admin${endpoint}: ${response.status}`);
  return response.json();
}
