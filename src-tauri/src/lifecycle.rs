//! The app's life on the desktop: one instance (a second launch hands over its link and leaves),
//! `handoff://` links, closing to the tray, starting at login, the log file and the diagnostics
//! an agent copies for support.

use handoff_proto::ConversationId;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_specta::Event as _;

use crate::commands::CommandError;
use crate::links::{self, Link};
use crate::{AppCore, OpenConversation};

/// How many days of log files are kept.
const LOG_DAYS: usize = 7;
/// The log's last lines that go into the diagnostics.
const DIAGNOSTICS_LOG_LINES: usize = 200;

/// A link that arrived before the window could show it (at launch, or before sign-in), with
/// its workspace when one was known then.
#[derive(Default)]
pub struct PendingLink(pub Mutex<Option<(Option<String>, ConversationId)>>);

/// Where the app writes its log, kept for the diagnostics.
pub struct LogFile {
    pub dir: Option<PathBuf>,
    /// Keeps the log writer's thread alive for as long as the app runs.
    guard: Mutex<Option<tracing_appender::non_blocking::WorkerGuard>>,
}

impl LogFile {
    fn new(dir: Option<PathBuf>, guard: Option<tracing_appender::non_blocking::WorkerGuard>) -> LogFile {
        LogFile { dir, guard: Mutex::new(guard) }
    }

    /// Writes out what is still queued for the file, and ends the writer: at exit, which skips
    /// the destructors that would.
    pub fn finish(&self) {
        drop(self.guard.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

/// Starts logging: to `HANDOFF_LOG_FILE` when set (the E2E tests keep it beside their
/// screenshots), else to a daily file in the OS log folder (Linux
/// `~/.local/share/app.handoff.desktop/logs`, macOS `~/Library/Logs/app.handoff.desktop`, Windows
/// `%LOCALAPPDATA%\app.handoff.desktop\logs`), the last [`LOG_DAYS`] kept. `RUST_LOG` filters.
pub fn init_logging(app: &AppHandle) -> LogFile {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // tungstenite traces its upgrade request, the session token's Authorization header included:
    // never below info, whatever RUST_LOG asks (the log goes into Copy diagnostics).
    let filter = ["tungstenite=info", "tokio_tungstenite=info"]
        .into_iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, |f, d| f.add_directive(d));
    if let Some(file) = std::env::var_os("HANDOFF_LOG_FILE").and_then(|p| std::fs::File::create(p).ok()) {
        tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(file).init();
        return LogFile::new(None, None);
    }
    // The folder is made first: the appender neither makes it nor can list old files without it.
    let dir = app.path().app_log_dir().ok().filter(|dir| std::fs::create_dir_all(dir).is_ok());
    let appender = dir.as_ref().and_then(|dir| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("handoff")
            .filename_suffix("log")
            .max_log_files(LOG_DAYS)
            .build(dir)
            .ok()
    });
    match appender {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(writer).init();
            LogFile::new(dir, Some(guard))
        }
        None => {
            tracing_subscriber::fmt().with_env_filter(filter).init();
            LogFile::new(None, None)
        }
    }
}

/// Shows the window, on top.
pub fn bring_forward(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Follows a link: the window comes forward on it, in the workspace whose cache has that
/// conversation (else in the one on screen, which says it does not have it). It is also kept
/// for a window that is not listening yet (the UI takes it once a workspace is open: at start,
/// or at the first sign-in), so nothing is lost at launch.
pub fn open_link(app: &AppHandle, link: Link) {
    bring_forward(app);
    match link {
        Link::Conversation(id) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let active = app.try_state::<AppCore>().and_then(|core| core.workspaces.active());
                match workspace_of(&app, id).await.or(active) {
                    Some(key) => open_conversation(&app, &key, id),
                    None => keep_pending(&app, None, id), // no workspace open yet
                }
            });
        }
    }
}

/// Shows conversation `id` of workspace `key` (a notification's Open, a link).
pub fn open_conversation(app: &AppHandle, key: &str, id: ConversationId) {
    bring_forward(app);
    keep_pending(app, Some(key.to_string()), id);
    if let Err(e) = (OpenConversation { workspace: key.to_string(), conversation_id: id }).emit(app) {
        tracing::warn!(error = %e, "could not open the conversation");
    }
}

fn keep_pending(app: &AppHandle, key: Option<String>, id: ConversationId) {
    if let Some(pending) = app.try_state::<PendingLink>() {
        *pending.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, id));
    }
}

/// The open workspace whose cache has conversation `id`.
async fn workspace_of(app: &AppHandle, id: ConversationId) -> Option<String> {
    let core = app.try_state::<AppCore>()?;
    for w in core.workspaces.all() {
        if matches!(w.client.thread_page(id, 1, None).await, Ok(Some(_))) {
            return Some(w.key.clone());
        }
    }
    None
}

