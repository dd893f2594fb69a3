-- In a group chat, who of its members wrote the message.
ALTER TABLE messages ADD COLUMN sender TEXT;
