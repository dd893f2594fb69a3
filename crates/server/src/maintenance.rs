//! The operator's subcommands: `create-admin`, `reset-password`, `backup`, `restore`, and the
//! data folder's lock that keeps them (and a second server) away from a running one.
//!
//! `backup` is online: SQLite's `VACUUM INTO` writes a consistent copy from one read
//! transaction while the server keeps serving. The others change an SQLite database behind the
//! server's back, so they need it stopped: a running server holds an exclusive lock on
//! `handoff.lock` in its data folder, and they refuse while it is held. On PostgreSQL,
//! `create-admin` and `reset-password` run beside the nodes (each change is an event the nodes
//! hear of, as one of their own), and backups are PostgreSQL's own (`pg_dump`, `pg_restore`,
//! then `new-epoch`; docs/deploy.md).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use handoff_proto::{CreateUserRequest, Role};
use uuid::Uuid;

use crate::audit::Who;
use crate::hub::Hub;
use crate::store::{self, Database, Durability, Store};

/// The database file in a data folder.
pub fn database_file(data_dir: &Path) -> PathBuf {
    data_dir.join("handoff.db")
}

/// The data folder's lock, held while a server (or a subcommand) uses it.
pub struct DataLock {
    _file: File,
}

impl DataLock {
    /// Takes the lock, or says who holds it.
    pub fn take(data_dir: &Path) -> anyhow::Result<DataLock> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("data folder {}", data_dir.display()))?;
        // The node's own files (WhatsApp Web sessions, and the database when it is SQLite) are
        // the server's alone; an existing folder is tightened.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("data folder {}", data_dir.display()))?;
        }
        let path = data_dir.join("handoff.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                bail!(
                    "{} is in use by a running handoff-server ({}): stop it first (systemctl stop handoff-server)",
                    data_dir.display(),
                    holder.trim()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e).context("locking the data folder"),
        }
        file.set_len(0)?;
        write!(file, "pid {}", std::process::id())?;
        Ok(DataLock { _file: file })
    }
}

/// Opens the store (migrations run, as at start-up): an SQLite one only while its server is
/// stopped.
async fn open_stopped(data_dir: &Path, database: &Database) -> anyhow::Result<(Option<DataLock>, Store)> {
    let lock = match database {
        Database::Sqlite(_) => Some(DataLock::take(data_dir)?),
        Database::Postgres(_) => None,
    };
    let store = Store::open(database, Hub::new(16), Durability::Full, crate::BUSY_TIMEOUT).await?;
    Ok((lock, store))
}

/// The SQLite file of a backup or restore; PostgreSQL has tools of its own.
fn sqlite_only<'a>(database: &'a Database, what: &str) -> anyhow::Result<&'a Path> {
    database.sqlite_file().ok_or_else(|| {
        anyhow::anyhow!(
            "{what} is for the embedded SQLite database; on PostgreSQL use pg_dump and pg_restore, then \
             `handoff-server new-epoch` after a restore (docs/deploy.md)"
        )
    })
}

/// `create-admin`: a new Admin, with `password` or a temporary one that must be changed at the
/// first sign-in. Returns the temporary password when one was made.
pub async fn create_admin(
    data_dir: &Path,
    database: &Database,
    email: &str,
    name: &str,
    password: Option<String>,
) -> anyhow::Result<Option<String>> {
    let (_lock, store) = open_stopped(data_dir, database).await?;
    let temporary = password.is_none().then(crate::users::temporary_password);
    let req = CreateUserRequest {
        email: email.to_string(),
        name: name.to_string(),
        password: password.or(temporary.clone()).expect("one of them"),
        role: Role::Admin,
    };
    // An Admin of the installation's first workspace (the one an empty installation has).
    let ws = store::workspaces::first(&mut *store.reader().await?).await?.id;
    let user = crate::users::create_user(&store, Who::Server(ws), req).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if temporary.is_some() {
        let mut w = store.begin().await?;
        store::people::set_must_change_password(&mut w, user.id).await?;
        let user = crate::store::people::user(w.conn(), ws, user.id).await?.expect("created above");
        w.append(ws, handoff_proto::EventBody::UserUpdated { user }).await?;
        w.commit().await?;
    }
    store.checkpoint().await?;
    store.close().await;
    Ok(temporary)
}

