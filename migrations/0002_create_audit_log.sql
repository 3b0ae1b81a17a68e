-- Every admin action, newest last. Written to the first shard (USERS_0) only. `subject` is a keyed
-- hash of the identifier acted on (never the identifier itself), so the log is not a user list.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,        -- ms since the epoch
  action TEXT NOT NULL,       -- e.g. 'block', 'unblock', 'reset-buckets', 'register', 'delete', 'import'
  subject TEXT,               -- HMAC-SHA256(ADMIN_TOKEN, identifier), hex, first 16 bytes
  detail TEXT                 -- JSON with counts or flags; never identifiers or tokens
);
