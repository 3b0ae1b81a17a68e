// Moving users to a new shard while the service answers (npm run reshard; the stages and why they are
// safe are in docs/scaling.md). Each step does one small piece and records it, so the command may be
// killed and restarted at any point, and a piece done twice changes nothing.

import { type Layout, layoutOfVersion, layoutVersion, shardOf } from "../core/sharding";
import { applyVersion, headVersion } from "../db/layout";
import { type Progress, clearProgress, copyBucketEpoch, deleteRows, readProgress, saveProgress, scanRows, startStage } from "../db/reshard";
import type { Shards } from "../db/shards";
import { copyRows } from "../db/user-routing";

export interface StepResult {
  action: "begin" | "copy" | "commit" | "clean" | "finish" | "none";
  layout: Layout;
  bound: number;
  /** From `to - 1` shards to `to`. */
  to?: number;
  /** For copy and clean: the old shard read, rows read, rows copied or deleted. */
  shard?: number;
  scanned?: number;
  changed?: number;
  /** 0 to 1, by key range (identifiers are spread evenly over keys). */
  stageDone?: number;
}

const KEY_RANGE = 2 ** 48;

/** `lane` of `lanes` (--parallel N): each works the old shards of its lane first, then helps the others. */
export async function reshardStep(shards: Shards, batchSize: number, lane = 0, lanes = 1): Promise<StepResult> {
  const version = await headVersion(shards);
  const layout = layoutOfVersion(version);
  const progress = await readProgress(shards);
  const result = (action: StepResult["action"], extra: Partial<StepResult> = {}, after = layout): StepResult => ({ action, layout: after, bound: shards.length, ...extra });

  if (!layout.moving) {
    const n = layout.count;
    const cleaning = progress.filter((p) => p.target === n && p.stage === "clean");
    const next = pick(cleaning, lane, lanes);
    if (next) return result("clean", { to: n, ...(await cleanBatch(shards, version, layout, next, batchSize)), stageDone: stageDone(cleaning) });
    if (cleaning.length > 0) {
      await clearProgress(shards, n);
      return result("finish", { to: n });
    }
    if (n >= shards.length) return result("none");
    // Begin n -> n + 1. The progress rows go first: if the command dies before the layout changes,
    // the next step begins again.
    await startStage(shards, n + 1, "copy", n);
    await copyBucketEpoch(shards[0]!, shards[n]!);
    const moving = { count: n, moving: true };
    await applyVersion(shards, layoutVersion(moving));
    return result("begin", { to: n + 1, stageDone: 0 }, moving);
  }

  const n = layout.count;
  const copyOf = (all: Progress[]) => all.filter((p) => p.target === n + 1 && p.stage === "copy");
  let copying = copyOf(progress);
  if (copying.length < n) {
    // Only if the progress was deleted by hand: begin wrote it before the layout changed.
    await startStage(shards, n + 1, "copy", n);
    copying = copyOf(await readProgress(shards));
  }
  const next = pick(copying, lane, lanes);
  if (next) return result("copy", { to: n + 1, ...(await copyBatch(shards, version, layout, next, batchSize)), stageDone: stageDone(copying) });
  // Commit. The clean-up's progress rows go first, for the same reason as at begin.
  await startStage(shards, n + 1, "clean", n);
  const moved = { count: n + 1, moving: false };
  await applyVersion(shards, layoutVersion(moved));
  return result("commit", { to: n + 1, stageDone: 0 }, moved);
}

async function copyBatch(shards: Shards, version: number, layout: Layout, p: Progress, batchSize: number) {
  const rows = await scanRows(shards[p.shard]!, version, p.afterK, p.afterId, batchSize);
  const moving = rows.filter((r) => shardOf(r.bytes, layout.count + 1) === layout.count);
  const changed = moving.length > 0 ? await copyRows(shards[layout.count]!, version, moving) : 0;
  await record(shards, p, rows, batchSize);
  return { shard: p.shard, scanned: rows.length, changed };
}

async function cleanBatch(shards: Shards, version: number, layout: Layout, p: Progress, batchSize: number) {
  const rows = await scanRows(shards[p.shard]!, version, p.afterK, p.afterId, batchSize);
  const moved = rows.filter((r) => shardOf(r.bytes, layout.count) === layout.count - 1); // on an old shard: an old copy
  const changed = await deleteRows(shards[p.shard]!, version, moved);
  await record(shards, p, rows, batchSize);
  return { shard: p.shard, scanned: rows.length, changed };
}

async function record(shards: Shards, p: Progress, rows: { k: number; bytes: Uint8Array }[], batchSize: number) {
  const last = rows.at(-1);
  await saveProgress(shards, p, last?.k ?? p.afterK, last?.bytes ?? p.afterId, rows.length < batchSize);
}

const pick = (stage: Progress[], lane: number, lanes: number) => stage.find((p) => !p.done && p.shard % lanes === lane) ?? stage.find((p) => !p.done);

const stageDone = (stage: Progress[]) => stage.reduce((sum, p) => sum + (p.done ? 1 : Math.max(0, p.afterK) / KEY_RANGE), 0) / stage.length;

export interface ReshardStatus {
  bound: number;
  layout: Layout;
  /** Null: none written yet. */
  shardVersions: (number | null)[];
  progress: { target: number; stage: string; shard: number; done: boolean; keyShare: number }[];
}

export async function reshardStatus(shards: Shards): Promise<ReshardStatus> {
  const [version, progress, shardVersions] = await Promise.all([
    headVersion(shards),
    readProgress(shards),
    Promise.all(shards.map((db) => db.prepare(`SELECT value FROM meta WHERE key = 'layout'`).first<number>("value"))),
  ]);
  return {
    bound: shards.length,
    layout: layoutOfVersion(version),
    shardVersions,
    progress: progress.map((p) => ({ target: p.target, stage: p.stage, shard: p.shard, done: p.done, keyShare: p.done ? 1 : Math.max(0, p.afterK) / KEY_RANGE })),
  };
}
