//! The event log: every change, in `seq` order, as the clients sync it.

use handoff_proto::{ConversationId, Event, EventBody, Seq};

use super::sql::Sql;
use super::Conn;
use super::{parse_ts, ts, DbResult};

/// The `seq` the next event takes: one above the highest, so the numbers have no holes, whichever
/// the backend (a PostgreSQL sequence would leave one at every rolled-back append). Read inside
/// the writer's transaction, which holds the log (see [`super::Writer::append`]).
pub(super) async fn next_seq(conn: &mut Conn) -> DbResult<Seq> {
    Ok(head_seq(conn).await? + 1)
}

/// Writes a transaction's events, a hundred to a statement (see [`super::Writer::commit`]).
pub(super) async fn insert_all(conn: &mut Conn, events: &[Event]) -> DbResult<()> {
    for chunk in events.chunks(100) {
        let mut q = Sql::new("INSERT INTO events (seq, at, type, conversation_id, conv_version, payload) VALUES ");
        for (i, event) in chunk.iter().enumerate() {
            let payload = serde_json::to_string(&event.body).map_err(super::Error::from)?;
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(event.seq).push(", ").bind(ts(event.at)).push(", ").bind(event.body.type_name().to_string());
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

/// Tells every node, once this transaction commits, that the log's head is `head`.
pub(super) async fn notify_head(conn: &mut Conn, head: Seq) -> DbResult<()> {
    // NOTIFY takes no parameters; the head is a number this server formats.
    sqlx::query(sqlx::AssertSqlSafe(format!("NOTIFY {CHANNEL}, '{head}'"))).execute(conn).await?;
    Ok(())
}

pub async fn head_seq(conn: &mut Conn) -> DbResult<Seq> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events").fetch_one(conn).await.map_err(Into::into)
}

pub async fn after(conn: &mut Conn, since: Seq, limit: i64) -> DbResult<Vec<Event>> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, at, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
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
    conn: &mut Conn,
    conversation: ConversationId,
    version: i64,
) -> DbResult<Vec<EventBody>> {
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM events WHERE conversation_id = $1 AND conv_version > $2 ORDER BY seq")
            .bind(conversation.to_string())
            .bind(version)
            .fetch_all(conn)
            .await?;
    payloads.iter().map(|p| serde_json::from_str(p).map_err(super::Error::from)).collect()
}
