// What a client may be charged: its full-sync limit (probation, quarantine, egress episodes; docs/detection.md)
// and the charge decision. Pure, so that ClientBuckets and `npm run simulate` run the same code.

import { type BucketKind, bucketLevel, bucketPolicy, chargeBucket, largestFit } from "./bucket";
import type { Config } from "./config";
import { SIGNALS_RETENTION_MS, type Signals, atEdge } from "./flag-rules";
import type { NoveltyState } from "./novelty";

/** Capacity once judged, QUARANTINE_BUDGET of it when flagged, the probation limit before; during an episode a young client is held by its walk. */
export function fullSyncLimit(
  capacity: number,
  { flagged, vouched, signals }: Omit<ClientState, "emptyAt">,
  config: Pick<Config, "quarantineBudget" | "detection">,
  now?: number,
): number {
  if (flagged) return Math.floor(capacity * config.quarantineBudget);
  const { probationLimit, episodeLimit } = config.detection;
  const probation = Math.min(capacity, probationLimit);
  const usual = isJudged({ vouched, signals }, config) ? capacity : probation;
  if (episodeLimit === undefined || !isYoung({ vouched, signals }, config, now)) return usual;
  const verdict = signals?.verdict ?? "open";
  return verdict === "suspect" ? 0 : verdict === "open" ? Math.min(probation, episodeLimit) : probation;
}

/** Without `now` the age is not asked. */
export const isYoung = ({ vouched, signals }: Pick<ClientState, "vouched" | "signals">, config: Pick<Config, "detection">, now?: number) =>
  !vouched && (signals === undefined || (now !== undefined && now - signals.firstAt < config.detection.youngMs));

/** Signals recorded before the walk existed have no `judged`: the volume alone decides. */
export const isJudged = ({ vouched, signals }: Pick<ClientState, "vouched" | "signals">, config: Pick<Config, "detection">) =>
  vouched || (signals !== undefined && (signals.judged ?? signals.identifiers.full >= config.detection.minVolume));

export const isEstablished = (state: Pick<ClientState, "vouched" | "signals">, config: Pick<Config, "detection">, now?: number) =>
  state.vouched || (isJudged(state, config) && !isYoung(state, config, now));

/** A limit of at least the probation limit leaves the episode's response off (local development: alert only). */
export const withProbation = <C extends Pick<Config, "detection">>(config: C, limit: number | undefined): C =>
  limit === undefined || limit >= config.detection.probationLimit ? config : { ...config, detection: { ...config.detection, episodeLimit: limit } };

export interface ClientState {
  emptyAt: Record<BucketKind, number>;
  flagged: boolean;
  /** An operator cleared a flag: judged, whatever its fresh signals say. */
  vouched: boolean;
  signals: Signals | undefined;
  /** The client's sketch of every identifier it asked about, and its novelty limit's state (core/novelty.ts). */
  sketch?: Uint8Array | undefined;
  novelty?: NoveltyState | undefined;
}

export type ChargeDecision =
  | { ok: true; emptyAt: number; edge: boolean; flagged: boolean; fresh: boolean; judged: boolean; established: boolean }
  | { ok: false; retryAfterSeconds: number; noveltyRoom?: number }
  /** Over the client's limit (quarantine, probation, or more new identifiers than the novelty limit ever takes at once): waiting does not help, a smaller request or an operator may. */
  | { ok: false; capped: true; noveltyRoom?: number };

export function largestAllowed(config: Config, state: ClientState, kind: BucketKind, now: number): number {
  const policy = bucketPolicy(config, kind);
  const limit = kind === "full" ? fullSyncLimit(policy.capacity, state, config, now) : policy.capacity;
  return Math.max(0, Math.floor(limit - bucketLevel(policy, state.emptyAt[kind], now) + 1e-9));
}

/** The caller stores the new emptyAt. */
export function decideCharge(config: Config, state: ClientState, kind: BucketKind, n: number, now: number): ChargeDecision {
  const policy = bucketPolicy(config, kind);
  const limit = kind === "full" ? fullSyncLimit(policy.capacity, state, config, now) : policy.capacity;
  if (limit < n) return heldByEpisode(config, state, policy.capacity, n, limit, now) ? { ok: false, retryAfterSeconds: config.egress.calmMinutes * 60 } : { ok: false, capped: true };
  const outcome = chargeBucket(policy, state.emptyAt[kind], n, now, limit);
  if (!outcome.ok) return outcome;
  // No signals yet: its first request within the signals' retention.
  const edge = atEdge(largestFit(policy, outcome.emptyAt, now), policy.capacity);
  return { ok: true, emptyAt: outcome.emptyAt, edge, flagged: state.flagged, fresh: state.signals === undefined, judged: isJudged(state, config), established: isEstablished(state, config, now) };
}

/**
 * Held at nothing by an egress episode (a young client whose walk is suspect) where the request would
 * fit without it: no smaller request helps, the episode's end does, which takes EGRESS_CALM_MINUTES
 * at least. A client's library then waits, instead of halving its batch down to one and giving up.
 */
function heldByEpisode(config: Config, state: ClientState, capacity: number, n: number, limit: number, now: number): boolean {
  if (limit >= 1 || config.detection.episodeLimit === undefined) return false; // an incremental sync's limit is its capacity
  const calm = { ...config, detection: { ...config.detection, episodeLimit: undefined } };
  return fullSyncLimit(capacity, state, calm, now) >= n;
}

/** When the last thing worth keeping of a client expires: its later bucket's empty time, or its signals' retention. */
export const keepUntil = (emptyAt: Record<BucketKind, number>, signals: Signals | undefined) =>
  Math.max(emptyAt.full, emptyAt.incremental, signals ? signals.lastAt + SIGNALS_RETENTION_MS : 0);
