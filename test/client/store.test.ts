// State stores of the client library (client/src/store.ts): the JSON document every store keeps.

import { describe, expect, it } from "vitest";
import { type State, KeyValueStore, MemoryStore, emptyState, parseState, serializeState } from "../../client/index";

const sample = (): State => ({
  version: 1,
  user: { phone: "+49301234567", token: "ab".repeat(32), registered: true },
  lastSync: 1_800_000_000_000,
  lastFullSync: 1_799_000_000_000,
  contacts: { "+49307654321": 1_800_000_000_000, "+4915123456789": null },
  registered: ["+49307654321"],
});

describe("state documents", () => {
  it("round-trip through JSON text", () => {
    expect(parseState(serializeState(sample()))).toEqual(sample());
    expect(parseState(serializeState(emptyState()))).toEqual(emptyState());
  });

  it.each([
    ["not JSON", "{"],
    ["another version", JSON.stringify({ ...sample(), version: 2 })],
    ["a token that is not hex", JSON.stringify({ ...sample(), user: { ...sample().user, token: "xyz" } })],
    ["a contact time that is not a number", JSON.stringify({ ...sample(), contacts: { "+49307654321": "yesterday" } })],
    ["registered that is not a list", JSON.stringify({ ...sample(), registered: "+49307654321" })],
  ])("refuse %s, so that a damaged state is never taken for a lost one", (_, text) => {
    expect(() => parseState(text)).toThrow();
  });
});

describe("stores", () => {
  it("MemoryStore starts empty and keeps a copy, not the caller's object", async () => {
    const store = new MemoryStore();
    expect(await store.load()).toBeNull();
    const state = sample();
    await store.save(state);
    state.registered.push("+49000");
    expect(await store.load()).toEqual(sample());
  });

  it("KeyValueStore keeps the JSON under its key, with a synchronous (localStorage) or asynchronous (AsyncStorage) storage", async () => {
    const map = new Map<string, string>();
    const syncStorage = { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) };
    const asyncStorage = { getItem: async (k: string) => map.get(k) ?? null, setItem: async (k: string, v: string) => void map.set(k, v) };
    const store = new KeyValueStore(syncStorage, "my-key");
    expect(await store.load()).toBeNull();
    await store.save(sample());
    expect(JSON.parse(map.get("my-key")!)).toEqual(sample());
    expect(await new KeyValueStore(asyncStorage, "my-key").load()).toEqual(sample());
    expect(await new KeyValueStore(asyncStorage).load()).toBeNull(); // default key "icd-state"
  });
});
