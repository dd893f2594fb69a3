//! The cache's file on disk: encrypted with SQLCipher under a random key the desktop app keeps in
//! the OS keyring, readable by its owner alone (0600), deleted securely.
//!
//! Opening handles the three files an app can find at the path:
//! - nothing (or an empty file): a new cache, encrypted when there is a key;
//! - a plain SQLite cache (an app from before encryption): copied into an encrypted file with
//!   `sqlcipher_export`, which then takes its place; the plain bytes are overwritten where the
//!   OS lets us (see [`encrypt_plain`]);
//! - an encrypted file the key does not open (the keyring lost the key, or another app's file):
//!   nothing in it can be read by anyone, so it is deleted and a new cache starts from the
//!   server. The desktop app gives a new key for an encrypted cache only when the person signs
//!   in and so asks for it (`src-tauri/src/secrets.rs`), never at a start.
//!
//! Without a key, an encrypted file is an error: only a key may replace a cache.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

/// How each page is authenticated: HMAC-SHA256 instead of SQLCipher 4's HMAC-SHA512. Measured
/// with the offline benchmark (200,000 messages, on a processor with SHA instructions): the
/// background search indexing 16–23 % faster and changes written offline 8–26 % faster. Processors
/// without them (Intel's laptop chips before 2020, among others) compute SHA-512 faster than
/// SHA-256; a 256-bit tag is plenty for a page either way (docs/decisions.md).
const HMAC: &str = "HMAC_SHA256";

/// What every SQLite database file starts with; an encrypted one starts with random bytes.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The key a cache is encrypted with: 32 random bytes, given to SQLCipher as a raw key (no
/// passphrase, so no key derivation slows the opening). Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    pub fn random() -> CacheKey {
        CacheKey(rand::random())
    }

    /// 64 lowercase hex digits: how it is kept in the keyring.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key written by [`CacheKey::to_hex`]; `None` for anything else.
    pub fn from_hex(hex: &str) -> Option<CacheKey> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(CacheKey(key))
    }

    /// SQLCipher's raw-key literal, `x'…'`.
    fn literal(&self) -> String {
        format!("x'{}'", self.to_hex())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheKey(…)")
    }
}

/// The pool over the cache at `path`, encrypted with `key` (plain without one: tests and the
/// benchmark's baseline), after the file is made ready as the module says.
pub(super) async fn open_pool(path: &Path, key: Option<&CacheKey>) -> Result<SqlitePool, sqlx::Error> {
    private_file(path).map_err(sqlx::Error::Io)?;
    let Some(key) = key else { return connect(path, None).await };
    if is_plain_file(path).map_err(sqlx::Error::Io)? {
        if let Err(e) = encrypt_plain(path, key).await {
            // Its copy could not be written (a full disk, say): the plain cache opens as it is,
            // and is encrypted at a later start.
            tracing::warn!(error = %e, file = %path.display(), "the cache was not encrypted: it opens plain this time");
            let _ = std::fs::remove_file(sibling(path, "-encrypting"));
            return connect(path, None).await;
        }
    }
    // The key is tried on one connection, closed before anything else touches the file (a
    // connection merely dropped closes later, on its own thread, and holds the file meanwhile).
    let tried = async {
        let mut conn = options(path, Some(key))?.connect().await?;
        // SQLCipher checks the key at the first read.
        let read = sqlx::query("SELECT count(*) FROM sqlite_master").execute(&mut conn).await.map(drop);
        conn.close().await?;
        read
    };
    match tried.await {
        Ok(()) => {}
        Err(e) if not_a_database(&e) => {
            tracing::warn!(
                file = %path.display(),
                "the cache cannot be read with this key (the keyring lost its key, or the file is not ours): \
                 deleted, a new one starts from the server"
            );
            remove(path).map_err(sqlx::Error::Io)?;
            private_file(path).map_err(sqlx::Error::Io)?;
        }
        Err(e) => return Err(e),
    }
    connect(path, Some(key)).await
}

fn options(path: &Path, key: Option<&CacheKey>) -> Result<SqliteConnectOptions, sqlx::Error> {
    let mut options = SqliteConnectOptions::from_str("sqlite:")?.filename(path).create_if_missing(true);
    if let Some(key) = key {
        // sqlx runs `key` before any other pragma, as SQLCipher needs; then SQLCipher 4's
        // settings, named so that a later SQLCipher with other defaults still reads the file,
        // but for pages authenticated with HMAC-SHA256 rather than SHA-512 ([`HMAC`]).
        // sqlx sends the pragmas as one statement, which it would log when slow: not this one.
        options = options
            .pragma("key", format!("\"{}\"", key.literal()))
            .pragma("cipher_compatibility", "4")
            .pragma("cipher_hmac_algorithm", HMAC)
            .log_statements(log::LevelFilter::Off)
            .log_slow_statements(log::LevelFilter::Off, Duration::ZERO);
    }
    Ok(options)
}

async fn connect(path: &Path, key: Option<&CacheKey>) -> Result<SqlitePool, sqlx::Error> {
    let options = options(path, key)?
        .journal_mode(SqliteJournalMode::Wal)
        // The outbox must survive a crash of the app: commit means on disk.
        .synchronous(SqliteSynchronous::Full)
        // A long catch-up writes into indexes far larger than SQLite's default 2 MiB page
        // cache; each of these three measurably sped it up (docs/performance.md): 64 MiB of
        // page cache per connection, reads through a memory map instead of a copy per page
        // (SQLCipher ignores it for an encrypted file: its pages are decrypted into the page
        // cache), and checkpoints every 10,000 WAL pages instead of 1,000 (fewer copies of
        // pages that the next batch rewrites anyway).
        .pragma("cache_size", "-65536")
        .pragma("mmap_size", "268435456")
        .pragma("wal_autocheckpoint", "10000")
        // What is deleted is overwritten, not left in free pages (erasure, retention, a wipe).
        .pragma("secure_delete", "ON")
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new().max_connections(4).connect_with(options).await
}

