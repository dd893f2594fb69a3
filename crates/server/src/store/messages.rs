//! Messages: customers', agents' (replies and notes) and the system's.

use handoff_proto::{Delivery, Message, MessageKind};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::cols::{decode_err, opt_uuid_col, uuid_col};
use super::{parse_ts, DbResult};

pub const COLUMNS: &str =
    "id, conversation_id, kind, body, author_id, created_at, delivery, wa_message_id, mutation_id, failure, media, sender";

pub fn from_row(row: &SqliteRow) -> DbResult<Message> {
    let kind: String = row.try_get("kind")?;
    let delivery: Option<String> = row.try_get("delivery")?;
    Ok(Message {
        id: uuid_col(row, "id")?,
        conversation_id: uuid_col(row, "conversation_id")?,
        kind: MessageKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        body: row.try_get("body")?,
        author_id: opt_uuid_col(row, "author_id")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        delivery: delivery.map(|d| Delivery::parse(&d).ok_or_else(|| decode_err("delivery", &d))).transpose()?,
        wa_message_id: row.try_get("wa_message_id")?,
        mutation_id: opt_uuid_col(row, "mutation_id")?,
        failure: row.try_get("failure")?,
        sender: row.try_get("sender")?,
        media: row
            .try_get::<Option<String>, _>("media")?
            .map(|m| serde_json::from_str(&m).map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose()?,
    })
}

pub async fn get(conn: &mut SqliteConnection, id: Uuid) -> DbResult<Option<Message>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM messages WHERE id = ?")))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The message a device delivered under a WhatsApp id, if stored.
pub async fn by_wa_id(conn: &mut SqliteConnection, device_id: Uuid, wa_message_id: &str) -> DbResult<Option<Message>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages WHERE device_id = ? AND wa_message_id = ?"
    )))
    .bind(device_id.to_string())
    .bind(wa_message_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// A conversation's messages, newest first, at most `limit`; with `before` (a message's
/// `created_at` as stored, and its id), only those that come before it.
pub async fn page(
    conn: &mut SqliteConnection,
    conversation: Uuid,
    before: Option<(String, String)>,
    limit: i64,
) -> DbResult<Vec<Message>> {
    let rows = match before {
        Some((at, id)) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation_id = ? AND (created_at, id) < (?, ?) \
                 ORDER BY created_at DESC, id DESC LIMIT ?"
            )))
            .bind(conversation.to_string())
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
            )))
            .bind(conversation.to_string())
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
    };
    rows.iter().map(from_row).collect()
}
