// A client's first sync admitted by its network's and ASN's guard objects, and what unjudged clients
// of a network were shown reported to them; a network newly throttled is alerted on and audited, once.

import { admissionGuards } from "../core/admission";
import type { Config } from "../core/config";
import { networkOf } from "../core/network";
import { writeAudit } from "../db/audit";
import { shardsOf } from "../db/shards";
import type { AdmissionVerdict } from "../objects/client-buckets";
import { guardOf } from "../objects/network-guard";
import { raiseAlert } from "./alerts";

export interface Origin {
  ip: string | undefined;
  asn: number | undefined;
}

export const networkKeys = (origin: Origin): string[] => [networkOf(origin.ip), ...(origin.asn !== undefined ? [`asn:${origin.asn}`] : [])];

export const admissionKeys = (config: Config, origin: Origin) => admissionGuards(config, networkOf(origin.ip), origin.asn);

/** A first sync's guards answered inside the client's object (ClientBuckets.sync): a network throttled by it is alerted on and audited. */
export async function alertOnAdmission(env: Env, config: Config, keys: [string, number][], verdicts: AdmissionVerdict[], now: number): Promise<void> {
  for (const [i, verdict] of verdicts.entries()) {
    if (!verdict.ok && verdict.throttledNow) {
      const [network, limit] = keys[i]!;
      const detail = { network, accounts: verdict.throttledNow.accounts, limit };
      await Promise.all([raiseAlert(env, config, network, { at: now, type: "network", detail }), writeAudit(shardsOf(env), now, "throttle-network", null, detail)]);
    }
  }
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
