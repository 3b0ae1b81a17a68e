// The local-development hooks of docs/protocol.md, as the reference's test suite uses them.

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_CREATE } from "../../src/http/routes/test-hooks";
import { Result, encodeRequest, hex, newClient, post, postRaw, randomIds, registered , countRows } from "../helpers";

const get = (path: string) => exports.default.fetch(`https://icd.test${path}`);
const userCount = () => countRows("SELECT count(*) AS n FROM users WHERE removed_at IS NULL");

describe("GET /test/create/<n>", () => {
  it("registers n random users", async () => {
    const before = await userCount();
    const response = await get("/test/create/2500");
    expect([response.status, await response.text()]).toEqual([200, "Success"]);
    expect((await userCount()) - before).toBe(2500);
  });

  it("answers 'Too many' above the cap and creates nobody", async () => {
    const before = await userCount();
    const response = await get(`/test/create/${MAX_CREATE + 1}`);
    expect([response.status, await response.text()]).toEqual([200, "Too many"]);
    expect(await userCount()).toBe(before);
  });

  it("makes identifiers of the length asked for (?bytes=), 16 by default, stored as 16-byte pseudonyms", async () => {
    const lengths = () => countRows("SELECT count(*) AS n FROM users WHERE length(id) = 16");
    const before = await lengths();
    expect(await (await get("/test/create/300?bytes=32")).text()).toBe("Success");
    expect((await lengths()) - before).toBe(300);
    for (const bytes of ["3", "65", "x", "1000"]) expect((await get(`/test/create/5?bytes=${bytes}`)).status).toBe(400);
  });

  it("refuses a count that is not a whole number with 400", async () => {
    for (const n of ["abc", "-5", "1e3", "99999999999"]) expect((await get(`/test/create/${n}`)).status).toBe(400);
  });
});

describe("POST /test/add/many", () => {
  it("registers every identifier, as added in S2", async () => {
    const client = await registered();
    const ids = randomIds(1000);
    const added = await postRaw("/test/add/many", encodeRequest({}, ids));
    expect(added).toMatchObject({ status: 200, result: Result.SUCCESS });
    const probe = [...ids.slice(0, 10), ...randomIds(10)];
    expect(hex((await post("/discovery/full", client, probe)).added)).toEqual(hex(ids.slice(0, 10)));
    expect(hex((await post("/discovery/incremental", client, probe)).added)).toEqual(hex(ids.slice(0, 10)));
  });

  it("answers a body that is not a Request with 400", async () => {
    expect((await postRaw("/test/add/many", new Uint8Array([0x1a, 0x40]))).status).toBe(400);
  });
});

describe("GET /reset", () => {
  it("removes every user and every bucket", async () => {
    const client = await registered();
    expect((await post("/discovery/full", client, randomIds(20000))).status).toBe(200);
    const response = await get("/reset");
    expect([response.status, await response.text()]).toEqual([200, "Success"]);
    expect(await userCount()).toBe(0);
    expect((await post("/discovery/full", client, randomIds(1))).status).toBe(401);
    expect((await post("/user/register", client)).status).toBe(200);
    expect((await post("/discovery/full", client, randomIds(20000))).status).toBe(200);
    expect((await post("/user/register", newClient())).status).toBe(200);
  });
});
