-- Erasure and the retention period remove rows for good (docs/privacy.md): the search indexes
-- remove a deleted row's words from their segments at once ("secure-delete", a setting FTS5
-- keeps in the index itself), instead of marking them deleted until a later merge. The pages
-- the cache frees are overwritten too (PRAGMA secure_delete, set on every connection).
-- Append-only.
INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);
INSERT INTO contacts_fts (contacts_fts, rank) VALUES ('secure-delete', 1);
