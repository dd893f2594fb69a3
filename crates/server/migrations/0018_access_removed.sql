-- The tokens whose access an Admin removed (the person deactivated in the workspace, or signed
-- out everywhere with their computers' copies wiped): such a token answers 401 `access_removed`,
-- and the app that holds it deletes its copy of the workspace. Kept as long as a session can
-- live (then the token would be refused anyway), pruned with the sessions. Append-only.
CREATE TABLE access_removed (
    token_hash   TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    removed_at   TEXT NOT NULL
);
CREATE INDEX access_removed_at ON access_removed (removed_at);

-- The retention period's hourly pass: a number's old messages, and the log's few erasure and
-- purge records, found without reading everything.
CREATE INDEX messages_by_device_time ON messages (workspace_id, device_id, created_at);
CREATE INDEX events_erasures ON events (workspace_id, seq) WHERE type = 'contact.erased';
CREATE INDEX events_purges ON events (workspace_id, seq) WHERE type = 'messages.purged';
