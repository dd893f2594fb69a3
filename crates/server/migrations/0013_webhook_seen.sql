-- The gateway webhooks already processed, by their envelope's event id (api::devices::webhook):
-- a replayed body is not processed twice. Kept a little longer than the time window a webhook
-- is accepted in (prune.rs); a replay older than that is refused by its timestamp instead.
-- Append-only.
CREATE TABLE webhook_seen (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (device_id, event_id)
);
CREATE INDEX webhook_seen_at ON webhook_seen (seen_at);
