//! The database's own facts (`meta`): its epoch.

use sqlx::SqliteConnection;

use super::DbResult;

pub async fn get(conn: &mut SqliteConnection, key: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(conn).await.map_err(Into::into)
}

pub async fn set(conn: &mut SqliteConnection, key: &str, value: &str) -> DbResult<()> {
    sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}