/// `reset-password`: a temporary password for the person with `email`, every session of theirs
/// ended. Returns the password.
pub async fn reset_password(data_dir: &Path, database: &Database, email: &str) -> anyhow::Result<String> {
    let (_lock, store) = open_stopped(data_dir, database).await?;
    let (id, ws) = {
        let mut conn = store.reader().await?;
        let Some(id) = store::people::id_by_email(&mut conn, email.trim()).await? else {
            bail!("nobody has the email {email}")
        };
        // Told in the person's first workspace (the audit and their app hear of it there).
        let Some(ws) = store::workspaces::of_user(&mut conn, id).await?.first().map(|w| w.id) else {
            bail!("{email} belongs to no workspace")
        };
        (id, ws)
    };
    let temporary = crate::users::temporary_password();
    crate::users::set_password(&store, Who::Server(ws), id, temporary.clone(), true, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.checkpoint().await?;
    store.close().await;
    Ok(temporary)
}

/// What a backup or restore did.
#[derive(Debug)]
pub struct Copied {
    pub bytes: u64,
    pub head_seq: i64,
    pub millis: u128,
}

/// `backup`: a consistent copy of the database at `to` (a new file, mode 0600), taken while the
/// server runs, and checked.
pub async fn backup(database: &Database, to: &Path) -> anyhow::Result<Copied> {
    let started = Instant::now();
    let db = sqlite_only(database, "backup")?;
    if !db.is_file() {
        bail!("no database at {}", db.display());
    }
    if to.exists() {
        bail!("{} already exists: a backup never overwrites a file", to.display());
    }
    // An empty file of our own first: VACUUM INTO fills it, and it is private from the start.
    create_private(to)?;
    let result = async {
        let mut conn = store::maintenance::open_file(db, true).await?;
        store::maintenance::vacuum_into(&mut conn, to).await?;
        store::maintenance::close(conn).await?;
        let head_seq = check(to).await?;
        anyhow::Ok(Copied { bytes: std::fs::metadata(to)?.len(), head_seq, millis: started.elapsed().as_millis() })
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(to);
    }
    result
}

/// `restore`: replaces the stopped server's database with the backup at `from`. The restored
/// database gets a new epoch, so every app resyncs from scratch instead of keeping what the
/// backup does not have. The database it replaces is kept beside it. Returns the new epoch and
/// where the previous database went.
pub async fn restore(
    data_dir: &Path,
    database: &Database,
    from: &Path,
) -> anyhow::Result<(Uuid, Option<PathBuf>, Copied)> {
    let started = Instant::now();
    let db = sqlite_only(database, "restore")?.to_path_buf();
    let _lock = DataLock::take(data_dir)?;
    check(from).await.with_context(|| format!("{} is not a usable Handoff backup", from.display()))?;
    let folder = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let file_name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "handoff.db".into());
    let incoming = folder.join(format!("{file_name}.restoring"));
    let _ = std::fs::remove_file(&incoming);
    create_private(&incoming)?;
    std::fs::copy(from, &incoming).with_context(|| format!("copying {}", from.display()))?;
    let epoch = Uuid::new_v4();
    {
        let mut conn = store::maintenance::open_file(&incoming, false).await?;
        store::meta::set(&mut conn, "epoch", &epoch.to_string()).await?;
        store::maintenance::close(conn).await?;
    }
    let head_seq = check(&incoming).await?;
    // The database being replaced, with its WAL, goes aside under one name.
    let kept = if db.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = folder.join(format!("{file_name}.before-restore-{stamp}"));
        std::fs::rename(&db, &aside)?;
        for ext in ["-wal", "-shm"] {
            let side = folder.join(format!("{file_name}{ext}"));
            if side.exists() {
                std::fs::rename(&side, data_dir.join(format!("{}{ext}", aside.display())))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&incoming, &db)?;
    let bytes = std::fs::metadata(&db)?.len();
    Ok((epoch, kept, Copied { bytes, head_seq, millis: started.elapsed().as_millis() }))
}

/// A file that only its owner may read, empty.
fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(())
}

/// Checks that `path` is a whole Handoff database; returns how many events its logs hold (the
/// sum of every workspace's head `seq`).
async fn check(path: &Path) -> anyhow::Result<i64> {
    let mut conn = store::maintenance::open_file(path, true).await?;
    let verdict = store::maintenance::integrity_check(&mut conn).await?;
    if verdict != "ok" {
        bail!("integrity check: {verdict}");
    }
    let epoch = store::meta::get(&mut conn, "epoch").await.context("no meta table")?;
    if epoch.is_none() {
        bail!("no epoch: not a Handoff database");
    }
    let head = store::events::heads(&mut conn).await?.values().sum();
    store::maintenance::close(conn).await?;
    Ok(head)
}

/// `new-epoch`: gives the database a new epoch, so every app resyncs from scratch at its next
/// connection (after a PostgreSQL database was restored with its own tools). Returns it.
pub async fn new_epoch(data_dir: &Path, database: &Database) -> anyhow::Result<Uuid> {
    let (_lock, store) = open_stopped(data_dir, database).await?;
    let epoch = Uuid::new_v4();
    {
        let mut w = store.begin().await?;
        store::meta::set(w.conn(), "epoch", &epoch.to_string()).await?;
        w.commit().await?;
    }
    store.checkpoint().await?;
    store.close().await;
    Ok(epoch)
}
