-- Handoff server schema, version 1. Migrations are append-only: never edit this file, add a new one.
-- Ids are UUID strings; times are RFC 3339 UTC strings with microseconds ("2026-11-25T12:00:00.000000Z"),
-- so text order is time order.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'viewer')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);

-- Opaque session tokens, stored as SHA-256 hashes: a leaked database gives no usable token.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    phone        TEXT,
    last_seen_at TEXT,
    created_at   TEXT NOT NULL
);

CREATE TABLE contacts (
    id        TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    jid       TEXT NOT NULL,
    phone     TEXT NOT NULL,
    name      TEXT,
    UNIQUE (device_id, jid)
);

CREATE TABLE conversations (
    id                   TEXT PRIMARY KEY,
    device_id            TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    contact_id           TEXT NOT NULL UNIQUE REFERENCES contacts (id) ON DELETE CASCADE,
    status               TEXT NOT NULL,
    assignee_id          TEXT REFERENCES users (id),
    team_id              TEXT,
    version              INTEGER NOT NULL,
    assigned_at          TEXT,
    snooze_until         TEXT,
    last_message_at      TEXT NOT NULL,
    last_message_preview TEXT NOT NULL,
    created_at           TEXT NOT NULL
);
CREATE INDEX conversations_by_activity ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_by_assignee ON conversations (assignee_id);

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
    mutation_id     TEXT
);
-- One row per WhatsApp message id and device: a redelivered message is stored once.
CREATE UNIQUE INDEX messages_by_wa_id ON messages (device_id, wa_message_id) WHERE wa_message_id IS NOT NULL;
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at DESC, id DESC);

-- How far each user has read each conversation.
CREATE TABLE reads (
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    read_at         TEXT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

-- The event log: every durable change, in order. seq is the rowid: strictly increasing.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    type            TEXT NOT NULL,
    conversation_id TEXT,
    conv_version    INTEGER,
    payload         TEXT NOT NULL
);
CREATE INDEX events_by_conversation ON events (conversation_id, conv_version);

-- Applied mutations and HTTP Idempotency-Keys: the same key again returns the stored answer.
CREATE TABLE applied (
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    response    TEXT NOT NULL,
    seq         INTEGER,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
