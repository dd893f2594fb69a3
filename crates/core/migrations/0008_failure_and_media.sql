-- Why a reply failed, and an attachment's typed placeholder (JSON), as the server sends them.
ALTER TABLE messages ADD COLUMN failure TEXT;
ALTER TABLE messages ADD COLUMN media TEXT;
