//! The audit log (append-only: triggers refuse UPDATE and DELETE).

use chrono::{DateTime, Utc};
use handoff_proto::{AuditEntry, ConversationId, Seq, UserId, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::cols::opt_uuid_col;
use super::sql::Sql;
use super::Conn;
use super::{parse_ts, ts, DbResult};

/// One audit row: who (no id for the server itself), what, about which conversation, and the
/// event the change appended, if any.
pub struct NewEntry<'a> {
    pub workspace: WorkspaceId,
    pub actor_id: Option<UserId>,
    pub actor_name: &'a str,
    pub action: &'a str,
    pub conversation_id: Option<ConversationId>,
    pub summary: &'a str,
    pub seq: Option<Seq>,
}

pub async fn insert(conn: &mut Conn, entry: &NewEntry<'_>, at: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit (at, actor_id, actor_name, action, conversation_id, summary, seq, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ts(at))
    .bind(entry.actor_id.map(|a| a.to_string()))
    .bind(entry.actor_name)
    .bind(entry.action)
    .bind(entry.conversation_id.map(|c| c.to_string()))
    .bind(entry.summary)
    .bind(entry.seq)
    .bind(entry.workspace)
    .execute(conn)
    .await
    .map(drop)
    .map_err(Into::into)
}

pub(super) const COLUMNS: &str = "id, at, actor_id, actor_name, action, conversation_id, summary, seq";

pub(super) fn from_row(row: &AnyRow) -> DbResult<AuditEntry> {
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

pub async fn list(conn: &mut Conn, ws: WorkspaceId, filter: &Filter, limit: i64) -> DbResult<Vec<AuditEntry>> {
    let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM audit WHERE workspace_id = "));
    q.bind(ws);
    if let Some(a) = filter.actor_id {
        q.push(" AND actor_id = ").bind(a.to_string());
    }
    if let Some(c) = filter.conversation_id {
        q.push(" AND conversation_id = ").bind(c.to_string());
    }
    if let Some(action) = &filter.action {
        q.push(" AND action = ").bind(action.clone());
    }
    if let Some(t) = filter.since {
        q.push(" AND at >= ").bind(ts(t));
    }
    if let Some(t) = filter.until {
        q.push(" AND at < ").bind(ts(t));
    }
    if let Some(before) = filter.before {
        q.push(" AND id < ").bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ").bind(limit);
    let rows = q.query()?.fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Whether `actor` opened `conversation` after `since` (an audit row `view`).
pub async fn viewed_since(
    conn: &mut Conn,
    ws: WorkspaceId,
    actor: UserId,
    conversation: ConversationId,
    since: DateTime<Utc>,
) -> DbResult<bool> {
    let recent: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM audit WHERE actor_id = $1 AND conversation_id = $2 AND action = 'view' AND at > $3 \
         AND workspace_id = $4 LIMIT 1",
    )
    .bind(actor.to_string())
    .bind(conversation.to_string())
    .bind(ts(since))
    .bind(ws)
    .fetch_optional(conn)
    .await?;
    Ok(recent.is_some())
}
