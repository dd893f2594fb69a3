//! Saved replies: the workspace's library and each person's own.

use chrono::{DateTime, Utc};
use handoff_proto::{SavedReply, SavedReplyId, TeamId, UserId, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::cols::{opt_uuid_col, uuid_col};
use super::{parse_ts, ts, Conn, DbResult};

const COLUMNS: &str = "id, shortcut, body, team_id, owner_id, created_by, updated_at";

fn from_row(row: &AnyRow) -> DbResult<SavedReply> {
    Ok(SavedReply {
        id: uuid_col(row, "id")?,
        shortcut: row.try_get("shortcut")?,
        body: row.try_get("body")?,
        team_id: opt_uuid_col(row, "team_id")?,
        owner_id: opt_uuid_col(row, "owner_id")?,
        created_by: uuid_col(row, "created_by")?,
        updated_at: parse_ts(&row.try_get::<String, _>("updated_at")?)?,
    })
}

/// What `me` sees: the workspace's library, then their own, each by shortcut.
pub async fn visible(conn: &mut Conn, ws: WorkspaceId, me: UserId) -> DbResult<Vec<SavedReply>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM saved_replies WHERE workspace_id = $1 AND (owner_id IS NULL OR owner_id = $2) \
         ORDER BY owner_id IS NOT NULL, shortcut"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(me).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// One saved reply `me` can see.
pub async fn get(conn: &mut Conn, ws: WorkspaceId, me: UserId, id: SavedReplyId) -> DbResult<Option<SavedReply>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM saved_replies WHERE workspace_id = $1 AND id = $2 AND (owner_id IS NULL OR owner_id = $3)"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(id).bind(me).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Whether `shortcut` already names another reply of the same library (`owner`: `None` for the
/// workspace's, else that person's own).
pub async fn shortcut_taken(
    conn: &mut Conn,
    ws: WorkspaceId,
    owner: Option<UserId>,
    shortcut: &str,
    except: Option<SavedReplyId>,
) -> DbResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM saved_replies WHERE workspace_id = $1 AND shortcut = $2 \
         AND ((owner_id IS NULL AND $3 IS NULL) OR owner_id = $3) AND ($4 IS NULL OR id <> $4)",
    )
    .bind(ws)
    .bind(shortcut)
    .bind(owner)
    .bind(except)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

pub struct NewSavedReply<'a> {
    pub id: SavedReplyId,
    pub shortcut: &'a str,
    pub body: &'a str,
    pub team_id: Option<TeamId>,
    pub owner_id: Option<UserId>,
    pub created_by: UserId,
}

pub async fn insert(conn: &mut Conn, ws: WorkspaceId, new: &NewSavedReply<'_>, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO saved_replies (id, workspace_id, shortcut, body, team_id, owner_id, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(new.id)
    .bind(ws)
    .bind(new.shortcut)
    .bind(new.body)
    .bind(new.team_id)
    .bind(new.owner_id)
    .bind(new.created_by)
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, ws: WorkspaceId, reply: &SavedReply, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "UPDATE saved_replies SET shortcut = $3, body = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(reply.id)
    .bind(&reply.shortcut)
    .bind(&reply.body)
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, ws: WorkspaceId, id: SavedReplyId) -> DbResult<()> {
    sqlx::query("DELETE FROM saved_replies WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
