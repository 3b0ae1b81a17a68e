-- Keys the users table by (k, id), k being the identifier's first 6 bytes read as a big-endian
-- integer, shorter identifiers padded with zero bytes (src/core/lookup-key.ts computes the same).
-- A lookup then sends D1 a JSON list of integers (at most 15 digits each) instead of hex strings (32
-- or 64 digits), and SQLite compares integers; k alone is not unique, so rows are (k, id) and a
-- lookup checks the whole identifier of what it finds. Every row moves to the new table with its k.
CREATE TABLE users_by_key (
  k INTEGER NOT NULL,             -- the first 6 bytes of id, as an integer
  id BLOB NOT NULL,               -- the user's identifier (1 to 64 bytes)
  token_hash BLOB NOT NULL,       -- SHA-256 of the auth token; the token itself is never stored
  added_at INTEGER NOT NULL,      -- ms since the epoch
  removed_at INTEGER,             -- ms since the epoch; NULL while registered
  PRIMARY KEY (k, id)
) WITHOUT ROWID;

-- SQLite has no hex-to-integer function: each of the 12 hex digits (hex() writes upper case) is its
-- position in the digit string.
INSERT INTO users_by_key (k, id, token_hash, added_at, removed_at)
SELECT (instr('0123456789ABCDEF', substr(h, 1, 1)) - 1) * 17592186044416
     + (instr('0123456789ABCDEF', substr(h, 2, 1)) - 1) * 1099511627776
     + (instr('0123456789ABCDEF', substr(h, 3, 1)) - 1) * 68719476736
     + (instr('0123456789ABCDEF', substr(h, 4, 1)) - 1) * 4294967296
     + (instr('0123456789ABCDEF', substr(h, 5, 1)) - 1) * 268435456
     + (instr('0123456789ABCDEF', substr(h, 6, 1)) - 1) * 16777216
     + (instr('0123456789ABCDEF', substr(h, 7, 1)) - 1) * 1048576
     + (instr('0123456789ABCDEF', substr(h, 8, 1)) - 1) * 65536
     + (instr('0123456789ABCDEF', substr(h, 9, 1)) - 1) * 4096
     + (instr('0123456789ABCDEF', substr(h, 10, 1)) - 1) * 256
     + (instr('0123456789ABCDEF', substr(h, 11, 1)) - 1) * 16
     + (instr('0123456789ABCDEF', substr(h, 12, 1)) - 1) * 1 AS k,
  id, token_hash, added_at, removed_at
FROM (SELECT substr(hex(id) || '000000000000', 1, 12) AS h, * FROM users)
ORDER BY k, id;

DROP TABLE users; -- and its index users_removed_at
ALTER TABLE users_by_key RENAME TO users;

-- Only removed users are indexed: the purge finds old removals without a scan.
CREATE INDEX users_removed_at ON users (removed_at) WHERE removed_at IS NOT NULL;
