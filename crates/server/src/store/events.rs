//! The event log: every change, in `seq` order, as the clients sync it. Each workspace has its
//! own log: its events are numbered from 1 without a hole, and nothing here reads across two.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use handoff_proto::{ConversationId, DeviceId, Event, EventBody, Seq, WorkspaceId};

use super::sql::Sql;
use super::Conn;
use super::{parse_ts, ts, DbResult};

/// The `seq` the next event takes: one above the highest, so the numbers have no holes, whichever
/// the backend (a PostgreSQL sequence would leave one at every rolled-back append). Read inside
/// the writer's transaction, which holds the log (see [`super::Writer::append`]).
pub(super) async fn next_seq(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Seq> {
    Ok(head_seq(conn, ws).await? + 1)
}

/// Writes a transaction's events, a hundred to a statement (see [`super::Writer::commit`]).
pub(super) async fn insert_all(conn: &mut Conn, events: &[(WorkspaceId, Event)]) -> DbResult<()> {
    for chunk in events.chunks(100) {
        let mut q = Sql::new(
            "INSERT INTO events (workspace_id, seq, at, type, conversation_id, conv_version, payload) VALUES ",
        );
        for (i, (ws, event)) in chunk.iter().enumerate() {
            let payload = serde_json::to_string(&event.body).map_err(super::Error::from)?;
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(*ws)
                .push(", ")
                .bind(event.seq)
                .push(", ")
                .bind(ts(event.at))
                .push(", ")
                .bind(event.body.type_name().to_string());
            q.push(", ").bind(event.body.conversation_id().map(|id| id.to_string()));
            q.push(", ").bind(conv_version(&event.body)).push(", ").bind(payload).push(")");
        }
        q.query()?.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The conversation's version an event leaves it at, for the send guard ([`of_conversation_since`]).
fn conv_version(body: &EventBody) -> Option<i64> {
    match body {
        EventBody::MessageCreated { conversation, .. }
        | EventBody::ConversationUpdated { conversation, .. }
        | EventBody::ConversationMerged { conversation, .. } => Some(conversation.version),
        _ => None,
    }
}

/// The event log's lock on PostgreSQL: a transaction lock every node's writer takes first and
/// holds until it commits or rolls back (see [`super::Store::begin`]).
pub(super) async fn lock_log(conn: &mut Conn) -> DbResult<()> {
    // The function returns nothing, which the Any driver cannot read: counted instead.
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS locked")
        .bind(LOG_LOCK)
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// The key of [`lock_log`] ("Handoff" in ASCII).
const LOG_LOCK: i64 = 0x48_61_6e_64_6f_66_66;

/// The channel on which PostgreSQL tells every node that the log has grown.
pub const CHANNEL: &str = "handoff_events";

/// Tells every node, once this transaction commits, that `ws`'s log reaches `head`: the
/// payload is `<workspace id> <head>` ([`parse_head`]).
pub(super) async fn notify_head(conn: &mut Conn, ws: WorkspaceId, head: Seq) -> DbResult<()> {
    // NOTIFY takes no parameters; the id and the head are values this server formats.
    sqlx::query(sqlx::AssertSqlSafe(format!("NOTIFY {CHANNEL}, '{ws} {head}'"))).execute(conn).await?;
    Ok(())
}

/// A notification's workspace and head ([`notify_head`]).
pub fn parse_head(payload: &str) -> Option<(WorkspaceId, Seq)> {
    let (ws, head) = payload.split_once(' ')?;
    Some((ws.parse().ok()?, head.parse().ok()?))
}

pub async fn head_seq(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Seq> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events WHERE workspace_id = $1")
        .bind(ws)
        .fetch_one(conn)
        .await
        .map_err(Into::into)
}

/// Every workspace's head (those with no event yet are not listed).
pub async fn heads(conn: &mut Conn) -> DbResult<HashMap<WorkspaceId, Seq>> {
    let rows: Vec<(WorkspaceId, i64)> =
        sqlx::query_as("SELECT workspace_id, MAX(seq) FROM events GROUP BY workspace_id").fetch_all(conn).await?;
    Ok(rows.into_iter().collect())
}

pub async fn after(conn: &mut Conn, ws: WorkspaceId, since: Seq, limit: i64) -> DbResult<Vec<Event>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, at, payload FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(ws)
    .bind(since)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    decode(rows)
}

/// Events as stored (`seq`, `at`, `payload`), decoded.
fn decode(rows: Vec<(i64, String, String)>) -> DbResult<Vec<Event>> {
    rows.into_iter()
        .map(|(seq, at, payload)| {
            let body = serde_json::from_str(&payload).map_err(super::Error::from)?;
            Ok(Event { seq, at: parse_ts(&at)?, body })
        })
        .collect()
}

/// What happened to a conversation after its version `version`, in order.
pub async fn of_conversation_since(
    conn: &mut Conn,
    ws: WorkspaceId,
    conversation: ConversationId,
    version: i64,
) -> DbResult<Vec<EventBody>> {
    let payloads: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE workspace_id = $1 AND conversation_id = $2 AND conv_version > $3 \
         ORDER BY seq",
    )
    .bind(ws)
    .bind(conversation.to_string())
    .bind(version)
    .fetch_all(conn)
    .await?;
    payloads.iter().map(|p| serde_json::from_str(p).map_err(super::Error::from)).collect()
}

/// The payload an event keeps once redacted: its type and nothing else.
const REDACTED: &str = r#"{"type":"redacted"}"#;

/// Redacts every event of `ws` about `conversations` (an erasure): each keeps its `seq` and
/// time, and says no more than `redacted`.
pub async fn redact_conversations(conn: &mut Conn, ws: WorkspaceId, conversations: &[ConversationId]) -> DbResult<u64> {
    let mut gone = 0;
    for id in conversations {
        gone += sqlx::query(
            "UPDATE events SET type = 'redacted', payload = $1, conversation_id = NULL, conv_version = NULL \
             WHERE workspace_id = $2 AND conversation_id = $3",
        )
        .bind(REDACTED)
        .bind(ws)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(gone)
}

/// The conversations that were merged into one of `into` (`conversation.merged` events), and
/// those merged into them, and so on: one customer's earlier conversations.
pub async fn merged_into(conn: &mut Conn, ws: WorkspaceId, into: &[ConversationId]) -> DbResult<Vec<ConversationId>> {
    let mut found: Vec<ConversationId> = Vec::new();
    let mut next: Vec<ConversationId> = into.to_vec();
    while let Some(id) = next.pop() {
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM events WHERE workspace_id = $1 AND conversation_id = $2 AND type = 'conversation.merged'",
        )
        .bind(ws)
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?;
        for payload in payloads {
            if let EventBody::ConversationMerged { from, .. } =
                serde_json::from_str(&payload).map_err(super::Error::from)?
            {
                if !found.contains(&from) && !into.contains(&from) {
                    found.push(from);
                    next.push(from);
                }
            }
        }
    }
    Ok(found)
}

/// Every event of `ws` about `conversation`, oldest first (the retention period rewrites them).
pub async fn of_conversation(conn: &mut Conn, ws: WorkspaceId, conversation: ConversationId) -> DbResult<Vec<Event>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, at, payload FROM events WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY seq",
    )
    .bind(ws)
    .bind(conversation.to_string())
    .fetch_all(conn)
    .await?;
    decode(rows)
}

