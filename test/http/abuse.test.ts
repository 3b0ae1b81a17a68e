// Proof under abuse: fuzzed bodies on every endpoint, a client hammering its own bucket, tokens
// guessed byte by byte, replays.

import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketsOf } from "../../src/objects/client-buckets";
import { countRows, encodeRequest, post, postRaw, randomIds, registered, stored as storedId } from "../helpers";

const ENDPOINTS = ["/user/register", "/user/delete", "/discovery/full", "/discovery/incremental"];

/** Bodies a client could send: random bytes, and valid requests truncated or with bytes changed. */
function bodies(valid: Uint8Array) {
  return fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.nat({ max: valid.length }).map((n) => valid.slice(0, n)),
    fc
      .array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 })
      .map((changes) => {
        const body = valid.slice();
        for (const [at, byte] of changes) body[at] = byte;
        return body;
      }),
  );
}

describe("fuzzed bodies", () => {
  it.each(ENDPOINTS)("%s never answers 5xx, always with a Response, and a refusal changes nothing", async (path) => {
    const sentinel = await registered();
    const valid = encodeRequest(sentinel, randomIds(3));
    // A bucket's whole state is its emptyAt, which moves only when charged. Read it as stored
    // (inspect at time 0 shows every stored emptyAt), not as it stands now: a bucket charged by an
    // earlier accepted body may drain, and its alarm delete it, between the two reads. Both reads are
    // then compared as they stand at one moment after the second, when a drained bucket is empty either
    // way; a refusal that charged, refunded or reset a bucket would still show (a charge of one contact
    // lasts seconds, the reads are milliseconds apart).
    const stored = async () => {
      const { full, incremental } = await bucketsOf(env, storedId(sentinel.user), 0).inspect(0);
      return [full.emptyAt, incremental.emptyAt];
    };
    const asOf = (emptyAts: number[], now: number) => emptyAts.map((emptyAt) => (emptyAt > now ? emptyAt : 0));
    await fc.assert(
      fc.asyncProperty(bodies(valid), async (body) => {
        const [usersBefore, bucketsBefore] = await Promise.all([countRows("SELECT count(*) AS n FROM users WHERE removed_at IS NULL"), stored()]);
        const answer = await postRaw(path, body); // throws if the body is not a Response
        expect(answer.status).toBeLessThan(500);
        expect(answer.contentType).toBe("application/x-protobuf");
        if (answer.status !== 200) {
          expect(await countRows("SELECT count(*) AS n FROM users WHERE removed_at IS NULL")).toBe(usersBefore);
          const bucketsAfter = await stored();
          const now = Date.now(); // taken after the second read, so not before any sweep it saw
          expect(asOf(bucketsAfter, now)).toEqual(asOf(bucketsBefore, now));
        }
        // A valid delete of the sentinel would end the run's premise: put it back.
        if (path === "/user/delete" && answer.status === 200) await post("/user/register", sentinel);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});

describe("a client hammering its own bucket", () => {
  it("never overspends with 100 parallel requests", async () => {
    const client = await registered();
    const answers = await Promise.all(Array.from({ length: 100 }, () => post("/discovery/full", client, randomIds(300))));
    const served = answers.filter((a) => a.status === 200).length;
    expect(served).toBe(Math.floor(20000 / 300));
    expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    expect((await bucketsOf(env, storedId(client.user), 0).inspect()).full.largestFit).toBe(20000 - served * 300);
  }, 60_000);

  it("pays for a replayed request like for any other", async () => {
    const client = await registered();
    const body = encodeRequest(client, randomIds(7000));
    for (let i = 0; i < 2; i++) expect((await postRaw("/discovery/full", body)).status).toBe(200);
    expect((await bucketsOf(env, storedId(client.user), 0).inspect()).full.largestFit).toBe(6000);
    expect((await postRaw("/discovery/full", body)).status).toBe(429);
  });
});

describe("guessing a token", () => {
  // Tokens are compared as SHA-256 hashes with crypto.subtle.timingSafeEqual, so where a guess
  // differs cannot change the time. This measures it end to end as well as the runtime's clock allows.
  it("takes as long to refuse a token wrong in its last byte as one wrong in its first", async () => {
    const client = await registered();
    const wrongAt = (i: number) => ({ user: client.user, authToken: client.authToken.map((b, j) => (j === i ? b ^ 0xff : b)) });
    const bodies = [wrongAt(0), wrongAt(15)].map((c) => encodeRequest(c, randomIds(1)));
    const samples: number[][] = [[], []];
    for (let round = 0; round < 40; round++) {
      for (const k of [0, 1]) {
        const started = performance.now();
        const response = await exports.default.fetch("https://icd.test/discovery/full", { method: "POST", body: bodies[k] });
        await response.arrayBuffer();
        expect(response.status).toBe(401);
        samples[k]!.push(performance.now() - started);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [first, last] = samples.map(median) as [number, number];
    expect(last / Math.max(first, 0.001)).toBeGreaterThan(0.5);
    expect(last / Math.max(first, 0.001)).toBeLessThan(2);
  }, 60_000);
});
