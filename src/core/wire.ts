// The wire format: decoding and validating a Request, encoding a Response. Pure: no bindings. What
// an outcome becomes in HTTP (status, Retry-After, Server-Timing) is src/http/respond.ts.

import { ICD } from "../proto/icd.js";
import { fromHex } from "./hex";

export const Result = ICD.Response.Result;
export type Result = ICD.Response.Result;

export const MAX_IDENTIFIER_BYTES = 64;
export const MAX_TOKEN_BYTES = 256;

export interface ParsedRequest {
  user: Uint8Array;
  authToken: Uint8Array;
  identifiers: Uint8Array[];
}

/** Shared monitor calls aside. */
/** What a sync is billed for, as the platform counts it (docs/scaling.md, "What one sync costs"). */
export interface SyncCosts {
  d1Calls: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  /** Durable Object requests, and the rows of their SQL storage they read and wrote (an alarm set counts as one). */
  objectCalls: number;
  objectRowsRead: number;
  objectRowsWritten: number;
  /** Of those, the rows written in the client's own object. */
  clientRowsWritten: number;
}

export const noCosts = (): SyncCosts => ({ d1Calls: 0, d1RowsRead: 0, d1RowsWritten: 0, objectCalls: 0, objectRowsRead: 0, objectRowsWritten: 0, clientRowsWritten: 0 });

export function addCosts(into: SyncCosts, more: Partial<SyncCosts>): SyncCosts {
  for (const [key, value] of Object.entries(more) as [keyof SyncCosts, number][]) into[key] += value;
  return into;
}

export interface Outcome {
  result: Result;
  added?: Uint8Array[];
  removed?: Uint8Array[];
  retryAfterSeconds?: number;
  /** Refused by the novelty limit: how many new identifiers fit now (`ICD-Novelty-Room`). */
  noveltyRoom?: number;
  /** Sent in `Server-Timing` and `ICD-Costs` (docs/protocol.md, docs/scaling.md). */
  sqlMs?: number;
  timings?: Record<string, number>;
  costs?: SyncCosts;
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

export const isIdentifier = (id: Uint8Array) => id.length > 0 && id.length <= MAX_IDENTIFIER_BYTES;
export const isToken = (token: Uint8Array) => token.length > 0 && token.length <= MAX_TOKEN_BYTES;
/** The SHA-256 of a token, as the account service may send it instead of the token. */
export const TOKEN_HASH_BYTES = 32;

export function identifierFromHex(text: unknown): Uint8Array | null {
  const id = typeof text === "string" ? fromHex(text) : null;
  return id && isIdentifier(id) ? id : null;
}

export interface ParseOptions {
  identifiers: boolean;
  /** Only the local /test/add/many hook does without. */
  credentials: boolean;
}

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
  const credentialsValid = isIdentifier(user) && isToken(authToken);
  const valid = (credentialsValid || !options.credentials) && identifiers.every(isIdentifier);
  return valid ? { user, authToken, identifiers } : outcome(Result.REQUEST_DATA_INVALID);
}

export function isOutcome(value: ParsedRequest | Outcome): value is Outcome {
  return "result" in value;
}

export function encodeResponse(o: Outcome): Uint8Array {
  return ICD.Response.encode({
    result: o.result,
    addedUsers: o.added ?? [],
    removedUsers: o.removed ?? [],
  }).finish();
}
