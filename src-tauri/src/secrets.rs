//! The session token lives in the OS keyring (Secret Service, Keychain, Credential Manager),
//! never in a plain file. Without a usable keyring the app still works; it only cannot
//! remember the sign-in across restarts (logged).
//!
//! A keyring call can take as long as the keyring likes: it may ask the person to unlock it or
//! to make a new keyring, in a prompt nobody may be there to answer, or its service may never
//! reply. So every call runs on one thread of its own, in the order asked (a save is never
//! overtaken by the forget that follows it). Signing in and out never wait for it; start-up
//! waits for the saved token at most [`LOAD_WAIT`], then shows the sign-in screen.

use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use keyring_core::Entry;
use tokio::sync::oneshot;

const SERVICE: &str = "app.handoff.desktop";

/// How long start-up waits for the keyring to give the saved token: time for a person to
/// answer an unlock prompt, not for ever.
pub const LOAD_WAIT: Duration = Duration::from_secs(30);

enum Job {
    Save { server: String, token: String },
    Load { server: String, reply: oneshot::Sender<Option<String>> },
    Forget { server: String },
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
