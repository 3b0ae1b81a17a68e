// The account service's private path: another Worker of the account calls these methods through a
// Service Binding (`services = [{ binding = "ICD", service = "<this worker>", entrypoint = "AccountService" }]`),
// so in production it needs no public admin endpoint and no key (ADMIN_USER_ROUTES = false). Only
// Workers of the same account can bind to it. Register, delete and import: nothing else.

import { WorkerEntrypoint } from "cloudflare:workers";
import { configOf } from "../core/config";
import { TOKEN_HASH_BYTES, isIdentifier } from "../core/wire";
import type { AuditActor } from "../db/audit";
import { shardsOf } from "../db/shards";
import type { ImportedUser } from "../db/users";
import { MAX_IMPORT_BATCH, dismissUser, enrollUser, importUsers } from "../domain/accounts";

/** How the audit log names a change made through the binding. */
export const BINDING_ACTOR: AuditActor = { role: "account-service", keyId: "binding" };

/** A malformed argument is the caller's bug: thrown back to it over RPC (a TypeError keeps its type there) with what was wrong. */
const malformed = (message: string) => new TypeError(message);

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

function identifier(value: unknown, what = "the identifier"): Uint8Array {
  if (!isBytes(value) || !isIdentifier(value)) throw malformed(`${what} must be a Uint8Array of 1 to 64 bytes`);
  return value;
}

function tokenHash(value: unknown, what = "the token hash"): Uint8Array {
  if (!isBytes(value) || value.length !== TOKEN_HASH_BYTES) throw malformed(`${what} must be a Uint8Array of ${TOKEN_HASH_BYTES} bytes (SHA-256 of the token)`);
  return value;
}

export class AccountService extends WorkerEntrypoint<Env> {
  /**
   * Registers a user with the SHA-256 of their token: "created", "repeat" (registered with this
   * token already: nothing changes) or "taken" (registered with another token: refused, nothing changes).
   */
  async register(id: Uint8Array, tokenSha256: Uint8Array): Promise<"created" | "repeat" | "taken"> {
    const [user, hash] = [identifier(id), tokenHash(tokenSha256)];
    return enrollUser(this.env, shardsOf(this.env), configOf(this.env), BINDING_ACTOR, user, hash, Date.now());
  }

  /** Unregisters a user (they enter S2 as removed): "removed", or "not-registered". */
  async delete(id: Uint8Array): Promise<"removed" | "not-registered"> {
    const removed = await dismissUser(this.env, shardsOf(this.env), configOf(this.env), BINDING_ACTOR, identifier(id), Date.now());
    return removed ? "removed" : "not-registered";
  }

  /** Registers up to MAX_IMPORT_BATCH [id, SHA-256 of token] pairs; idempotent, as POST /admin/users/import. */
  async import(users: [Uint8Array, Uint8Array][], announce = false): Promise<{ received: number; imported: number }> {
    if (!Array.isArray(users) || users.length === 0 || users.length > MAX_IMPORT_BATCH) {
      throw malformed(`users must be an array of 1 to ${MAX_IMPORT_BATCH} [id, token hash] pairs`);
    }
    if (typeof announce !== "boolean") throw malformed("announce must be true or false");
    const parsed: ImportedUser[] = users.map((pair, k) => {
      if (!Array.isArray(pair)) throw malformed(`users[${k}] must be an [id, token hash] pair`);
      return { id: identifier(pair[0], `users[${k}]: the id`), tokenHash: tokenHash(pair[1], `users[${k}]: the token hash`) };
    });
    const imported = await importUsers(this.env, shardsOf(this.env), configOf(this.env), BINDING_ACTOR, parsed, announce, Date.now());
    return { received: parsed.length, imported };
  }
}
