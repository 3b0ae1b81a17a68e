// Random users for the local /test/create/<n> hook, fast enough for ten million at a time.
// A pseudonym of a random identifier is as good as random, so these are 16 random bytes, in batches
// whose first four bytes rise: each shard receives them in key order, so SQLite appends to its B-tree.
//
// Locally D1 runs in the Worker's own workerd thread, so a chain of D1 calls never waits on a socket
// and workerd would not poll until the whole creation is done: other requests hang, and wrangler's
// proxy later answers a silent 503 ("Your worker restarted mid-request"). So each batch yields to a timer.
// The S2 index is switched off first: millions of users are more than it keeps.

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
