-- Local search (FTS5) over every cached message and contact. Append-only.
--
-- Both indexes are external-content tables: they hold only the index, the text stays in
-- `messages` and `conversations`, and triggers keep them in step. Rows are upserted in place
-- (their rowid never changes), so an update re-indexes only when the text itself changed.

-- Messages: words, with prefix indexes so that "refu" finds "refund" without a scan.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages WHEN old.body IS NOT new.body BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

-- Contacts: any three characters of a name or a number ("1234" finds +49 151 1234 5678).
CREATE VIRTUAL TABLE contacts_fts USING fts5(
    contact_name,
    contact_phone,
    content = 'conversations',
    content_rowid = 'rowid',
    tokenize = 'trigram remove_diacritics 1'
);
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO contacts_fts (rowid, contact_name, contact_phone) VALUES (new.rowid, new.contact_name, new.contact_phone);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, contact_name, contact_phone)
        VALUES ('delete', old.rowid, old.contact_name, old.contact_phone);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF contact_name, contact_phone ON conversations
    WHEN old.contact_name IS NOT new.contact_name OR old.contact_phone IS NOT new.contact_phone BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, contact_name, contact_phone)
        VALUES ('delete', old.rowid, old.contact_name, old.contact_phone);
    INSERT INTO contacts_fts (rowid, contact_name, contact_phone) VALUES (new.rowid, new.contact_name, new.contact_phone);
END;
INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');
