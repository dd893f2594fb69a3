-- Privacy: SQLite's 0017_privacy.sql, on PostgreSQL. Append-only.
ALTER TABLE workspaces ADD COLUMN retention_days BIGINT;
ALTER TABLE workspaces ADD COLUMN offline_grace_days BIGINT NOT NULL DEFAULT 3;
ALTER TABLE devices ADD COLUMN retention_days BIGINT;

-- The audit log stays append-only with one exception: erasing a contact replaces the summary of
-- an entry that named them by a fixed sentence, and changes nothing else of the entry.
CREATE OR REPLACE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.summary = 'Erased with the contact'
       AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_name = OLD.actor_name AND NEW.action = OLD.action
       AND NEW.conversation_id IS NOT DISTINCT FROM OLD.conversation_id
       AND NEW.seq IS NOT DISTINCT FROM OLD.seq AND NEW.workspace_id = OLD.workspace_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
