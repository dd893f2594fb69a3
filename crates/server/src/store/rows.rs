//! Loading wire types from rows.

use handoff_proto::{
    Contact, Conversation, ConversationStatus, Delivery, Device, DeviceKind, DeviceStatus, Message, MessageKind, Role,
    User, UserKind,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{parse_ts, DbResult};

fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("bad {what} in the database: {value:?}").into())
}

pub fn uuid_col(row: &SqliteRow, col: &str) -> DbResult<Uuid> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|_| decode_err(col, &s))
}

pub fn opt_uuid_col(row: &SqliteRow, col: &str) -> DbResult<Option<Uuid>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Uuid::parse_str(&s).map_err(|_| decode_err(col, &s))).transpose()
}

pub fn opt_ts_col(row: &SqliteRow, col: &str) -> DbResult<Option<chrono::DateTime<chrono::Utc>>> {
    let s: Option<String> = row.try_get(col)?;
    s.as_deref().map(parse_ts).transpose()
}

pub const USER_COLUMNS: &str = "id, email, name, role, active, kind, must_change_password";

pub fn user_from_row(row: &SqliteRow) -> DbResult<User> {
    let role: String = row.try_get("role")?;
    let kind: String = row.try_get("kind")?;
    Ok(User {
        id: uuid_col(row, "id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| decode_err("role", &role))?,
        active: row.try_get("active")?,
        kind: UserKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        must_change_password: row.try_get("must_change_password")?,
    })
}

pub async fn user_by_id(conn: &mut SqliteConnection, id: Uuid) -> DbResult<Option<User>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?")))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

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
pub const CONVERSATION_SELECT: &str = conversation_select!(
    "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.kind = 'inbound' \
        AND m.created_at > COALESCE((SELECT r.read_at FROM reads r WHERE r.user_id = ? AND r.conversation_id = c.id), ''))"
);

/// Conversation columns for no one in particular: the unread count is 0, and not counted (it
/// reads every message of the conversation: in a long one, the longest part of storing a message).
const CONVERSATION_SELECT_FOR_ALL: &str = conversation_select!("0");

pub fn conversation_from_row(row: &SqliteRow) -> DbResult<Conversation> {
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
pub async fn conversation_by_id(
    conn: &mut SqliteConnection,
    id: Uuid,
    viewer: Option<Uuid>,
) -> DbResult<Option<Conversation>> {
    let row = match viewer {
        Some(viewer) => {
            sqlx::query(sqlx::AssertSqlSafe(format!("{CONVERSATION_SELECT} WHERE c.id = ?")))
                .bind(viewer.to_string())
                .bind(id.to_string())
                .fetch_optional(conn)
                .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!("{CONVERSATION_SELECT_FOR_ALL} WHERE c.id = ?")))
                .bind(id.to_string())
                .fetch_optional(conn)
                .await?
        }
    };
    row.as_ref().map(conversation_from_row).transpose()
}

pub const MESSAGE_COLUMNS: &str =
    "id, conversation_id, kind, body, author_id, created_at, delivery, wa_message_id, mutation_id, failure, media, sender";

pub fn message_from_row(row: &SqliteRow) -> DbResult<Message> {
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

pub async fn message_by_id(conn: &mut SqliteConnection, id: Uuid) -> DbResult<Option<Message>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?")))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(message_from_row).transpose()
}

pub const DEVICE_COLUMNS: &str = "id, name, kind, status, phone, last_seen_at";

pub fn device_from_row(row: &SqliteRow) -> DbResult<Device> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    Ok(Device {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        kind: DeviceKind::parse(&kind).ok_or_else(|| decode_err("kind", &kind))?,
        status: DeviceStatus::parse(&status).ok_or_else(|| decode_err("status", &status))?,
        phone: row.try_get("phone")?,
        last_seen_at: opt_ts_col(row, "last_seen_at")?,
    })
}

pub async fn device_by_id(conn: &mut SqliteConnection, id: Uuid) -> DbResult<Option<Device>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?")))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(device_from_row).transpose()
}

/// Every linked device, oldest first.
pub async fn all_devices(conn: &mut SqliteConnection) -> DbResult<Vec<Device>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY created_at")))
        .fetch_all(conn)
        .await?;
    rows.iter().map(device_from_row).collect()
}

/// A gateway device's WAHA session and webhook secret (`None` for other kinds of device).
pub async fn gateway_of(
    conn: &mut SqliteConnection,
    device_id: Uuid,
) -> DbResult<Option<(handoff_proto::GatewayConfig, String)>> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT gateway, webhook_secret FROM devices WHERE id = ?")
            .bind(device_id.to_string())
            .fetch_optional(conn)
            .await?;
    let Some((Some(gateway), Some(secret))) = row else { return Ok(None) };
    let config = serde_json::from_str(&gateway).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(Some((config, secret)))
}

/// The message a device delivered under a WhatsApp id, if stored.
pub async fn message_by_wa_id(
    conn: &mut SqliteConnection,
    device_id: Uuid,
    wa_message_id: &str,
) -> DbResult<Option<Message>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE device_id = ? AND wa_message_id = ?"
    )))
    .bind(device_id.to_string())
    .bind(wa_message_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(message_from_row).transpose()
}
