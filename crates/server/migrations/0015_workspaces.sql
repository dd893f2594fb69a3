-- Workspaces (docs/decisions.md, "Workspaces"): one installation holds many; a person has one
-- account and belongs to the workspaces they were added to. This step creates the first
-- workspace and puts every existing account in it; the data of each domain moves under a
-- workspace in the steps after. Append-only.
CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

-- The installation's owner creates workspaces: the first active Admin who is a person (an
-- empty installation: its first Admin).
ALTER TABLE users ADD COLUMN owner INTEGER NOT NULL DEFAULT 0;

-- The workspace a session acts in (its sign-in chose it).
ALTER TABLE sessions ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);

INSERT INTO workspaces (id, name, created_at) VALUES (
    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' ||
          hex(randomblob(2)) || '-' || hex(randomblob(6))),
    'Main',
    strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
);
INSERT INTO memberships (workspace_id, user_id, created_at)
    SELECT w.id, u.id, w.created_at FROM users u, workspaces w;
UPDATE sessions SET workspace_id = (SELECT id FROM workspaces);
UPDATE users SET owner = 1 WHERE id = (
    SELECT id FROM users WHERE role = 'admin' AND kind = 'person' AND active ORDER BY created_at, id LIMIT 1
);