/// A second launch (a link opened from a browser, a chat or a ticket, or the menu entry clicked
/// again): this instance comes forward and follows its link; the second one exits.
pub fn second_launch(app: &AppHandle, args: Vec<String>) {
    tracing::info!("a second launch: bringing this window forward");
    match links::from_args(&args) {
        Some(link) => open_link(app, link),
        None => bring_forward(app),
    }
}

/// The server no longer takes the session. With the window hidden in the tray nobody would see
/// the password dialog, and nothing comes in meanwhile: a notification says so.
pub fn signed_out_while_hidden(app: &AppHandle, expired: bool, workspace: Option<&str>) {
    let hidden = app.get_webview_window("main").is_some_and(|w| !w.is_visible().unwrap_or(true));
    if !hidden {
        return;
    }
    let n = handoff_core::notifications::Notification {
        kind: handoff_core::notifications::NotificationKind::SignedOut,
        conversation_id: None,
        summary: match (expired, workspace) {
            (true, Some(name)) => format!("Handoff: your session in {name} expired"),
            (false, Some(name)) => format!("Handoff: you were signed out of {name}"),
            (true, None) => "Handoff: your session expired".into(),
            (false, None) => "Handoff: you were signed out".into(),
        },
        body: "Nothing new reaches you until you sign in again: open Handoff and enter your password.".into(),
        can_claim: false,
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let handle = app.clone();
        if let Err(e) = crate::notify::show(&n, move |_| bring_forward(&handle)).await {
            tracing::warn!(error = %e, "the signed-out notification was not shown");
        }
    });
}

/// Whether closing the window should hide it (signed in, a tray to come back from, and the
/// agent has not turned it off) rather than quit.
pub fn close_hides(app: &AppHandle) -> bool {
    let Some(core) = app.try_state::<AppCore>() else { return false };
    let signed_in = core.workspaces.all().iter().any(|w| w.client.session().is_some());
    tray_shown(&core) && signed_in && core.prefs.load().close_to_tray
}

/// A tray icon was made and something shows it. On Linux the icon is a StatusNotifierItem, and
/// a desktop without a host for those (stock GNOME, a bare X server) would show nothing: closing
/// must then quit, or the window could not be found again.
fn tray_shown(core: &AppCore) -> bool {
    core.has_tray && core.tray_host.load(std::sync::atomic::Ordering::Relaxed)
}

