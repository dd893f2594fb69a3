//! Updates (tauri-plugin-updater): one check shortly after start, in the background, never in
//! the way of start-up or sign-in; Settings shows what it found and installs it on request.
//!
//! A build checks only when it carries an update endpoint and the publisher's public key
//! (`plugins.updater` in `tauri.conf.json`, filled in by the release workflow from its secrets:
//! docs/install.md). The repository's own configuration has neither, so a build made from a
//! clone, or a distribution's package, never asks anyone for updates. An update is installed only
//! when its signature verifies against that key; the private key never enters the repository.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_updater::UpdaterExt;
use tauri_specta::Event as _;

use crate::commands::CommandError;

type Result<T> = std::result::Result<T, CommandError>;

/// How long one check may take before it is given up (the next start checks again).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// What the app knows about updates, shown in Settings.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateState {
    /// This build has no update endpoint or key: it never checks.
    NotConfigured,
    Checking,
    UpToDate,
    Available {
        version: String,
        notes: Option<String>,
    },
    /// Downloading the update: bytes so far, and in all when the server says (u32: the
    /// bindings carry no 64-bit integers, and an installer is some MiB).
    Downloading {
        received: u32,
        total: Option<u32>,
    },
    /// Installed: the app restarts into it.
    Installed,
    /// The check or the install failed: a sentence for people.
    Failed {
        message: String,
    },
}

/// The update state changed (Settings listens).
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct UpdateChanged(pub UpdateState);

/// The state, and the update found (kept to install it).
pub struct Updates {
    state: Mutex<UpdateState>,
    found: tokio::sync::Mutex<Option<tauri_plugin_updater::Update>>,
}

impl Updates {
    pub fn new() -> Self {
        Updates { state: Mutex::new(UpdateState::NotConfigured), found: tokio::sync::Mutex::new(None) }
    }

    fn state(&self) -> UpdateState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn set(app: &AppHandle, state: UpdateState) {
    *app.state::<Updates>().state.lock().unwrap_or_else(|p| p.into_inner()) = state.clone();
    if let Err(e) = UpdateChanged(state).emit(app) {
        tracing::warn!(error = %e, "update state not sent to the window");
    }
}

/// The endpoints and key this build checks with: the configured ones, or (test builds only) the
/// ones the desktop tests set in `HANDOFF_TEST_UPDATER_ENDPOINT` and `HANDOFF_TEST_UPDATER_PUBKEY`.
fn source(app: &AppHandle) -> Option<(Vec<tauri::Url>, String)> {
    #[cfg(feature = "checks")]
    if let (Ok(endpoint), Ok(pubkey)) =
        (std::env::var("HANDOFF_TEST_UPDATER_ENDPOINT"), std::env::var("HANDOFF_TEST_UPDATER_PUBKEY"))
    {
        return Some((vec![endpoint.parse().ok()?], pubkey));
    }
    let config = app.config().plugins.0.get("updater")?;
    let pubkey = config.get("pubkey")?.as_str()?.trim().to_string();
    let endpoints: Vec<tauri::Url> =
        config.get("endpoints")?.as_array()?.iter().filter_map(|e| e.as_str()?.parse().ok()).collect();
    (!pubkey.is_empty() && !endpoints.is_empty()).then_some((endpoints, pubkey))
}

/// Starts the one background check of this run (called from setup; returns at once).
pub fn check_in_background(app: &AppHandle) {
    let Some((endpoints, pubkey)) = source(app) else {
        tracing::info!("updates: this build has no update endpoint, it does not check");
        return;
    };
    set(app, UpdateState::Checking);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = match check(&app, endpoints, pubkey).await {
            Ok(Some(update)) => {
                tracing::info!(version = %update.version, "updates: a new version is available");
                let state = UpdateState::Available { version: update.version.clone(), notes: update.body.clone() };
                *app.state::<Updates>().found.lock().await = Some(update);
                state
            }
            Ok(None) => {
                tracing::info!("updates: this is the latest version");
                UpdateState::UpToDate
            }
            Err(message) => {
                tracing::warn!(error = %message, "updates: the check failed");
                UpdateState::Failed { message: format!("No update check this time: {message}.") }
            }
        };
        set(&app, state);
    });
}

async fn check(
    app: &AppHandle,
    endpoints: Vec<tauri::Url>,
    pubkey: String,
) -> std::result::Result<Option<tauri_plugin_updater::Update>, String> {
    // A test build's plain-http endpoint on loopback passes: the plugin refuses http in release
    // builds only, and test builds are debug builds.
    let builder = app.updater_builder().pubkey(pubkey).timeout(CHECK_TIMEOUT);
    let updater = builder.endpoints(endpoints).and_then(|b| b.build()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(CHECK_TIMEOUT, updater.check()).await {
        Ok(found) => found.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer from the update server within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// What the app knows about updates now.
#[tauri::command]
#[specta::specta]
pub async fn update_state(updates: State<'_, Updates>) -> Result<UpdateState> {
    Ok(updates.state())
}

/// Downloads and installs the update found, then restarts into it (progress arrives as
/// [`UpdateChanged`] events).
#[tauri::command]
#[specta::specta]
pub async fn install_update(app: AppHandle, updates: State<'_, Updates>) -> Result<()> {
    let Some(update) = updates.found.lock().await.take() else {
        return Err(CommandError { code: "no_update".into(), message: "There is no update to install.".into() });
    };
    let mut received = 0u32;
    let bytes = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let progress = app.clone();
    let installed = update
        .download_and_install(
            move |chunk, total| {
                received = received.saturating_add(bytes(chunk as u64));
                set(&progress, UpdateState::Downloading { received, total: total.map(bytes) });
            },
            || {},
        )
        .await;
    match installed {
        Ok(()) => {
            set(&app, UpdateState::Installed);
            tracing::info!(version = %update.version, "updates: installed, restarting");
            app.restart();
        }
        Err(e) => {
            tracing::warn!(error = %e, version = %update.version, "updates: not installed");
            let message = format!("Version {} was not installed: {e}.", update.version);
            set(&app, UpdateState::Failed { message: message.clone() });
            Err(CommandError { code: "update_failed".into(), message })
        }
    }
}
