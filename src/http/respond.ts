// What an outcome becomes in HTTP: its status, `Retry-After` when waiting can help, `Server-Timing`
// and `ICD-Costs` for an answered sync.

import { type Outcome, Result, encodeResponse } from "../core/wire";

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

export function toHttpResponse(o: Outcome): Response {
  const headers: Record<string, string> = { "Content-Type": "application/x-protobuf" };
  if (o.retryAfterSeconds !== undefined) headers["Retry-After"] = String(o.retryAfterSeconds);
  if (o.noveltyRoom !== undefined) headers["ICD-Novelty-Room"] = String(o.noveltyRoom);
  const timings = { ...o.timings, ...(o.sqlMs !== undefined ? { sql: o.sqlMs } : {}) };
  if (Object.keys(timings).length > 0) headers["Server-Timing"] = Object.entries(timings).map(([step, ms]) => `${step};dur=${ms.toFixed(2)}`).join(", ");
  if (o.costs) {
    const c = o.costs;
    headers["ICD-Costs"] = `d1-calls=${c.d1Calls}, d1-rows=${c.d1RowsRead}, d1-rows-written=${c.d1RowsWritten}, object-calls=${c.objectCalls}, object-rows-read=${c.objectRowsRead}, object-rows-written=${c.objectRowsWritten}, client-rows-written=${c.clientRowsWritten}`;
  }
  return new Response(encodeResponse(o), { status: httpStatus(o), headers });
}
