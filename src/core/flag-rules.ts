// Enumeration detection for one client: the signals its Durable Object keeps, and the rules that flag it.
// Pure: no storage, `now` passed in, so the service and `npm run simulate` run the same code. What a
// client may be charged, given its signals and flag, is core/charge-policy.ts.
//
// Signals never hold a contact: counters, and a HyperLogLog sketch of the identifiers checked.

import type { BucketKind } from "./bucket";
import type { DetectionConfig } from "./config";
import type { NormSample } from "./hit-ratio-norm";
import { emptySketch, estimateDistinct, mergeSketch } from "./hyperloglog";
import { DAY_MS } from "./time";

/** Signals of a client outlive its last request by this long (unless it is flagged), then go. */
export const SIGNALS_RETENTION_MS = 30 * DAY_MS;
/** A client remembers its latest norm samples, to take them out of the norm if it is flagged. */
export const MAX_SAMPLES = 32;

/** A full sync that leaves less than this share of the bucket free was sized to the bucket, not to an address book. */
export const EDGE_MARGIN = 0.05;
/** The share of a client's full syncs that must be at the edge for the edge rule to fire. */
export const EDGE_SHARE = 0.75;

export interface Signals {
  firstAt: number;
  lastAt: number;
  requests: Record<BucketKind, number>;
  identifiers: Record<BucketKind, number>;
  matches: Record<BucketKind, number>;
  /** Requests refused for the budget (rate limit or quarantine). */
  refusals: number;
  /** Full syncs that took the bucket to within EDGE_MARGIN of its limit. */
  edgeFullSyncs: number;
  /** The sequential test's log-likelihood ratio over full-sync hits and misses (stepWalk); absent before the first step. */
  walk?: number;
  /** What the walk last decided: it holds until the walk reaches the other bound. */
  verdict?: WalkVerdict;
  /** Judged: minVolume checked in full syncs and the walk not suspect then. Kept until the signals go. */
  judged?: boolean;
}

export type Rule = "distinct" | "hit-ratio" | "edge";

/**
 * The sequential test (a threshold random walk, as in port-scan detection) on a client's full-sync
 * hits and misses: does it look up identifiers like an enumerator, whose hit ratio is at the flag
 * threshold (DETECT_HIT_RATIO_FACTOR x the norm), or like an address book, at twice that or more
 * (capped at the norm)? Each hit steps it by ln(t1 / t0), each miss by ln((1 - t1) / (1 - t0)); it is
 * kept between its two thresholds ln(e / (1 - e)) and ln((1 - e) / e), e = DETECT_WALK_ERROR, so
 * it follows a change of behaviour within a few hundred identifiers. Reaching the lower bound decides
 * the client honest-looking, the upper one suspect, and the verdict holds until the walk reaches
 * the other bound; before either it is open. Tens of identifiers decide an
 * address book at 40% registered; about a hundred an enumerator at the threshold. The walk never
 * flags (an honest CRM book at 10 to 15% registered walks like an enumerator); it sets the limits
 * of a client not yet judged during an egress episode, and a suspect client is not judged by
 * volume.
 */
export type WalkVerdict = "honest" | "open" | "suspect";

const walkBounds = (error: number) => ({ low: Math.log(error / (1 - error)), high: Math.log((1 - error) / error) });

/** The walk after a full sync of `identifiers` with `matches` hits, against the norm of the moment. */
export function stepWalk(walk: number, identifiers: number, matches: number, normHitRatio: number, config: Pick<DetectionConfig, "hitRatioFactor" | "walkError">): number {
  const enumerator = Math.min(0.98, Math.max(1e-4, normHitRatio * config.hitRatioFactor));
  const honest = Math.min(0.99, Math.max(Math.min(normHitRatio, 2 * enumerator), enumerator * 1.01));
  const step = matches * Math.log(enumerator / honest) + (identifiers - matches) * Math.log((1 - enumerator) / (1 - honest));
  const { low, high } = walkBounds(config.walkError);
  return Math.min(high, Math.max(low, walk + step));
}

/** The verdict after the walk moved to `walk`: a bound decides, in between the last decision holds. */
export function walkVerdict(walk: number, previous: WalkVerdict | undefined, config: Pick<DetectionConfig, "walkError">): WalkVerdict {
  const { low, high } = walkBounds(config.walkError);
  return walk <= low ? "honest" : walk >= high ? "suspect" : (previous ?? "open");
}

export interface Reason {
  rule: Rule;
  message: string;
  value: number;
  threshold: number;
}

export interface Flag {
  at: number;
  reasons: Reason[];
}

export const emptySignals = (now: number): Signals => ({
  firstAt: now,
  lastAt: now,
  requests: { full: 0, incremental: 0 },
  identifiers: { full: 0, incremental: 0 },
  matches: { full: 0, incremental: 0 },
  refusals: 0,
  edgeFullSyncs: 0,
});