/// Writes `body` as event `seq` of `ws` in place of what it said (the retention period: a
/// message that is gone, a preview of one).
pub async fn rewrite(conn: &mut Conn, ws: WorkspaceId, seq: Seq, body: &EventBody) -> DbResult<()> {
    let payload = serde_json::to_string(body).map_err(super::Error::from)?;
    sqlx::query(
        "UPDATE events SET type = $1, payload = $2, conversation_id = $3, conv_version = $4 \
         WHERE workspace_id = $5 AND seq = $6",
    )
    .bind(body.type_name())
    .bind(payload)
    .bind(body.conversation_id().map(|id| id.to_string()))
    .bind(conv_version(body))
    .bind(ws)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// Redacts the erasure records of `ws` from before `before`; returns the newest one's `seq`.
pub async fn redact_erasures(conn: &mut Conn, ws: WorkspaceId, before: DateTime<Utc>) -> DbResult<Option<Seq>> {
    let newest: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM events WHERE workspace_id = $1 AND type = 'contact.erased' AND at < $2",
    )
    .bind(ws)
    .bind(ts(before))
    .fetch_one(&mut *conn)
    .await?;
    if newest.is_some() {
        sqlx::query(
            "UPDATE events SET type = 'redacted', payload = $1 WHERE workspace_id = $2 AND type = 'contact.erased' \
             AND at < $3",
        )
        .bind(REDACTED)
        .bind(ws)
        .bind(ts(before))
        .execute(conn)
        .await?;
    }
    Ok(newest)
}

/// Redacts the `messages.purged` events of `ws` before `seq` that a newer one for the same
/// linked number covers (its `before` is no earlier): a client that missed them applies the
/// newer one, and a first sync reads one purge per number instead of one per hour.
pub async fn redact_covered_purges(
    conn: &mut Conn,
    ws: WorkspaceId,
    device: DeviceId,
    before: DateTime<Utc>,
    seq: Seq,
) -> DbResult<u64> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT seq, payload FROM events WHERE workspace_id = $1 AND type = 'messages.purged' AND seq < $2",
    )
    .bind(ws)
    .bind(seq)
    .fetch_all(&mut *conn)
    .await?;
    let mut redacted = 0;
    for (old, payload) in rows {
        let covered = match serde_json::from_str(&payload).map_err(super::Error::from)? {
            EventBody::MessagesPurged { before: b, device_id } => device_id == Some(device) && b <= before,
            _ => false,
        };
        if covered {
            sqlx::query("UPDATE events SET type = 'redacted', payload = $1 WHERE workspace_id = $2 AND seq = $3")
                .bind(REDACTED)
                .bind(ws)
                .bind(old)
                .execute(&mut *conn)
                .await?;
            redacted += 1;
        }
    }
    Ok(redacted)
}
