// What a client may be charged: its full-sync limit (probation, quarantine, egress episodes) and the charge decision.
// Pure, like the rules whose signals it reads (core/flag-rules.ts): ClientBuckets and `npm run simulate` run the same code.

import { type BucketKind, bucketLevel, bucketPolicy, chargeBucket, largestFit } from "./bucket";
import type { Config } from "./config";
import { SIGNALS_RETENTION_MS, type Signals, atEdge } from "./flag-rules";

/**
 * The full-sync limit of a client: the bucket's capacity once it is judged (or an operator vouched
 * for it); a fraction of it while it is flagged (QUARANTINE_BUDGET; 0 refuses its full syncs
 * outright); the probation limit until then, so that a fresh account (of a Sybil crowd, say) cannot
 * take a whole bucket before the rules have looked at it. During an egress episode a young client
 * (its first sync less than DETECT_YOUNG_HOURS ago, judged or not) is held by its walk: suspect
 * gets nothing until the episode ends, open (a fresh account) the episode's limit, honest-looking
 * the probation limit. Older clients are served as outside an episode.
 */
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

/** Young: no operator vouched for it, and its first sync was less than DETECT_YOUNG_HOURS ago (or is this one). Without `now` the age is not asked. */
export const isYoung = ({ vouched, signals }: Pick<ClientState, "vouched" | "signals">, config: Pick<Config, "detection">, now?: number) =>
  !vouched && (signals === undefined || (now !== undefined && now - signals.firstAt < config.detection.youngMs));

/**
 * Whether a client has been judged: minVolume identifiers checked in full syncs while its walk was
 * not suspect (signals recorded before the walk existed: the volume alone), or an operator vouched
 * for it. Judged clients keep their whole bucket, egress episode or not.
 */
export const isJudged = ({ vouched, signals }: Pick<ClientState, "vouched" | "signals">, config: Pick<Config, "detection">) =>
  vouched || (signals !== undefined && (signals.judged ?? signals.identifiers.full >= config.detection.minVolume));

/**
 * Established: judged, and older than DETECT_YOUNG_HOURS since its first sync (or vouched for by an
 * operator). What full syncs show any other client is egress-accounted (src/core/egress.ts), so a
 * crowd of young accounts is seen even when each of them passed its own rules. Without `now` the
 * age is not asked.
 */
export const isEstablished = (state: Pick<ClientState, "vouched" | "signals">, config: Pick<Config, "detection">, now?: number) =>
  state.vouched || (isJudged(state, config) && !isYoung(state, config, now));

/**
 * The configuration of a sync during an egress episode (src/core/egress.ts): unjudged clients are
 * held as fullSyncLimit() says, with `limit` for those the walk has not decided. A limit of at
 * least the probation limit leaves the episode's response off (local development: alert only).
 */
export const withProbation = <C extends Pick<Config, "detection">>(config: C, limit: number | undefined): C =>
  limit === undefined || limit >= config.detection.probationLimit ? config : { ...config, detection: { ...config.detection, episodeLimit: limit } };

export interface ClientState {
  emptyAt: Record<BucketKind, number>;
  flagged: boolean;
  /** An operator cleared a flag of this client: it is judged, whatever its fresh signals say. */
  vouched: boolean;
  signals: Signals | undefined;
}

export type ChargeDecision =
  /** `judged`: the client was judged before this charge; `established`: judged and no longer young (what others reveal is egress-accounted). */
  | { ok: true; emptyAt: number; edge: boolean; flagged: boolean; fresh: boolean; judged: boolean; established: boolean }
  | { ok: false; retryAfterSeconds: number }
  /** Over the client's limit (quarantine or probation): waiting does not help, a smaller request or an operator may. */
  | { ok: false; capped: true };

/** The largest request of `kind` that decideCharge() would allow now. */
export function largestAllowed(config: Config, state: ClientState, kind: BucketKind, now: number): number {
  const policy = bucketPolicy(config, kind);
  const limit = kind === "full" ? fullSyncLimit(policy.capacity, state, config, now) : policy.capacity;
  return Math.max(0, Math.floor(limit - bucketLevel(policy, state.emptyAt[kind], now) + 1e-9));
}

/** What ClientBuckets.charge() decides for a client in `state`; the caller stores the new emptyAt. */
export function decideCharge(config: Config, state: ClientState, kind: BucketKind, n: number, now: number): ChargeDecision {
  const policy = bucketPolicy(config, kind);
  const limit = kind === "full" ? fullSyncLimit(policy.capacity, state, config, now) : policy.capacity;
  if (limit < n) return { ok: false, capped: true };
  const outcome = chargeBucket(policy, state.emptyAt[kind], n, now, limit);
  if (!outcome.ok) return outcome;
  // `fresh`: the client has no signals yet, so this is its first request (within the signals' retention).
  const edge = atEdge(largestFit(policy, outcome.emptyAt, now), policy.capacity);
  return { ok: true, emptyAt: outcome.emptyAt, edge, flagged: state.flagged, fresh: state.signals === undefined, judged: isJudged(state, config), established: isEstablished(state, config, now) };
}

/** When the last thing worth keeping of a client expires: its later bucket's empty time, or its signals' retention. */
export const keepUntil = (emptyAt: Record<BucketKind, number>, signals: Signals | undefined) =>
  Math.max(emptyAt.full, emptyAt.incremental, signals ? signals.lastAt + SIGNALS_RETENTION_MS : 0);
