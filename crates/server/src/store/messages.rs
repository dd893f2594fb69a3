//! Messages: customers', agents' (replies and notes) and the system's.

use handoff_proto::{
    ConversationId, Delivery, DeviceId, Message, MessageId, MessageKind, MutationId, UserId, WorkspaceId,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::cols::{opt_uuid_col, uuid_col};
use super::Conn;
use super::{parse_ts, DbResult};

pub const COLUMNS: &str =
    "id, conversation_id, kind, body, author_id, created_at, delivery, wa_message_id, mutation_id, failure, media, sender";

pub fn from_row(row: &AnyRow) -> DbResult<Message> {
    Ok(Message {
        id: uuid_col(row, "id")?,
        conversation_id: uuid_col(row, "conversation_id")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        author_id: opt_uuid_col(row, "author_id")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        delivery: row.try_get("delivery")?,
        wa_message_id: row.try_get("wa_message_id")?,
        mutation_id: opt_uuid_col(row, "mutation_id")?,
        failure: row.try_get("failure")?,
        sender: row.try_get("sender")?,
        media: row
            .try_get::<Option<String>, _>("media")?
            .map(|m| serde_json::from_str(&m).map_err(super::Error::from))
            .transpose()?,
    })
}

pub async fn get(conn: &mut Conn, ws: WorkspaceId, id: MessageId) -> DbResult<Option<Message>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE workspace_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// The message a device delivered under a WhatsApp id, if stored.
pub async fn by_wa_id(conn: &mut Conn, device_id: DeviceId, wa_message_id: &str) -> DbResult<Option<Message>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages WHERE device_id = $1 AND wa_message_id = $2"
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
    conn: &mut Conn,
    ws: WorkspaceId,
    conversation: ConversationId,
    before: Option<(String, String)>,
    limit: i64,
) -> DbResult<Vec<Message>> {
    let rows = match before {
        Some((at, id)) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND (created_at, id) < ($2, $3) \
                 AND workspace_id = $5 ORDER BY created_at DESC, id DESC LIMIT $4"
            )))
            .bind(conversation)
            .bind(at)
            .bind(id)
            .bind(limit)
            .bind(ws)
            .fetch_all(conn)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM messages WHERE conversation_id = $1 AND workspace_id = $3 \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            )))
            .bind(conversation)
            .bind(limit)
            .bind(ws)
            .fetch_all(conn)
            .await?
        }
    };
    rows.iter().map(from_row).collect()
}

/// Adds a system message (visible to the team, never sent to WhatsApp) to a conversation.
pub async fn insert_system(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: MessageId,
    conversation_id: ConversationId,
    body: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, device_id, kind, body, created_at, workspace_id) \
         SELECT $1, id, device_id, $2, $3, $4, workspace_id FROM conversations WHERE id = $5 AND workspace_id = $6",
    )
    .bind(id)
    .bind(MessageKind::System)
    .bind(body)
    .bind(super::ts(super::now()))
    .bind(conversation_id)
    .bind(ws)
    .execute(conn)
    .await?;
    Ok(())
}

/// The WhatsApp ids of a conversation's customer messages after `since` (a stored `created_at`;
/// all when `None`), newest first, at most 100: what a read receipt covers.
pub async fn inbound_wa_ids_since(
    conn: &mut Conn,
    ws: WorkspaceId,
    conversation_id: ConversationId,
    since: Option<&str>,
) -> DbResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT wa_message_id FROM messages WHERE conversation_id = $1 AND kind = $3 \
         AND wa_message_id IS NOT NULL AND ($2 IS NULL OR created_at > $2) AND workspace_id = $4 \
         ORDER BY created_at DESC LIMIT 100",
    )
    .bind(conversation_id.to_string())
    .bind(since)
    .bind(MessageKind::Inbound)
    .bind(ws)
    .fetch_all(conn)
    .await
    .map_err(Into::into)
}

/// What a message's attachment download needs: where the message is and where its file is.
pub struct Attachment {
    pub conversation_id: ConversationId,
    pub device_id: DeviceId,
    /// `None` when the message has no attachment.
    pub media: Option<handoff_proto::Media>,
    /// Where the device finds the file; `None` when it did not say.
    pub locator: Option<String>,
}

/// The device a message came through or went out by, by the message's id alone: which node a
/// request about it goes to (the request is answered there, in its caller's workspace).
pub async fn device_of(conn: &mut Conn, id: MessageId) -> DbResult<Option<DeviceId>> {
    sqlx::query_scalar("SELECT device_id FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}

pub async fn attachment(conn: &mut Conn, ws: WorkspaceId, id: MessageId) -> DbResult<Option<Attachment>> {
    let row = sqlx::query(
        "SELECT conversation_id, device_id, media, media_locator FROM messages WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(Attachment {
            conversation_id: uuid_col(&row, "conversation_id")?,
            device_id: uuid_col(&row, "device_id")?,
            media: row.try_get::<Option<String>, _>("media")?.and_then(|m| serde_json::from_str(&m).ok()),
            locator: row.try_get("media_locator")?,
        })
    })
    .transpose()
}

