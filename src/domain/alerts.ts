// Alerts that belong to no client (a network throttled, an egress episode): kept by the monitor
// object of their key, which also sends them to ALERT_WEBHOOK_URL.

import type { Config } from "../core/config";
import { objectFor } from "../core/telemetry";
import { type Alert, monitorShard } from "../objects/monitor";

export async function raiseAlert(env: Env, config: Config, key: string, alert: Alert): Promise<void> {
  await monitorShard(env, objectFor(key, config.monitorShards)).raise(alert);
}
