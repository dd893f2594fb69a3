//! The server's SQLite store: connection pools, migrations, the event log writer.
//!
//! Every change goes through a [`Writer`]: one transaction that updates the tables, appends the
//! events it caused (each takes the next `seq`), commits, and only then publishes the events to the
//! hub. One writer at a time, so events reach the hub in `seq` order.

pub mod audit;
pub(crate) mod cols;
pub mod contacts;
pub mod conversations;
pub mod devices;
pub mod events;
pub mod idempotency;
pub mod maintenance;
pub mod messages;
pub mod meta;
pub mod people;
pub mod replies;
pub mod routing;
pub mod teams;
mod time;
pub mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use handoff_proto::{Event, EventBody, Seq};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

use crate::hub::Hub;
pub use time::{now, parse_ts, ts};

/// What can go wrong in the store. The HTTP layer maps it (an internal error, logged); nothing
/// outside the store sees the database driver's own error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed or refused (I/O, a constraint, a lost connection).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A row holds what this server never writes: an id, a time or a state it cannot read.
    #[error("bad {what} in the database: {value:?}")]
    Corrupt { what: String, value: String },
    /// A JSON column that does not read back (or a value that does not write) as its type.
    #[error("JSON in the database: {0}")]
    Json(#[from] serde_json::Error),
    /// The server is stopping and its writer takes no more.
    #[error("the server is shutting down")]
    Stopped,
    /// The batch this change was to be committed in failed as a whole, for this reason.
    #[error("not stored: {0}")]
    NotStored(String),
}

pub type DbResult<T> = Result<T, Error>;

/// The connection the store's functions run on: a reader's, or the one writer's transaction
/// (`Writer::conn`). Code outside the store names only this, never the backend's own type.
pub type Conn = SqliteConnection;

#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    read: SqlitePool,
    write: SqlitePool,
    write_lock: Mutex<()>,
    hub: Hub,
    epoch: Uuid,
}

/// How far SQLite pushes a commit to disk before the server acknowledges it (WAL mode either way).
/// The measured cost is in docs/durability.md.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `synchronous = FULL`: the WAL is synced at every commit, so an acknowledged change
    /// survives a crash of the server process, of the operating system, and power loss.
    #[default]
    Full,
    /// `synchronous = NORMAL`: synced at checkpoints only. An acknowledged change survives a crash
    /// of the server process; power loss or an OS crash can lose the last commits (never corrupt).
    Normal,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!("durability is full or normal, not {other}")),
        }
    }
}

/// The data folder is the server's alone (0700) and the database file too (0600): it holds
/// every conversation, the gateways' API keys and webhook secrets. SQLite gives its `-wal` and
/// `-shm` files the database file's permissions. An existing folder or file is tightened.
fn private_files(data_dir: &Path, db: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(db)?;
        for file in [db.to_path_buf(), db.with_extension("db-wal"), db.with_extension("db-shm")] {
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db; // NTFS: the folder inherits its parent's ACL (docs/security.md)
    Ok(())
}

impl Store {
    /// Opens (or creates) `handoff.db` in `data_dir` and runs pending migrations.
    pub async fn open(
        data_dir: &Path,
        hub: Hub,
        durability: Durability,
        busy_timeout: std::time::Duration,
    ) -> anyhow::Result<Store> {
        let path = data_dir.join("handoff.db");
        private_files(data_dir, &path)?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        let write = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations").run(&write).await?;
        let read = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;

        let epoch = {
            let mut conn = write.acquire().await?;
            match meta::get(&mut conn, "epoch").await? {
                Some(e) => Uuid::parse_str(&e)?,
                None => {
                    let e = Uuid::new_v4();
                    meta::set(&mut conn, "epoch", &e.to_string()).await?;
                    e
                }
            }
        };
        Ok(Store { inner: Arc::new(StoreInner { read, write, write_lock: Mutex::new(()), hub, epoch }) })
    }

    /// Identifies this database's history. A restored or new database has a new epoch.
    pub fn epoch(&self) -> Uuid {
        self.inner.epoch
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// A read connection (WAL: readers never wait for the writer).
    pub async fn reader(&self) -> DbResult<sqlx::pool::PoolConnection<Sqlite>> {
        self.inner.read.acquire().await.map_err(Into::into)
    }

    /// Starts the one write transaction.
    pub async fn begin(&self) -> DbResult<Writer<'_>> {
        let guard = self.inner.write_lock.lock().await;
        let tx = self.inner.write.begin().await?;
        Ok(Writer { _guard: guard, tx, events: Vec::new(), store: self })
    }

    pub async fn head_seq(&self) -> DbResult<Seq> {
        let mut conn = self.reader().await?;
        events::head_seq(&mut conn).await
    }

    /// Events after `since`, oldest first, at most `limit`.
    pub async fn events_after(&self, since: Seq, limit: i64) -> DbResult<Vec<Event>> {
        let mut conn = self.reader().await?;
        events::after(&mut conn, since, limit).await
    }

    /// Writes the whole WAL back into the database file and empties it (after the last write:
    /// a stopped server leaves one self-contained file, which a copy or a backup can take).
    pub async fn checkpoint(&self) -> DbResult<()> {
        let _guard = self.inner.write_lock.lock().await;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.inner.write).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.inner.read.close().await;
        self.inner.write.close().await;
    }
}

/// The single write transaction. Dropping it without [`Writer::commit`] rolls everything back.
pub struct Writer<'a> {
    _guard: MutexGuard<'a, ()>,
    pub tx: Transaction<'static, Sqlite>,
    events: Vec<Event>,
    store: &'a Store,
}

impl Writer<'_> {
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Appends an event to the log in this transaction and returns its `seq`.
    pub async fn append(&mut self, body: EventBody) -> DbResult<Seq> {
        let at = now();
        let conv_version = match &body {
            EventBody::MessageCreated { conversation, .. }
            | EventBody::ConversationUpdated { conversation, .. }
            | EventBody::ConversationMerged { conversation, .. } => Some(conversation.version),
            _ => None,
        };
        let seq = events::insert(&mut self.tx, at, &body, conv_version).await?;
        self.events.push(Event { seq, at, body });
        Ok(seq)
    }

    /// Marks a point this transaction can return to with [`Writer::rollback_to`]: group commit
    /// stores many customer messages in one transaction, and one that fails must not take the
    /// others with it.
    pub async fn savepoint(&mut self) -> DbResult<Savepoint> {
        sqlx::query("SAVEPOINT item").execute(&mut *self.tx).await?;
        Ok(Savepoint { events: self.events.len() })
    }

    /// Keeps what was done since the savepoint.
    pub async fn release(&mut self, _point: Savepoint) -> DbResult<()> {
        sqlx::query("RELEASE item").execute(&mut *self.tx).await.map(drop).map_err(Into::into)
    }

    /// Undoes what was done since the savepoint, the events it appended included.
    pub async fn rollback_to(&mut self, point: Savepoint) -> DbResult<()> {
        sqlx::query("ROLLBACK TO item").execute(&mut *self.tx).await?;
        sqlx::query("RELEASE item").execute(&mut *self.tx).await?;
        self.events.truncate(point.events);
        Ok(())
    }

    /// Commits, then hands the new events to the hub in `seq` order.
    pub async fn commit(self) -> DbResult<()> {
        self.tx.commit().await?;
        for event in self.events {
            self.store.hub().publish_event(event);
        }
        Ok(())
    }
}

/// A point inside a [`Writer`]'s transaction (see [`Writer::savepoint`]).
#[must_use = "release it or roll back to it"]
pub struct Savepoint {
    events: usize,
}
