// The S2 filter in use (objects/s2-index.ts; docs/scaling.md). No change is missed: a key is in every
// replica before D1 is written, with a time no earlier than D1's; a replica keeps it for S2_DELTA plus
// MARGIN_MS and is asked with `since` less MARGIN_MS; an index that cannot tell counts its part whole.

import type { Config } from "../core/config";
import { keysOf } from "../core/lookup-key";
import { HOUR_MS } from "../core/time";
import type { Shards } from "../db/shards";
import { scanChanges } from "../db/users";
import { s2IndexName, s2IndexOf } from "../objects/s2-index";
import type { RecentNames } from "./isolate";

/** A noted change is kept, and a sync asks for changes, this much beyond S2_DELTA. */
export const MARGIN_MS = HOUR_MS;
const BUILD_PAGE = 20_000;

const indexOptions = (config: Config, now: number) => ({
  keepFrom: now - config.s2DeltaMs - MARGIN_MS,
  maxKeys: config.s2Index.maxKeys,
  offFor: config.s2DeltaMs + MARGIN_MS,
});

const partOf = (key: number, parts: number) => key % parts;

function byPart(keys: ArrayLike<number>, parts: number): number[][] {
  const groups: number[][] = Array.from({ length: parts }, () => []);
  for (let i = 0; i < keys.length; i++) groups[partOf(keys[i]!, parts)]!.push(i);
  return groups;
}

const replicas = (config: Config) => Array.from({ length: config.s2Index.replicas }, (_, r) => r);

/** Throws if any replica could not note them: the write must then not happen. */
export async function noteChanges(env: Env, config: Config, epoch: number, ids: readonly Uint8Array[], now: number): Promise<void> {
  if (ids.length === 0) return;
  const keys = keysOf([...ids]);
  const options = indexOptions(config, now);
  await Promise.all(
    byPart(keys, config.s2Index.parts).flatMap((positions, part) =>
      positions.length === 0 ? [] : replicas(config).map((r) => s2IndexOf(env, epoch, config.s2Index, part, r).note(positions.map((i) => keys[i]!), now, options)),
    ),
  );
}

/** Before a creation of millions of users. */
export async function switchOff(env: Env, config: Config, epoch: number, now: number): Promise<void> {
  const until = now + indexOptions(config, now).offFor;
  await Promise.all(Array.from({ length: config.s2Index.parts }, (_, part) => replicas(config).map((r) => s2IndexOf(env, epoch, config.s2Index, part, r).goOff(until))).flat());
}

/** Positions (ascending) that may be in S2; an unbuilt part is built in the background by the caller it asks to. */
export async function s2Candidates(
  env: Env,
  shards: Shards,
  config: Config,
  epoch: number,
  ids: Uint8Array[],
  since: number,
  context: { now: number; waitUntil: (p: Promise<unknown>) => void; unbuilt: RecentNames },
  previous?: Uint8Array[] | null,
): Promise<IndexAnswer> {
  if (previous) {
    // A key rotation under way: a change noted before it is under the key of the version before.
    const both = await s2Candidates(env, shards, config, epoch, [...ids, ...previous], since, context);
    return { ...both, positions: [...new Set(both.positions.map((p) => p % ids.length))].sort((a, b) => a - b) };
  }
  const { now, waitUntil, unbuilt } = context;
  const keys = keysOf(ids);
  const parts = byPart(keys, config.s2Index.parts);
  const spent = { calls: 0, rowsRead: 0, rowsWritten: 0 };
  const found = await Promise.all(
    parts.map(async (positions, part) => {
      if (positions.length === 0) return [];
      const replica = Math.floor(Math.random() * config.s2Index.replicas);
      const name = s2IndexName(epoch, config.s2Index, part, replica);
      // A replica that was unbuilt a moment ago is left alone for a while: D1 answers, and a rollout
      // of new index objects costs no more than no index until they are built.
      if (unbuilt.has(name, now)) return positions;
      const index = s2IndexOf(env, epoch, config.s2Index, part, replica);
      spent.calls++;
      try {
        const answer = await index.candidates(positions.map((i) => keys[i]!), since - MARGIN_MS, now, config.s2Index.buildDelayMs);
        spent.rowsRead += answer.rowsRead;
        spent.rowsWritten += answer.rowsWritten;
        if (answer.state === "ready") return answer.hits.map((h) => positions[h]!);
        if (answer.state === "unbuilt" && answer.claim) {
          waitUntil(buildIndex(env, shards, config, epoch, part, replica, now).catch((e: Error) => console.error(`S2 index build failed: ${e.message}`)));
        } else {
          unbuilt.note(name, now);
        }
      } catch (error) {
        console.error(`S2 index unreachable, asking D1: ${(error as Error).message}`);
      }
      return positions;
    }),
  );
  return { positions: found.flat().sort((a, b) => a - b), ...spent };
}

/** Positions (ascending) that may be in S2, and what asking cost: index objects called, their rows read and written. */
export interface IndexAnswer {
  positions: number[];
  calls: number;
  rowsRead: number;
  rowsWritten: number;
}

/** Notes that come meanwhile are kept. Past S2_INDEX_MAX_KEYS it goes off instead. */
export async function buildIndex(env: Env, shards: Shards, config: Config, epoch: number, part: number, replica: number, now: number): Promise<void> {
  const index = s2IndexOf(env, epoch, config.s2Index, part, replica);
  const options = { ...indexOptions(config, now), now };
  for (const db of shards) {
    for (let after = -1; ; ) {
      const page = await scanChanges(db, options.keepFrom, config.s2Index.parts, part, after, BUILD_PAGE);
      if (page.length > 0) await index.merge(page.map((r) => r.k), page.map((r) => r.at), false, options);
      if (page.length < BUILD_PAGE) break;
      after = page.at(-1)!.k;
    }
  }
  await index.merge([], [], true, options);
}
