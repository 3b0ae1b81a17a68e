// Random users for the local /test/create/<n> hook, fast enough for ten million at a time.
//
// Users are stored as pseudonyms (domain/pseudonyms.ts), and a pseudonym of a random identifier is as
// good as random: so these are 16 random bytes whatever identifier length is asked, in batches whose first
// four bytes rise from batch to batch: uniform over the key space in all, yet each shard receives
// them in ascending key order, so SQLite appends to its B-tree instead of inserting all over it.
//
//
// Locally D1 is a Durable Object in the Worker's own workerd thread, so a chain of D1 calls never waits
// on a socket: workerd would not look at its sockets or timers until the whole creation is done. Other
// requests then hang for tens of seconds, and wrangler's proxy finds its pooled connections to the Worker
// reset afterwards, which it answers with a 503 ("Your worker restarted mid-request") that nothing logs.
// So each batch ends by waiting on a timer, which lets the event loop poll.
//
// Millions of users in S2 are more than the S2 index keeps: it is switched off first, for as long as
// they stay in S2 (incremental syncs ask D1 meanwhile). /test/add/many notes its users as any write does.

import type { Config } from "../core/config";
import { PSEUDONYM_BYTES } from "../core/pseudonym";
import type { Shards } from "../db/shards";
import { addUsers } from "../db/test-hooks";
import { bucketEpoch } from "./accounts";
import { noteChanges, switchOff } from "./s2-filter";
import { keyingOf, settle, storedOf } from "./pseudonyms";

export const ID_BYTES = { default: 16, min: 4, max: 64 };
const BATCH = 50_000; // identifiers per addUsers call, which splits them to fit D1's 2 MB per bound value
const RANDOM_CHUNK = 65_536; // the most crypto.getRandomValues fills at once

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += RANDOM_CHUNK) crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + RANDOM_CHUNK)));
  return bytes;
}

/** Registers every identifier not registered now, with a random token (the /test/add/many hook). */
export async function addTestUsers(env: Env, shards: Shards, config: Config, identifiers: Uint8Array[], now: number): Promise<void> {
  const keying = await keyingOf(env, shards);
  const { ids, previous } = storedOf(keying, identifiers);
  await settle(shards, keying, ids, previous);
  await noteChanges(env, config, await bucketEpoch(shards, config), ids, now);
  await addUsers(shards, ids, now);
}

export async function createRandomUsers(env: Env, shards: Shards, config: Config, n: number, now: number, _idBytes = ID_BYTES.default): Promise<void> {
  // What is stored is a pseudonym of whatever identifier: random bytes of a pseudonym's length.
  const idBytes = PSEUDONYM_BYTES;
  await keyingOf(env, shards);
  if (n > 0) await switchOff(env, config, await bucketEpoch(shards, config), now);
  const batches = Math.ceil(n / BATCH);
  for (let b = 0; b < batches; b++) {
    const size = Math.min(BATCH, n - b * BATCH);
    const bytes = randomBytes(size * idBytes);
    const view = new DataView(bytes.buffer);
    const low = Math.floor((b * 2 ** 32) / batches);
    const span = Math.floor(((b + 1) * 2 ** 32) / batches) - low;
    const ids: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += idBytes) {
      view.setUint32(at, low + (view.getUint32(at) % span));
      ids.push(bytes.subarray(at, at + idBytes));
    }
    await addUsers(shards, ids, now);
    await yieldToEventLoop();
  }
}

/** Resolves once workerd's event loop has polled its sockets and timers. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
