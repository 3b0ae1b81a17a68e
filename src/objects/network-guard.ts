// One Durable Object per client network (IPv4 address, IPv6 /64, or "asn:N"): the exact registration
// bucket, the network rule's new clients a day, and egress per day (docs/detection.md). Verdicts' effects: src/domain/admission.ts.

import { DurableObject } from "cloudflare:workers";
import { type Admission, type GuardState, admitToNetwork, throttleOf } from "../core/admission";
import { type ChargeOutcome, chargeBucket } from "../core/bucket";
import { configOf } from "../core/config";
import { revealToNetwork } from "../core/egress";
import { HOUR_MS } from "../core/time";

export type { Admission } from "../core/admission";

export class NetworkGuard extends DurableObject<Env> {
  /** Exact, unlike the rate-limiting binding that counts every other request (src/http/guard.ts). */
  async register(now: number = Date.now()): Promise<ChargeOutcome> {
    const throttled = throttleOf(this.guardState().throttledUntil, now);
    if (throttled) return throttled;
    const capacity = configOf(this.env).guardRegistrationsPerHour;
    const outcome = chargeBucket({ capacity, drainMs: HOUR_MS }, this.ctx.storage.kv.get<number>("registrations") ?? 0, 1, now);
    if (outcome.ok) {
      this.ctx.storage.kv.put("registrations", outcome.emptyAt);
      await this.scheduleSweep();
    }
    return outcome;
  }

  async admitNewClient(perDay: number, now: number = Date.now()): Promise<Admission & { throttledNow?: { accounts: number } }> {
    const { admission, newClients, throttledUntil } = admitToNetwork(this.guardState(), perDay, now);
    if (newClients !== undefined) this.ctx.storage.kv.put("newClients", newClients);
    if (throttledUntil !== undefined) this.ctx.storage.kv.put("throttledUntil", throttledUntil);
    if (newClients !== undefined || throttledUntil !== undefined) await this.scheduleSweep();
    return admission;
  }

  async reveal(revealed: number, perDay: number, now: number = Date.now()): Promise<{ throttledNow: { revealed: number } | null }> {
    const kv = this.ctx.storage.kv;
    const next = revealToNetwork({ revealedEmptyAt: kv.get<number>("revealed") ?? 0, throttledUntil: this.guardState().throttledUntil }, revealed, perDay, now);
    kv.put("revealed", next.revealedEmptyAt);
    if (next.throttledUntil > 0) kv.put("throttledUntil", next.throttledUntil);
    await this.scheduleSweep();
    return { throttledNow: next.throttledNow };
  }

  private guardState(): GuardState {
    return { newClients: this.ctx.storage.kv.get<number>("newClients") ?? 0, throttledUntil: this.ctx.storage.kv.get<number>("throttledUntil") ?? 0 };
  }

  private latest(): number {
    return Math.max(...["registrations", "newClients", "throttledUntil", "revealed"].map((key) => this.ctx.storage.kv.get<number>(key) ?? 0));
  }

  private async scheduleSweep(): Promise<void> {
    const latest = this.latest();
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < latest) await this.ctx.storage.setAlarm(latest);
  }

  override async alarm(): Promise<void> {
    const latest = this.latest();
    if (latest <= Date.now()) await this.ctx.storage.deleteAll();
    else await this.ctx.storage.setAlarm(latest);
  }
}

export const guardOf = (env: Env, key: string) => env.NETWORK_GUARD.get(env.NETWORK_GUARD.idFromName(key));
