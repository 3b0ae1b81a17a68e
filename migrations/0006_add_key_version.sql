-- Keyed pseudonyms (docs/pseudonyms.md): `id` holds P_v(identifier), a 16-byte AES-256-CMAC under
-- PSEUDONYM_KEYS's key v, and `key_version` says which v; 0 is a plain identifier, as every row
-- written before this migration holds. `k` and the shard follow from the stored value, as before.
ALTER TABLE users ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;

-- The version every row is at, on USERS_0 only: while it is below PSEUDONYM_KEYS's current version,
-- lookups ask for both (npm run rekey raises it once every row is wrapped). A shard without users
-- (a new deployment) starts at 1; one that holds plain identifiers at 0, until `npm run rekey`.
INSERT INTO meta (key, value) SELECT 'key_version', CASE WHEN EXISTS (SELECT 1 FROM users) THEN 0 ELSE 1 END;

-- How far `npm run rekey` got: per shard, the last (k, id) of its pass over rows of version `target - 1`.
CREATE TABLE rekey_progress (
  target INTEGER NOT NULL,          -- the version rows are wrapped to
  pass INTEGER NOT NULL,            -- passes over every shard, until one finds nothing left to wrap
  shard INTEGER NOT NULL,
  after_k INTEGER NOT NULL,         -- the last key done (-1: none yet)
  after_id BLOB NOT NULL,           -- with the last stored value done
  done INTEGER NOT NULL DEFAULT 0,  -- 1 once the shard's pass is done
  found INTEGER NOT NULL DEFAULT 0, -- rows wrapped in this pass
  PRIMARY KEY (target, pass, shard)
) WITHOUT ROWID;
