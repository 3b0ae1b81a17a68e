// Address-book files: CSV and vCard parsing of the client library (client/src/contacts.ts).

import { describe, expect, it } from "vitest";
import { normaliseAll, parseContacts, parseCsv, parseVCard } from "../../client/index";

const phones = (text: string) => parseContacts(text).contacts.map((c) => c.phone);

describe("CSV", () => {
  it("parses quoted fields with delimiters, doubled quotes and line breaks, CRLF or LF", () => {
    expect(parseCsv('a,"b,c","say ""hi"""\r\n"multi\nline",2,3\n\n')).toEqual([
      ["a", "b,c", 'say "hi"'],
      ["multi\nline", "2", "3"],
    ]);
  });

  it("detects ; and tab as delimiters", () => {
    expect(parseCsv("name;phone\nBea;030 1234567\n")).toEqual([["name", "phone"], ["Bea", "030 1234567"]]);
    expect(parseCsv("name\tphone\nBea\t030 1234567")).toEqual([["name", "phone"], ["Bea", "030 1234567"]]);
  });

  it("reads a single column of numbers without a header", () => {
    expect(phones("030 1234567\n+49 30 7654321\n0049 151 23456789\n")).toEqual(["030 1234567", "+49 30 7654321", "0049 151 23456789"]);
  });

  it("reads a single column with a header", () => {
    expect(phones("Telefon\n030 1234567\n(030) 765-4321\n")).toEqual(["030 1234567", "(030) 765-4321"]);
  });

  it("finds the phone column by its header among other columns, with names", () => {
    const text = 'id,name,zip,Mobile Phone,email\n1,Bea,10115,"+49 (0)151 234-56789",bea@example.com\n2,"Doe, John",80331,030 1234567,\n';
    expect(parseContacts(text)).toEqual({
      format: "csv",
      contacts: [
        { phone: "+49 (0)151 234-56789", name: "Bea" },
        { phone: "030 1234567", name: "Doe, John" },
      ],
    });
  });

  it("without a known header takes the column that holds phone numbers, not postcodes or ids", () => {
    const text = "1,10115,Bea,030 1234567\n2,80331,Carl,+49 30 7654321\n3,20095,Dan,\n";
    expect(phones(text)).toEqual(["030 1234567", "+49 30 7654321"]);
    expect(phones("who,how\nBea,030 1234567\nCarl,+49 30 7654321\n")).toEqual(["030 1234567", "+49 30 7654321"]);
  });

  it("reads every phone column of an export, and several numbers in one cell", () => {
    const text =
      "Name,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value\n" +
      "Bea,Mobile,+49 151 23456789 ::: 030 1234567,Work,+49 30 7654321\n";
    expect(phones(text)).toEqual(["+49 151 23456789", "030 1234567", "+49 30 7654321"]);
  });

  it("turns mixed national and international formats into the same numbers", () => {
    const text = "number\n030 1234567\n+49 30 1234567\n0049 30 1234567\n(030) 123-4567\n+44 20 7946 0958\nnot a number\n";
    expect(normaliseAll(phones(text), "DE")).toEqual({ numbers: ["+49301234567", "+442079460958"], invalid: ["not a number"] });
  });

  it("finds nothing in a file without numbers", () => {
    expect(phones("name,email\nBea,bea@example.com\n")).toEqual([]);
    expect(phones("")).toEqual([]);
  });
});

describe("vCard", () => {
  const vcf = [
    "BEGIN:VCARD",
    "VERSION:3.0",
    "N:Doe;John;;;",
    "FN:John Doe",
    "TEL;TYPE=CELL:+49 151 23456789",
    "item1.TEL;type=pref:030 1234567",
    "item1.X-ABLabel:home",
    "END:VCARD",
    "BEGIN:VCARD",
    "VERSION:4.0",
    "FN:Bea\\, the second",
    'TEL;VALUE=uri;TYPE="voice,home":tel:+49-30-7654321;ext=12',
    "TEL;TYPE=WORK:+44 20 79",
    " 46 0958",
    "END:VCARD",
    "BEGIN:VCARD",
    "VERSION:2.1",
    "N:Nobody;Carl",
    "TEL;HOME;VOICE:(030) 111-1111",
    "END:VCARD",
    "BEGIN:VCARD",
    "FN:No phone",
    "EMAIL:x@example.com",
    "END:VCARD",
  ].join("\r\n");

  it("reads every TEL of every card with its name: types, groups, tel: URIs, folded lines", () => {
    expect(parseContacts(vcf)).toEqual({
      format: "vcard",
      contacts: [
        { phone: "+49 151 23456789", name: "John Doe" },
        { phone: "030 1234567", name: "John Doe" },
        { phone: "+49-30-7654321", name: "Bea, the second" },
        { phone: "+44 20 7946 0958", name: "Bea, the second" },
        { phone: "(030) 111-1111", name: "Carl Nobody" },
      ],
    });
  });

  it("normalises to E.164 with a default region", () => {
    expect(normaliseAll(parseVCard(vcf).map((c) => c.phone), "DE").numbers).toEqual([
      "+4915123456789",
      "+49301234567",
      "+49307654321",
      "+442079460958",
      "+49301111111",
    ]);
  });
});
