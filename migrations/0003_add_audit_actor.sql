-- Who made each change: the role the credential acted in and the credential's key id (an
-- ADMIN_KEYS id, "legacy" for ADMIN_TOKEN, "access:<email>" for a person signed in through
-- Cloudflare Access, "binding" for the account service's Service Binding). Both NULL for what the
-- service records by itself (a flag, a throttled network) and for entries older than roles.
ALTER TABLE audit_log ADD COLUMN role TEXT;
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
