// A client's first sync is admitted by the guard objects of its network and of its ASN (when the
// guard is on); a network that goes over its allowance here is alerted on and audited, once.

import { admissionGuards, firstRefusal } from "../core/admission";
import { configOf } from "../core/config";
import { networkOf } from "../core/network";
import { writeAudit } from "../db/audit";
import { shardsOf } from "../db/shards";
import { type Admission, guardOf } from "../objects/network-guard";
import { raiseAlert } from "./monitoring";

export interface Origin {
  ip: string | undefined;
  asn: number | undefined;
}

export async function admitNewClient(env: Env, origin: Origin, now: number): Promise<Admission> {
  const config = configOf(env);
  const keys = admissionGuards(config, networkOf(origin.ip), origin.asn);
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
