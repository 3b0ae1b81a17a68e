// The ICD client library: no platform imports beyond fetch and WebCrypto (Node 20+, browsers,
// React Native with a crypto.subtle polyfill, workerd). Types: index.d.ts. The Node-only JSON file
// store is in file-store.js.

export { IcdClient, DEFAULTS } from "./src/client.js";
export { normalisePhone, normaliseAll, regionOf } from "./src/phone.js";
export { identifierOf, IDENTIFIER_BYTES, toHex, fromHex, newToken } from "./src/identifier.js";
export { MemoryStore, KeyValueStore, emptyState, parseState, serializeState, STATE_VERSION } from "./src/store.js";
export { Transport, IcdError, Result, parseRetryAfter } from "./src/transport.js";
export { parseContacts, parseCsv, parseCsvContacts, parseVCard, looksLikePhone } from "./src/contacts.js";
