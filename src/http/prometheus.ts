// The Prometheus text exposition of GET /admin/metrics. Pure. Counters are the monitor's running
// totals; labels never carry identifiers.

import type { SeriesName } from "../core/telemetry";

const COUNTERS: [SeriesName, string, string][] = [
  ["syncs", "icd_syncs_total", "Syncs answered."],
  ["full", "icd_full_syncs_total", "Full syncs answered (against all registered users)."],
  ["incremental", "icd_incremental_syncs_total", "Incremental syncs answered (against recent changes)."],
  ["identifiers", "icd_identifiers_checked_total", "Identifiers checked in answered syncs."],
  ["matches", "icd_matches_total", "Identifiers answered as registered, added or removed."],
  ["refusals", "icd_refusals_total", "Syncs refused for the budget (rate limit or quarantine)."],
  ["flags", "icd_flags_total", "Clients flagged by the enumeration rules."],
];

export function prometheusText(
  totals: Record<SeriesName, number>,
  flagged: number,
  normHitRatio: number,
  shards: number,
  handedOver: { tallies: number; syncs: number },
): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, value: number) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  for (const [key, name, help] of COUNTERS) metric(name, "counter", help, totals[key]);
  metric("icd_flagged_clients", "gauge", "Clients flagged and not yet cleared by an operator.", flagged);
  metric("icd_norm_hit_ratio", "gauge", "Median hit ratio of honest full syncs, learned from the traffic.", normHitRatio);
  metric("icd_user_shards", "gauge", "D1 databases holding the users table.", shards);
  // Calls to shared objects per sync = icd_monitor_handovers_total / icd_monitor_handed_syncs_total.
  metric("icd_monitor_handovers_total", "counter", "Tallies the isolates handed to the monitor objects (one call each).", handedOver.tallies);
  metric("icd_monitor_handed_syncs_total", "counter", "Syncs counted in those tallies.", handedOver.syncs);
  return `${lines.join("\n")}\n`;
}
