//! The server's store: connection pools, migrations, the event log writer.
//!
//! Two backends behind one set of queries: the embedded SQLite (the default: a file in the data
//! folder, nothing to set up) and PostgreSQL (`database = "postgres://…"`). Both run through
//! sqlx's Any driver, so each query is written once, with `$1`-style parameters (both read them)
//! and the types both share: ids and times as text, integers, booleans. Where the dialects
//! differ, [`Dialect`] says which text to use. Each backend has its own migrations, append-only.
//!
//! Every change goes through a [`Writer`]: one transaction that updates the tables, appends the
//! events it caused (each takes the next `seq`), commits, and only then publishes the events to the
//! hub. One writer at a time, so events reach the hub in `seq` order.

pub mod audit;
pub mod bearers;
pub mod cluster;
pub(crate) mod cols;
pub mod contacts;
pub mod conversations;
pub mod devices;
pub mod events;
pub mod gateway_seen;
pub mod idempotency;
pub mod maintenance;
pub mod messages;
pub mod meta;
pub mod people;
pub mod privacy;
pub mod replies;
pub mod routing;
pub mod saved_replies;
mod sql;
pub mod teams;
mod time;
pub mod webhooks;
pub mod workspaces;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use handoff_proto::{Event, EventBody, Seq, WorkspaceId};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Executor, Transaction};
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
pub type Conn = AnyConnection;

/// Where the data is kept (`database` in the settings, `--database`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file: the embedded default, `handoff.db` in the data folder.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its URL (`postgres://user:password@host:port/name`): several
    /// nodes may share it (docs/deploy.md).
    Postgres(String),
}

impl Database {
    /// The setting as an operator writes it: nothing (`handoff.db` in `data_dir`), a
    /// `postgres://` or `postgresql://` URL, or an SQLite file's path (plain, or as an
    /// `sqlite:` URL).
    pub fn from_setting(setting: Option<&str>, data_dir: &Path) -> Result<Database, String> {
        let Some(text) = setting.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Database::Sqlite(data_dir.join("handoff.db")));
        };
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Database::Postgres(text.to_owned()));
        }
        let path = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")).unwrap_or(text);
        if path.is_empty() || path.contains("://") || path.contains('?') {
            return Err(format!(
                "database is an SQLite file's path or a postgres:// URL, not {text:?} (docs/deploy.md)"
            ));
        }
        Ok(Database::Sqlite(PathBuf::from(path)))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }

    /// Where it is, for the log: the file, or the PostgreSQL server and database without the
    /// password.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) => {
                    let _ = u.set_password(None);
                    u.to_string()
                }
                Err(_) => "postgres (an unreadable URL)".into(),
            },
        }
    }
}

/// A PostgreSQL database of its own for a test's server, on the server `base` names (its own
/// database name is replaced), named after the test's data folder: the same folder, the same
/// database. [`Store::open`] creates it.
pub fn test_database(base: &str, data_dir: &Path) -> Database {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    let name = format!("handoff_test_{:016x}", hasher.finish());
    let url = match url::Url::parse(base) {
        Ok(mut u) => {
            u.set_path(&name);
            u.to_string()
        }
        Err(_) => base.to_owned(),
    };
    Database::Postgres(url)
}

