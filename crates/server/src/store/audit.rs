//! The audit log (append-only: triggers refuse UPDATE and DELETE).

use chrono::{DateTime, Utc};
use handoff_proto::{AuditEntry, ConversationId, Seq, UserId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::cols::opt_uuid_col;
use super::{parse_ts, ts, DbResult};

/// One audit row: who (no id for the server itself), what, about which conversation, and the
/// event the change appended, if any.
pub struct NewEntry<'a> {
    pub actor_id: Option<UserId>,
    pub actor_name: &'a str,
    pub action: &'a str,
    pub conversation_id: Option<ConversationId>,
    pub summary: &'a str,
    pub seq: Option<Seq>,
}

pub async fn insert(conn: &mut SqliteConnection, entry: &NewEntry<'_>, at: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit (at, actor_id, actor_name, action, conversation_id, summary, seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(ts(at))
    .bind(entry.actor_id.map(|a| a.to_string()))
    .bind(entry.actor_name)
    .bind(entry.action)
    .bind(entry.conversation_id.map(|c| c.to_string()))
    .bind(entry.summary)
    .bind(entry.seq)
    .execute(conn)
    .await
    .map(drop).map_err(Into::into)
}

const COLUMNS: &str = "id, at, actor_id, actor_name, action, conversation_id, summary, seq";

fn from_row(row: &SqliteRow) -> DbResult<AuditEntry> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: parse_ts(&row.try_get::<String, _>("at")?)?,
        actor_id: opt_uuid_col(row, "actor_id")?,
        actor_name: row.try_get("actor_name")?,
        action: row.try_get("action")?,
        conversation_id: opt_uuid_col(row, "conversation_id")?,
        summary: row.try_get("summary")?,
        seq: row.try_get("seq")?,
    })
}

/// Filters of `GET /api/v1/audit`. Entries come newest first; `before` is the last id of the previous page.
#[derive(Default)]
pub struct Filter {
    pub actor_id: Option<UserId>,
    pub conversation_id: Option<ConversationId>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before: Option<i64>,
}

pub async fn list(conn: &mut SqliteConnection, filter: &Filter, limit: i64) -> DbResult<Vec<AuditEntry>> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    if let Some(a) = filter.actor_id {
        sql.push_str(" AND actor_id = ?");
        binds.push(a.to_string());
    }
    if let Some(c) = filter.conversation_id {
        sql.push_str(" AND conversation_id = ?");
        binds.push(c.to_string());
    }
    if let Some(action) = &filter.action {
        sql.push_str(" AND action = ?");
        binds.push(action.clone());
    }
    if let Some(t) = filter.since {
        sql.push_str(" AND at >= ?");
        binds.push(ts(t));
    }
    if let Some(t) = filter.until {
        sql.push_str(" AND at < ?");
        binds.push(ts(t));
    }
    let mut query_sql = sql;
    if filter.before.is_some() {
        query_sql.push_str(" AND id < ?");
    }
    query_sql.push_str(" ORDER BY id DESC LIMIT ?");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(query_sql));
    for b in binds {
        query = query.bind(b);
    }
    if let Some(before) = filter.before {
        query = query.bind(before);
    }
    let rows = query.bind(limit).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Whether `actor` opened `conversation` after `since` (an audit row `view`).
pub async fn viewed_since(
    conn: &mut SqliteConnection,
    actor: UserId,
    conversation: ConversationId,
    since: DateTime<Utc>,
) -> DbResult<bool> {
    let recent: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM audit WHERE actor_id = ? AND conversation_id = ? AND action = 'view' AND at > ? LIMIT 1",
    )
    .bind(actor.to_string())
    .bind(conversation.to_string())
    .bind(ts(since))
    .fetch_optional(conn)
    .await?;
    Ok(recent.is_some())
}
