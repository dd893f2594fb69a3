//! The workspaces signed in on this computer, each with a core of its own: its cache file,
//! outbox, sync loop and notifier, all on the app's one runtime. The UI names the workspace in
//! every command (by its key), so a command acts on the workspace it was made in, whatever the
//! agent switched to meanwhile.
//!
//! Where each one's data lives: the first workspace (key [`FIRST`]) keeps the files an app from
//! before workspaces had (`cache.db`, and the keyring entry named by the server alone), so an
//! upgrade finds its cache, outbox and sign-in where they were; the others are
//! `workspaces/<key>.db` and the keyring entry `<server>#<key>`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use handoff_core::notifications::NotificationSettings;
use handoff_core::notifier::NotifierControl;
use handoff_core::{Change, Client, ClientOptions, ConnectionState};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::commands::CommandError;
use crate::{AppCore, CoreEvent};

/// The key of the first workspace: the one whose files are where they were before workspaces.
pub const FIRST: &str = "main";

/// One workspace in the app.
pub struct Open {
    pub key: String,
    pub client: Client,
    pub notifier: NotifierControl,
    tasks: Vec<JoinHandle<()>>,
}

impl Open {
    /// Its workspace's name, else the server's host.
    fn name(&self) -> String {
        match self.client.session() {
            Some(s) => s.workspace.map(|w| w.name).unwrap_or_else(|| host(&s.server)),
            None => self.key.clone(),
        }
    }
}