/// An agent's reply or note.
pub struct NewMessage<'a> {
    pub workspace: WorkspaceId,
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub device_id: DeviceId,
    pub kind: MessageKind,
    pub body: &'a str,
    pub author_id: UserId,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// `Pending` for a reply, `None` for a note.
    pub delivery: Option<Delivery>,
    /// The app's mutation id it came with, echoed back so the app matches its optimistic copy.
    pub mutation_id: Option<MutationId>,
    /// The id a reply is sent to WhatsApp with, chosen at commit.
    pub send_id: Option<&'a str>,
}

pub async fn insert(conn: &mut Conn, m: &NewMessage<'_>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, device_id, kind, body, author_id, created_at, delivery, mutation_id, \
           send_id, workspace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(m.id.to_string())
    .bind(m.conversation_id.to_string())
    .bind(m.device_id.to_string())
    .bind(m.kind)
    .bind(m.body)
    .bind(m.author_id.to_string())
    .bind(super::ts(m.created_at))
    .bind(m.delivery)
    .bind(m.mutation_id.map(|u| u.to_string()))
    .bind(m.send_id)
    .bind(m.workspace)
    .execute(conn)
    .await?;
    Ok(())
}

/// A message from the chat, as a device delivered it.
pub struct FromChat<'a> {
    /// The device's workspace.
    pub workspace: WorkspaceId,
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub device_id: DeviceId,
    /// `Inbound` (the customer's) or `Outbound` (typed on the phone: `Sent` already).
    pub kind: MessageKind,
    pub body: &'a str,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub wa_message_id: &'a str,
    pub media: Option<&'a handoff_proto::Media>,
    /// Where the device finds the attachment's file.
    pub media_locator: Option<&'a str>,
    /// In a group chat, the member who wrote it.
    pub sender: Option<&'a str>,
}

/// What a message from the chat does to its conversation ([`super::conversations::chat_wrote`]).
pub struct Moves<'a> {
    pub preview: &'a str,
    /// The customer's (not typed on the phone).
    pub inbound: bool,
    pub reopens: bool,
    pub restart_sla: bool,
}

/// Stores a message from the chat and moves its conversation on; returns the message and the
/// conversation as the event carries them (as [`get`] and [`super::conversations::get`] read
/// them back). The hot path of ingest: on PostgreSQL one statement, where each round trip costs
/// far more than what it runs; on SQLite (in-process) three.
pub async fn store_from_chat(
    conn: &mut Conn,
    m: &FromChat<'_>,
    moves: &Moves<'_>,
) -> DbResult<(Message, handoff_proto::Conversation)> {
    let delivery = (m.kind == MessageKind::Outbound).then_some(Delivery::Sent);
    let media = m.media.map(serde_json::to_string).transpose().map_err(super::Error::from)?;
    let insert = |sql: &'static str| {
        sqlx::query(sql)
            .bind(m.id.to_string())
            .bind(m.conversation_id.to_string())
            .bind(m.device_id.to_string())
            .bind(m.kind)
            .bind(m.body)
            .bind(super::ts(m.created_at))
            .bind(delivery)
            .bind(m.wa_message_id)
            .bind(media.clone())
            .bind(m.sender)
            .bind(m.media_locator)
    };
    let conversation = match super::Dialect::of(conn) {
        super::Dialect::Postgres => {
            let row = insert(super::conversations::POSTGRES_STORE_FROM_CHAT)
                .bind(moves.preview)
                .bind(moves.reopens)
                .bind(moves.inbound)
                .bind(moves.restart_sla)
                .bind(handoff_proto::ConversationStatus::Open)
                .bind(m.workspace)
                .fetch_one(&mut *conn)
                .await?;
            super::conversations::from_row(&row)?
        }
        super::Dialect::Sqlite => {
            insert(
                "INSERT INTO messages (id, conversation_id, device_id, kind, body, created_at, delivery, wa_message_id, \
                   media, sender, media_locator, workspace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(m.workspace)
            .execute(&mut *conn)
            .await?;
            let (ws, id) = (m.workspace, m.conversation_id);
            super::conversations::chat_wrote(&mut *conn, ws, id, m.created_at, moves).await?;
            super::conversations::get(conn, ws, id, None)
                .await?
                .ok_or_else(|| super::Error::Corrupt { what: "conversation".into(), value: id.to_string() })?
        }
    };
    let message = Message {
        id: m.id,
        conversation_id: m.conversation_id,
        kind: m.kind,
        body: m.body.to_string(),
        author_id: None,
        created_at: m.created_at,
        delivery,
        wa_message_id: Some(m.wa_message_id.to_string()),
        mutation_id: None,
        failure: None,
        sender: m.sender.map(str::to_string),
        media: m.media.cloned().map(Box::new),
    };
    Ok((message, conversation))
}