/// The SQL one backend writes differently from the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of(conn: &Conn) -> Dialect {
        if conn.backend_name() == "PostgreSQL" {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    /// SQLite: read-only connections (WAL: readers never wait for the writer). PostgreSQL: the
    /// same pool as `write`.
    read: AnyPool,
    /// SQLite: the one connection that writes. PostgreSQL: every connection.
    write: AnyPool,
    dialect: Dialect,
    write_lock: Mutex<()>,
    /// The last `seq` of each workspace handed to the hub: events go to it in order, without a
    /// hole, whichever node committed them ([`Store::publish`]).
    published: Mutex<HashMap<WorkspaceId, Seq>>,
    hub: Hub,
    epoch: Uuid,
    /// The installation's first workspace: its history keeps the database's epoch.
    first_workspace: WorkspaceId,
    /// Tokens checked in the last second.
    bearers: bearers::Bearers,
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

/// The database's folder is the server's alone (0700) and the database file too (0600): it
/// holds every conversation, the gateways' API keys and webhook secrets. SQLite gives its `-wal`
/// and `-shm` files the database file's permissions. An existing folder or file is tightened.
fn private_files(db: &Path) -> std::io::Result<()> {
    let folder = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700))?;
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(db)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = db.as_os_str().to_owned();
            file.push(suffix);
            let file = PathBuf::from(file);
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
    /// Opens the database (an SQLite file is created if missing; a PostgreSQL database too, when
    /// its user may) and runs pending migrations.
    pub async fn open(
        database: &Database,
        hub: Hub,
        durability: Durability,
        busy_timeout: std::time::Duration,
    ) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let (read, write, dialect) = match database {
            Database::Sqlite(path) => {
                let (read, write) = open_sqlite(path, durability, busy_timeout).await?;
                (read, write, Dialect::Sqlite)
            }
            Database::Postgres(url) => {
                let pool = open_postgres(url, busy_timeout).await?;
                (pool.clone(), pool, Dialect::Postgres)
            }
        };
        let epoch = {
            let mut conn = write.acquire().await?;
            let epoch = meta::get_or_set(&mut conn, "epoch", &Uuid::new_v4().to_string()).await?;
            Uuid::parse_str(&epoch).map_err(|_| Error::Corrupt { what: "epoch".into(), value: epoch })?
        };
        let heads = events::heads(&mut *read.acquire().await?).await?;
        let first_workspace = workspaces::first(&mut *read.acquire().await?).await?.id;
        let inner = StoreInner {
            read,
            write,
            dialect,
            write_lock: Mutex::new(()),
            published: Mutex::new(heads),
            hub,
            epoch,
            first_workspace,
            bearers: Default::default(),
        };
        Ok(Store { inner: Arc::new(inner) })
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Identifies this database's history. A restored or new database has a new epoch.
    pub fn epoch(&self) -> Uuid {
        self.inner.epoch
    }

    /// Identifies workspace `ws`'s history, as its clients know it: the database's epoch for the
    /// first workspace (what every client knew before there were others), one of its own for
    /// each other, derived from both. A client that finds itself in another workspace on the
    /// same server (another sign-in) sees another epoch, and starts its cache again.
    pub fn epoch_of(&self, ws: WorkspaceId) -> Uuid {
        if ws == self.inner.first_workspace {
            return self.inner.epoch;
        }
        use sha2::Digest;
        let digest =
            sha2::Sha256::new().chain_update(self.inner.epoch.as_bytes()).chain_update(ws.uuid().as_bytes()).finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(bytes)
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// A read connection (WAL: readers never wait for the writer).
    pub async fn reader(&self) -> DbResult<sqlx::pool::PoolConnection<Any>> {
        self.inner.read.acquire().await.map_err(Into::into)
    }

    /// The account behind a bearer token (its hash): from the tokens checked in the last second
    /// ([`bearers`]), or read.
    pub async fn bearer(&self, hash: &str) -> DbResult<Option<people::Bearer>> {
        if let Some(known) = self.inner.bearers.get(hash) {
            return Ok(Some(known));
        }
        let generation = self.inner.bearers.generation();
        let found = people::bearer(&mut *self.reader().await?, hash).await?;
        if let Some(bearer) = &found {
            self.inner.bearers.put(hash, bearer.clone(), generation);
        }
        Ok(found)
    }

    /// A connection for the tables outside the event log that several nodes share (leases,
    /// heartbeats, presence), each statement on its own: PostgreSQL only.
    pub async fn unlogged(&self) -> DbResult<sqlx::pool::PoolConnection<Any>> {
        debug_assert_eq!(self.inner.dialect, Dialect::Postgres);
        self.inner.write.acquire().await.map_err(Into::into)
    }

    /// Starts the one write transaction. On PostgreSQL it first takes the event log's lock, which
    /// every node's writer takes and holds until it commits: appends, and their commits, go one
    /// at a time in `seq` order across nodes, so a reader that sees `seq` N sees every event
    /// below it (docs/decisions.md, "One order across nodes").
    pub async fn begin(&self) -> DbResult<Writer<'_>> {
        let guard = self.inner.write_lock.lock().await;
        let mut tx = self.inner.write.begin().await?;
        if self.inner.dialect == Dialect::Postgres {
            events::lock_log(&mut tx).await?;
        }
        Ok(Writer { _guard: guard, tx, events: Vec::new(), next_seq: Vec::new(), credentials: false, store: self })
    }

    /// Hands the events of `ws` up to `head` that another node committed to the hub, in order
    /// after those already handed over (the cluster's listener calls it when a node says it
    /// committed).
    pub async fn catch_up(&self, ws: WorkspaceId, head: Seq) -> DbResult<()> {
        let mut published = self.inner.published.lock().await;
        self.publish_up_to(&mut published, ws, head).await
    }

    /// Reads the events of `ws` after those handed over up to `head` from the log and hands them
    /// to the hub.
    async fn publish_up_to(
        &self,
        published: &mut HashMap<WorkspaceId, Seq>,
        ws: WorkspaceId,
        head: Seq,
    ) -> DbResult<()> {
        let done = published.entry(ws).or_insert(0);
        while *done < head {
            let page = self.events_after(ws, *done, (head - *done).min(1000)).await?;
            let Some(last) = page.last().map(|e| e.seq) else { break };
            for event in page {
                self.inner.hub.publish_event(ws, event);
            }
            *done = last;
        }
        Ok(())
    }

    /// Hands events this node just committed to the hub, after any of the same workspace that
    /// another node committed before them and this one has not handed over yet.
    async fn publish(&self, events: Vec<(WorkspaceId, Event)>) -> DbResult<()> {
        let mut published = self.inner.published.lock().await;
        for (ws, event) in events {
            let done = published.get(&ws).copied().unwrap_or(0);
            if event.seq > done + 1 {
                self.publish_up_to(&mut published, ws, event.seq - 1).await?;
            }
            let done = published.entry(ws).or_insert(0);
            if event.seq > *done {
                *done = event.seq;
                self.inner.hub.publish_event(ws, event);
            }
        }
        Ok(())
    }

    /// Every workspace's newest `seq` (a workspace without events is left out).
    pub async fn heads(&self) -> DbResult<HashMap<WorkspaceId, Seq>> {
        events::heads(&mut *self.reader().await?).await
    }

    /// The `seq` of `ws`'s newest event (0 before its first).
    pub async fn head_seq(&self, ws: WorkspaceId) -> DbResult<Seq> {
        let mut conn = self.reader().await?;
        events::head_seq(&mut conn, ws).await
    }

    /// Events of `ws` after `since`, oldest first, at most `limit`.
    pub async fn events_after(&self, ws: WorkspaceId, since: Seq, limit: i64) -> DbResult<Vec<Event>> {
        let mut conn = self.reader().await?;
        events::after(&mut conn, ws, since, limit).await
    }

    /// SQLite: writes the whole WAL back into the database file and empties it (after the last
    /// write: a stopped server leaves one self-contained file, which a copy or a backup can
    /// take). PostgreSQL keeps its own files: nothing to do.
    pub async fn checkpoint(&self) -> DbResult<()> {
        if self.inner.dialect != Dialect::Sqlite {
            return Ok(());
        }
        let _guard = self.inner.write_lock.lock().await;
        // A reader in the middle of a long read (a backup) holds the log: the checkpoint waits
        // for it as long as the busy timeout, then answers "busy", which is not an error: said,
        // and done at the next checkpoint.
        let (busy, _, _): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.inner.write).await?;
        if busy != 0 {
            tracing::warn!("the write-ahead log could not be emptied now (a reader held it)");
        }
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
    pub tx: Transaction<'static, Any>,
    /// Appended, written at the commit, each in its workspace's log.
    events: Vec<(WorkspaceId, Event)>,
    /// The `seq` of each workspace's next append, once its first has read that log's head.
    next_seq: Vec<(WorkspaceId, Seq)>,
    /// Accounts, sessions or API keys changed: the tokens checked before are not trusted after
    /// the commit.
    credentials: bool,
    store: &'a Store,
}

