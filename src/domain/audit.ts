// Writing down what a credential changed: the action, the identifier only as a keyed hash, and
// who did it (the role it acted in and its key id).

import type { Config } from "../core/config";
import { type AuditActor, writeAudit } from "../db/audit";
import type { Shards } from "../db/shards";
import { subjectOf } from "./observation";

export async function recordChange(shards: Shards, config: Config, actor: AuditActor, now: number, action: string, id: Uint8Array | null, detail: object = {}): Promise<void> {
  const subject = id ? await subjectOf(config, id) : null;
  await writeAudit(shards, now, action, subject, detail, actor);
}
