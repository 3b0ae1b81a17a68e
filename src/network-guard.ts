// One Durable Object per client network (IPv4 address, IPv6 /64, or autonomous system "asn:N"):
// - an exact leaky bucket of registrations, so that one network cannot mint accounts faster than
//   GUARD_REGISTRATIONS_PER_HOUR (every other request is counted by the cheaper rate-limiting
//   binding, see src/routes/guard.ts);
// - the network rule of enumeration detection: new clients (a client's first sync) per day. Past
//   DETECT_NETWORK_ACCOUNTS_PER_DAY (DETECT_ASN_ACCOUNTS_PER_DAY for an ASN) the network is
//   throttled for a day: no registrations and no new clients from it; clients it already had are
//   untouched, since they have done nothing suspicious themselves.

import { DurableObject } from "cloudflare:workers";
import { type ChargeOutcome, chargeBucket } from "./bucket";
import { configOf, shardsOf } from "./config";
import { writeAudit } from "./db";
import { monitorOf } from "./monitor";
import { networkOf } from "./network";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

export class NetworkGuard extends DurableObject<Env> {
  /** Takes one registration from this network's hourly allowance, or refuses with the honest wait. */
  async register(now: number = Date.now()): Promise<ChargeOutcome> {
    const throttled = this.throttled(now);
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
    const throttled = this.throttled(now);
    if (throttled) return throttled;
    const emptyAt = this.ctx.storage.kv.get<number>("newClients") ?? 0;
    const outcome = chargeBucket({ capacity: perDay, drainMs: DAY_MS }, emptyAt, 1, now);
    if (outcome.ok) {
      this.ctx.storage.kv.put("newClients", outcome.emptyAt);
      await this.scheduleSweep();
      return { ok: true };
    }
    this.ctx.storage.kv.put("throttledUntil", now + DAY_MS);
    await this.scheduleSweep();
    return { ok: false, retryAfterSeconds: DAY_MS / 1000, throttledNow: { accounts: perDay + 1 } };
  }

  private throttled(now: number): { ok: false; retryAfterSeconds: number } | null {
    const until = this.ctx.storage.kv.get<number>("throttledUntil") ?? 0;
    return until > now ? { ok: false, retryAfterSeconds: Math.ceil((until - now) / 1000) } : null;
  }

  /** When the last of this network's allowances and throttle runs out. */
  private latest(): number {
    return Math.max(...["registrations", "newClients", "throttledUntil"].map((key) => this.ctx.storage.kv.get<number>(key) ?? 0));
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

export interface Origin {
  ip: string | undefined;
  asn: number | undefined;
}

export const guardOf = (env: Env, key: string) => env.NETWORK_GUARD.get(env.NETWORK_GUARD.idFromName(key));

/**
 * Admits a client's first sync from its network and its ASN (when the guard is on). A network that
 * goes over its allowance here is alerted on, once.
 */
export async function admitNewClient(env: Env, origin: Origin, now: number): Promise<Admission> {
  const config = configOf(env);
  if (!config.guard) return { ok: true };
  const keys: [string, number][] = [[networkOf(origin.ip), config.networkAccountsPerDay]];
  if (origin.asn !== undefined) keys.push([`asn:${origin.asn}`, config.asnAccountsPerDay]);
  const verdicts = await Promise.all(keys.map(([key, perDay]) => guardOf(env, key).admitNewClient(perDay, now)));
  for (const [i, verdict] of verdicts.entries()) {
    if (!verdict.ok && verdict.throttledNow) {
      const [network, limit] = keys[i]!;
      const detail = { network, accounts: verdict.throttledNow.accounts, limit };
      await Promise.all([monitorOf(env).networkThrottled(detail, now), writeAudit(shardsOf(env), now, "throttle-network", null, detail)]);
    }
  }
  return verdicts.find((v) => !v.ok) ?? { ok: true };
}
