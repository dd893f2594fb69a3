-- Every address one customer is known by on a device: the phone-number JID, the LID, and (from
-- before addresses were made canonical) the c.us form. One customer, one contact, one conversation.
CREATE TABLE contact_aliases (
    device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    jid        TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (device_id, jid)
);
CREATE INDEX contact_aliases_by_contact ON contact_aliases (contact_id);
INSERT INTO contact_aliases (device_id, jid, contact_id) SELECT device_id, jid, id FROM contacts;
INSERT OR IGNORE INTO contact_aliases (device_id, jid, contact_id)
    SELECT device_id, replace(jid, '@c.us', '@s.whatsapp.net'), id FROM contacts WHERE jid LIKE '%@c.us';
