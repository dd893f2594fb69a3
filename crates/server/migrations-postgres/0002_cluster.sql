-- Several nodes on one database (docs/decisions.md, "Several nodes"). PostgreSQL only: an SQLite
-- database has one server, which holds every device and knows every connection itself.
-- Times are the nodes' own clocks (NTP-synchronised), written as elsewhere in the schema.

-- The nodes alive: each renews `seen_at` every few seconds; one not seen for a while is gone,
-- and the others drop what it held.
CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    -- Where the other nodes reach it (a request for a device it drives is passed on to it).
    url        TEXT NOT NULL,
    started_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);

-- Which node drives each linked device, until when. The holder renews its leases; a lease not
-- renewed by its expiry may be taken by any node.
CREATE TABLE device_leases (
    device_id  TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    node_id    TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX device_leases_by_node ON device_leases (node_id);

-- Every live WebSocket connection of every node, with what it is doing: a node that starts (or
-- that lost its notifications for a moment) reads the others' from here; changes reach the
-- nodes as notifications too. Never part of the event log.
CREATE TABLE presence_conns (
    node_id  TEXT NOT NULL,
    conn_id  BIGINT NOT NULL,
    user_id  TEXT NOT NULL,
    away     BOOLEAN NOT NULL,
    -- The connection's activity (JSON), while it has one.
    activity TEXT,
    PRIMARY KEY (node_id, conn_id)
);
