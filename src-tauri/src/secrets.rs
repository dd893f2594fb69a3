//! The session token lives in the OS keyring (Secret Service, Keychain, Credential Manager),
//! never in a plain file. Without a usable keyring the app still works; it only cannot
//! remember the sign-in across restarts (logged).
//!
//! A keyring call can take as long as the keyring likes: it may ask the person to unlock it or
//! to make a new keyring, in a prompt nobody may be there to answer, or its service may never
//! reply. So every call runs on one thread of its own, in the order asked (a save is never
//! overtaken by the forget that follows it). Signing in and out never wait for it; start-up
//! waits for the saved token at most [`LOAD_WAIT`], then shows the sign-in screen.
//!
//! Each workspace's cache is encrypted with a random key kept here too ([`cache_key`]), named by
//! the cache file's path. Opening an encrypted cache waits for its key as start-up waits for the
//! token; a new cache waits at most [`NEW_KEY_WAIT`] for the keyring to make and keep one, else it
//! starts plain and is encrypted at a later start, when the keyring answers (a key the keyring
//! may not have kept would lock the cache for good).

use std::path::Path;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use handoff_core::CacheKey;
use keyring_core::Entry;
use tokio::sync::oneshot;

const SERVICE: &str = "app.handoff.desktop";

/// How long start-up waits for the keyring to give the saved token: time for a person to
/// answer an unlock prompt, not for ever.
pub const LOAD_WAIT: Duration = Duration::from_secs(30);

/// How long a new (or plain) cache waits for the keyring to make and keep its key.
pub const NEW_KEY_WAIT: Duration = Duration::from_secs(5);

enum Job {
    Save {
        server: String,
        token: String,
    },
    Load {
        server: String,
        reply: oneshot::Sender<Option<String>>,
    },
    Forget {
        server: String,
    },
    /// The cache key kept under `account`; a new one is made and kept when there is none, if
    /// `create` and the asker still waits.
    CacheKey {
        account: String,
        create: bool,
        reply: oneshot::Sender<Result<CacheKey, KeyTrouble>>,
    },
}

static KEYRING: OnceLock<mpsc::Sender<Job>> = OnceLock::new();

/// Starts the keyring thread, which installs the platform's credential store as the default.
/// Call once at start-up; later calls do nothing.
pub fn init() {
    KEYRING.get_or_init(|| {
        let (jobs, queue) = mpsc::channel();
        let started = std::thread::Builder::new().name("keyring".into()).spawn(move || serve(queue));
        if let Err(e) = started {
            tracing::warn!(error = %e, "no keyring thread: sign-ins will not be remembered");
        }
        jobs
    });
}

fn serve(queue: mpsc::Receiver<Job>) {
    install_store();
    for job in queue {
        match job {
            Job::Save { server, token } => {
                if let Some(Err(e)) = entry(&server).map(|e| e.set_password(&token)) {
                    tracing::warn!(error = %e, "token not saved to the OS keyring: you will sign in again next time");
                }
            }
            // The asker may have stopped waiting; then the answer has nowhere to go.
            Job::Load { server, reply } => drop(reply.send(entry(&server).and_then(|e| e.get_password().ok()))),
            Job::Forget { server } => {
                if let Some(entry) = entry(&server) {
                    let _ = entry.delete_credential();
                }
            }
            Job::CacheKey { account, create, reply } => {
                let key = kept_cache_key(&account, create, || !reply.is_closed());
                drop(reply.send(key));
            }
        }
    }
}

fn install_store() {
    #[cfg(target_os = "linux")]
    let store = zbus_secret_service_keyring_store::Store::new();
    #[cfg(target_os = "macos")]
    let store = apple_native_keyring_store::keychain::Store::new();
    #[cfg(target_os = "windows")]
    let store = windows_native_keyring_store::Store::new();
    match store {
        Ok(store) => keyring_core::set_default_store(store),
        Err(e) => tracing::warn!(error = %e, "no OS keyring: sign-ins will not be remembered"),
    }
}

fn entry(server: &str) -> Option<Entry> {
    Entry::new(SERVICE, server).map_err(|e| tracing::warn!(error = %e, "keyring entry unavailable")).ok()
}

/// Why the keyring gave no cache key.
#[derive(Debug)]
enum KeyTrouble {
    /// It answered, and has none (or none that is a key) under that name.
    Missing,
    /// It could not be asked, or failed.
    Failed(String),
}

