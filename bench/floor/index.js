// The floor Worker (bench/floor.mjs): routes that each make one of the platform calls a sync makes
// and nothing else, so that what the local runtime costs per call is measured apart from the service.
//   /noop         200, empty; the request body is not read
//   /body         reads the body (arrayBuffer); answers its length
//   /decode       reads the body and decodes it (ICD.Request, src/proto/icd.js); answers the identifier count
//   /d1?n=N       one D1 lookup as the service makes it (src/db/users.ts): json_each of N sorted random
//                 48-bit keys joined to users (k, id), empty (default N = 20,000); n=0: SELECT 1
//   /object       one Durable Object RPC call that writes one row, as the client object does per sync
//                 (src/objects/client-record.ts); ?name= picks the object (default "floor")
//   /object-read  one RPC call that reads that row
// Every route but /noop reads the body first (arrayBuffer, as the service does): a body left unread is
// drained by the dev server's middleware in small reads before the answer leaves, at a cost of its own
// that depends on the route's timing (wrangler/templates/middleware). So a call's cost is its route's
// time less /body's. Each answer's floor-call-ms header is the wall time of the call (or of reading the
// body) as the Worker sees it (workerd's clock moves only across I/O, so compute shows as 0).

import { DurableObject } from "cloudflare:workers";
import { ICD } from "../../src/proto/icd.js";

// migrations/ (0004 and 0006): the users table keyed by (k, id); created empty on first use.
const USERS = `CREATE TABLE IF NOT EXISTS users (k INTEGER NOT NULL, id BLOB NOT NULL, token_hash BLOB NOT NULL, added_at INTEGER NOT NULL,
  removed_at INTEGER, key_version INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (k, id)) WITHOUT ROWID`;
const LOOKUP = `SELECT j.key AS i, lower(hex(u.id)) AS id FROM json_each(?1) AS j CROSS JOIN users AS u ON u.k = j.value WHERE u.removed_at IS NULL`;
let created = null;

export class FloorClient extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS client (id INTEGER PRIMARY KEY CHECK (id = 0), record TEXT NOT NULL, sketch BLOB)");
  }

  /** One row written, as ClientRecordStore.write does: a small JSON record and a 2 KB sketch. */
  write(record, sketch) {
    const cursor = this.ctx.storage.sql.exec(
      "INSERT INTO client (id, record, sketch) VALUES (0, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record, sketch = excluded.sketch",
      record, sketch,
    );
    cursor.toArray();
    return cursor.rowsWritten;
  }

  /** The row, read. */
  read() {
    return this.ctx.storage.sql.exec("SELECT record, sketch FROM client WHERE id = 0").toArray().length;
  }
}

/** N random 48-bit integers, sorted, as a JSON list (the service sends its keys in probe order). */
function keys(n) {
  const k = new Float64Array(n);
  for (let i = 0; i < n; i++) k[i] = Math.floor(Math.random() * 2 ** 48);
  k.sort();
  return JSON.stringify(Array.from(k));
}

const RECORD = JSON.stringify({ full: { level: 1200, at: Date.now() }, incremental: { level: 40, at: Date.now() }, signals: { syncs: 5, matches: 120 } });
const SKETCH = new Uint8Array(2048);

/** The call, timed; answers its result as text. */
async function timed(call) {
  const started = Date.now();
  const result = await call();
  return new Response(String(result), { headers: { "floor-call-ms": String(Date.now() - started) } });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const object = () => env.CLIENTS.get(env.CLIENTS.idFromName(url.searchParams.get("name") ?? "floor"));
    switch (url.pathname) {
      case "/noop":
        return new Response(null);
      case "/body":
        return timed(async () => (await request.arrayBuffer()).byteLength);
      case "/decode": {
        const bytes = new Uint8Array(await request.arrayBuffer());
        return new Response(String(ICD.Request.decode(bytes).identifiers.length));
      }
      case "/d1": {
        await request.arrayBuffer();
        const n = Number(url.searchParams.get("n") ?? 20_000);
        const db = env.USERS_0;
        created ??= db.prepare(USERS).run();
        await created;
        if (n === 0) return timed(async () => (await db.prepare("SELECT 1 AS one").all()).results.length);
        const list = keys(n);
        return timed(async () => (await db.prepare(LOOKUP).bind(list).all()).results.length);
      }
      case "/object":
        await request.arrayBuffer();
        return timed(() => object().write(RECORD, SKETCH));
      case "/object-read":
        await request.arrayBuffer();
        return timed(() => object().read());
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
