// HTTP transport: one ICD.Request POSTed, one ICD.Response decoded. The fetch is injectable (tests
// pass the Worker's own), so nothing here depends on a platform beyond fetch.

import { Result } from "../../src/core/wire";
import { ICD } from "../../src/proto/icd.js";

export { Result };

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** What the service answered, whatever the status. */
export interface Answer {
  status: number;
  result: number;
  added: Uint8Array[];
  removed: Uint8Array[];
  /** Seconds from Retry-After, null without one. */
  retryAfter: number | null;
  /** From ICD-Novelty-Room on a refusal by the novelty limit: how many identifiers never asked before fit now; null without one. */
  noveltyRoom: number | null;
}

/** An answer the client cannot use: a refusal, an unexpected status, or a body that is no Response. */
export class IcdError extends Error {
  /** HTTP status, 0 when there was no answer. */
  readonly status: number;
  readonly result: number | null;
  readonly retryAfter: number | null;

  constructor(message: string, details: { status?: number; result?: number; retryAfter?: number | null } = {}) {
    super(message);
    this.name = "IcdError";
    this.status = details.status ?? 0;
    this.result = details.result ?? null;
    this.retryAfter = details.retryAfter ?? null;
  }
}

/** Seconds to wait from a Retry-After header: a number of seconds or an HTTP date; null without one. */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null || header.trim() === "") return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

export class Transport {
  readonly server: string;
  private readonly fetch: FetchLike;
  private readonly now: () => number;

  constructor(options: { server?: string; fetch?: FetchLike; now?: () => number } = {}) {
    this.server = (options.server ?? "http://localhost:8787").replace(/\/+$/, "");
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? (() => Date.now());
  }

  /** POSTs a Request to `path` and decodes the Response, whatever the status. */
  async call(path: string, request: { user: Uint8Array; authToken: Uint8Array; identifiers?: Uint8Array[] }): Promise<Answer> {
    const body = ICD.Request.encode({ user: request.user, authToken: request.authToken, identifiers: request.identifiers ?? [] }).finish();
    const send = this.fetch;
    const response = await send(`${this.server}${path}`, {
      method: "POST",
      body: body as Uint8Array<ArrayBuffer>,
      headers: { "Content-Type": "application/x-protobuf" },
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    let decoded;
    try {
      decoded = ICD.Response.decode(bytes);
    } catch {
      const text = String.fromCharCode(...bytes.slice(0, 200));
      throw new IcdError(`${path}: HTTP ${response.status}, not an ICD response: ${JSON.stringify(text)}`, { status: response.status });
    }
    return {
      status: response.status,
      result: decoded.result ?? Result.SUCCESS,
      added: decoded.addedUsers ?? [],
      removed: decoded.removedUsers ?? [],
      retryAfter: parseRetryAfter(response.headers.get("Retry-After"), this.now()),
      noveltyRoom: parseCount(response.headers.get("ICD-Novelty-Room")),
    };
  }
}

/** A non-negative integer header, or null. */
function parseCount(value: string | null): number | null {
  if (value === null || !/^\d{1,9}$/.test(value.trim())) return null;
  return Number(value.trim());
}
