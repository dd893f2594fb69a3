-- A whatsapp_web device linked by pair code instead of QR: the phone number (digits, with its
-- country code) WhatsApp sends the code request for. Kept so that a restart while it waits to
-- be linked asks again. Append-only.
ALTER TABLE devices ADD COLUMN pair_phone TEXT;
