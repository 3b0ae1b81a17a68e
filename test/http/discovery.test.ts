// POST /discovery/full and /discovery/incremental through the Worker: every rule of docs/protocol.md.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bucketsOf } from "../../src/objects/client-buckets";
import { maxRequestBytes } from "../../src/core/wire";
import { shardsOf } from "../../src/db/shards";
import { type Client, Result, encodeRequest, hex, newClient, post, postRaw, randomId, randomIds, registered, stored } from "../helpers";
import { fakeClock } from "../fake-clock";
import { DAY_MS, SECOND_MS } from "../../src/core/time";

const S2_DELTA = 10 * DAY_MS;

const { at } = fakeClock();
const fullLevel = async (client: Client) => (await bucketsOf(env, stored(client.user), 0).inspect(Date.now())).full.level;
const incrementalLevel = async (client: Client) => (await bucketsOf(env, stored(client.user), 0).inspect(Date.now())).incremental.level;

/** Full syncs of a whole bucket until one is refused, and that one's ICD-Costs. */
async function costs429(client: Awaited<ReturnType<typeof registered>>) {
  for (;;) {
    const response = await exports.default.fetch("https://icd.test/discovery/full", { method: "POST", body: encodeRequest(client, randomIds(20_000)) });
    const costs = Object.fromEntries(response.headers.get("ICD-Costs")!.split(", ").map((pair) => pair.split("=")).map(([k, v]) => [k, Number(v)]));
    if (response.status === 429) return costs;
    expect(response.status).toBe(200);
  }
}

describe("full sync", () => {
  it("answers the registered users among the identifiers, in request order", async () => {
    const client = await registered();
    const others = await Promise.all(Array.from({ length: 3 }, registered));
    const strangers = randomIds(3);
    const request = [strangers[0]!, others[2]!.user, others[0]!.user, strangers[1]!, others[2]!.user, others[1]!.user, strangers[2]!];
    const answer = await post("/discovery/full", client, request);
    expect(answer).toMatchObject({ status: 200, contentType: "application/x-protobuf", result: Result.SUCCESS, removed: [] });
    expect(hex(answer.added)).toEqual(hex([others[2]!.user, others[0]!.user, others[2]!.user, others[1]!.user]));
  });

  it("reports the time of each step, and of the lookup inside D1, in Server-Timing", async () => {
    const client = await registered();
    const response = await exports.default.fetch("https://icd.test/discovery/full", { method: "POST", body: encodeRequest(client, randomIds(100)) });
    expect(response.headers.get("Server-Timing")).toMatch(/^charge;dur=\d+\.\d\d, lookup;dur=\d+\.\d\d, object;dur=\d+\.\d\d, d1;dur=\d+\.\d\d, sql;dur=\d+\.\d\d$/);
  });

  it("reports what each sync cost in ICD-Costs: one call to the client's object writing one row, and no D1 call for an incremental sync outside S2", async () => {
    const client = await registered();
    const ids = randomIds(100);
    const costs = async (kind: string, body = encodeRequest(client, ids), status = 200) => {
      const response = await exports.default.fetch(`https://icd.test/discovery/${kind}`, { method: "POST", body });
      expect(response.status).toBe(status);
      return Object.fromEntries(response.headers.get("ICD-Costs")!.split(", ").map((pair) => pair.split("=")).map(([k, v]) => [k, Number(v)]));
    };
    const shards = shardsOf(env).length;
    const first = await costs("full"); // looked up first, then authenticated, charged and observed in one call
    expect(first).toMatchObject({ "object-calls": 1, "object-rows-written": 1, "client-rows-written": 1, "d1-rows-written": 0 });
    expect(first["d1-calls"]).toBeGreaterThanOrEqual(1);
    expect(first["d1-calls"]).toBeLessThanOrEqual(shards);
    expect(first["d1-rows"]).toBeGreaterThanOrEqual(100); // one key probe per identifier at least
    expect(await costs("full")).toMatchObject({ "object-calls": 1, "object-rows-written": 1, "object-rows-read": 0, "d1-calls": first["d1-calls"] });
    // The first incremental sync may find the S2 index unbuilt (D1 then answers, and the build runs after it).
    let incremental = await costs("incremental");
    for (let tries = 0; tries < 20 && incremental["d1-calls"] !== 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      incremental = await costs("incremental");
    }
    // The client's object and the S2 index; the index read its state and probed the keys.
    expect(incremental).toMatchObject({ "d1-calls": 0, "d1-rows": 0, "d1-rows-written": 0, "object-calls": 2, "client-rows-written": 1 });
    expect(incremental["object-rows-read"]).toBeGreaterThanOrEqual(1);
  });

  it("serves a client refused lately in strict order: charged before any lookup, observed by a second call", async () => {
    const client = await registered();
    await costs429(client); // looked up first: this one was unknown to the isolate
    const refused = await costs429(client); // now in strict order: no lookup
    expect(refused).toMatchObject({ "object-calls": 1, "d1-calls": 0, "object-rows-written": 1 }); // the refusal counted among its signals
    const response = await exports.default.fetch("https://icd.test/discovery/incremental", { method: "POST", body: encodeRequest(client, randomIds(10)) });
    expect(response.status).toBe(200);
    expect(response.headers.get("ICD-Costs")).toMatch(/object-calls=[23],.*client-rows-written=2$/); // the charge, (the index,) the observation
  });

  it("does not answer users who were deleted", async () => {
    const client = await registered();
    const gone = await registered();
    expect((await post("/user/delete", gone)).status).toBe(200);
    expect((await post("/discovery/full", client, [gone.user])).added).toEqual([]);
  });

  it("takes 20,000 identifiers of 32 bytes in one request", async () => {
    const client = await registered();
    const known = await registered();
    const ids = randomIds(20000);
    ids[12345] = known.user;
    const answer = await post("/discovery/full", client, ids);
    expect(answer.status).toBe(200);
    expect(hex(answer.added)).toEqual(hex([known.user]));
  });
});

