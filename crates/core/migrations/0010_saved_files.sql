-- Attachments this agent downloaded, and where they were saved: opening the thread again shows
-- "Saved to …" and a second click does not fetch the file again. Append-only.
CREATE TABLE saved_files (
    message_id TEXT PRIMARY KEY,
    path       TEXT NOT NULL,
    saved_at   TEXT NOT NULL
);
