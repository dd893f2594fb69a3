-- The note of the latest escalation, pinned on top of the thread. Append-only.
ALTER TABLE conversations ADD COLUMN escalation_note_id TEXT;
