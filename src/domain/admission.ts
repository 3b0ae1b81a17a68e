// A client's first sync admitted by its network's and ASN's guard objects, and what unjudged clients
// of a network were shown reported to them; a network newly throttled is alerted on and audited, once.

import { admissionGuards, firstRefusal } from "../core/admission";
import { type Config, configOf } from "../core/config";
import { networkOf } from "../core/network";
import { writeAudit } from "../db/audit";
import { shardsOf } from "../db/shards";
import { type Admission, guardOf } from "../objects/network-guard";
import { raiseAlert } from "./alerts";

export interface Origin {
  ip: string | undefined;
  asn: number | undefined;
}

export const networkKeys = (origin: Origin): string[] => [networkOf(origin.ip), ...(origin.asn !== undefined ? [`asn:${origin.asn}`] : [])];

export const admissionKeys = (config: Config, origin: Origin) => admissionGuards(config, networkOf(origin.ip), origin.asn);

export async function admitNewClient(env: Env, origin: Origin, now: number): Promise<Admission> {
  const config = configOf(env);
  const keys = admissionKeys(config, origin);
  if (keys.length === 0) return { ok: true };
  const verdicts = await Promise.all(keys.map(([key, perDay]) => guardOf(env, key).admitNewClient(perDay, now)));
  for (const [i, verdict] of verdicts.entries()) {
    if (!verdict.ok && verdict.throttledNow) {
      const [network, limit] = keys[i]!;
      const detail = { network, accounts: verdict.throttledNow.accounts, limit };
      await Promise.all([raiseAlert(env, config, network, { at: now, type: "network", detail }), writeAudit(shardsOf(env), now, "throttle-network", null, detail)]);
    }
  }
  return firstRefusal(verdicts);
}

export async function reportEgress(env: Env, config: Config, networks: Record<string, number>, now: number): Promise<void> {
  await Promise.all(
    Object.entries(networks).map(async ([network, revealed]) => {
      const perDay = network.startsWith("asn:") ? config.egress.asnPerDay : config.egress.networkPerDay;
      const verdict = await guardOf(env, network).reveal(revealed, perDay, now);
      if (!verdict.throttledNow) return;
      const detail = { network, revealed: verdict.throttledNow.revealed, limit: perDay, reason: "egress" };
      await Promise.all([raiseAlert(env, config, network, { at: now, type: "egress", detail }), writeAudit(shardsOf(env), now, "throttle-network", null, detail)]);
    }),
  );
}
