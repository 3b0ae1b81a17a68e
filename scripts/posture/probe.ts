// The outside half of `npm run posture -- --url URL`: asks a running deployment, as anyone on the
// internet could, whether it exposes what the configuration audit looks for. Read only: GET
// requests, a test hook asked with an argument it refuses, and a flood of requests to a path that
// does not exist (the network guard counts every request, whatever it asks for). With an operator
// credential, it also reads the fingerprint of the deployment's pseudonym key (probeKey) and compares
// it with the local keys: secrets cannot be read back, fingerprints can.

import { toHex } from "../../src/core/hex";
import { fingerprint, parseKeyEntries } from "./keys";
import type { Finding } from "./audit";

export interface ProbeReport {
  passed: string[];
  findings: Finding[];
}

export interface ProbeOptions {
  /** Requests in the flood; the guard allows 100 per 10 s per network. */
  flood?: number;
  /** Requests in flight at once during the flood. */
  concurrency?: number;
}

/** Admin paths that must refuse a caller without credentials, and headers that prove nothing. */
const ADMIN_PATHS = ["/admin/", "/admin", "/admin/metrics", "/admin/flagged", "/admin/audit", "/admin/users/import", "/admin/pseudonym-key", "/admin/no-such-path"];
const BOGUS = [
  {},
  { Authorization: "Bearer posture-probe.not-a-secret" },
  { Authorization: `Basic ${btoa("admin:admin")}` },
  { "Cf-Access-Jwt-Assertion": "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6InByb2JlQGV4YW1wbGUuY29tIn0." },
];

export async function probe(base: string, options: ProbeOptions = {}): Promise<ProbeReport> {
  const report: ProbeReport = { passed: [], findings: [] };
  const url = (path: string) => new URL(path, base).href;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(url(path), { headers, redirect: "manual" });
    await response.arrayBuffer();
    return response.status;
  };

  // The hooks are one switch (src/http/routes/test-hooks.ts): /test/create/<not a number> answers
  // 400 where they are on, and creates nothing; where they are off, every hook is 404.
  // A 429 is the guard still counting an earlier flood (a probe run moments ago): wait it out once.
  let hook = await get("/test/create/posture-probe");
  if (hook === 429) {
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    hook = await get("/test/create/posture-probe");
  }
  if (hook !== 404) report.findings.push({ check: "test-hooks", message: `GET /test/create/… answered ${hook}, not 404: the unauthenticated test hooks are reachable` });
  else report.passed.push("test hooks not reachable (404)");

  const open: string[] = [];
  for (const path of ADMIN_PATHS) {
    for (const headers of BOGUS) {
      const status = await get(path, headers as Record<string, string>);
      if (status !== 401) open.push(`${path} ${Object.keys(headers)[0] ?? "without credentials"} → ${status}`);
    }
  }
  if (open.length > 0) for (const line of open) report.findings.push({ check: "admin-open", message: `${line}, not 401` });
  else report.passed.push(`/admin/ refuses callers without credentials (401 on ${ADMIN_PATHS.length} paths, ${BOGUS.length} ways)`);

  const flood = options.flood ?? 300;
  const concurrency = options.concurrency ?? 8;
  let sent = 0;
  let throttled: { at: number; retryAfter: string | null } | undefined;
  const worker = async () => {
    while (sent < flood && !throttled) {
      const at = ++sent;
      const response = await fetch(url(`/posture-probe/flood/${at}`), { redirect: "manual" });
      await response.arrayBuffer();
      if (response.status === 429) throttled ??= { at, retryAfter: response.headers.get("Retry-After") };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (!throttled) report.findings.push({ check: "flood", message: `${flood} requests from one address in a row, none throttled (429): the network guard is off or not counting` });
  else report.passed.push(`a flood from one address is throttled (429 after ${throttled.at} requests, Retry-After ${throttled.retryAfter ?? "missing"})`);
  return report;
}

export interface KeyProbeOptions {
  /** An operator's credential (an Authorization header, or an Access service token's two headers). */
  headers?: Record<string, string>;
  /** PSEUDONYM_KEYS of local development (.dev.vars), every version of which is compared. */
  localKeys?: string;
  /** The service is local development itself (the top level audited): the same key is expected. */
  local: boolean;
}

/**
 * GET /admin/pseudonym-key as an operator, and the answer's fingerprint against each local key's:
 * a deployment whose current key is one a developer's checkout holds (any version of it) shares the
 * key, and its directory at rest is as safe as that checkout. Without a credential or a local key,
 * a note says what was not compared.
 */
export async function probeKey(base: string, options: KeyProbeOptions): Promise<ProbeReport & { notes: string[] }> {
  const report = { passed: [] as string[], findings: [] as Finding[], notes: [] as string[] };
  if (!options.headers) {
    report.notes.push("the pseudonym key was not compared: give an operator's key in ADMIN_KEY (or an Access service token in CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET)");
    return report;
  }
  const response = await fetch(new URL("/admin/pseudonym-key", base), { headers: options.headers, redirect: "manual" });
  const body = (await response.json().catch(() => null)) as { version?: unknown; fingerprint?: unknown } | null;
  if (response.status !== 200 || typeof body?.version !== "number" || typeof body.fingerprint !== "string") {
    report.notes.push(`the pseudonym key was not compared: GET /admin/pseudonym-key answered ${response.status}${response.status === 401 || response.status === 403 ? " (the credential is not an operator's there)" : ""}`);
    return report;
  }
  const service = `version ${body.version}, fingerprint ${body.fingerprint}`;
  let local: { version: number; fingerprint: string }[] = [];
  try {
    if (options.localKeys) local = parseKeyEntries(options.localKeys).map((e) => ({ version: e.version, fingerprint: fingerprint(`1:${toHex(e.key)}`) }));
  } catch {
    // a malformed local key: the configuration audit reports it (pseudonym-key-weak)
  }
  if (local.length === 0) {
    report.notes.push(`the service's pseudonym key (${service}) was not compared: no valid PSEUDONYM_KEYS in .dev.vars`);
    return report;
  }
  const same = local.find((k) => k.fingerprint === body.fingerprint);
  if (options.local) {
    if (same) report.passed.push(`the service runs the local pseudonym key (${service})`);
    else report.notes.push(`the service's pseudonym key (${service}) is none of .dev.vars's: is it the local service?`);
  } else if (same) {
    report.findings.push({ check: "pseudonym-key-shared", message: `the service's current pseudonym key (${service}) is version ${same.version} of the local key in .dev.vars: another environment holds it; make this one a key of its own (docs/keys.md)` });
  } else report.passed.push(`the service has a pseudonym key of its own (${service}), none of the local ones`);
  return report;
}