describe("incremental sync (S2)", () => {
  it("reports users registered and removed within S2_DELTA, as added and removed", async () => {
    const client = await registered();
    const [added, removed, untouched] = [await registered(), await registered(), randomId()];
    await post("/user/delete", removed);
    const answer = await post("/discovery/incremental", client, [untouched, removed.user, added.user]);
    expect(answer.status).toBe(200);
    expect(hex(answer.added)).toEqual(hex([added.user]));
    expect(hex(answer.removed)).toEqual(hex([removed.user]));
  });

  it("lets the latest event win: register, delete and register again is added, not removed", async () => {
    const client = await registered();
    const flapping = await registered();
    at(1 * SECOND_MS);
    await post("/user/delete", flapping);
    at(2 * SECOND_MS);
    expect((await post("/user/register", flapping)).status).toBe(200);
    const answer = await post("/discovery/incremental", client, [flapping.user]);
    expect(hex(answer.added)).toEqual(hex([flapping.user]));
    expect(answer.removed).toEqual([]);
    // ...and deleting once more makes it removed, not added.
    await post("/user/delete", flapping);
    const again = await post("/discovery/incremental", client, [flapping.user]);
    expect(again.added).toEqual([]);
    expect(hex(again.removed)).toEqual(hex([flapping.user]));
  });

  it("forgets changes older than S2_DELTA", async () => {
    const client = await registered();
    const joined = await registered();
    const left = await registered();
    await post("/user/delete", left);
    at(S2_DELTA);
    const edge = await post("/discovery/incremental", client, [joined.user, left.user]);
    expect([hex(edge.added), hex(edge.removed)]).toEqual([hex([joined.user]), hex([left.user])]);
    at(S2_DELTA + 1);
    const after = await post("/discovery/incremental", client, [joined.user, left.user]);
    expect([after.added, after.removed]).toEqual([[], []]);
    // A full sync still finds the user who joined.
    expect(hex((await post("/discovery/full", client, [joined.user, left.user])).added)).toEqual(hex([joined.user]));
  });
});

describe("buckets", () => {
  it("lets 20 full syncs of 1,000 through and refuses the 21st, with a truthful Retry-After", async () => {
    const client = await registered();
    const ids = randomIds(1000);
    for (let i = 0; i < 20; i++) expect((await post("/discovery/full", client, ids)).status).toBe(200);
    const refused = await post("/discovery/full", client, ids.slice(0, 1));
    expect(refused).toMatchObject({ status: 429, result: Result.RATE_LIMIT_EXCEEDED, retryAfter: "44" });
    at(43 * SECOND_MS);
    expect((await post("/discovery/full", client, ids.slice(0, 1))).status).toBe(429);
    at(44 * SECOND_MS); // one contact per 43.2 s
    expect((await post("/discovery/full", client, ids.slice(0, 1))).status).toBe(200);
    expect((await post("/discovery/full", client, ids.slice(0, 1))).status).toBe(429);
  });

  it("frees one incremental contact every 4.32 s, and Retry-After says so", async () => {
    const client = await registered();
    expect((await post("/discovery/incremental", client, randomIds(20000))).status).toBe(200);
    const one = randomIds(1);
    expect((await post("/discovery/incremental", client, one)).retryAfter).toBe("5");
    at(4 * SECOND_MS);
    expect((await post("/discovery/incremental", client, one)).status).toBe(429);
    at(5 * SECOND_MS);
    expect((await post("/discovery/incremental", client, one)).status).toBe(200);
  });

  it("answers the Retry-After after which the same request fits, for a large request too", async () => {
    const client = await registered();
    await post("/discovery/full", client, randomIds(15000));
    at(100 * SECOND_MS);
    const request = randomIds(10000);
    const refused = await post("/discovery/full", client, request);
    const wait = Number(refused.retryAfter);
    expect(wait).toBe(Math.ceil((5000 * 43.2 - 100) / 1)); // 5,000 contacts must drain
    at(100 * SECOND_MS + (wait - 1) * SECOND_MS);
    expect((await post("/discovery/full", client, request)).status).toBe(429);
    at(100 * SECOND_MS + wait * SECOND_MS);
    expect((await post("/discovery/full", client, request)).status).toBe(200);
  });

  it("keeps the full and incremental buckets apart", async () => {
    const client = await registered();
    expect((await post("/discovery/incremental", client, randomIds(20000))).status).toBe(200);
    expect((await post("/discovery/full", client, randomIds(20000))).status).toBe(200);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(429);
    expect((await post("/discovery/incremental", client, randomIds(1))).status).toBe(429);
  });

  it("never overspends under 50 parallel requests from one client", async () => {
    const client = await registered();
    const answers = await Promise.all(Array.from({ length: 50 }, () => post("/discovery/full", client, randomIds(1000))));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(20);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(30);
    expect(await fullLevel(client)).toBe(20000);
  });

  it("survives delete and re-registration of the user", async () => {
    const client = await registered();
    expect((await post("/discovery/full", client, randomIds(20000))).status).toBe(200);
    expect((await post("/user/delete", client)).status).toBe(200);
    expect((await post("/user/register", client)).status).toBe(200);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(429);
  });
});

