-- Gateway (WAHA) devices: where to call the gateway, and the secret its webhooks are signed with.
-- `gateway` is JSON {base_url, api_key, session}; both stay NULL for other kinds of device.
ALTER TABLE devices ADD COLUMN gateway TEXT;
ALTER TABLE devices ADD COLUMN webhook_secret TEXT;
