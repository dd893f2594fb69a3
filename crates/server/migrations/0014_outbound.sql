-- The durable outbound worker (outbound.rs). Every reply gets the WhatsApp message id it is sent
-- with when it is committed, before any attempt: a retry, a resend after a crash or a restart is
-- then the same WhatsApp message, and the gateway's echo of it is recognised as ours.
-- `send_id` is the id handed to the device; `wa_message_id` stays what WhatsApp's events name the
-- message by once sent (a gateway may wrap the id, WAHA's `true_<chat>_<id>`). Append-only.
ALTER TABLE messages ADD COLUMN send_id TEXT;
-- Replies committed before this migration and still waiting get theirs now (WhatsApp Web's form:
-- 3EB0 and 18 hex digits).
UPDATE messages SET send_id = '3EB0' || upper(hex(randomblob(9)))
    WHERE kind = 'outbound' AND delivery = 'pending' AND wa_message_id IS NULL;
CREATE UNIQUE INDEX messages_by_send_id ON messages (device_id, send_id) WHERE send_id IS NOT NULL;
-- What each device's worker has still to send, oldest first.
CREATE INDEX messages_to_send ON messages (device_id, created_at, id) WHERE kind = 'outbound' AND delivery = 'pending';
