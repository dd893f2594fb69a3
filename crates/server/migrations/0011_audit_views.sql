-- "Opened the conversation" is recorded at most once per person and conversation every few
-- minutes (audit::viewed): this finds the last such row without reading the person's whole
-- history. Append-only.
CREATE INDEX audit_views ON audit (actor_id, conversation_id, at) WHERE action = 'view';
