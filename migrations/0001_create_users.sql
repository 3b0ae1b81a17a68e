-- One row per user that is registered or was removed within S2_DELTA (older removals are purged).
-- The latest event wins: registering sets added_at and clears removed_at; deleting sets removed_at.
--   S1 (registered):      removed_at IS NULL
--   S2 added since t:     removed_at IS NULL AND added_at >= t
--   S2 removed since t:   removed_at >= t
-- Every lookup goes through the primary key, one probe per identifier; nothing scans the table.
CREATE TABLE users (
  id BLOB PRIMARY KEY NOT NULL,   -- the user's identifier (1 to 64 bytes)
  token_hash BLOB NOT NULL,       -- SHA-256 of the auth token; the token itself is never stored
  added_at INTEGER NOT NULL,      -- ms since the epoch
  removed_at INTEGER              -- ms since the epoch; NULL while registered
) WITHOUT ROWID;

-- Only removed users are indexed: the purge finds old removals without a scan.
CREATE INDEX users_removed_at ON users (removed_at) WHERE removed_at IS NOT NULL;

-- Service-wide counters. `bucket_epoch` is bumped by the local /reset hook: bucket objects are named
-- with it, so a reset forgets every bucket without visiting each object. It stays 0 in production.
CREATE TABLE meta (
  key TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('bucket_epoch', 0);
