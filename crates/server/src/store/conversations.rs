//! Conversations: the queue's rows, with their contact, team deadlines, labels and unread count.

use handoff_proto::{Contact, Conversation, ConversationStatus};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::cols::{decode_err, opt_ts_col, opt_uuid_col, uuid_col};
use super::{parse_ts, DbResult};

/// The conversation query with `$unread` as its unread count.
macro_rules! conversation_select {
    ($unread:literal) => {
        concat!(
            "SELECT c.id, c.device_id, c.status, c.assignee_id, c.team_id, c.version, c.assigned_at, \
               c.last_message_at, c.last_message_preview, c.snooze_until, c.opened_at, c.first_response_at, \
               c.resolved_at, c.escalation_note_id, t.first_response_secs, t.resolution_secs, \
               (SELECT group_concat(label, char(10)) FROM \
                  (SELECT label FROM conversation_labels WHERE conversation_id = c.id ORDER BY label)) AS labels, \
               k.id AS contact_id, k.name AS contact_name, k.phone AS contact_phone, ",
            $unread,
            " AS unread_count \
             FROM conversations c JOIN contacts k ON k.id = c.contact_id LEFT JOIN teams t ON t.id = c.team_id"
        )
    };
}

/// Conversation columns; the first `?` is the user whose unread count is wanted.
/// (Only plain `?` parameters follow: sqlx numbers plain and `?N` parameters separately.)
pub const SELECT: &str = conversation_select!(
    "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.kind = 'inbound' \
        AND m.created_at > COALESCE((SELECT r.read_at FROM reads r WHERE r.user_id = ? AND r.conversation_id = c.id), ''))"
);

/// Conversation columns for no one in particular: the unread count is 0, and not counted (it
/// reads every message of the conversation: in a long one, the longest part of storing a message).
const SELECT_FOR_ALL: &str = conversation_select!("0");

pub fn from_row(row: &SqliteRow) -> DbResult<Conversation> {
    let status: String = row.try_get("status")?;
    let labels: Option<String> = row.try_get("labels")?;
    let opened_at = opt_ts_col(row, "opened_at")?;
    let due = |col: &str| -> DbResult<Option<chrono::DateTime<chrono::Utc>>> {
        let secs: Option<i64> = row.try_get(col)?;
        Ok(opened_at.zip(secs).map(|(at, secs)| at + chrono::Duration::seconds(secs)))
    };
    Ok(Conversation {
        id: uuid_col(row, "id")?,
        device_id: uuid_col(row, "device_id")?,
        contact: Contact {
            id: uuid_col(row, "contact_id")?,
            name: row.try_get("contact_name")?,
            phone: row.try_get("contact_phone")?,
        },
        status: ConversationStatus::parse(&status).ok_or_else(|| decode_err("status", &status))?,
        assignee_id: opt_uuid_col(row, "assignee_id")?,
        team_id: opt_uuid_col(row, "team_id")?,
        version: row.try_get("version")?,
        last_message_at: parse_ts(&row.try_get::<String, _>("last_message_at")?)?,
        last_message_preview: row.try_get("last_message_preview")?,
        unread_count: row.try_get("unread_count")?,
        assigned_at: opt_ts_col(row, "assigned_at")?,
        labels: labels.map(|l| l.split('\n').map(str::to_string).collect()).unwrap_or_default(),
        snooze_until: opt_ts_col(row, "snooze_until")?,
        opened_at,
        first_response_at: opt_ts_col(row, "first_response_at")?,
        first_response_due_at: due("first_response_secs")?,
        resolution_due_at: due("resolution_secs")?,
        resolved_at: opt_ts_col(row, "resolved_at")?,
        escalation_note_id: opt_uuid_col(row, "escalation_note_id")?,
    })
}

/// A conversation as `viewer` sees it (with their unread count), or as an event carries it (`None`: 0 unread).
pub async fn get(conn: &mut SqliteConnection, id: Uuid, viewer: Option<Uuid>) -> DbResult<Option<Conversation>> {
    let row = match viewer {
        Some(viewer) => {
            sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE c.id = ?")))
                .bind(viewer.to_string())
                .bind(id.to_string())
                .fetch_optional(conn)
                .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_FOR_ALL} WHERE c.id = ?")))
                .bind(id.to_string())
                .fetch_optional(conn)
                .await?
        }
    };
    row.as_ref().map(from_row).transpose()
}

pub async fn exists(conn: &mut SqliteConnection, id: Uuid) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}