/// Asks the session bus whether something shows tray icons (Linux; elsewhere there always is).
pub async fn has_tray_host() -> bool {
    #[cfg(target_os = "linux")]
    {
        let ask = async {
            let bus = zbus::Connection::session().await.map_err(|e| e.to_string())?;
            let dbus = zbus::fdo::DBusProxy::new(&bus).await.map_err(|e| e.to_string())?;
            let name = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher").map_err(|e| e.to_string())?;
            dbus.name_has_owner(name).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(std::time::Duration::from_secs(3), ask).await {
            Ok(Ok(owned)) => owned,
            Ok(Err(e)) => {
                tracing::info!(error = %e, "no tray host found: closing the window quits");
                false
            }
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

type Result<T> = std::result::Result<T, CommandError>;

fn failed(code: &str, e: impl std::fmt::Display) -> CommandError {
    CommandError { code: code.into(), message: e.to_string() }
}

/// The link the window has not shown yet, if any (taken: it is shown once), in the workspace
/// whose cache has it, else in `workspace` (the one asking: it says when it does not have it).
#[tauri::command]
#[specta::specta]
pub async fn take_pending_link(
    app: AppHandle,
    pending: State<'_, PendingLink>,
    workspace: String,
) -> Result<Option<OpenConversation>> {
    let taken = pending.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some((key, conversation_id)) = taken else { return Ok(None) };
    let key = match key {
        Some(key) => key,
        None => workspace_of(&app, conversation_id).await.unwrap_or(workspace),
    };
    Ok(Some(OpenConversation { workspace: key, conversation_id }))
}

/// The desktop settings of this computer.
#[derive(Serialize, specta::Type)]
pub struct DesktopSettings {
    /// Handoff starts when the agent signs in to the computer.
    pub autostart: bool,
    /// Closing the window keeps Handoff in the tray.
    pub close_to_tray: bool,
    /// The tray is there to come back from (closing quits without one).
    pub has_tray: bool,
    /// Several people use this computer: signing out removes a workspace's data by default.
    pub shared_computer: bool,
}

#[tauri::command]
#[specta::specta]
pub fn desktop_settings(app: AppHandle, core: State<'_, AppCore>) -> DesktopSettings {
    DesktopSettings {
        autostart: app.autolaunch().is_enabled().unwrap_or(false),
        close_to_tray: core.prefs.load().close_to_tray,
        has_tray: tray_shown(&core),
        shared_computer: core.prefs.load().shared_computer,
    }
}

#[tauri::command]
#[specta::specta]
pub fn set_shared_computer(core: State<'_, AppCore>, on: bool) {
    core.prefs.set_shared_computer(on);
}

#[tauri::command]
#[specta::specta]
pub fn set_autostart(app: AppHandle, on: bool) -> Result<()> {
    let launcher = app.autolaunch();
    let done = if on { launcher.enable() } else { launcher.disable() };
    done.map_err(|e| failed("autostart", format!("Could not change start at login: {e}")))
}

#[tauri::command]
#[specta::specta]
pub fn set_close_to_tray(core: State<'_, AppCore>, on: bool) {
    core.prefs.set_close_to_tray(on);
}

/// What support needs to see what happened, without a secret: versions, the computer, the
/// server and account, the connection, the cache, and the log's last lines.
#[tauri::command]
#[specta::specta]
pub async fn diagnostics(app: AppHandle, core: State<'_, AppCore>) -> Result<String> {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k}: {v}\n"));
    line("Handoff", env!("CARGO_PKG_VERSION").to_string());
    line("System", format!("{} {} ({})", std::env::consts::OS, os_version(), std::env::consts::ARCH));
    line("Webview", tauri::webview_version().unwrap_or_else(|e| format!("unknown ({e})")));
    let open = core.workspaces.all();
    if open.is_empty() {
        line("Signed in as", "nobody".into());
    }
    for w in open {
        let client = &w.client;
        line("Workspace", format!("{} ({})", core.workspaces.label(&w.key), w.key));
        if let Some(s) = client.session() {
            line("  Server", format!("{} ({})", s.server, if s.encrypted { "encrypted" } else { "not encrypted" }));
            line("  Signed in as", format!("{} ({:?})", s.user.email, s.user.role));
        }
        line("  Connection", format!("{:?}", client.connection()));
        line("  Events applied", client.last_seq().await.map(|n| n.to_string()).unwrap_or_else(|e| e.to_string()));
        line("  Changes waiting", client.outbox_len().await.map(|n| n.to_string()).unwrap_or_else(|e| e.to_string()));
        let cache = core.workspaces.cache_path(&w.key);
        let kept = if handoff_core::cache::file::is_encrypted(&cache) {
            "encrypted, its key in the OS keyring"
        } else {
            "not encrypted: there was no usable OS keyring when it opened"
        };
        line("  Cache", format!("{} ({kept})", cache.display()));
    }
    let log_dir = app.try_state::<LogFile>().and_then(|l| l.dir.clone());
    line("Log folder", log_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_else(|| "none".into()));
    if let Some(tail) = log_dir.as_deref().and_then(newest_log_tail) {
        out.push_str(&format!("\nThe log's last {DIAGNOSTICS_LOG_LINES} lines:\n{tail}"));
    }
    Ok(out)
}

fn os_version() -> String {
    #[cfg(target_os = "linux")]
    {
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let pretty = release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"'));
        pretty.unwrap_or("").to_string()
    }
    #[cfg(not(target_os = "linux"))]
    {
        String::new()
    }
}

/// The last lines of the newest log file in `dir`.
fn newest_log_tail(dir: &std::path::Path) -> Option<String> {
    let newest = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("handoff"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())?;
    let text = std::fs::read_to_string(newest.path()).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(DIAGNOSTICS_LOG_LINES)..];
    Some(tail.iter().map(|l| redact(l)).collect::<Vec<_>>().join("\n") + "\n")
}

/// A log line with whatever follows `Bearer ` blanked: no token leaves in the diagnostics, even
/// from a library that logged one.
fn redact(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("Bearer ") {
        out.push_str(&rest[..at + "Bearer ".len()]);
        out.push_str("[hidden]");
        rest = &rest[at + "Bearer ".len()..];
        rest = &rest[rest.find(|c: char| c.is_whitespace() || c == '"' || c == '\\').unwrap_or(rest.len())..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn tokens_are_hidden_from_the_diagnostics() {
        assert_eq!(
            redact(r#"Request: "GET / HTTP/1.1\r\nauthorization: Bearer abc123XYZ\r\nhost: x" and Bearer def"#),
            r#"Request: "GET / HTTP/1.1\r\nauthorization: Bearer [hidden]\r\nhost: x" and Bearer [hidden]"#
        );
        assert_eq!(redact("nothing secret here"), "nothing secret here");
    }
}
