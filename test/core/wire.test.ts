// Request decoding and validation, identifier lengths, the body-size bound, response encoding.
import { describe, expect, it } from "vitest";
import { ICD } from "../../src/proto/icd.js";
import { MAX_IDENTIFIER_BYTES, Result, encodeResponse, isOutcome, maxRequestBytes, parseRequest } from "../../src/core/wire";

const discovery = { identifiers: true, credentials: true };
const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const encode = (req: ICD.Request.$Properties) => ICD.Request.encode(req).finish();
// The test pool turns on nodejs_compat, where protobufjs hands out Buffers: compare plain bytes.
const plain = (value: unknown): unknown =>
  ArrayBuffer.isView(value)
    ? [...(value as Uint8Array)]
    : Array.isArray(value)
      ? value.map(plain)
      : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
        : value;

describe("wire format", () => {
  it("decodes a Request", () => {
    const parsed = parseRequest(encode({ user: bytes(16), authToken: bytes(16, 2), identifiers: [bytes(32, 3)] }), discovery);
    expect(plain(parsed)).toEqual(plain({ user: bytes(16), authToken: bytes(16, 2), identifiers: [bytes(32, 3)] }));
  });

  it.each([
    ["not protobuf", new Uint8Array([0xff, 0xff, 0xff])],
    ["a truncated field", encode({ user: bytes(16), authToken: bytes(16) }).slice(0, 20)],
    ["an empty body (no user)", new Uint8Array(0)],
    ["no token", encode({ user: bytes(16) })],
    ["a user of 65 bytes", encode({ user: bytes(65), authToken: bytes(16) })],
    ["a token of 257 bytes", encode({ user: bytes(16), authToken: bytes(257) })],
    ["an identifier of 0 bytes", encode({ user: bytes(16), authToken: bytes(16), identifiers: [bytes(32), bytes(0)] })],
    ["an identifier of 65 bytes", encode({ user: bytes(16), authToken: bytes(16), identifiers: [bytes(65)] })],
  ])("refuses %s as REQUEST_DATA_INVALID", (_, body) => {
    const parsed = parseRequest(body, discovery);
    expect(isOutcome(parsed) && parsed.result).toBe(Result.REQUEST_DATA_INVALID);
  });

  it("accepts identifiers of 1 and 64 bytes", () => {
    const parsed = parseRequest(encode({ user: bytes(64), authToken: bytes(256), identifiers: [bytes(1), bytes(64)] }), discovery);
    expect(isOutcome(parsed)).toBe(false);
  });

  it("ignores identifiers where they are not used (register, delete)", () => {
    const body = encode({ user: bytes(16), authToken: bytes(16), identifiers: [bytes(0)] });
    expect(plain(parseRequest(body, { identifiers: false, credentials: true }))).toEqual(
      plain({ user: bytes(16), authToken: bytes(16), identifiers: [] }),
    );
  });

  it("bounds the body by the largest valid request, one identifier over the limit included", () => {
    const largest = encode({
      user: bytes(MAX_IDENTIFIER_BYTES),
      authToken: bytes(256),
      identifiers: Array.from({ length: 101 }, () => bytes(MAX_IDENTIFIER_BYTES)),
    });
    expect(maxRequestBytes(100)).toBe(largest.length);
  });

  it("encodes a bare error as the two bytes 08 02 and an empty success as nothing", () => {
    expect([...encodeResponse({ result: Result.RATE_LIMIT_EXCEEDED })]).toEqual([0x08, 0x02]);
    expect(encodeResponse({ result: Result.SUCCESS }).length).toBe(0);
  });
});
