// One Durable Object per client network (IPv4 address or IPv6 /64): an exact leaky bucket of
// registrations, so that one network cannot mint accounts faster than GUARD_REGISTRATIONS_PER_HOUR.
// Every other request is counted by the cheaper rate-limiting binding (see src/routes/guard.ts).

import { DurableObject } from "cloudflare:workers";
import { type ChargeOutcome, chargeBucket } from "./bucket";
import { configOf } from "./config";

const HOUR_MS = 3_600_000;

export class NetworkGuard extends DurableObject<Env> {
  /** Takes one registration from this network's hourly allowance, or refuses with the honest wait. */
  async register(now: number = Date.now()): Promise<ChargeOutcome> {
    const capacity = configOf(this.env).guardRegistrationsPerHour;
    const emptyAt = this.ctx.storage.kv.get<number>("registrations") ?? 0;
    const outcome = chargeBucket({ capacity, drainMs: HOUR_MS }, emptyAt, 1, now);
    if (outcome.ok) {
      this.ctx.storage.kv.put("registrations", outcome.emptyAt);
      await this.ctx.storage.setAlarm(outcome.emptyAt);
    }
    return outcome;
  }

  override async alarm(): Promise<void> {
    const emptyAt = this.ctx.storage.kv.get<number>("registrations") ?? 0;
    if (emptyAt <= Date.now()) await this.ctx.storage.deleteAll();
    else await this.ctx.storage.setAlarm(emptyAt);
  }
}
