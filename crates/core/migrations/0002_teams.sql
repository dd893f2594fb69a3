-- Teams, labels, SLA times and mentions. Append-only, like 0001.

ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person';

-- Labels sorted and joined by newlines; the SLA clocks as the server computed them.
ALTER TABLE conversations ADD COLUMN labels TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN snooze_until TEXT;
ALTER TABLE conversations ADD COLUMN opened_at TEXT;
ALTER TABLE conversations ADD COLUMN first_response_at TEXT;
ALTER TABLE conversations ADD COLUMN first_response_due_at TEXT;
ALTER TABLE conversations ADD COLUMN resolution_due_at TEXT;

CREATE TABLE teams (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- The team as the server sent it (members, cap, SLA targets), as JSON.
    body TEXT NOT NULL
);

-- Notes that @mention me.
CREATE TABLE mentions (
    message_id      TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    by              TEXT,
    at              TEXT NOT NULL
);
