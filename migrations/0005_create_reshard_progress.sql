-- How far `npm run reshard` got in moving users to a new shard, on USERS_0 only (the table exists on
-- every shard, like audit_log): for each old shard, the last (k, id) the copy and then the clean-up
-- have done, so that a killed command resumes after it. The layout itself is meta's 'layout' row on
-- every shard (src/db/layout.ts), which this migration does not write: a shard without it accepts
-- any layout, as before resharding existed.
CREATE TABLE reshard_progress (
  target INTEGER NOT NULL,          -- the shard count the users are moving to
  stage TEXT NOT NULL,              -- 'copy' (to the new shard), then 'clean' (the old copies)
  shard INTEGER NOT NULL,           -- the old shard read
  after_k INTEGER NOT NULL,         -- the last key done (-1: none yet)
  after_id BLOB NOT NULL,           -- with the last identifier done
  done INTEGER NOT NULL DEFAULT 0,  -- 1 once the whole shard is done
  PRIMARY KEY (target, stage, shard)
) WITHOUT ROWID;
