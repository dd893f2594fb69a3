//! Local search over the cache (FTS5, migration 0005): works offline and answers in
//! milliseconds over a million messages.
//!
//! * Messages: every word of the query must occur, each as a prefix ("refu" finds "refund";
//!   prefixes of 2 to 8 characters have their own index, migration 0007); results come newest first (by when the message entered the cache,
//!   which follows the event log). No relevance ranking: ranking would score every match, so a
//!   common word over a large cache would cost hundreds of milliseconds, while newest-first reads
//!   only the first `limit` matches from the index.
//! * Contacts: any three characters of a name or number (a trigram index); shorter queries
//!   fall back to a scan of the contact columns, which are small.

use sqlx::Row;

use crate::cache::{conversation_from_row, time, uuid, Cache, DbResult, CONVERSATION_SELECT};
use crate::types::{MessageHit, SearchResults};

/// Most contacts returned.
const CONTACT_LIMIT: i64 = 20;

/// The words of `input`, for both indexes: letters and digits, everything else separates.
fn words(input: &str) -> Vec<String> {
    input.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// An FTS5 query for messages: every word, each as a prefix. `None` when nothing is searchable.
pub fn message_query(input: &str) -> Option<String> {
    let words = words(input);
    (!words.is_empty()).then(|| words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" "))
}

/// An FTS5 query for the trigram contact index: words of three characters or more, each a
/// substring. `None` when no word is long enough.
pub fn contact_query(input: &str) -> Option<String> {
    let words: Vec<String> = words(input).into_iter().filter(|w| w.chars().count() >= 3).collect();
    (!words.is_empty()).then(|| words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" "))
}

impl Cache {
    /// Searches cached contacts and messages; at most `limit` messages, newest first.
    pub async fn search(&self, input: &str, limit: i64) -> DbResult<SearchResults> {
        let not_indexed = u32::try_from(self.search_backlog().await?.left).unwrap_or(u32::MAX);
        let mut results = SearchResults { contacts: Vec::new(), messages: Vec::new(), not_indexed };
        let Some(query) = message_query(input) else { return Ok(results) };

        let rows = match contact_query(input) {
            Some(q) => {
                let sql = format!(
                    "{CONVERSATION_SELECT} WHERE c.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?) \
                     ORDER BY c.last_message_at DESC LIMIT ?"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(q).bind(CONTACT_LIMIT).fetch_all(self.pool()).await?
            }
            None => {
                let needle = format!("%{}%", input.trim().replace(['%', '_', '\\'], ""));
                let sql = format!(
                    "{CONVERSATION_SELECT} WHERE c.contact_name LIKE ?1 OR c.contact_phone LIKE ?1 \
                     ORDER BY c.last_message_at DESC LIMIT ?2"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(needle).bind(CONTACT_LIMIT).fetch_all(self.pool()).await?
            }
        };
        results.contacts = rows.iter().map(conversation_from_row).collect::<DbResult<_>>()?;

        // The index drives the loop, in descending rowid order, and stops after `limit` matches.
        let rows = sqlx::query(
            "SELECT m.id, m.conversation_id, m.kind, m.created_at, c.contact_name, c.contact_phone, \
               snippet(messages_fts, 0, char(2), char(3), '…', 12) AS snippet \
             FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid \
               JOIN conversations c ON c.id = m.conversation_id \
             WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?",
        )
        .bind(query)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        for row in &rows {
            results.messages.push(MessageHit {
                message_id: uuid(row, "id")?,
                conversation_id: uuid(row, "conversation_id")?,
                contact_name: row.try_get("contact_name")?,
                contact_phone: row.try_get("contact_phone")?,
                kind: row.try_get("kind")?,
                snippet: row.try_get("snippet")?,
                created_at: time(row, "created_at")?,
            });
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_keep_words_and_drop_syntax() {
        assert_eq!(message_query("Refund, please!").as_deref(), Some("\"refund\"* \"please\"*"));
        assert_eq!(message_query("\"a\" OR NEAR(b)").as_deref(), Some("\"a\"* \"or\"* \"near\"* \"b\"*"));
        assert_eq!(message_query("  ... "), None);
        assert_eq!(message_query("Größe über").as_deref(), Some("\"größe\"* \"über\"*"));
    }

    #[test]
    fn contact_queries_need_three_characters_per_word() {
        assert_eq!(contact_query("+49 151 1234").as_deref(), Some("\"151\" \"1234\""));
        assert_eq!(contact_query("an"), None);
    }
}
