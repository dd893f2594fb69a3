-- SQLite's 0018_access_removed.sql, on PostgreSQL. Append-only.
CREATE TABLE access_removed (
    token_hash   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    removed_at   TEXT NOT NULL
);
CREATE INDEX access_removed_at ON access_removed (removed_at);

CREATE INDEX messages_by_device_time ON messages (workspace_id, device_id, created_at);
CREATE INDEX events_erasures ON events (workspace_id, seq) WHERE type = 'contact.erased';
CREATE INDEX events_purges ON events (workspace_id, seq) WHERE type = 'messages.purged';
