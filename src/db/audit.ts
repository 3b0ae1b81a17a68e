// The audit log (on the first shard): every flag, network throttled and operator action, with
// identifiers only as keyed hashes.

import type { Shards } from "./shards";

/** Appends to the audit log (on the first shard). */
export async function writeAudit(shards: Shards, at: number, action: string, subject: string | null, detail: object): Promise<void> {
  await shards[0]!
    .prepare(`INSERT INTO audit_log (at, action, subject, detail) VALUES (?1, ?2, ?3, ?4)`)
    .bind(at, action, subject, JSON.stringify(detail))
    .run();
}

/** The newest audit entries, newest first. */
export async function readAudit(shards: Shards, limit: number): Promise<{ at: number; action: string; subject: string | null; detail: string }[]> {
  const { results } = await shards[0]!
    .prepare(`SELECT at, action, subject, detail FROM audit_log ORDER BY id DESC LIMIT ?1`)
    .bind(limit)
    .all<{ at: number; action: string; subject: string | null; detail: string }>();
  return results;
}
