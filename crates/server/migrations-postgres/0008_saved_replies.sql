-- SQLite's 0020_saved_replies.sql, on PostgreSQL.
-- Saved replies (docs/api.md, "Saved replies"): the workspace's library, which its Admins keep
-- (`owner_id` NULL, optionally labelled with a team), and each person's own (`owner_id` theirs).
-- A shortcut names one reply in the library and one in each person's own. Append-only.
CREATE TABLE saved_replies (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    shortcut     TEXT NOT NULL,
    body         TEXT NOT NULL,
    team_id      TEXT,
    owner_id     TEXT,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX saved_replies_by_workspace ON saved_replies (workspace_id, owner_id, shortcut);
