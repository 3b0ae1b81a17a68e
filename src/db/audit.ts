// The audit log (on the first shard): every flag, network throttled and operator action, with
// identifiers only as keyed hashes, and who acted: the role and key id of the credential.

import type { Shards } from "./shards";

/** Who made a change; absent for what the service records by itself. */
export interface AuditActor {
  role: string;
  keyId: string;
}

export interface AuditEntry {
  at: number;
  action: string;
  subject: string | null;
  detail: string;
  role: string | null;
  keyId: string | null;
}

/** Appends to the audit log (on the first shard). */
export async function writeAudit(shards: Shards, at: number, action: string, subject: string | null, detail: object, actor?: AuditActor): Promise<void> {
  await shards[0]!
    .prepare(`INSERT INTO audit_log (at, action, subject, detail, role, key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`)
    .bind(at, action, subject, JSON.stringify(detail), actor?.role ?? null, actor?.keyId ?? null)
    .run();
}

/** The newest audit entries, newest first. */
export async function readAudit(shards: Shards, limit: number): Promise<AuditEntry[]> {
  const { results } = await shards[0]!
    .prepare(`SELECT at, action, subject, detail, role, key_id AS keyId FROM audit_log ORDER BY id DESC LIMIT ?1`)
    .bind(limit)
    .all<AuditEntry>();
  return results;
}
