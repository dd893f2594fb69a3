-- A user signed in with a temporary password (an Admin reset it) until they choose their own.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
