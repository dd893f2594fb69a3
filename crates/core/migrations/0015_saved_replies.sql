-- Saved replies this person sees (the workspace's library and their own), as the server last
-- listed them: the composer's /shortcut completion works offline from here. Replaced whole at each
-- connection and whenever the server says they changed. Append-only.
CREATE TABLE saved_replies (
    id         TEXT PRIMARY KEY,
    shortcut   TEXT NOT NULL,
    body       TEXT NOT NULL,
    team_id    TEXT,
    owner_id   TEXT,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
