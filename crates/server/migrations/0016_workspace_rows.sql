-- Every row of a domain belongs to a workspace (docs/decisions.md, "Workspaces"): the store
-- names the workspace in every query's key. Existing rows go to the first workspace, which
-- migration 0015 made. Each workspace numbers its own events (`seq` per workspace); a person's
-- role, and whether they are active, is their membership's (users.role is no longer read;
-- users.active is the account's own, which only a revoked API key's user loses). Append-only.
--
-- Teams, events and applied mutations change their keys, which SQLite does only by rebuilding
-- the table, all in the migration's one transaction. Dropping the old teams table deletes the
-- rows that point at it (team members, routing rules: their foreign keys cascade), so those
-- are kept aside and put back. The new columns of the other tables reference the workspace
-- (SQLite adds such a column only without a default: the store always writes it).

CREATE TEMPORARY TABLE first_workspace AS SELECT id FROM workspaces ORDER BY created_at, id LIMIT 1;

ALTER TABLE memberships ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'agent', 'viewer'));
ALTER TABLE memberships ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
UPDATE memberships SET role = (SELECT role FROM users WHERE users.id = memberships.user_id),
                       active = (SELECT active FROM users WHERE users.id = memberships.user_id);
-- Deactivated people were deactivated in the one workspace there was; their accounts stay.
UPDATE users SET active = 1 WHERE kind = 'person';

ALTER TABLE devices ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE devices SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE contacts ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE contacts SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE conversations ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE conversations SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE messages ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE messages SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE routing_rules ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE routing_rules SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE api_keys ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE api_keys SET workspace_id = (SELECT id FROM first_workspace);

-- The audit log is append-only; its rows are given their workspace once, here.
DROP TRIGGER audit_is_append_only_update;
ALTER TABLE audit ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE audit SET workspace_id = (SELECT id FROM first_workspace);
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- A team's name is unique in its workspace.
CREATE TEMPORARY TABLE kept_team_members AS SELECT * FROM team_members;
CREATE TEMPORARY TABLE kept_routing_rules AS SELECT * FROM routing_rules;
CREATE TABLE teams_new (
    id                  TEXT PRIMARY KEY,
    workspace_id        TEXT NOT NULL REFERENCES workspaces (id),
    name                TEXT NOT NULL COLLATE NOCASE,
    agent_cap           INTEGER NOT NULL,
    first_response_secs INTEGER,
    resolution_secs     INTEGER,
    created_at          TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);
INSERT INTO teams_new (id, workspace_id, name, agent_cap, first_response_secs, resolution_secs, created_at)
    SELECT id, (SELECT id FROM first_workspace), name, agent_cap, first_response_secs, resolution_secs, created_at
    FROM teams;
DROP TABLE teams;
ALTER TABLE teams_new RENAME TO teams;
INSERT INTO team_members SELECT * FROM kept_team_members;
INSERT INTO routing_rules SELECT * FROM kept_routing_rules;
DROP TABLE kept_team_members;
DROP TABLE kept_routing_rules;

-- Each workspace's events are numbered from 1 without a hole.
CREATE TABLE events_new (
    workspace_id    TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    at              TEXT NOT NULL,
    type            TEXT NOT NULL,
    conversation_id TEXT,
    conv_version    INTEGER,
    payload         TEXT NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);
INSERT INTO events_new (workspace_id, seq, at, type, conversation_id, conv_version, payload)
    SELECT (SELECT id FROM first_workspace), seq, at, type, conversation_id, conv_version, payload FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_by_conversation ON events (conversation_id, conv_version);

-- An Idempotency-Key is the caller's in one workspace.
CREATE TABLE applied_new (
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    seq          INTEGER,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id, key)
);
INSERT INTO applied_new (workspace_id, user_id, key, fingerprint, status, response, seq, created_at)
    SELECT (SELECT id FROM first_workspace), user_id, key, fingerprint, status, response, seq, created_at FROM applied;
DROP TABLE applied;
ALTER TABLE applied_new RENAME TO applied;

DROP INDEX conversations_by_activity;
CREATE INDEX conversations_by_activity ON conversations (workspace_id, last_message_at DESC, id DESC);
CREATE INDEX devices_by_workspace ON devices (workspace_id);
CREATE INDEX audit_by_workspace ON audit (workspace_id, id);
CREATE INDEX routing_rules_by_workspace ON routing_rules (workspace_id, position);

DROP TABLE first_workspace;
