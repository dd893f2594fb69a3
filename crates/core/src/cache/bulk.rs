//! The first sync of a long history, and the search index that follows it (migration 0011).
//!
//! Catching up event by event costs most of its time in indexes with scattered keys: the search
//! index (every word, and its prefixes of 2 to 8 characters), the per-conversation message index
//! and the queue's activity index. When an empty cache has a long history to import, the sync
//! loop opens a *bulk import*. The thread and queue indexes are dropped and built once, sorted,
//! at the end (a conversation is rewritten by every one of its messages, and its index entry
//! moves each time). The imported rows stay out of the search index (the rowid range
//! `search_gap` says which), and a background task indexes them afterwards, newest first, a chunk
//! per transaction. The inbox and threads are usable as soon as the import ends; search covers
//! recent messages first and is complete when the gap is gone.

use super::{set_meta, Cache, DbResult};

/// The indexes a bulk import drops and builds again at its end (their SQL is kept in `meta`
/// meanwhile, so that a crash mid-import does not lose them: [`Cache::open`] finishes the import).
const DEFERRED_INDEXES: [&str; 2] = ["messages_by_conversation", "conversations_by_activity"];

/// Where the search index stands: messages still to index after a first sync, of how many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchBacklog {
    pub left: i64,
    pub total: i64,
}

impl Cache {
    /// Opens a bulk import, if the cache holds no messages yet (otherwise it is an ordinary
    /// catch-up and nothing changes). Returns whether a bulk import is open now.
    pub async fn begin_bulk(&self) -> DbResult<bool> {
        let mut tx = self.write().await?;
        if meta(&mut tx, "bulk_index_sql").await?.is_some() {
            return Ok(true); // an import interrupted by a lost connection goes on
        }
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM messages LIMIT 1").fetch_optional(&mut *tx).await?;
        if any.is_some() {
            return Ok(false);
        }
        let mut create = Vec::new();
        for name in DEFERRED_INDEXES {
            let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}"))).execute(&mut *tx).await?;
            create.push(sql);
        }
        set_meta(&mut tx, "bulk_index_sql", &create.join(";\n")).await?;
        // Every message from here on is in the gap until the import ends.
        set_meta(&mut tx, "search_gap_lo", "1").await?;
        set_meta(&mut tx, "search_gap_hi", &i64::MAX.to_string()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a bulk import, if one is open: builds the thread and queue indexes and leaves the
    /// imported messages to [`Cache::index_search_backlog`]. New messages are indexed as usual.
    pub async fn end_bulk(&self) -> DbResult<()> {
        let mut tx = self.write().await?;
        let Some(indexes) = meta(&mut tx, "bulk_index_sql").await? else { return Ok(()) };
        create_indexes(&mut tx, &indexes).await?;
        let (top, total): (Option<i64>, i64) =
            sqlx::query_as("SELECT max(rowid), count(*) FROM messages").fetch_one(&mut *tx).await?;
        set_meta(&mut tx, "search_gap_hi", &top.unwrap_or(0).to_string()).await?;
        set_meta(&mut tx, "search_gap_total", &total.to_string()).await?;
        sqlx::query("DELETE FROM meta WHERE key = 'bulk_index_sql'").execute(&mut *tx).await?;
        close_empty_gap(&mut tx).await?;
        tx.commit().await
    }

    pub async fn in_bulk(&self) -> DbResult<bool> {
        Ok(self.meta("bulk_index_sql").await?.is_some())
    }

    /// Indexes up to `chunk` messages of the search backlog, the newest first, in one
    /// transaction, and returns what is left. `None`: nothing to do (no backlog, or a bulk
    /// import is still open).
    pub async fn index_search_backlog(&self, chunk: i64) -> DbResult<Option<SearchBacklog>> {
        let mut tx = self.write().await?;
        let (lo, hi) = gap(&mut tx).await?;
        if hi < lo || meta(&mut tx, "bulk_index_sql").await?.is_some() {
            return Ok(None);
        }
        let from = lo.max(hi.saturating_sub(chunk - 1));
        index_range(&mut tx, from, hi).await?;
        set_meta(&mut tx, "search_gap_hi", &(from - 1).to_string()).await?;
        let left = count_between(&mut tx, lo, from - 1).await?;
        let total: i64 = meta(&mut tx, "search_gap_total").await?.and_then(|t| t.parse().ok()).unwrap_or(0);
        close_empty_gap(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(SearchBacklog { left, total: total.max(left) }))
    }

    /// How many cached messages are not searchable yet (none: `left` is 0, and nothing is
    /// counted; while some are, counting them is a scan of their rowid range).
    pub async fn search_backlog(&self) -> DbResult<SearchBacklog> {
        let mut conn = self.pool.acquire().await?;
        let (lo, hi) = gap(&mut conn).await?;
        if hi < lo {
            return Ok(SearchBacklog::default());
        }
        let left = count_between(&mut conn, lo, hi).await?;
        let total: i64 = meta(&mut conn, "search_gap_total").await?.and_then(|t| t.parse().ok()).unwrap_or(0);
        Ok(SearchBacklog { left, total: total.max(left) })
    }

    /// FTS5's own check that the search index holds exactly the cached messages' words (an
    /// error names what differs).
    pub async fn verify_search_index(&self) -> DbResult<()> {
        sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// After a wipe: the rows left in the gap (a few queued ones) go into the index and the gap
    /// closes, so that no trigger ever removes a row the index does not hold.
    pub(super) async fn close_gap_now(tx: &mut sqlx::SqliteConnection) -> DbResult<()> {
        if let Some(indexes) = meta(tx, "bulk_index_sql").await? {
            create_indexes(tx, &indexes).await?;
            sqlx::query("DELETE FROM meta WHERE key = 'bulk_index_sql'").execute(&mut *tx).await?;
        }
        let (lo, hi) = gap(tx).await?;
        index_range(tx, lo, hi).await?;
        sqlx::query("DELETE FROM meta WHERE key IN ('search_gap_lo', 'search_gap_hi', 'search_gap_total')")
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

async fn meta(conn: &mut sqlx::SqliteConnection, key: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(conn).await
}

/// Builds the indexes a bulk import dropped (`CREATE INDEX` statements joined by `;` and a newline).
async fn create_indexes(conn: &mut sqlx::SqliteConnection, statements: &str) -> DbResult<()> {
    for sql in statements.split(";\n") {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Puts the messages with rowids in `lo..=hi` into the search index.
async fn index_range(conn: &mut sqlx::SqliteConnection, lo: i64, hi: i64) -> DbResult<()> {
    sqlx::query("INSERT INTO messages_fts (rowid, body) SELECT rowid, body FROM messages WHERE rowid BETWEEN ? AND ?")
        .bind(lo)
        .bind(hi)
        .execute(conn)
        .await
        .map(drop)
}

async fn count_between(conn: &mut sqlx::SqliteConnection, lo: i64, hi: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM messages WHERE rowid BETWEEN ? AND ?")
        .bind(lo)
        .bind(hi)
        .fetch_one(conn)
        .await
}

async fn gap(conn: &mut sqlx::SqliteConnection) -> DbResult<(i64, i64)> {
    sqlx::query_as("SELECT lo, hi FROM search_gap").fetch_one(conn).await
}

async fn close_empty_gap(conn: &mut sqlx::SqliteConnection) -> DbResult<()> {
    let (lo, hi) = gap(conn).await?;
    if hi < lo {
        sqlx::query("DELETE FROM meta WHERE key IN ('search_gap_lo', 'search_gap_hi', 'search_gap_total')")
            .execute(conn)
            .await?;
    }
    Ok(())
}
