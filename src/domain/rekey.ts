// Rotating the pseudonym key while the service answers (npm run rekey; the steps and passes are in
// docs/pseudonyms.md). Each step does one small piece and records it in USERS_0's rekey_progress, so
// the command may be killed and restarted at any point, and a piece done twice changes nothing. Nobody
// loses their row: it is deleted only once its wrapped copy, or a newer row, is on its shard.
import type { Config } from "../core/config";
import { ConfigError } from "../core/config";
import { layoutOfVersion } from "../core/sharding";
import { splitPseudonyms } from "../core/pseudonym";
import {
  type RekeyProgress,
  clearRekeyProgress,
  moveRows,
  raiseStoredKeyVersion,
  readRekeyProgress,
  saveRekeyProgress,
  scanOldRows,
  startRekeyPass,
  storedKeyVersion,
} from "../db/keying";
import { headVersion } from "../db/layout";
import type { Shards } from "../db/shards";
import { bucketEpoch } from "./accounts";
import { forgetKeying, keyingOf } from "./pseudonyms";
import { MARGIN_MS, noteChanges } from "./s2-filter";

export interface RekeyStep {
  action: "begin" | "wrap" | "pass" | "finish" | "none";
  /** `target`: PSEUDONYM_KEYS's current version; `stored`: the one every row is at. */
  target: number;
  stored: number;
  pass?: number;
  shard?: number;
  scanned?: number;
  moved?: number;
  /** 0 to 1, by key range. */
  passDone?: number;
}

const KEY_RANGE = 2 ** 48;

export async function rekeyStep(env: Env, shards: Shards, config: Config, batchSize: number, now: number): Promise<RekeyStep> {
  const keying = await keyingOf(env, shards);
  const target = keying.version;
  const stored = await storedKeyVersion(shards);
  const result = (action: RekeyStep["action"], extra: Partial<RekeyStep> = {}): RekeyStep => ({ action, target, stored, ...extra });
  if (stored >= target) return result("none");
  if (stored < target - 1) throw new ConfigError(`PSEUDONYM_KEYS is at version ${target}, the users table at ${stored}: add one key at a time`);
  if (layoutOfVersion(await headVersion(shards)).moving) throw new Error("users are moving to a new shard: finish `npm run reshard` first");

  const progress = await readRekeyProgress(shards, target);
  if (progress.length === 0) {
    await startRekeyPass(shards, target, 1, shards.length);
    return result("begin", { pass: 1, passDone: 0 });
  }
  const pass = Math.max(...progress.map((p) => p.pass));
  const current = progress.filter((p) => p.pass === pass);
  const next = current.find((p) => !p.done);
  if (next) return result("wrap", { pass, ...(await wrapBatch(env, shards, config, target, next, batchSize, now)), passDone: passDone(current) });
  if (current.some((p) => p.found > 0)) {
    await startRekeyPass(shards, target, pass + 1, shards.length);
    return result("pass", { pass: pass + 1, passDone: 0 });
  }
  await raiseStoredKeyVersion(shards, target);
  await clearRekeyProgress(shards, target);
  forgetKeying(shards);
  return { ...result("finish", { pass }), stored: target };
}

async function wrapBatch(env: Env, shards: Shards, config: Config, target: number, p: RekeyProgress, batchSize: number, now: number) {
  const keying = await keyingOf(env, shards);
  const rows = await scanOldRows(shards[p.shard]!, await headVersion(shards), target - 1, p.afterK, p.afterId, batchSize);
  let moved = 0;
  if (rows.length > 0) {
    const wrapped = splitPseudonyms(keying.chain.wrap(rows.map((r) => r.bytes), target - 1));
    // Into the S2 index first, under the new keys, for what a sync may still have to learn.
    const recent = wrapped.filter((_, i) => rows[i]!.at >= now - config.s2DeltaMs - MARGIN_MS);
    await noteChanges(env, config, await bucketEpoch(shards, config), recent, now);
    moved = await moveRows(shards, p.shard, rows, wrapped, target - 1);
  }
  const last = rows.at(-1);
  await saveRekeyProgress(shards, p, last?.k ?? p.afterK, last?.bytes ?? p.afterId, rows.length < batchSize, rows.length);
  return { shard: p.shard, scanned: rows.length, moved };
}

const passDone = (pass: RekeyProgress[]) => pass.reduce((sum, p) => sum + (p.done ? 1 : Math.max(0, p.afterK) / KEY_RANGE), 0) / pass.length;

export interface RekeyStatus {
  target: number;
  stored: number;
  fingerprint: string;
  progress: { pass: number; shard: number; done: boolean; found: number; keyShare: number }[];
}

export async function rekeyStatus(env: Env, shards: Shards): Promise<RekeyStatus> {
  const keying = await keyingOf(env, shards);
  const [stored, progress] = await Promise.all([storedKeyVersion(shards), readRekeyProgress(shards, keying.version)]);
  return {
    target: keying.version,
    stored,
    fingerprint: keying.chain.fingerprint(),
    progress: progress.map((p) => ({ pass: p.pass, shard: p.shard, done: p.done, found: p.found, keyShare: p.done ? 1 : Math.max(0, p.afterK) / KEY_RANGE })),
  };
}