describe("refusals charge nothing", () => {
  it("refuses more than MAX_CONTACTS identifiers with 429 and no Retry-After: it can never fit", async () => {
    const client = await registered();
    const answer = await post("/discovery/full", client, randomIds(20001));
    expect(answer).toMatchObject({ status: 429, result: Result.RATE_LIMIT_EXCEEDED, retryAfter: null });
    expect(await fullLevel(client)).toBe(0);
  });

  it("answers no identifiers with an empty success, free", async () => {
    const client = await registered();
    const response = await exports.default.fetch("https://icd.test/discovery/incremental", { method: "POST", body: encodeRequest(client) });
    expect(response.status).toBe(200);
    expect((await response.arrayBuffer()).byteLength).toBe(0);
    expect(await incrementalLevel(client)).toBe(0);
  });

  it("refuses a wrong token, an unknown user and a deleted user with 401", async () => {
    const client = await registered();
    const deleted = await registered();
    await post("/user/delete", deleted);
    const wrongToken = { user: client.user, authToken: client.authToken.map((b, i) => (i === 15 ? b ^ 1 : b)) };
    for (const who of [wrongToken, newClient(), deleted]) {
      const answer = await post("/discovery/full", who, randomIds(10));
      expect(answer).toMatchObject({ status: 401, result: Result.AUTHENTICATION_INVALID, added: [] });
    }
    expect(await fullLevel(client)).toBe(0);
  });

  it.each([
    ["an identifier of 0 bytes", [randomId(), new Uint8Array(0)]],
    ["an identifier of 65 bytes", [randomId(), randomId(65)]],
  ])("refuses %s with 400 REQUEST_DATA_INVALID", async (_, ids) => {
    const client = await registered();
    const answer = await post("/discovery/full", client, ids);
    expect(answer).toMatchObject({ status: 400, result: Result.REQUEST_DATA_INVALID });
    expect(await fullLevel(client)).toBe(0);
  });

  it("takes identifiers of 1 and 64 bytes", async () => {
    const client = await registered();
    expect((await post("/discovery/full", client, [randomId(1), randomId(64)])).status).toBe(200);
  });

  it.each([
    ["random bytes", new Uint8Array([0xff, 0x13, 0x37, 0x00, 0x42])],
    ["a truncated request", encodeRequest(newClient(), randomIds(2)).slice(0, 40)],
    ["an empty body", new Uint8Array(0)],
  ])("answers %s with 400 REQUEST_DATA_INVALID", async (_, body) => {
    const answer = await postRaw("/discovery/full", body);
    expect(answer).toMatchObject({ status: 400, result: Result.REQUEST_DATA_INVALID, contentType: "application/x-protobuf" });
  });

  it("refuses a body larger than the largest valid request with 413, by its Content-Length", async () => {
    const client = await registered();
    const body = new Uint8Array(maxRequestBytes(20000) + 1);
    const answer = await postRaw("/discovery/full", body, { "Content-Length": String(body.length) });
    expect(answer).toMatchObject({ status: 413, result: Result.REQUEST_DATA_INVALID });
    expect(await fullLevel(client)).toBe(0);
  });

  it("refuses a streamed body with 413 as soon as it grows too large", async () => {
    const chunk = encodeRequest(newClient(), randomIds(1000, 64)); // about 66 KB a chunk
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent++;
        if (sent > 1000) controller.close(); // 66 MB if it were all read
        else controller.enqueue(chunk);
      },
    });
    const answer = await postRaw("/discovery/full", stream);
    expect(answer).toMatchObject({ status: 413, result: Result.REQUEST_DATA_INVALID });
    expect(sent).toBeLessThan(100);
  });

  it("needs no Content-Type, and ignores a wrong one", async () => {
    const client = await registered();
    const answer = await postRaw("/discovery/full", encodeRequest(client, randomIds(1)), { "Content-Type": "text/plain" });
    expect(answer.status).toBe(200);
  });
});

describe("routing", () => {
  it("answers a GET on an endpoint with 404, not 500", async () => {
    expect((await exports.default.fetch("https://icd.test/discovery/full")).status).toBe(404);
  });
});