impl Writer<'_> {
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.tx
    }

    /// This transaction changes what a token is worth (a password, a role, a session, a key):
    /// the store's functions that do so say it themselves.
    pub(crate) fn credentials_changed(&mut self) -> &mut Conn {
        self.credentials = true;
        &mut self.tx
    }

    /// Appends an event to `ws`'s log in this transaction and returns its `seq`. The events are
    /// written together when the transaction commits (one statement for many, not one each): a
    /// read of the log inside the transaction (the send guard's) does not see them, and comes
    /// before the append.
    pub async fn append(&mut self, ws: WorkspaceId, body: EventBody) -> DbResult<Seq> {
        let i = match self.next_seq.iter().position(|(w, _)| *w == ws) {
            Some(i) => i,
            None => {
                let first = events::next_seq(&mut self.tx, ws).await?;
                self.next_seq.push((ws, first));
                self.next_seq.len() - 1
            }
        };
        let seq = self.next_seq[i].1;
        self.next_seq[i].1 += 1;
        self.events.push((ws, Event { seq, at: now(), body }));
        Ok(seq)
    }

    /// Marks a point this transaction can return to with [`Writer::rollback_to`]: group commit
    /// stores many customer messages in one transaction, and one that fails must not take the
    /// others with it.
    pub async fn savepoint(&mut self) -> DbResult<Savepoint> {
        sqlx::query("SAVEPOINT item").execute(&mut *self.tx).await?;
        Ok(Savepoint { events: self.events.len(), next_seq: self.next_seq.clone() })
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
        self.next_seq = point.next_seq;
        Ok(())
    }

    /// Commits, then hands the new events to the hub in `seq` order. On PostgreSQL the other
    /// nodes hear of the new head when the commit lands (a notification is part of the
    /// transaction) and read the events from the log.
    pub async fn commit(mut self) -> DbResult<()> {
        events::insert_all(&mut self.tx, &self.events).await?;
        if self.store.inner.dialect == Dialect::Postgres {
            for &(ws, next) in &self.next_seq {
                events::notify_head(&mut self.tx, ws, next - 1).await?;
            }
        }
        self.tx.commit().await?;
        if self.credentials {
            self.store.inner.bearers.forget_all();
        }
        // Committed: a failure to read a gap from the log is not the change's failure; the
        // clients catch up from the log at their next connection.
        if let Err(e) = self.store.publish(self.events).await {
            tracing::warn!(error = %e, "committed events not handed to the hub");
        }
        Ok(())
    }
}

