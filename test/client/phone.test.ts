// Phone normalisation and identifier derivation of the client library (client/src/phone.ts, identifier.ts).

import { describe, expect, it } from "vitest";
import { IDENTIFIER_BYTES, fromHex, identifierOf, newToken, normaliseAll, normalisePhone, regionOf, toHex } from "../../client/index";

describe("normalisePhone", () => {
  it.each([
    ["030 1234567"],
    ["+49 30 1234567"],
    ["0049 30 1234567"],
    ["(030) 123-4567"],
    ["+49 (0)30 1234567"],
    ["030/123 45 67"],
    ["tel:+49-30-1234567"],
    ["  +49301234567  "],
  ])("reads %j with region DE as +49301234567", (text) => {
    expect(normalisePhone(text, "DE")).toBe("+49301234567");
  });

  it("takes the region for national numbers only: international ones keep their country", () => {
    expect(normalisePhone("020 7946 0958", "GB")).toBe("+442079460958");
    expect(normalisePhone("020 7946 0958", "DE")).toBe("+492079460958");
    expect(normalisePhone("+44 20 7946 0958", "DE")).toBe("+442079460958");
    expect(normalisePhone("(202) 555-0143", "us")).toBe("+12025550143");
    expect(normalisePhone("06 12 34 56 78", "FR")).toBe("+33612345678");
  });

  it("needs a region for a national number", () => {
    expect(normalisePhone("030 1234567")).toBeNull();
    expect(normalisePhone("+49 30 1234567")).toBe("+49301234567");
  });

  it("skips what is not a possible number", () => {
    for (const text of ["", "hello", "123", "+49 12", "phone", "+999 1234567", "12345678901234567890"]) {
      expect(normalisePhone(text, "DE"), text).toBeNull();
    }
  });

  it("accepts fictional numbers of a possible length (555 numbers)", () => {
    expect(normalisePhone("+1 555 123 4567")).toBe("+15551234567");
  });

  it("normaliseAll keeps distinct numbers in input order and lists the skipped inputs", () => {
    expect(normaliseAll(["030 1234567", "x", "+49 151 23456789", "0049 30 1234567", "12"], "DE")).toEqual({
      numbers: ["+49301234567", "+4915123456789"],
      invalid: ["x", "12"],
    });
  });

  it("regionOf gives the country of an E.164 number", () => {
    expect(regionOf("+49301234567")).toBe("DE");
    expect(regionOf("+442079460958")).toBe("GB");
    expect(regionOf("+12025550143")).toBe("US");
  });
});

describe("identifiers", () => {
  it("are SHA-256 of the E.164 string's UTF-8 bytes, all 32 bytes", async () => {
    const id = await identifierOf("+49301234567");
    expect(id).toHaveLength(IDENTIFIER_BYTES);
    // sha256 -n "+49301234567", computed outside the library.
    expect(toHex(id)).toBe("74bd805bcc47f8603082430ca056311389e38b74fcdfbc32bcb5c6a9269ff3bf");
  });

  it("are the same for every written form of a number", async () => {
    const forms = ["030 1234567", "+49 30 1234567", "0049 30 1234567", "(030) 123-4567"];
    const ids = await Promise.all(forms.map((f) => identifierOf(normalisePhone(f, "DE")!)));
    expect(new Set(ids.map(toHex)).size).toBe(1);
  });

  it("hex round-trips, and tokens are 32 fresh random bytes", () => {
    const bytes = new Uint8Array([0, 1, 127, 128, 255]);
    expect(toHex(bytes)).toBe("00017f80ff");
    expect(fromHex("00017f80ff")).toEqual(bytes);
    expect(() => fromHex("abc")).toThrow();
    const [a, b] = [newToken(), newToken()];
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
  });
});
