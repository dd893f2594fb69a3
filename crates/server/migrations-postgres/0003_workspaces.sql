-- Workspaces: SQLite's 0015_workspaces.sql, on PostgreSQL. Append-only.
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

ALTER TABLE users ADD COLUMN owner BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE sessions ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);

INSERT INTO workspaces (id, name, created_at)
    VALUES (gen_random_uuid()::text, 'Main', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
INSERT INTO memberships (workspace_id, user_id, created_at)
    SELECT w.id, u.id, w.created_at FROM users u, workspaces w;
UPDATE sessions SET workspace_id = (SELECT id FROM workspaces);
UPDATE users SET owner = TRUE WHERE id = (
    SELECT id FROM users WHERE role = 'admin' AND kind = 'person' AND active ORDER BY created_at, id LIMIT 1
);
