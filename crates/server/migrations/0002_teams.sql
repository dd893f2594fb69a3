-- Teams, routing rules, labels, API keys, SLA clocks and the audit log. Append-only, like 0001.

-- A person, or the identity an API key acts as ('api_key'): nobody signs in as the latter.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person';

CREATE TABLE teams (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE COLLATE NOCASE,
    agent_cap           INTEGER NOT NULL,
    first_response_secs INTEGER,
    resolution_secs     INTEGER,
    created_at          TEXT NOT NULL
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

CREATE TABLE conversation_labels (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label           TEXT NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_by_label ON conversation_labels (label);

-- When the conversation was created or last reopened (SLA clocks start here), its first reply
-- since then, and when it entered its team's queue without an owner (handed out oldest first).
ALTER TABLE conversations ADD COLUMN opened_at TEXT;
ALTER TABLE conversations ADD COLUMN first_response_at TEXT;
ALTER TABLE conversations ADD COLUMN queued_at TEXT;
UPDATE conversations SET opened_at = created_at;
CREATE INDEX conversations_in_team_queue ON conversations (team_id, queued_at) WHERE queued_at IS NOT NULL;
CREATE INDEX conversations_snoozed ON conversations (snooze_until) WHERE snooze_until IS NOT NULL;

CREATE TABLE routing_rules (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    match_json TEXT NOT NULL,
    team_id    TEXT REFERENCES teams (id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users (id),
    created_at TEXT NOT NULL
);

-- API keys, stored as SHA-256 like session tokens. Each acts as its own user row (kind 'api_key').
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'viewer')),
    user_id    TEXT NOT NULL UNIQUE REFERENCES users (id),
    key_hash   TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Append-only: who did what, when, to which conversation. Nothing ever updates or deletes a row.
CREATE TABLE audit (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    actor_id        TEXT,
    actor_name      TEXT NOT NULL,
    action          TEXT NOT NULL,
    conversation_id TEXT,
    summary         TEXT NOT NULL,
    seq             INTEGER
);
CREATE INDEX audit_by_conversation ON audit (conversation_id, id);
CREATE INDEX audit_by_actor ON audit (actor_id, id);
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