/** Whether a charge of a full sync left the bucket at its edge. */
export const atEdge = (leftAfterCharge: number, capacity: number) => leftAfterCharge < EDGE_MARGIN * capacity;

export interface Answered {
  kind: BucketKind;
  identifiers: number;
  matches: number;
  edge: boolean;
}

/** The signals after an answered sync. */
export function recordAnswer(signals: Signals, answered: Answered, now: number): Signals {
  const { kind } = answered;
  return {
    ...signals,
    lastAt: now,
    requests: { ...signals.requests, [kind]: signals.requests[kind] + 1 },
    identifiers: { ...signals.identifiers, [kind]: signals.identifiers[kind] + answered.identifiers },
    matches: { ...signals.matches, [kind]: signals.matches[kind] + answered.matches },
    edgeFullSyncs: signals.edgeFullSyncs + (kind === "full" && answered.edge ? 1 : 0),
  };
}

/** The signals after a request refused for its budget. */
export const recordRefusal = (signals: Signals, now: number): Signals => ({ ...signals, lastAt: now, refusals: signals.refusals + 1 });

const percent = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;

/**
 * The rules a client's signals break. `distinct` is the sketch's estimate; `normHitRatio` is what
 * honest full syncs see in this directory (null while unknown, which keeps the hit-ratio rule quiet).
 */
export function evaluateRules(signals: Signals, distinct: number, normHitRatio: number | null, config: DetectionConfig): Reason[] {
  const reasons: Reason[] = [];
  if (distinct > config.maxDistinct) {
    reasons.push({
      rule: "distinct",
      value: distinct,
      threshold: config.maxDistinct,
      message: `checked about ${distinct} distinct identifiers, more than any address book (limit ${config.maxDistinct})`,
    });
  }
  const checked = signals.identifiers.full;
  if (normHitRatio !== null && checked >= config.minVolume) {
    const ratio = signals.matches.full / checked;
    const threshold = normHitRatio * config.hitRatioFactor;
    if (ratio < threshold) {
      reasons.push({
        rule: "hit-ratio",
        value: ratio,
        threshold,
        message: `${percent(ratio)} of ${checked} identifiers in full syncs were registered; honest clients here see ${percent(normHitRatio)} (flagged below ${percent(threshold)})`,
      });
    }
  }
  const fullSyncs = signals.requests.full;
  if (fullSyncs >= config.edgeSyncs && signals.edgeFullSyncs >= EDGE_SHARE * fullSyncs) {
    reasons.push({
      rule: "edge",
      value: signals.edgeFullSyncs / fullSyncs,
      threshold: EDGE_SHARE,
      message: `${signals.edgeFullSyncs} of ${fullSyncs} full syncs filled the bucket to within ${percent(EDGE_MARGIN)} of its limit`,
    });
  }
  return reasons;
}

/** What a client's object keeps as evidence: the signals, their sketch, its norm samples, its flag. */
export interface Evidence {
  signals?: Signals | undefined;
  sketch?: Uint8Array | undefined;
  samples?: NormSample[] | undefined;
  flag?: Flag | undefined;
}

/**
 * The evidence after an answered sync (its counts, the sketch of its identifiers, its norm sample),
 * and the flag it raises now, if the client was not flagged already and breaks a rule.
 */
export function observeAnswer(
  evidence: Evidence,
  answered: Answered,
  sketch: Uint8Array,
  sample: NormSample | null,
  normHitRatio: number | null,
  config: DetectionConfig,
  now: number,
): { signals: Signals; sketch: Uint8Array; samples: NormSample[]; newFlag: Flag | null } {
  let signals = recordAnswer(evidence.signals ?? emptySignals(now), answered, now);
  if (answered.kind === "full" && normHitRatio !== null) {
    const walk = stepWalk(signals.walk ?? 0, answered.identifiers, answered.matches, normHitRatio, config);
    const verdict = walkVerdict(walk, signals.verdict, config);
    const judged = signals.judged === true || (signals.identifiers.full >= config.minVolume && verdict !== "suspect");
    signals = { ...signals, walk, verdict, judged };
  }
  const merged = mergeSketch(evidence.sketch ?? emptySketch(), sketch);
  const samples = [...(evidence.samples ?? []), ...(sample ? [sample] : [])].slice(-MAX_SAMPLES);
  let newFlag: Flag | null = null;
  if (evidence.flag === undefined) {
    const reasons = evaluateRules(signals, estimateDistinct(merged), normHitRatio, config);
    if (reasons.length > 0) newFlag = { at: now, reasons };
  }
  return { signals, sketch: merged, samples, newFlag };
}
