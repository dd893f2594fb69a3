-- Prefix indexes for every prefix length from 2 to 8 characters (0005 had 2 and 3 only). A prefix
-- query without its own prefix index merges the doclists of every matching word before it can
-- return the newest match: "order*" over a million messages took 6 ms; with the index it reads
-- like a single word. Twice the index size, measured in docs/performance.md. Append-only.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4 5 6 7 8'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
