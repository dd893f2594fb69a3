-- Handoff server schema on PostgreSQL, version 1: the schema SQLite reaches with its migrations
-- 0001 to 0014 (crates/server/migrations), in one step. Append-only from here, like SQLite's:
-- a change is a new file here and a new file there.
-- The types are the ones both backends share, so that each query is written once (store/mod.rs):
-- ids are UUID strings and times RFC 3339 UTC strings with microseconds
-- ("2026-11-25T12:00:00.000000Z"), so text order is id and time order; integers are BIGINT; the
-- two yes/no columns are BOOLEAN. Where SQLite compares without case (COLLATE NOCASE), the
-- queries compare lower(...) on both backends, and the unique indexes here are on lower(...).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    email                TEXT NOT NULL,
    name                 TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'viewer')),
    password_hash        TEXT NOT NULL,
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           TEXT NOT NULL,
    -- A person, or the identity an API key acts as ('api_key'): nobody signs in as the latter.
    kind                 TEXT NOT NULL DEFAULT 'person',
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX users_by_email ON users (lower(email));

-- Opaque session tokens, stored as SHA-256 hashes: a leaked database gives no usable token.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   TEXT NOT NULL,
    id           TEXT NOT NULL UNIQUE,
    last_used_at TEXT,
    client       TEXT,
    address      TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    phone          TEXT,
    last_seen_at   TEXT,
    created_at     TEXT NOT NULL,
    -- Gateway (WAHA) devices: JSON {base_url, api_key, session}, and their webhooks' secret.
    gateway        TEXT,
    webhook_secret TEXT,
    -- A whatsapp_web device linked by pair code: the number the code is asked for.
    pair_phone     TEXT
);

CREATE TABLE contacts (
    id        TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    jid       TEXT NOT NULL,
    phone     TEXT NOT NULL,
    name      TEXT,
    UNIQUE (device_id, jid)
);

-- Every address one customer is known by on a device. One customer, one contact, one conversation.
CREATE TABLE contact_aliases (
    device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    jid        TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (device_id, jid)
);
CREATE INDEX contact_aliases_by_contact ON contact_aliases (contact_id);

CREATE TABLE teams (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    agent_cap           BIGINT NOT NULL,
    first_response_secs BIGINT,
    resolution_secs     BIGINT,
    created_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX teams_by_name ON teams (lower(name));

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

CREATE TABLE conversations (
    id                   TEXT PRIMARY KEY,
    device_id            TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    contact_id           TEXT NOT NULL UNIQUE REFERENCES contacts (id) ON DELETE CASCADE,
    status               TEXT NOT NULL,
    assignee_id          TEXT REFERENCES users (id),
    team_id              TEXT,
    version              BIGINT NOT NULL,
    assigned_at          TEXT,
    snooze_until         TEXT,
    last_message_at      TEXT NOT NULL,
    last_message_preview TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    -- SLA clocks: when it was created or last reopened, its first reply since then, when it
    -- entered its team's queue without an owner, and when it was last resolved.
    opened_at            TEXT,
    first_response_at    TEXT,
    queued_at            TEXT,
    resolved_at          TEXT,
    -- The note of the latest escalation, pinned on top of the thread until resolved.
    escalation_note_id   TEXT
);
CREATE INDEX conversations_by_activity ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_by_assignee ON conversations (assignee_id);
CREATE INDEX conversations_in_team_queue ON conversations (team_id, queued_at) WHERE queued_at IS NOT NULL;
CREATE INDEX conversations_snoozed ON conversations (snooze_until) WHERE snooze_until IS NOT NULL;

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    device_id       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('inbound', 'outbound', 'note', 'system')),
    body            TEXT NOT NULL,
    author_id       TEXT,
    created_at      TEXT NOT NULL,
    delivery        TEXT,
    wa_message_id   TEXT,
    mutation_id     TEXT,
    -- Why a reply failed, as the device said it.
    failure         TEXT,
    -- An attachment's typed placeholder (JSON) and the adapter's locator for it (never sent to clients).
    media           TEXT,
    media_locator   TEXT,
    -- In a group chat, who of its members wrote the message.
    sender          TEXT,
    -- The WhatsApp message id a reply is sent with, chosen when it is committed (outbound.rs).
    send_id         TEXT
);
CREATE UNIQUE INDEX messages_by_wa_id ON messages (device_id, wa_message_id) WHERE wa_message_id IS NOT NULL;
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX messages_by_send_id ON messages (device_id, send_id) WHERE send_id IS NOT NULL;
CREATE INDEX messages_to_send ON messages (device_id, created_at, id) WHERE kind = 'outbound' AND delivery = 'pending';

CREATE TABLE conversation_labels (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label           TEXT NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_by_label ON conversation_labels (label);

-- How far each user has read each conversation.
CREATE TABLE reads (
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    read_at         TEXT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

-- The event log: every durable change, in order. The writer gives each event the next seq
-- (store/events.rs), so the numbers have no holes, as SQLite's rowid has none.
CREATE TABLE events (
    seq             BIGINT PRIMARY KEY,
    at              TEXT NOT NULL,
    type            TEXT NOT NULL,
    conversation_id TEXT,
    conv_version    BIGINT,
    payload         TEXT NOT NULL
);
CREATE INDEX events_by_conversation ON events (conversation_id, conv_version);

-- Applied mutations and HTTP Idempotency-Keys: the same key again returns the stored answer.
CREATE TABLE applied (
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      BIGINT NOT NULL,
    response    TEXT NOT NULL,
    seq         BIGINT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE routing_rules (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    position   BIGINT NOT NULL,
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
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at              TEXT NOT NULL,
    actor_id        TEXT,
    actor_name      TEXT NOT NULL,
    action          TEXT NOT NULL,
    conversation_id TEXT,
    summary         TEXT NOT NULL,
    seq             BIGINT
);
CREATE INDEX audit_by_conversation ON audit (conversation_id, id);
CREATE INDEX audit_by_actor ON audit (actor_id, id);
CREATE INDEX audit_views ON audit (actor_id, conversation_id, at) WHERE action = 'view';
CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_is_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();

-- Receipts that arrive before the send they are about has been recorded; kept at most a day.
CREATE TABLE early_receipts (
    device_id     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    wa_message_id TEXT NOT NULL,
    delivery      TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    PRIMARY KEY (device_id, wa_message_id)
);

-- The gateway webhooks already processed, by their envelope's event id (prune.rs keeps them
-- a little longer than a webhook is accepted).
CREATE TABLE webhook_seen (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    event_id  TEXT NOT NULL,
    seen_at   TEXT NOT NULL,
    PRIMARY KEY (device_id, event_id)
);
CREATE INDEX webhook_seen_at ON webhook_seen (seen_at);
