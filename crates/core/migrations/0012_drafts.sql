-- What the agent is writing, per conversation and composer mode (reply or note), until it is sent
-- or cleared. In the cache, not the webview's storage, so that a wipe takes it with everything
-- else and a note's draft and a reply's can never be mixed up. Append-only.
CREATE TABLE drafts (
    conversation_id TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('reply', 'note')),
    body            TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (conversation_id, mode)
);