/// The key under `account`, or, if `create` and `wanted` still, a new one kept there now.
fn kept_cache_key(account: &str, create: bool, wanted: impl Fn() -> bool) -> Result<CacheKey, KeyTrouble> {
    let failed = |e: keyring_core::Error| KeyTrouble::Failed(e.to_string());
    let entry = Entry::new(SERVICE, account).map_err(failed)?;
    match entry.get_password() {
        Ok(hex) => {
            if let Some(key) = CacheKey::from_hex(&hex) {
                return Ok(key);
            }
            tracing::warn!("the keyring's cache key is not a key");
        }
        Err(keyring_core::Error::NoEntry) => {}
        Err(e) => return Err(failed(e)),
    }
    if !create || !wanted() {
        return Err(KeyTrouble::Missing); // not asked to make one, or the asker gave up: no second key
    }
    let key = CacheKey::random();
    entry.set_password(&key.to_hex()).map_err(failed)?;
    Ok(key)
}

fn ask(job: Job) {
    if let Some(jobs) = KEYRING.get() {
        let _ = jobs.send(job); // the thread is gone only if it could not start (logged)
    }
}

/// Saves the token for `server`, in the background.
pub fn store_token(server: &str, token: &str) {
    ask(Job::Save { server: server.to_string(), token: token.to_string() });
}

/// What the keyring said about a token.
#[derive(Debug, PartialEq)]
pub enum Loaded {
    Token(String),
    /// None kept (or no keyring on this computer).
    Missing,
    /// The keyring did not answer in time (an unlock prompt nobody answered): the token may
    /// well be there.
    NoAnswer,
}

/// The token saved for `server`, if the keyring gives it within `wait`.
pub async fn load_token(server: &str, wait: Duration) -> Loaded {
    let (reply, answer) = oneshot::channel();
    ask(Job::Load { server: server.to_string(), reply });
    match tokio::time::timeout(wait, answer).await {
        Ok(Ok(Some(token))) => Loaded::Token(token),
        Ok(_) => Loaded::Missing,
        Err(_) => {
            tracing::warn!(after = ?wait, "the OS keyring did not answer: sign in with your password");
            Loaded::NoAnswer
        }
    }
}

/// Forgets the token for `server`, in the background.
pub fn delete_token(server: &str) {
    ask(Job::Forget { server: server.to_string() });
}

/// The keyring entry of the key to the cache at `path`.
fn cache_key_account(path: &Path) -> String {
    format!("cache-key {}", path.display())
}

/// The key that encrypts the cache at `path`, from the keyring (made there on first use).
/// `None`: this cache stays plain for now, as the keyring could not make and keep a key within
/// [`NEW_KEY_WAIT`] (no keyring on this computer, or it is locked or silent); it is encrypted at
/// a later start. An encrypted cache whose key the keyring does not give now (locked, failing,
/// or silent for [`LOAD_WAIT`]) is not opened: a new key would make it unreadable, queued
/// changes and all. Only `start_again` (a person signing in, told why) gives an encrypted cache
/// whose key the keyring no longer has a new key, which starts it again from the server.
pub async fn cache_key(path: &Path, start_again: bool) -> Result<Option<CacheKey>, String> {
    let encrypted = handoff_core::cache::file::is_encrypted(path);
    cache_key_within(path, start_again, if encrypted { LOAD_WAIT } else { NEW_KEY_WAIT }).await
}

/// [`cache_key`], waiting for the keyring at most `wait`.
pub async fn cache_key_within(path: &Path, start_again: bool, wait: Duration) -> Result<Option<CacheKey>, String> {
    let encrypted = handoff_core::cache::file::is_encrypted(path);
    let (reply, answer) = oneshot::channel();
    ask(Job::CacheKey { account: cache_key_account(path), create: !encrypted || start_again, reply });
    let trouble = match tokio::time::timeout(wait, answer).await {
        Ok(Ok(Ok(key))) => return Ok(Some(key)),
        Ok(Ok(Err(KeyTrouble::Missing))) if encrypted => {
            return Err("This workspace's copy on this computer is encrypted with a key the OS keyring no longer \
                 has. Sign in to start the copy again from the server: the old one cannot be read (changes \
                 not sent yet included) and is deleted."
                .into())
        }
        Ok(Ok(Err(KeyTrouble::Missing))) => "the OS keyring kept no key".to_string(),
        Ok(Ok(Err(KeyTrouble::Failed(e)))) => e,
        Ok(Err(_)) => "there is no keyring on this computer".to_string(),
        Err(_) => format!("the OS keyring did not answer within {} s", wait.as_secs()),
    };
    if encrypted {
        return Err(format!(
            "This workspace's copy on this computer is encrypted with a key the OS keyring keeps, and {trouble}. \
             Unlock the keyring, then try again."
        ));
    }
    tracing::warn!(reason = %trouble, "the cache stays unencrypted for now (no usable OS keyring); it is encrypted at a start with one");
    Ok(None)
}

/// Forgets the key to the cache at `path`: whatever is left of that file on the disk can no
/// longer be read (in the background; a keyring that fails to delete it leaves it, and a later
/// cache at that path would use it again).
pub fn forget_cache_key(path: &Path) {
    ask(Job::Forget { server: cache_key_account(path) });
}
