-- When a conversation was last resolved (SLA: resolution time and breaches). Append-only.
ALTER TABLE conversations ADD COLUMN resolved_at TEXT;
UPDATE conversations SET resolved_at = last_message_at WHERE status = 'resolved';
