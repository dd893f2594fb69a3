//! The event log: every change, in `seq` order, as the clients sync it.

use chrono::{DateTime, Utc};
use handoff_proto::{ConversationId, Event, EventBody, Seq};
use sqlx::SqliteConnection;

use super::{parse_ts, ts, DbResult};

/// Appends `body` and returns its `seq` (see [`super::Writer::append`], the one caller).
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    at: DateTime<Utc>,
    body: &EventBody,
    conv_version: Option<i64>,
) -> DbResult<Seq> {
    let payload = serde_json::to_string(&body).map_err(super::Error::from)?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO events (at, type, conversation_id, conv_version, payload) VALUES (?, ?, ?, ?, ?) RETURNING seq",
    )
    .bind(ts(at))
    .bind(body.type_name())
    .bind(body.conversation_id().map(|id| id.to_string()))
    .bind(conv_version)
    .bind(payload)
    .fetch_one(conn)
    .await?;
    Ok(seq)
}

pub async fn head_seq(conn: &mut SqliteConnection) -> DbResult<Seq> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events").fetch_one(conn).await.map_err(Into::into)
}

pub async fn after(conn: &mut SqliteConnection, since: Seq, limit: i64) -> DbResult<Vec<Event>> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, at, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(since)
            .bind(limit)
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|(seq, at, payload)| {
            let body = serde_json::from_str(&payload).map_err(super::Error::from)?;
            Ok(Event { seq, at: parse_ts(&at)?, body })
        })
        .collect()
}

/// What happened to a conversation after its version `version`, in order.
pub async fn of_conversation_since(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    version: i64,
) -> DbResult<Vec<EventBody>> {
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM events WHERE conversation_id = ? AND conv_version > ? ORDER BY seq")
            .bind(conversation.to_string())
            .bind(version)
            .fetch_all(conn)
            .await?;
    payloads.iter().map(|p| serde_json::from_str(p).map_err(super::Error::from)).collect()
}
