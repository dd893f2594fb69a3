//! Remembered, non-secret preferences: recent servers, the workspaces added to the app (where,
//! which, and what the agent wants to be notified about in each), the one last on screen.
//! A small JSON file in the OS config folder; tokens are never written here.

use std::path::PathBuf;

use handoff_core::notifications::NotificationSettings;
use handoff_proto::WorkspaceId;
use serde::{Deserialize, Serialize};

use crate::workspaces::FIRST;

/// A workspace added to the app.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SavedWorkspace {
    /// Names its cache file and keyring entry ([`crate::workspaces`]).
    pub key: String,
    pub server: String,
    /// `None` until known (a cache from before workspaces, or a server from before them).
    #[serde(default)]
    pub workspace_id: Option<WorkspaceId>,
    /// Signed in: it opens at start. Signed out (without removing its data), its cache waits
    /// for the same workspace to be signed in to again.
    pub signed_in: bool,
    #[serde(default)]
    pub notifications: NotificationSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default)]
    pub workspaces: Vec<SavedWorkspace>,
    /// The workspace last on screen.
    #[serde(default)]
    pub active: Option<String>,
    /// Closing the window while signed in keeps the app in the tray (notifications keep coming);
    /// off, closing quits.
    #[serde(default = "yes")]
    pub close_to_tray: bool,
    /// Several people use this computer: signing out removes the workspace's data from it
    /// unless the person chooses to keep it (docs/privacy.md).
    #[serde(default)]
    pub shared_computer: bool,
    /// From an app before workspaces: the server signed in to, and its notification settings.
    /// Read once, into the first workspace ([`Saved::upgrade`]); never written again.
    #[serde(default, skip_serializing)]
    last_server: Option<String>,
    #[serde(default, skip_serializing)]
    notifications: Option<NotificationSettings>,
}

fn yes() -> bool {
    true
}

impl Default for Saved {
    fn default() -> Saved {
        Saved {
            servers: Vec::new(),
            workspaces: Vec::new(),
            active: None,
            close_to_tray: true,
            shared_computer: false,
            last_server: None,
            notifications: None,
        }
    }
}

impl Saved {
    /// A file from before workspaces: its signed-in server becomes the first workspace, with
    /// the cache and keyring entry it had, and its notification settings.
    fn upgrade(mut self) -> Saved {
        if let (true, Some(server)) = (self.workspaces.is_empty(), self.last_server.take()) {
            self.workspaces.push(SavedWorkspace {
                key: FIRST.into(),
                server,
                workspace_id: None,
                signed_in: true,
                notifications: self.notifications.take().unwrap_or_default(),
            });
            self.active = Some(FIRST.into());
        }
        self
    }

    pub fn workspace(&self, key: &str) -> Option<&SavedWorkspace> {
        self.workspaces.iter().find(|w| w.key == key)
    }

