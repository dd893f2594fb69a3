-- The desktop cache, version 1. Append-only: add new migrations, never edit this one.
-- It mirrors the server's state as far as the event log has been applied (meta.last_seq),
-- plus the outbox of changes not yet acknowledged.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id     TEXT PRIMARY KEY,
    email  TEXT NOT NULL,
    name   TEXT NOT NULL,
    role   TEXT NOT NULL,
    active INTEGER NOT NULL
);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    phone        TEXT,
    last_seen_at TEXT
);

CREATE TABLE conversations (
    id                   TEXT PRIMARY KEY,
    device_id            TEXT NOT NULL,
    contact_id           TEXT NOT NULL,
    contact_name         TEXT,
    contact_phone        TEXT NOT NULL,
    status               TEXT NOT NULL,
    assignee_id          TEXT,
    team_id              TEXT,
    version              INTEGER NOT NULL,
    assigned_at          TEXT,
    last_message_at      TEXT NOT NULL,
    last_message_preview TEXT NOT NULL
);
CREATE INDEX conversations_by_activity ON conversations (last_message_at DESC, id DESC);

-- Messages from the server, and optimistic ones (pending = 1, id = the mutation id) until the
-- server's copy replaces them.
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    author_id       TEXT,
    created_at      TEXT NOT NULL,
    delivery        TEXT,
    wa_message_id   TEXT,
    mutation_id     TEXT,
    pending         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at, id);

-- How far I have read each conversation.
CREATE TABLE reads (
    conversation_id TEXT PRIMARY KEY,
    read_at         TEXT NOT NULL
);

-- Changes made here and not yet acknowledged by the server, in the order they were made.
CREATE TABLE outbox (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    mutation_id     TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    op              TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
