-- Receipts that arrive before the send they are about has been recorded (a fast phone answers
-- before the server has committed WhatsApp's id for the reply). Kept, at most a day, until the
-- id is recorded; then applied in the same transaction.
CREATE TABLE early_receipts (
    device_id     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    wa_message_id TEXT NOT NULL,
    delivery      TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    PRIMARY KEY (device_id, wa_message_id)
);

-- Why a reply failed, as the device said it (shown next to the red tick, with a retry).
ALTER TABLE messages ADD COLUMN failure TEXT;

-- An attachment's typed placeholder (JSON: kind, filename, mime, size, url); the body is its caption.
ALTER TABLE messages ADD COLUMN media TEXT;
