-- Privacy (docs/privacy.md): each workspace's retention period and offline grace, a linked
-- number's own retention period, and erasure. Append-only.
ALTER TABLE workspaces ADD COLUMN retention_days INTEGER;
ALTER TABLE workspaces ADD COLUMN offline_grace_days INTEGER NOT NULL DEFAULT 3;
ALTER TABLE devices ADD COLUMN retention_days INTEGER;

-- The audit log stays append-only with one exception: erasing a contact replaces the summary of
-- an entry that named them (an address, a file's name) by a fixed sentence, and changes nothing
-- else of the entry.
DROP TRIGGER audit_is_append_only_update;
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
WHEN NOT (new.summary = 'Erased with the contact' AND new.id IS old.id AND new.at IS old.at
          AND new.actor_id IS old.actor_id AND new.actor_name IS old.actor_name AND new.action IS old.action
          AND new.conversation_id IS old.conversation_id AND new.seq IS old.seq
          AND new.workspace_id IS old.workspace_id)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
