// One Durable Object per client network (IPv4 address, IPv6 /64, or autonomous system "asn:N"):
// - an exact leaky bucket of registrations, so that one network cannot mint accounts faster than
//   GUARD_REGISTRATIONS_PER_HOUR (every other request is counted by the cheaper rate-limiting
//   binding, see src/http/guard.ts);
// - the network rule of enumeration detection: new clients (a client's first sync) per day. Past
//   DETECT_NETWORK_ACCOUNTS_PER_DAY (DETECT_ASN_ACCOUNTS_PER_DAY for an ASN) the network is
//   throttled for a day: no registrations and no new clients from it; clients it already had are
//   untouched, since they have done nothing suspicious themselves.
// - egress control: users revealed to its clients not yet judged, per day (src/core/egress.ts); past
//   EGRESS_NETWORK_PER_DAY (EGRESS_ASN_PER_DAY) it gets no new clients until that has drained.
// What the guard's verdicts lead to (alerts, audit) is src/domain/admission.ts.

import { DurableObject } from "cloudflare:workers";
import { type Admission, type GuardState, admitToNetwork, throttleOf } from "../core/admission";
import { type ChargeOutcome, chargeBucket } from "../core/bucket";
import { configOf } from "../core/config";
import { revealToNetwork } from "../core/egress";
import { HOUR_MS } from "../core/time";

export type { Admission } from "../core/admission";

export class NetworkGuard extends DurableObject<Env> {
  /** Takes one registration from this network's hourly allowance, or refuses with the honest wait. */
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

  /**
   * Counts a new client of this network against its daily allowance. Refuses while the network is
   * throttled; the client that goes over the allowance throttles it, and `throttledNow` says so once.
   */
  async admitNewClient(perDay: number, now: number = Date.now()): Promise<Admission & { throttledNow?: { accounts: number } }> {
    const { admission, newClients, throttledUntil } = admitToNetwork(this.guardState(), perDay, now);
    if (newClients !== undefined) this.ctx.storage.kv.put("newClients", newClients);
    if (throttledUntil !== undefined) this.ctx.storage.kv.put("throttledUntil", throttledUntil);
    if (newClients !== undefined || throttledUntil !== undefined) await this.scheduleSweep();
    return admission;
  }

  /**
   * Egress control: counts users revealed to unjudged clients of this network; past `perDay` the
   * network gets no new clients (admitNewClient refuses) until the count has drained below it.
   */
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

  /** When the last of this network's allowances and throttle runs out. */
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
