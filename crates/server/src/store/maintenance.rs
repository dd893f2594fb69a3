//! Whole-database operations of the operator's subcommands: the online backup and the check
//! that a file is a whole database.

use std::path::Path;

use sqlx::SqliteConnection;

use super::DbResult;

/// Writes a consistent copy of the database to `to` (an empty file), while the server runs.
pub async fn vacuum_into(conn: &mut SqliteConnection, to: &Path) -> DbResult<()> {
    sqlx::query("VACUUM INTO ?")
        .bind(to.to_string_lossy().into_owned())
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// SQLite's verdict on the file: `ok`, or what is wrong.
pub async fn integrity_check(conn: &mut SqliteConnection) -> DbResult<String> {
    sqlx::query_scalar("PRAGMA integrity_check").fetch_one(conn).await.map_err(Into::into)
}