    /// Which key a sign-in to `workspace_id` of `server` gets: the entry kept for it while it
    /// was signed out (its cache holds that workspace's data), else the first workspace's files
    /// when no entry uses them, else a new key. An entry whose workspace is not known yet (an
    /// app from before workspaces) counts as the same (the cache itself tells, and starts again
    /// if it was another). `open` are the keys of the workspaces in the app now: never taken
    /// over (the caller has found that this sign-in is none of them).
    pub fn key_for(&self, server: &str, workspace_id: Option<WorkspaceId>, open: &[String]) -> String {
        let same = |w: &&SavedWorkspace| {
            !open.contains(&w.key)
                && w.server == server
                && (w.workspace_id.is_none() || workspace_id.is_none() || w.workspace_id == workspace_id)
        };
        if let Some(w) = self.workspaces.iter().find(same) {
            return w.key.clone();
        }
        if self.workspace(FIRST).is_none() {
            return FIRST.into();
        }
        let free = |k: &String| self.workspace(k).is_none() && !open.contains(k);
        (2..).map(|n| format!("w{n}")).find(free).unwrap_or_default()
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
        let saved: Saved =
            std::fs::read(&self.path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        saved.upgrade()
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

    fn change(&self, f: impl FnOnce(&mut Saved)) {
        let mut saved = self.load();
        f(&mut saved);
        self.save(&saved);
    }

    /// Puts `server` first in the recent list (at most 5).
    pub fn remember_server(&self, server: &str) {
        self.change(|saved| {
            saved.servers.retain(|s| s != server);
            saved.servers.insert(0, server.to_string());
            saved.servers.truncate(5);
        });
    }

    /// Workspace `key` is signed in to `workspace_id` of `server`.
    pub fn signed_in(&self, key: &str, server: &str, workspace_id: Option<WorkspaceId>) {
        self.change(|saved| match saved.workspaces.iter_mut().find(|w| w.key == key) {
            Some(w) => {
                w.server = server.to_string();
                w.workspace_id = workspace_id.or(w.workspace_id);
                w.signed_in = true;
            }
            None => saved.workspaces.push(SavedWorkspace {
                key: key.to_string(),
                server: server.to_string(),
                workspace_id,
                signed_in: true,
                notifications: NotificationSettings::default(),
            }),
        });
    }

    /// Workspace `key` was signed out: `forget` removes it (its data went with it), else it
    /// stays, signed out, for its cache to be found again.
    pub fn signed_out(&self, key: &str, forget: bool) {
        self.change(|saved| {
            if forget {
                saved.workspaces.retain(|w| w.key != key);
            } else if let Some(w) = saved.workspaces.iter_mut().find(|w| w.key == key) {
                w.signed_in = false;
            }
            if saved.active.as_deref() == Some(key) {
                saved.active = saved.workspaces.iter().find(|w| w.signed_in).map(|w| w.key.clone());
            }
        });
    }

    /// The workspace a kept sign-in is of, learnt when it opened (an app from before
    /// workspaces did not know it).
    pub fn learn_workspace(&self, key: &str, workspace_id: WorkspaceId) {
        self.change(|saved| {
            if let Some(w) = saved.workspaces.iter_mut().find(|w| w.key == key) {
                w.workspace_id.get_or_insert(workspace_id);
            }
        });
    }

    pub fn set_active(&self, key: &str) {
        self.change(|saved| saved.active = Some(key.to_string()));
    }

    pub fn set_notifications(&self, key: &str, settings: NotificationSettings) {
        self.change(|saved| {
            if let Some(w) = saved.workspaces.iter_mut().find(|w| w.key == key) {
                w.notifications = settings;
            }
        });
    }

    pub fn set_shared_computer(&self, on: bool) {
        self.change(|saved| saved.shared_computer = on);
    }

    pub fn set_close_to_tray(&self, on: bool) {
        self.change(|saved| saved.close_to_tray = on);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws_id(n: u128) -> WorkspaceId {
        WorkspaceId::from(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_file_from_before_workspaces_becomes_the_first_workspace() {
        let dnd = serde_json::to_string(&NotificationSettings { dnd: true, ..Default::default() }).unwrap();
        let old = format!(
            r#"{{"servers":["https://a.example"],"last_server":"https://a.example","notifications":{dnd},"close_to_tray":false}}"#
        );
        let saved: Saved = serde_json::from_str::<Saved>(&old).unwrap().upgrade();
        assert_eq!(saved.workspaces.len(), 1);
        let first = &saved.workspaces[0];
        assert_eq!((first.key.as_str(), first.server.as_str(), first.signed_in), (FIRST, "https://a.example", true));
        assert!(first.notifications.dnd, "its settings come along");
        assert_eq!(saved.active.as_deref(), Some(FIRST));
        assert!(!saved.close_to_tray);
        let written = serde_json::to_string(&saved).unwrap();
        assert!(!written.contains("last_server"), "the old fields are not written again: {written}");
        // Signed out before the upgrade: nothing to open.
        let signed_out: Saved =
            serde_json::from_str::<Saved>(r#"{"servers":["https://a.example"]}"#).unwrap().upgrade();
        assert!(signed_out.workspaces.is_empty());
    }

    #[test]
    fn each_workspace_keeps_its_own_settings_and_signing_out_moves_the_screen_on() {
        let dir = std::env::temp_dir().join(format!("handoff-prefs-{}-{}", std::process::id(), line!()));
        let _ = std::fs::remove_dir_all(&dir);
        let prefs = Prefs::new(dir.join("prefs.json"));
        prefs.signed_in(FIRST, "https://a.example", Some(ws_id(1)));
        prefs.signed_in("w2", "https://b.example", Some(ws_id(2)));
        prefs.set_active("w2");
        prefs.set_notifications(
            "w2",
            NotificationSettings { dnd: true, unclaimed_after_mins: 30, ..Default::default() },
        );
        let saved = prefs.load();
        assert!(saved.workspace("w2").unwrap().notifications.dnd);
        assert_eq!(saved.workspace("w2").unwrap().notifications.unclaimed_after_mins, 30);
        assert_eq!(
            saved.workspace(FIRST).unwrap().notifications,
            NotificationSettings::default(),
            "the other's untouched"
        );
        // Signed out keeping the data: kept, signed out; the screen moves to one still in.
        prefs.signed_out("w2", false);
        let saved = prefs.load();
        assert!(!saved.workspace("w2").unwrap().signed_in);
        assert!(saved.workspace("w2").unwrap().notifications.dnd, "its settings wait with it");
        assert_eq!(saved.active.as_deref(), Some(FIRST));
        prefs.learn_workspace(FIRST, ws_id(9));
        assert_eq!(prefs.load().workspace(FIRST).unwrap().workspace_id, Some(ws_id(1)), "a known id is kept");
        prefs.signed_out(FIRST, true);
        let saved = prefs.load();
        assert!(saved.workspace(FIRST).is_none(), "forgotten");
        assert_eq!(saved.active, None, "nothing signed in is on screen");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_sign_in_finds_the_cache_kept_for_its_workspace() {
        let mut saved = Saved::default();
        let none: &[String] = &[];
        assert_eq!(
            saved.key_for("https://a.example", Some(ws_id(1)), none),
            FIRST,
            "the first one takes the old files"
        );
        let entry = |key: &str, server: &str, id: Option<WorkspaceId>| SavedWorkspace {
            key: key.into(),
            server: server.into(),
            workspace_id: id,
            signed_in: false,
            notifications: Default::default(),
        };
        saved.workspaces.push(entry(FIRST, "https://a.example", Some(ws_id(1))));
        saved.workspaces.push(entry("w2", "https://b.example", Some(ws_id(1))));
        assert_eq!(saved.key_for("https://a.example", Some(ws_id(1)), none), FIRST);
        assert_eq!(
            saved.key_for("https://b.example", Some(ws_id(1)), none),
            "w2",
            "the same id on another server is another"
        );
        assert_eq!(saved.key_for("https://a.example", Some(ws_id(2)), none), "w3");
        saved.workspaces.push(entry("w3", "https://c.example", None));
        assert_eq!(saved.key_for("https://c.example", Some(ws_id(7)), none), "w3", "not known yet: the cache tells");
        assert_eq!(saved.key_for("https://d.example", None, none), "w4");
        // An open workspace is never taken over, even one whose workspace is not known yet:
        // another account of its server gets a key of its own.
        let open = [String::from("w3"), String::from("w4")];
        assert_eq!(saved.key_for("https://c.example", Some(ws_id(7)), &open), "w5");
        assert_eq!(saved.key_for("https://a.example", Some(ws_id(1)), &[FIRST.to_string()]), "w4");
    }
}
