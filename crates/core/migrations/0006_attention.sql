-- Changes with text (replies, notes, escalations) that the server refused after they were
-- queued, typically a reply written offline that would have gone out blind after the customer or
-- a teammate wrote. Written in the same transaction that takes them out of the outbox, so a
-- refusal can never lose the agent's text; kept until the agent sends anyway, edits or discards.
-- Append-only.
CREATE TABLE attention (
    mutation_id     TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    op              TEXT NOT NULL,  -- the refused op, as queued (JSON)
    error           TEXT NOT NULL,  -- the server's refusal (JSON ErrorDetail)
    refused_at      TEXT NOT NULL
);
CREATE INDEX attention_by_time ON attention (refused_at);
