//! The database's own facts (`meta`): its epoch.

use super::{Conn, DbResult};

pub async fn get(conn: &mut Conn, key: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(conn).await.map_err(Into::into)
}

pub async fn set(conn: &mut Conn, key: &str, value: &str) -> DbResult<()> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets `key` unless it has a value, and returns the value it has then (two nodes starting on
/// one new database agree on the first one written).
pub async fn get_or_set(conn: &mut Conn, key: &str, value: &str) -> DbResult<String> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_one(conn).await.map_err(Into::into)
}
