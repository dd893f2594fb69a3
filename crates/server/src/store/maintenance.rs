//! Whole-database operations of the operator's subcommands on an SQLite file: the online backup
//! and the check that a file is a whole database.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::{Conn, DbResult};

/// An SQLite file by itself (a backup, one being restored), outside any server's pools.
pub async fn open_file(path: &Path, read_only: bool) -> DbResult<Conn> {
    sqlx::any::install_default_drivers();
    let options = SqliteConnectOptions::from_str("sqlite:")?.filename(path).read_only(read_only);
    let mut conn = Conn::connect(options.to_url_lossy().as_str()).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {}", crate::BUSY_TIMEOUT.as_millis())))
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

pub async fn close(conn: Conn) -> DbResult<()> {
    conn.close().await.map_err(Into::into)
}

/// Writes a consistent copy of the database to `to` (an empty file), while the server runs.
pub async fn vacuum_into(conn: &mut Conn, to: &Path) -> DbResult<()> {
    sqlx::query("VACUUM INTO $1")
        .bind(to.to_string_lossy().into_owned())
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// SQLite's verdict on the file: `ok`, or what is wrong.
pub async fn integrity_check(conn: &mut Conn) -> DbResult<String> {
    sqlx::query_scalar("PRAGMA integrity_check").fetch_one(conn).await.map_err(Into::into)
}
