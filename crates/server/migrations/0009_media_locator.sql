-- Where the device can fetch an attachment on demand (a gateway's file URL, WhatsApp's media
-- keys): the adapter's own locator, kept here and never sent to clients. Append-only.
ALTER TABLE messages ADD COLUMN media_locator TEXT;
