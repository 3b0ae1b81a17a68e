// The ICD client library: no platform imports beyond fetch and WebCrypto (Node 20+, browsers,
// React Native with a crypto.subtle polyfill, workerd). TypeScript, sharing the service's pure
// modules (src/core); the Node-only JSON file store is in file-store.ts.

export { IcdClient, DEFAULTS, type ClientConfig, type ClientOptions, type Status, type SyncProgress, type SyncResult } from "./src/client";
export { normalisePhone, normaliseAll, regionOf } from "./src/phone";
export { identifierOf, IDENTIFIER_BYTES, toHex, fromHex, newToken } from "./src/identifier";
export { MemoryStore, KeyValueStore, emptyState, parseState, serializeState, STATE_VERSION, type KeyValueStorage, type State, type Store } from "./src/store";
export { Transport, IcdError, Result, parseRetryAfter, type Answer, type FetchLike } from "./src/transport";
export { parseContacts, parseCsv, parseCsvContacts, parseVCard, looksLikePhone, type Contact } from "./src/contacts";
