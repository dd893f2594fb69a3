-- A first sync of a long history (an empty cache, many thousands of events behind) writes the
-- messages without indexing them for search; a background task then indexes them, newest first.
-- The inbox and threads are usable as soon as the rows are in, and search fills in from the most
-- recent messages back.
--
-- The rows not yet in the search index are the rowid range [search_gap_lo, search_gap_hi] (meta;
-- no keys: none). The triggers leave those rows to the indexer: it indexes the top of the range
-- and lowers search_gap_hi in one transaction, so a row is in the index exactly when it is
-- outside the range. Append-only.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;

CREATE VIEW search_gap AS
SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_gap_lo'), 1) AS lo,
       coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_gap_hi'), 0) AS hi;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
    WHEN NOT EXISTS (SELECT 1 FROM search_gap WHERE new.rowid BETWEEN lo AND hi) BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN NOT EXISTS (SELECT 1 FROM search_gap WHERE old.rowid BETWEEN lo AND hi) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
    WHEN old.body IS NOT new.body AND NOT EXISTS (SELECT 1 FROM search_gap WHERE old.rowid BETWEEN lo AND hi) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.rowid, new.body);
END;
