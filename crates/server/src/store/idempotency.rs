//! Idempotency keys: the first answer to each (workspace, person, key), kept a day, so a retried request
//! gets that answer again instead of acting twice.

use chrono::{DateTime, Utc};
use handoff_proto::{Seq, UserId, WorkspaceId};

use super::Conn;
use super::{ts, DbResult};

/// A request already applied: what it was (its fingerprint) and what it answered.
pub struct Applied {
    pub fingerprint: String,
    pub status: u16,
    /// The answer, as JSON.
    pub response: String,
    pub seq: Option<Seq>,
}

pub async fn get(conn: &mut Conn, ws: WorkspaceId, user: UserId, key: &str) -> DbResult<Option<Applied>> {
    let row: Option<(String, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT fingerprint, status, response, seq FROM applied WHERE workspace_id = $1 AND user_id = $2 AND key = $3",
    )
    .bind(ws)
    .bind(user)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(fingerprint, status, response, seq)| Applied {
        fingerprint,
        status: u16::try_from(status).unwrap_or(200),
        response,
        seq,
    }))
}

pub async fn insert(
    conn: &mut Conn,
    ws: WorkspaceId,
    user: UserId,
    key: &str,
    applied: &Applied,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO applied (user_id, key, fingerprint, status, response, seq, created_at, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(user.to_string())
    .bind(key)
    .bind(&applied.fingerprint)
    .bind(i64::from(applied.status))
    .bind(&applied.response)
    .bind(applied.seq)
    .bind(ts(now))
    .bind(ws)
    .execute(conn)
    .await
    .map(drop)
    .map_err(Into::into)
}

/// Forgets the answers given before `before`; returns how many went.
pub async fn prune(conn: &mut Conn, before: DateTime<Utc>) -> DbResult<u64> {
    let gone = sqlx::query("DELETE FROM applied WHERE created_at < $1").bind(ts(before)).execute(conn).await?;
    Ok(gone.rows_affected())
}