/// The SQLite pools: one writer, four read-only readers, each connection set up with the
/// durability and the busy timeout asked for.
async fn open_sqlite(
    path: &Path,
    durability: Durability,
    busy_timeout: std::time::Duration,
) -> anyhow::Result<(AnyPool, AnyPool)> {
    private_files(path)?;
    let file = SqliteConnectOptions::from_str("sqlite:")?.filename(path);
    // The Any driver takes a URL: the file's name and its mode; the rest is set per connection.
    let url = |options: SqliteConnectOptions| AnyConnectOptions::from_str(options.to_url_lossy().as_str());
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    let setup = format!(
        "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; \
         PRAGMA busy_timeout = {}",
        busy_timeout.as_millis()
    );
    let on_connect =
        |wal: bool| run_on_connect(if wal { format!("PRAGMA journal_mode = WAL; {setup}") } else { setup.clone() });
    // A connection to a local file cannot have gone away: no ping before each use. (The ping is
    // a round trip to the connection's worker thread, as long as the query itself: under load,
    // each request's token check waited for two.)
    let write = AnyPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .after_connect(on_connect(true))
        .connect_with(url(file.clone().create_if_missing(true))?)
        .await?;
    sqlx::migrate!("./migrations").run(&write).await?;
    let read = AnyPoolOptions::new()
        .max_connections(4)
        .test_before_acquire(false)
        .after_connect(on_connect(false))
        .connect_with(url(file.read_only(true))?)
        .await?;
    Ok((read, write))
}

/// Runs `sql` on each new connection of a pool (its settings, which a URL does not carry).
fn run_on_connect(
    sql: String,
) -> impl for<'c> Fn(&'c mut AnyConnection, sqlx::pool::PoolConnectionMetadata) -> BoxFuture<'c, Result<(), sqlx::Error>>
       + Send
       + Sync
       + 'static {
    move |conn, _| {
        let sql = sql.clone();
        Box::pin(async move { conn.execute(sqlx::AssertSqlSafe(sql)).await.map(drop) })
    }
}

/// The PostgreSQL pool. Writes still go one at a time through the store's write lock; readers
/// take the other connections. A statement waits at most `busy_timeout` for a lock.
async fn open_postgres(url: &str, busy_timeout: std::time::Duration) -> anyhow::Result<AnyPool> {
    use sqlx::migrate::MigrateDatabase;
    // Two nodes starting at once may both find it missing: the second's CREATE fails, and the
    // database is there all the same.
    if !Any::database_exists(url).await? {
        if let Err(e) = Any::create_database(url).await {
            if !Any::database_exists(url).await? {
                return Err(e.into());
            }
        }
    }
    let options = AnyConnectOptions::from_str(url)?;
    let setup = format!("SET lock_timeout = {}", busy_timeout.as_millis());
    let pool =
        AnyPoolOptions::new().max_connections(8).after_connect(run_on_connect(setup)).connect_with(options).await?;
    sqlx::migrate!("./migrations-postgres").run(&pool).await?;
    Ok(pool)
}

/// A point inside a [`Writer`]'s transaction (see [`Writer::savepoint`]).
#[must_use = "release it or roll back to it"]
pub struct Savepoint {
    events: usize,
    next_seq: Vec<(WorkspaceId, Seq)>,
}
