-- In a group chat, who of its members wrote the message (their name, else their number).
ALTER TABLE messages ADD COLUMN sender TEXT;
