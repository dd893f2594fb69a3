//! Remembered, non-secret preferences: recent servers, the last one signed in to, and what the
//! agent wants to be notified about.
//! A small JSON file in the OS config folder; the token is never written here.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default)]
    pub last_server: Option<String>,
    #[serde(default)]
    pub notifications: handoff_core::notifications::NotificationSettings,
    /// Closing the window while signed in keeps the app in the tray (notifications keep coming);
    /// off, closing quits.
    #[serde(default = "yes")]
    pub close_to_tray: bool,
}

fn yes() -> bool {
    true
}

impl Default for Saved {
    fn default() -> Saved {
        Saved { servers: Vec::new(), last_server: None, notifications: Default::default(), close_to_tray: true }
    }
}

pub struct Prefs {
    path: PathBuf,
}

impl Prefs {
    pub fn new(path: PathBuf) -> Prefs {
        Prefs { path }
    }

    pub fn load(&self) -> Saved {
        std::fs::read(&self.path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    fn save(&self, saved: &Saved) {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = self.path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(saved).unwrap_or_default())?;
            std::fs::rename(tmp, &self.path)
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, "preferences not saved");
        }
    }

    /// Puts `server` first in the recent list (at most 5) and remembers it as the last one.
    pub fn remember_server(&self, server: &str) {
        let mut saved = self.load();
        saved.servers.retain(|s| s != server);
        saved.servers.insert(0, server.to_string());
        saved.servers.truncate(5);
        saved.last_server = Some(server.to_string());
        self.save(&saved);
    }

    pub fn set_notifications(&self, settings: handoff_core::notifications::NotificationSettings) {
        let mut saved = self.load();
        saved.notifications = settings;
        self.save(&saved);
    }

    pub fn set_close_to_tray(&self, on: bool) {
        let mut saved = self.load();
        saved.close_to_tray = on;
        self.save(&saved);
    }

    pub fn forget_session(&self) {
        let mut saved = self.load();
        saved.last_server = None;
        self.save(&saved);
    }
}
