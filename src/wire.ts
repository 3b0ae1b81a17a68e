// The wire format: decoding and validating a Request, encoding a Response, and the HTTP status of
// each outcome. Pure: no bindings.

import { ICD } from "./proto/icd.js";

export const Result = ICD.Response.Result;
export type Result = ICD.Response.Result;

export const MAX_IDENTIFIER_BYTES = 64;
export const MAX_TOKEN_BYTES = 256;

export interface ParsedRequest {
  user: Uint8Array;
  authToken: Uint8Array;
  identifiers: Uint8Array[];
}

/** What the service answers: a Result with its lists, and for a rate limit the honest wait. */
export interface Outcome {
  result: Result;
  added?: Uint8Array[];
  removed?: Uint8Array[];
  retryAfterSeconds?: number;
  /** Time the lookup's SQL took inside D1, sent as `Server-Timing: sql;dur=...` for operators. */
  sqlMs?: number;
  /** Milliseconds of each step of an answered sync, also sent in `Server-Timing`. */
  timings?: Record<string, number>;
  /** Overrides the status of `result`: 413 (too large) and 503 (try again) carry no Result of their own. */
  status?: 413 | 503;
}

export const outcome = (result: Result, extra: Omit<Outcome, "result"> = {}): Outcome => ({ result, ...extra });

function fieldBytes(length: number): number {
  const lengthVarint = length < 0x80 ? 1 : length < 0x4000 ? 2 : 3;
  return 1 + lengthVarint + length;
}

/** The size of the largest valid Request: anything longer is refused (413) before it is read whole. */
export function maxRequestBytes(maxContacts: number): number {
  return (
    fieldBytes(MAX_IDENTIFIER_BYTES) +
    fieldBytes(MAX_TOKEN_BYTES) +
    // One identifier more than allowed still decodes, so the client is told RATE_LIMIT_EXCEEDED.
    (maxContacts + 1) * fieldBytes(MAX_IDENTIFIER_BYTES)
  );
}

const isIdentifier = (id: Uint8Array) => id.length > 0 && id.length <= MAX_IDENTIFIER_BYTES;

export interface ParseOptions {
  /** Check and keep `identifiers`: register and delete ignore them. */
  identifiers: boolean;
  /** Require `user` and `auth_token`: only the local /test/add/many hook does without. */
  credentials: boolean;
}

/** Decodes a Request body; anything that is not a well-formed Request is REQUEST_DATA_INVALID. */
export function parseRequest(body: Uint8Array, options: ParseOptions): ParsedRequest | Outcome {
  let message: ICD.Request;
  try {
    message = ICD.Request.decode(body);
  } catch {
    return outcome(Result.REQUEST_DATA_INVALID);
  }
  const user = message.user ?? new Uint8Array(0);
  const authToken = message.authToken ?? new Uint8Array(0);
  const identifiers = options.identifiers ? (message.identifiers ?? []) : [];
  const credentialsValid = isIdentifier(user) && authToken.length > 0 && authToken.length <= MAX_TOKEN_BYTES;
  const valid = (credentialsValid || !options.credentials) && identifiers.every(isIdentifier);
  return valid ? { user, authToken, identifiers } : outcome(Result.REQUEST_DATA_INVALID);
}

export function isOutcome(value: ParsedRequest | Outcome): value is Outcome {
  return "result" in value;
}

export function httpStatus(o: Outcome): number {
  if (o.status) return o.status;
  switch (o.result) {
    case Result.SUCCESS:
      return 200;
    case Result.AUTHENTICATION_INVALID:
      return 401;
    case Result.RATE_LIMIT_EXCEEDED:
      return 429;
    default:
      return 400;
  }
}

export function encodeResponse(o: Outcome): Uint8Array {
  return ICD.Response.encode({
    result: o.result,
    addedUsers: o.added ?? [],
    removedUsers: o.removed ?? [],
  }).finish();
}

/** The HTTP response of an outcome, with `Retry-After` when waiting can help. */
export function toHttpResponse(o: Outcome): Response {
  const headers: Record<string, string> = { "Content-Type": "application/x-protobuf" };
  if (o.retryAfterSeconds !== undefined) headers["Retry-After"] = String(o.retryAfterSeconds);
  const timings = { ...o.timings, ...(o.sqlMs !== undefined ? { sql: o.sqlMs } : {}) };
  if (Object.keys(timings).length > 0) headers["Server-Timing"] = Object.entries(timings).map(([step, ms]) => `${step};dur=${ms.toFixed(2)}`).join(", ");
  return new Response(encodeResponse(o), { status: httpStatus(o), headers });
}