/// SQLite's "file is not a database" (SQLITE_NOTADB): what an encrypted file says to a wrong
/// key, or to none.
fn not_a_database(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|code| code == "26")
}

/// Whether `path` holds an encrypted cache (a file with a first page that is not plain SQLite).
pub fn is_encrypted(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() >= 16) && is_plain_file(path).is_ok_and(|plain| !plain)
}

/// Whether `path` holds a plain SQLite cache (one an app without a key wrote).
pub fn is_plain(path: &Path) -> bool {
    is_plain_file(path).unwrap_or(false)
}

fn is_plain_file(path: &Path) -> std::io::Result<bool> {
    let mut header = [0u8; 16];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..])? {
            0 => return Ok(false), // empty or short: a new cache
            n => read += n,
        }
    }
    Ok(&header == PLAIN_HEADER)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

/// The cache file exists and only its owner may read it; so do its write-ahead log and shared
/// memory file where they exist (SQLite gives new ones the database file's permissions).
fn private_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut create = OpenOptions::new();
    create.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    create.open(path)?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(sibling(path, suffix), std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// Deletes the cache file and its companions (and a copy being encrypted); each is tried, and
/// the first failure is returned.
pub fn remove(path: &Path) -> std::io::Result<()> {
    let mut first = Ok(());
    for suffix in ["", "-wal", "-shm", "-journal", "-encrypting", "-encrypting-journal"] {
        match std::fs::remove_file(sibling(path, suffix)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound && first.is_ok() => first = Err(e),
            _ => {}
        }
    }
    first
}

/// Copies the plain cache at `path` into a new file encrypted with `key`, which then replaces it
/// in one rename: a crash at any point leaves either the plain cache (encrypted again at the
/// next start) or the encrypted one. On Unix the plain file's bytes are then overwritten with
/// zeros through a handle kept open across the rename (on a file system that writes in place,
/// that overwrites them on the disk; a copy-on-write one or an SSD may keep old blocks, which
/// only full-disk encryption reaches). On Windows the plain file is deleted.
async fn encrypt_plain(path: &Path, key: &CacheKey) -> Result<(), sqlx::Error> {
    let started = std::time::Instant::now();
    let target = sibling(path, "-encrypting");
    match std::fs::remove_file(&target) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(sqlx::Error::Io(e)),
        _ => {}
    }
    private_file(&target).map_err(sqlx::Error::Io)?; // SQLite would make it as the umask says
    let mut plain = options(path, None)?.busy_timeout(Duration::from_secs(10)).connect().await?;
    // Whatever the write-ahead log holds goes into the file first (what is exported is read
    // through it anyway; this leaves no log behind once the connection closes).
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut plain).await?;
    sqlx::query("ATTACH DATABASE ? AS encrypted KEY ?")
        .bind(target.to_string_lossy().into_owned())
        .bind(key.literal())
        .execute(&mut plain)
        .await?;
    // The attached file takes SQLCipher's defaults: the same settings as every connection's.
    sqlx::query("PRAGMA encrypted.cipher_compatibility = 4").execute(&mut plain).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA encrypted.cipher_hmac_algorithm = {HMAC}")))
        .execute(&mut plain)
        .await?;
    sqlx::query("SELECT sqlcipher_export('encrypted')").execute(&mut plain).await?;
    sqlx::query("DETACH DATABASE encrypted").execute(&mut plain).await?;
    plain.close().await?;
    // On disk before it replaces the plain file (written through: Windows syncs only a handle
    // that may write).
    OpenOptions::new().write(true).open(&target).and_then(|f| f.sync_all()).map_err(sqlx::Error::Io)?;

    #[cfg(unix)]
    let old = OpenOptions::new().write(true).open(path).map_err(sqlx::Error::Io)?;
    std::fs::rename(&target, path).map_err(sqlx::Error::Io)?;
    // The rename itself on disk before the old bytes go: were it lost in a crash, the name
    // would still point at them (a directory can be synced on Unix; elsewhere this fails).
    let renamed = path.parent().is_some_and(|dir| File::open(dir).and_then(|d| d.sync_all()).is_ok());
    #[cfg(unix)]
    if renamed {
        // Megabytes of zeros and an fsync: off the async threads.
        match tokio::task::spawn_blocking(move || overwrite(old)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the plain cache's old bytes were not overwritten"),
            Err(e) => tracing::warn!(error = %e, "the plain cache's old bytes were not overwritten"),
        }
    } else {
        tracing::warn!("the plain cache's old bytes were not overwritten: its folder could not be synced");
    }
    #[cfg(not(unix))]
    let _ = renamed;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(sibling(path, suffix));
    }
    tracing::info!(after = ?started.elapsed(), file = %path.display(), "the cache is encrypted now");
    Ok(())
}

/// Zeros over every byte of a file that is no longer linked (its handle keeps it).
#[cfg(unix)]
fn overwrite(mut file: File) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let zeros = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::CacheKey;

    #[test]
    fn a_key_reads_back_from_its_hex_and_never_shows_in_debug() {
        let key = CacheKey::random();
        assert_eq!(CacheKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_ne!(key, CacheKey::random());
        assert_eq!(format!("{key:?}"), "CacheKey(…)");
        assert_eq!(CacheKey::from_hex("00"), None);
        assert_eq!(CacheKey::from_hex(&"zz".repeat(32)), None);
        assert_eq!(CacheKey::from_hex(&"é".repeat(32)), None);
    }
}
