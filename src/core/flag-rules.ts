// Enumeration detection for one client: the signals its Durable Object keeps (counters and a sketch,
// never a contact) and the rules that flag it (docs/detection.md). Pure, shared with `npm run simulate`.

import type { BucketKind } from "./bucket";
import type { DetectionConfig } from "./config";
import type { NormSample } from "./hit-ratio-norm";
import { emptySketch, estimateDistinct, mergeSketch } from "./hyperloglog";
import { DAY_MS } from "./time";

/** Unless the client is flagged. */
export const SIGNALS_RETENTION_MS = 30 * DAY_MS;
export const MAX_SAMPLES = 32;

/** A full sync that leaves less than this share of the bucket free was sized to the bucket, not to an address book. */
export const EDGE_MARGIN = 0.05;
export const EDGE_SHARE = 0.75;

export interface Signals {
  firstAt: number;
  lastAt: number;
  requests: Record<BucketKind, number>;
  identifiers: Record<BucketKind, number>;
  matches: Record<BucketKind, number>;
  refusals: number;
  edgeFullSyncs: number;
  /** The sequential test's log-likelihood ratio (stepWalk); absent before the first step. */
  walk?: number;
  verdict?: WalkVerdict;
  /** Once judged, kept until the signals go. */
  judged?: boolean;
}

/** "novelty" is raised by the novelty limit when it charges (core/client-state.ts), the others after an answer. */
export type Rule = "distinct" | "hit-ratio" | "edge" | "novelty";

/** The sequential test's verdict (docs/detection.md, "The sequential test"); the walk never flags. */
export type WalkVerdict = "honest" | "open" | "suspect";

const walkBounds = (error: number) => ({ low: Math.log(error / (1 - error)), high: Math.log((1 - error) / error) });

/** Clamped to its bounds, so it follows a change of behaviour within a few hundred identifiers. */
export function stepWalk(walk: number, identifiers: number, matches: number, normHitRatio: number, config: Pick<DetectionConfig, "hitRatioFactor" | "walkError">): number {
  const enumerator = Math.min(0.98, Math.max(1e-4, normHitRatio * config.hitRatioFactor));
  const honest = Math.min(0.99, Math.max(Math.min(normHitRatio, 2 * enumerator), enumerator * 1.01));
  const step = matches * Math.log(enumerator / honest) + (identifiers - matches) * Math.log((1 - enumerator) / (1 - honest));
  const { low, high } = walkBounds(config.walkError);
  return Math.min(high, Math.max(low, walk + step));
}

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

export const atEdge = (leftAfterCharge: number, capacity: number) => leftAfterCharge < EDGE_MARGIN * capacity;

export interface Answered {
  kind: BucketKind;
  identifiers: number;
  matches: number;
  edge: boolean;
}

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

export const recordRefusal = (signals: Signals, now: number): Signals => ({ ...signals, lastAt: now, refusals: signals.refusals + 1 });

const percent = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;

/** `normHitRatio` null (unknown) keeps the hit-ratio rule quiet. */
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

export interface Evidence {
  signals?: Signals | undefined;
  sketch?: Uint8Array | undefined;
  samples?: NormSample[] | undefined;
  flag?: Flag | undefined;
}

/** The evidence after an answered sync, and the flag it raises now if the client was not flagged already. */
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
