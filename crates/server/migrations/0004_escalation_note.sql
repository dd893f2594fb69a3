-- The note of the latest escalation, pinned on top of the thread until the conversation is resolved.
ALTER TABLE conversations ADD COLUMN escalation_note_id TEXT;
