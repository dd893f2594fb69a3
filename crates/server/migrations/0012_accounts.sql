-- Accounts: a temporary password that must be changed, and sessions that expire, are listed and
-- can be ended one by one.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

-- `id` names a session in `GET /api/v1/me/sessions` (the token hash is never shown);
-- `last_used_at` drives the idle timeout; `client` and `address` help people recognise it.
ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN last_used_at TEXT;
ALTER TABLE sessions ADD COLUMN client TEXT;
ALTER TABLE sessions ADD COLUMN address TEXT;
UPDATE sessions SET
    id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' ||
               hex(randomblob(2)) || '-' || hex(randomblob(6))),
    last_used_at = created_at;
CREATE UNIQUE INDEX sessions_by_id ON sessions (id);
