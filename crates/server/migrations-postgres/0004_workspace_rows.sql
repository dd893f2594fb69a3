-- Every row of a domain belongs to a workspace: SQLite's 0016_workspace_rows.sql, on
-- PostgreSQL. Existing rows go to the first workspace; each workspace numbers its own events;
-- a person's role, and whether they are active, is their membership's. Append-only.
CREATE TEMPORARY TABLE first_workspace AS SELECT id FROM workspaces ORDER BY created_at, id LIMIT 1;

ALTER TABLE memberships ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'agent', 'viewer'));
ALTER TABLE memberships ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE memberships SET role = (SELECT role FROM users WHERE users.id = memberships.user_id),
                       active = (SELECT active FROM users WHERE users.id = memberships.user_id);
-- Deactivated people were deactivated in the one workspace there was; their accounts stay.
UPDATE users SET active = TRUE WHERE kind = 'person';

ALTER TABLE devices ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE devices SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE devices ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE contacts ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE contacts SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE contacts ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE conversations ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE conversations SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE conversations ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE messages ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE messages SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE messages ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE routing_rules ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE routing_rules SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE routing_rules ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE api_keys ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE api_keys SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE api_keys ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE teams ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE teams SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE teams ALTER COLUMN workspace_id SET NOT NULL;

-- The audit log is append-only; its rows are given their workspace once, here.
ALTER TABLE audit ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
ALTER TABLE audit DISABLE TRIGGER audit_is_append_only;
UPDATE audit SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE audit ENABLE TRIGGER audit_is_append_only;
ALTER TABLE audit ALTER COLUMN workspace_id SET NOT NULL;

ALTER TABLE events ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE events SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE events ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (workspace_id, seq);

ALTER TABLE applied ADD COLUMN workspace_id TEXT REFERENCES workspaces (id);
UPDATE applied SET workspace_id = (SELECT id FROM first_workspace);
ALTER TABLE applied ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE applied DROP CONSTRAINT applied_pkey;
ALTER TABLE applied ADD PRIMARY KEY (workspace_id, user_id, key);

-- A team's name is unique in its workspace.
DROP INDEX teams_by_name;
CREATE UNIQUE INDEX teams_by_name ON teams (workspace_id, lower(name));

DROP INDEX conversations_by_activity;
CREATE INDEX conversations_by_activity ON conversations (workspace_id, last_message_at DESC, id DESC);
CREATE INDEX devices_by_workspace ON devices (workspace_id);
CREATE INDEX audit_by_workspace ON audit (workspace_id, id);
CREATE INDEX routing_rules_by_workspace ON routing_rules (workspace_id, position);

DROP TABLE first_workspace;

-- A live connection acts in its token's workspace (presence is per workspace). The rows are
-- the connections of the nodes running now: those of the version before go with its nodes.
DELETE FROM presence_conns;
ALTER TABLE presence_conns ADD COLUMN workspace_id TEXT NOT NULL;
