//! The audit log: one append-only row for every change someone (or the server itself) made and
//! for every time someone opened a conversation. Rows are written in the same transaction as the
//! change they describe, so the log never claims a change that was rolled back, nor misses one.

use handoff_proto::{AuditEntry, Seq};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use crate::auth::Actor;
use crate::store::{self, opt_uuid_col, parse_ts, DbResult};

/// The name the server signs its own changes with (routing, snooze wake-up).
pub const SERVER_NAME: &str = "Handoff";

/// Who did something: a signed-in user or API key, or the server.
#[derive(Clone, Copy)]
pub enum Who<'a> {
    Actor(&'a Actor),
    Server,
}

impl<'a> From<&'a Actor> for Who<'a> {
    fn from(actor: &'a Actor) -> Self {
        Who::Actor(actor)
    }
}

pub async fn record(
    conn: &mut SqliteConnection,
    who: Who<'_>,
    action: &str,
    conversation_id: Option<Uuid>,
    summary: &str,
    seq: Option<Seq>,
) -> DbResult<()> {
    let (actor_id, actor_name) = match who {
        Who::Actor(a) => (Some(a.id().to_string()), a.user.name.as_str()),
        Who::Server => (None, SERVER_NAME),
    };
    sqlx::query(
        "INSERT INTO audit (at, actor_id, actor_name, action, conversation_id, summary, seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(store::ts(store::now()))
    .bind(actor_id)
    .bind(actor_name)
    .bind(action)
    .bind(conversation_id.map(|c| c.to_string()))
    .bind(summary)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

pub const AUDIT_COLUMNS: &str = "id, at, actor_id, actor_name, action, conversation_id, summary, seq";

pub fn entry_from_row(row: &SqliteRow) -> DbResult<AuditEntry> {
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
    pub actor_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub action: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub before: Option<i64>,
}

pub async fn list(conn: &mut SqliteConnection, filter: &Filter, limit: i64) -> DbResult<Vec<AuditEntry>> {
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE 1 = 1");
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
        binds.push(store::ts(t));
    }
    if let Some(t) = filter.until {
        sql.push_str(" AND at < ?");
        binds.push(store::ts(t));
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
    rows.iter().map(entry_from_row).collect()
}

/// Records that `actor` opened a conversation (the app says so when it shows a thread; the HTTP
/// API when the first page of its messages is read). Opening it again within
/// [`VIEW_RECORDED_EVERY`] (an app reconnecting with the thread on screen, an agent switching
/// back and forth) is the same opening.
pub async fn viewed(state: &crate::AppState, actor: &Actor, conversation_id: Uuid) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE id = ?")
        .bind(conversation_id.to_string())
        .fetch_optional(w.conn())
        .await?;
    let since = crate::store::ts(crate::store::now() - VIEW_RECORDED_EVERY);
    let recent: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM audit WHERE actor_id = ? AND conversation_id = ? AND action = 'view' AND at > ? LIMIT 1",
    )
    .bind(actor.id().to_string())
    .bind(conversation_id.to_string())
    .bind(since)
    .fetch_optional(w.conn())
    .await?;
    if exists.is_some() && recent.is_none() {
        record(w.conn(), actor.into(), "view", Some(conversation_id), "Opened the conversation", None).await?;
        w.commit().await?;
    }
    Ok(())
}

/// One person's openings of one conversation within this long are one audit row: switching
/// back and forth between two chats all day must not grow the (append-only) log without end.
pub const VIEW_RECORDED_EVERY: chrono::Duration = chrono::Duration::minutes(5);