fn host(server: &str) -> String {
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// Every workspace in the app, in the switcher's order, and which one is on screen.
pub struct Workspaces {
    open: RwLock<Vec<Arc<Open>>>,
    /// Held while workspaces come and go (restore, sign-in, sign-out): two at once could pick
    /// the same key, or open one cache twice.
    changing: tokio::sync::Mutex<()>,
    active: Mutex<Option<String>>,
    window_focused: AtomicBool,
    data_dir: PathBuf,
    options: ClientOptions,
}

impl Workspaces {
    pub fn new(data_dir: PathBuf, options: ClientOptions) -> Workspaces {
        Workspaces {
            open: RwLock::new(Vec::new()),
            changing: tokio::sync::Mutex::new(()),
            active: Mutex::new(None),
            window_focused: AtomicBool::new(true),
            data_dir,
            options,
        }
    }

    /// Held while a workspace comes or goes ([`Workspaces::changing`]).
    pub async fn changing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changing.lock().await
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Where a workspace's cache lives.
    pub fn cache_path(&self, key: &str) -> PathBuf {
        if key == FIRST {
            self.data_dir.join("cache.db")
        } else {
            self.data_dir.join("workspaces").join(format!("{key}.db"))
        }
    }

    /// The open workspace `key`.
    pub fn get(&self, key: &str) -> Result<Arc<Open>, CommandError> {
        self.all().into_iter().find(|w| w.key == key).ok_or_else(|| CommandError {
            code: "unknown_workspace".into(),
            message: "That workspace is no longer in the app: it was signed out.".into(),
        })
    }

    pub fn all(&self) -> Vec<Arc<Open>> {
        self.open.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Several workspaces: notifications then say which one they are about.
    pub fn several(&self) -> bool {
        self.open.read().unwrap_or_else(|p| p.into_inner()).len() > 1
    }

    /// What people call workspace `key`: its name, with its server's host when another
    /// workspace in the app has the same name (every server's first one is "Main").
    pub fn label(&self, key: &str) -> String {
        let all = self.all();
        let Some(this) = all.iter().find(|w| w.key == key) else { return key.to_string() };
        let name = this.name();
        match this.client.session() {
            Some(s) if all.iter().any(|w| w.key != key && w.name() == name) => format!("{name} ({})", host(&s.server)),
            _ => name,
        }
    }

    /// Opens workspace `key`'s cache and starts its core's tasks (nothing is sent until it
    /// signs in or resumes); an open one is returned as it is. `start_again`: a cache whose key
    /// the keyring no longer has starts again (a sign-in), rather than not opening (a start).
    pub async fn open(
        &self,
        app: &AppHandle,
        key: &str,
        settings: NotificationSettings,
        start_again: bool,
    ) -> Result<Arc<Open>, CommandError> {
        if let Ok(open) = self.get(key) {
            return Ok(open);
        }
        let path = self.cache_path(key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| failed("cache", format!("No folder for the cache: {e}")))?;
        }
        // The cache is encrypted with its own key from the OS keyring (a plain one from an
        // earlier version, or from a start without a keyring, is encrypted as it opens).
        let cache_key = crate::secrets::cache_key(&path, start_again).await.map_err(|e| failed("keyring", e))?;
        let options = ClientOptions { cache_key, ..self.options.clone() };
        let client = Client::open_with(&path, &options).await?;
        let (notifier, notifications) = client.notifier(settings);
        let tasks = vec![
            tauri::async_runtime::spawn(forward(app.clone(), key.to_string(), client.clone())),
            tauri::async_runtime::spawn(crate::show_notifications(app.clone(), key.to_string(), notifications)),
        ];
        let open = Arc::new(Open { key: key.to_string(), client, notifier, tasks });
        self.open.write().unwrap_or_else(|p| p.into_inner()).push(Arc::clone(&open));
        self.refocus();
        Ok(open)
    }

    /// Takes workspace `key` out of the app: its sync stops, its notifier ends, its cache closes.
    pub async fn close(&self, key: &str) {
        let removed = {
            let mut open = self.open.write().unwrap_or_else(|p| p.into_inner());
            let at = open.iter().position(|w| w.key == key);
            at.map(|at| open.remove(at))
        };
        if let Some(open) = removed {
            open.notifier.stop();
            for task in &open.tasks {
                task.abort();
            }
            open.client.close().await;
        }
    }

    /// The workspace on screen (notifications about it wait while the window has focus).
    pub fn set_active(&self, key: Option<&str>) {
        *self.active.lock().unwrap_or_else(|p| p.into_inner()) = key.map(str::to_string);
        self.refocus();
    }

    pub fn active(&self) -> Option<String> {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_window_focused(&self, focused: bool) {
        self.window_focused.store(focused, Ordering::Relaxed);
        self.refocus();
    }

    /// A workspace is "focused" for its notifier when the window is and it is the one on
    /// screen: a message in a workspace in the background is notified.
    fn refocus(&self) {
        let window = self.window_focused.load(Ordering::Relaxed);
        let active = self.active();
        for w in self.all() {
            w.notifier.set_focused(window && active.as_deref() == Some(w.key.as_str()));
        }
    }
}

fn failed(code: &str, message: String) -> CommandError {
    CommandError { code: code.into(), message }
}

/// The keyring entry of a workspace's token.
pub fn keyring_account(server: &str, key: &str) -> String {
    if key == FIRST {
        server.to_string()
    } else {
        format!("{server}#{key}")
    }
}

/// Forwards one workspace's changes to the UI, named by its key; keeps the tray's count.
async fn forward(app: AppHandle, key: String, client: Client) {
    let mut changes = client.subscribe();
    loop {
        let change = match changes.recv().await {
            Ok(change) => change,
            // Fell behind: the UI re-reads everything.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Change::Inbox,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        if matches!(change, Change::Inbox) {
            crate::tray::update_count(&app).await;
        }
        if let Change::Connection { state: ConnectionState::SignedOut { expired } } = &change {
            let label = app.try_state::<AppCore>().map(|core| core.workspaces.label(&key));
            crate::lifecycle::signed_out_while_hidden(&app, *expired, label.as_deref());
        }
        if let Err(e) = (CoreEvent { workspace: key.clone(), change }).emit(&app) {
            tracing::warn!(error = %e, "event not delivered to the window");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_workspace_keeps_the_files_of_an_app_from_before_workspaces() {
        let ws = Workspaces::new(PathBuf::from("/data"), ClientOptions::default());
        assert_eq!(ws.cache_path(FIRST), PathBuf::from("/data/cache.db"));
        assert_eq!(ws.cache_path("w2"), PathBuf::from("/data/workspaces/w2.db"));
        assert_eq!(keyring_account("https://a.example", FIRST), "https://a.example");
        assert_eq!(keyring_account("https://a.example", "w2"), "https://a.example#w2");
        assert_eq!(host("https://inbox.example.com:8443/x"), "inbox.example.com:8443");
    }
}
