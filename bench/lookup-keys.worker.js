// The Worker of bench/lookup-keys.mjs: one D1 database per (schema, directory), filled in SQL, and
// 20,000-identifier lookups sent the way the service sends them (probe order, one JSON parameter).

const ID_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0").toUpperCase());
const toHex = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i++) s += ID_HEX[bytes[i]]; return s; };
const KEY_BYTES = 6;
const keyOf = (id) => { let k = 0; for (let i = 0; i < KEY_BYTES; i++) k = k * 256 + (id[i] ?? 0); return k; };

const SCHEMAS = {
  // Today: the identifier is the primary key.
  hex: `CREATE TABLE users (id BLOB PRIMARY KEY NOT NULL, token_hash BLOB NOT NULL, added_at INTEGER NOT NULL, removed_at INTEGER) WITHOUT ROWID`,
  // k = the first 6 bytes as an integer, leading the primary key.
  kid: `CREATE TABLE users (k INTEGER NOT NULL, id BLOB NOT NULL, token_hash BLOB NOT NULL, added_at INTEGER NOT NULL, removed_at INTEGER, PRIMARY KEY (k, id)) WITHOUT ROWID`,
  // A rowid table and a unique index on (k, id): a miss probes the (smaller) index only.
  rowid: `CREATE TABLE users (k INTEGER NOT NULL, id BLOB NOT NULL, token_hash BLOB NOT NULL, added_at INTEGER NOT NULL, removed_at INTEGER);
          CREATE UNIQUE INDEX users_key ON users (k, id)`,
};

const join = (schema) => (schema === "hex" ? "u.id = unhex(j.value)" : "u.k = j.value");
// What comes back per match: the index (hex), or the index and the identifier to verify.
const QUERIES = {
  hex: { schemas: ["hex"], sql: () => `SELECT j.key AS i FROM json_each(?1) AS j CROSS JOIN users AS u ON ${join("hex")} WHERE u.removed_at IS NULL` },
  "int+hex(id)": { schemas: ["kid", "rowid"], sql: (s) => `SELECT j.key AS i, hex(u.id) AS h FROM json_each(?1) AS j CROSS JOIN users AS u ON ${join(s)} WHERE u.removed_at IS NULL` },
  "int+hex(rest)": { schemas: ["kid", "rowid"], sql: (s) => `SELECT j.key AS i, hex(substr(u.id, 7)) AS h FROM json_each(?1) AS j CROSS JOIN users AS u ON ${join(s)} WHERE u.removed_at IS NULL` },
  "int+blob(id)": { schemas: ["kid"], sql: (s) => `SELECT j.key AS i, u.id AS h FROM json_each(?1) AS j CROSS JOIN users AS u ON ${join(s)} WHERE u.removed_at IS NULL` },
};

const known = new Map(); // db name -> known identifiers (sampled from the table)

function probeOrder(ids) {
  const R = 2 ** 29;
  const keys = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) { const id = ids[i]; keys[i] = (((id[0] ?? 0) << 16) | ((id[1] ?? 0) << 8) | (id[2] ?? 0)) * R + i; }
  keys.sort();
  return Array.from(keys, (k) => (k % R) | 0);
}

async function setup(db, { schema, n, bytes }) {
  for (const sql of SCHEMAS[schema].split(";")) await db.prepare(sql).run();
  const stride = Math.floor(2 ** 48 / n);
  const CHUNK = 500_000;
  const cols = schema === "hex" ? "id, token_hash, added_at, removed_at" : "k, id, token_hash, added_at, removed_at";
  const vals = schema === "hex" ? "id, randomblob(32), 0, NULL" : "k, id, randomblob(32), 0, NULL";
  let size = 0;
  for (let from = 0; from < n; from += CHUNK) {
    const to = Math.min(n, from + CHUNK) - 1;
    const { meta } = await db.prepare(
      // MATERIALIZED: otherwise SQLite evaluates random() once per use of k.
      `WITH RECURSIVE c(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM c WHERE x < ?2),
         keys AS MATERIALIZED (SELECT x * ?4 + abs(random() % ?4) AS k FROM c)
       INSERT INTO users (${cols})
       SELECT ${vals} FROM (SELECT k, unhex(printf('%012x', k) || hex(randomblob(?3 - 6))) AS id FROM keys)`,
    ).bind(from, to, bytes, stride).run();
    size = meta.size_after;
  }
  return { rows: n, size };
}

async function sample(db, { db: name }) {
  // About 40,000 registered identifiers, spread over the table.
  const n = (await db.prepare(`SELECT count(*) AS n FROM users`).first("n"));
  const every = Math.max(1, Math.floor(n / 40_000));
  const { results } = await db.prepare(`SELECT id FROM (SELECT id, row_number() OVER () AS r FROM users) WHERE r % ?1 = 0`).bind(every).all();
  known.set(name, results.map((r) => new Uint8Array(r.id)));
  return { known: results.length };
}

async function lookup(db, { db: name, query, schema, bytes, ids: total, hits }) {
  const pool = known.get(name);
  const ids = [];
  for (let i = 0; i < hits; i++) ids.push(pool[Math.floor(Math.random() * pool.length)]);
  const noise = new Uint8Array((total - hits) * bytes);
  for (let at = 0; at < noise.length; at += 65536) crypto.getRandomValues(noise.subarray(at, Math.min(noise.length, at + 65536)));
  for (let at = 0; at < noise.length; at += bytes) ids.push(noise.subarray(at, at + bytes));
  for (let i = ids.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [ids[i], ids[j]] = [ids[j], ids[i]]; }

  const order = probeOrder(ids);
  const param = query === "hex" ? JSON.stringify(order.map((i) => toHex(ids[i]))) : `[${order.map((i) => keyOf(ids[i])).join(",")}]`;
  const sent = performance.now();
  const { results, meta } = await db.prepare(QUERIES[query].sql(schema)).bind(param).all();
  const d1Ms = performance.now() - sent;
  let found = 0;
  for (const row of results) {
    const id = ids[order[row.i]];
    if (query === "hex") found++;
    else if (query === "int+hex(id)") found += row.h === toHex(id) ? 1 : 0;
    else if (query === "int+hex(rest)") found += row.h === toHex(id.subarray(KEY_BYTES)) ? 1 : 0;
    else { const h = new Uint8Array(row.h); found += h.length === id.length && h.every((b, k) => b === id[k]) ? 1 : 0; }
  }
  return { sqlMs: meta.duration, d1Ms, paramChars: param.length, rows: results.length, found };
}

async function plan(db, { query, schema }) {
  const { results } = await db.prepare(`EXPLAIN QUERY PLAN ${QUERIES[query].sql(schema)}`).bind("[]").all();
  return { plan: results.map((r) => r.detail) };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const args = await request.json();
    const db = env[args.db];
    const action = { "/setup": setup, "/sample": sample, "/lookup": lookup, "/plan": plan }[url.pathname];
    return Response.json(await action(db, args));
  },
};
