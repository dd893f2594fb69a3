-- SQLite's 0019_webhooks.sql, on PostgreSQL, and the lease that lets one node at a time
-- deliver them.
-- Outbound webhooks (docs/api.md, "Webhooks"): the endpoints an Admin registered, and every
-- delivery to them with its latest attempt (the delivery log). A delivery is made by the
-- webhook worker from the event log, never inside a request: `cursor_seq` is the last event of
-- the workspace's log the endpoint has been given. Deleting an endpoint deletes its deliveries.
-- Append-only.
CREATE TABLE webhook_endpoints (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    url           TEXT NOT NULL,
    -- The event types it wants, as a JSON array of strings.
    events        TEXT NOT NULL,
    -- The signing key, kept to sign each attempt (shown to the Admin once, at registration).
    secret        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'paused')),
    cursor_seq    BIGINT NOT NULL,
    -- Since when every attempt has failed (NULL after a success); a day of it pauses the endpoint.
    failing_since TEXT,
    paused_at     TEXT,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    type            TEXT NOT NULL,
    conversation_id TEXT,
    -- The exact bytes posted at every attempt.
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    -- When the next attempt is due (pending only).
    next_at         TEXT,
    -- The latest attempt: when, the HTTP status (none when no answer came), how long it took,
    -- why it failed, and the answer's first bytes.
    last_at         TEXT,
    status_code     BIGINT,
    latency_ms      BIGINT,
    error           TEXT,
    response        TEXT,
    delivered_at    TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (endpoint_id, conversation_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_by_conversation ON webhook_deliveries (conversation_id);

-- Work one node at a time does for the whole installation (the webhook worker): the node that
-- holds the lease until `expires_at`, renewed while it runs.
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    node_id    TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
