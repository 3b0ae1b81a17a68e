// A client object's whole state as one record in one row of its SQL storage: a sync reads it once per
// object lifetime and writes it once. The SQL API counts the rows each call reads and writes, which
// the answer's ICD-Costs reports. State kept by earlier code as separate KV keys is read once and moved.

import type { Flag, Signals } from "../core/flag-rules";
import type { NormSample } from "../core/hit-ratio-norm";
import type { NoveltyState } from "../core/novelty";
import { fromHex, toHex } from "../core/hex";

/** A user's credential as D1 holds it: the token's SHA-256 and when this registration began. */
export interface Credential {
  tokenHash: Uint8Array;
  addedAt: number;
}

/** A deletion: the credential it revoked (null: whatever was registered), and when. */
export interface Tombstone {
  tokenHash: Uint8Array | null;
  at: number;
}

export interface ClientRecord {
  /** Each bucket's empty time (core/bucket.ts), by its kind; none: empty. */
  full?: number;
  incremental?: number;
  blocked?: true;
  flag?: Flag;
  /** An operator cleared a flag: the client counts as judged while its signals are kept. */
  vouched?: true;
  signals?: Signals;
  sketch?: Uint8Array;
  /** The novelty limit's bucket and refusals (core/novelty.ts). */
  novelty?: NoveltyState;
  samples?: NormSample[];
  /** The norm this client was last given, to judge it by when none comes. */
  norm?: number;
  credential?: Credential;
  revoked?: Tombstone;
}

const LEGACY_KEYS = ["full", "incremental", "blocked", "flag", "vouched", "signals", "sketch", "samples", "norm", "credential", "revoked"] as const;

/** What one call read and wrote in the object's storage (an alarm set counts as a row written). */
export interface StorageTally {
  rowsRead: number;
  rowsWritten: number;
}

export const emptyTally = (): StorageTally => ({ rowsRead: 0, rowsWritten: 0 });

export class ClientRecordStore {
  private cached: ClientRecord | undefined;
  /** Undefined until read; null: none set. */
  private alarmAt: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {
    storage.sql.exec("CREATE TABLE IF NOT EXISTS client (id INTEGER PRIMARY KEY CHECK (id = 0), record TEXT NOT NULL, sketch BLOB)");
  }

  read(tally: StorageTally): ClientRecord {
    if (this.cached) return this.cached;
    const cursor = this.storage.sql.exec<{ record: string; sketch: ArrayBuffer | null }>("SELECT record, sketch FROM client WHERE id = 0");
    const row = cursor.toArray()[0];
    tally.rowsRead += cursor.rowsRead;
    this.cached = row ? decode(row.record, row.sketch) : this.readLegacy(tally);
    return this.cached;
  }

  /** One row, whatever changed. */
  write(record: ClientRecord, tally: StorageTally): void {
    const { sketch, ...rest } = record;
    const cursor = this.storage.sql.exec(
      "INSERT INTO client (id, record, sketch) VALUES (0, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record, sketch = excluded.sketch",
      JSON.stringify(rest, hexBytes),
      sketch ?? null,
    );
    cursor.toArray();
    tally.rowsWritten += cursor.rowsWritten;
    this.cached = record;
  }

  /** Everything goes, the alarm too. */
  async clear(tally: StorageTally): Promise<void> {
    const cursor = this.storage.sql.exec("DELETE FROM client");
    cursor.toArray();
    tally.rowsWritten += cursor.rowsWritten;
    this.cached = {};
    await this.storage.deleteAlarm();
    this.alarmAt = null;
  }

  /** Sets an alarm at `at` only when none is set: an alarm that comes early re-arms itself from sweep(). */
  async ensureAlarm(at: number, tally: StorageTally): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.storage.getAlarm();
    if (this.alarmAt === null) await this.setAlarm(at, tally);
  }

  async setAlarm(at: number, tally: StorageTally): Promise<void> {
    await this.storage.setAlarm(at);
    this.alarmAt = at;
    tally.rowsWritten += 1;
  }

  /** The alarm that fired is no longer set. */
  alarmFired(): void {
    this.alarmAt = null;
  }

  /** State an earlier version kept as KV keys: moved into the record by the next write. */
  private readLegacy(tally: StorageTally): ClientRecord {
    const entries = [...this.storage.kv.list()];
    tally.rowsRead += entries.length;
    if (entries.length === 0) return {};
    const record: Record<string, unknown> = {};
    for (const [key, value] of entries) if ((LEGACY_KEYS as readonly string[]).includes(key)) record[key] = value;
    for (const [key] of entries) this.storage.kv.delete(key);
    tally.rowsWritten += entries.length;
    this.write(record as ClientRecord, tally);
    return record as ClientRecord;
  }
}

// Byte fields (the credential's and the tombstone's token hashes) travel as {"hex": "…"} in the JSON.
function hexBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { hex: toHex(value) } : value;
}

function decode(json: string, sketch: ArrayBuffer | null): ClientRecord {
  const record = JSON.parse(json, (_key, value: unknown) => {
    if (value && typeof value === "object" && "hex" in value && typeof value.hex === "string" && Object.keys(value).length === 1) return fromHex(value.hex);
    return value;
  }) as ClientRecord;
  if (sketch) record.sketch = new Uint8Array(sketch);
  return record;
}
