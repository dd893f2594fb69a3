-- When a conversation was last resolved, as the server says. Append-only.
ALTER TABLE conversations ADD COLUMN resolved_at TEXT;
