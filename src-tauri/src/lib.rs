//! handoff-desktop: the Tauri shell. Each command is a line or two into the handoff-core of the
//! workspace it names ([`workspaces`]); the cores' changes are forwarded to the UI as one typed
//! event naming its workspace. Platform glue lives here: the OS keyring ([`secrets`]) and the
//! remembered servers and workspaces ([`prefs`]).

mod admin;
mod commands;
mod lifecycle;
pub mod links;
pub mod notify;
mod prefs;
mod privacy;
mod saved_replies;
pub mod secrets;
mod tray;
mod updates;
pub mod workspaces;

use handoff_core::Change;
use handoff_proto::ConversationId;
use serde::{Deserialize, Serialize};
use tauri::Manager;
use tauri_specta::Event;

/// Everything a workspace's core reports, forwarded to the UI as it happens.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct CoreEvent {
    /// The workspace's key.
    pub workspace: String,
    pub change: Change,
}

/// The agent clicked a notification (or the tray, or a link): show this conversation.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct OpenConversation {
    /// The workspace's key.
    pub workspace: String,
    pub conversation_id: ConversationId,
}

/// The agent clicked a notification about a linked number: show that workspace's Devices.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct OpenDevices {
    pub workspace: String,
}

/// An Admin clicked the notification of a paused webhook: show that workspace's Admin →
/// Webhooks.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct OpenWebhooks {
    pub workspace: String,
}

/// What the commands share.
pub struct AppCore {
    pub workspaces: workspaces::Workspaces,
    pub prefs: prefs::Prefs,
    /// The tray icon was made ...
    pub has_tray: bool,
    /// ... and something on this desktop shows it (checked at start: [`lifecycle::has_tray_host`]).
    pub tray_host: std::sync::atomic::AtomicBool,
}

impl AppCore {
    /// The core of workspace `key` (the UI names it in each command).
    pub fn client(&self, key: &str) -> Result<handoff_core::Client, commands::CommandError> {
        Ok(self.workspaces.get(key)?.client.clone())
    }
}

/// The typed command and event list; `ui/src/bindings.ts` is generated from it.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            commands::restore_session,
            commands::sign_in,
            commands::set_active_workspace,
            commands::sign_out,
            commands::change_password,
            commands::sessions,
            commands::end_session,
            commands::outbox_len,
            commands::recent_servers,
            commands::server_address,
            commands::connection,
            commands::inbox,
            commands::thread,
            commands::users,
            commands::devices,
            commands::reply,
            commands::note,
            commands::claim,
            commands::retry,
            commands::save_attachment,
            commands::assign,
            commands::escalate,
            commands::label,
            commands::snooze,
            commands::teams,
            commands::counts,
            commands::labels,
            commands::search,
            commands::attention,
            commands::dismiss_attention,
            commands::resend_attention,
            commands::draft,
            commands::set_draft,
            commands::set_status,
            commands::mark_read,
            commands::set_presence,
            commands::set_away,
            commands::presence,
            admin::dashboard,
            admin::link_device,
            admin::device_qr,
            admin::relink_device,
            admin::remove_device,
            admin::agents,
            admin::create_user,
            admin::patch_user,
            admin::reset_password,
            admin::create_team,
            admin::patch_team,
            admin::set_team_members,
            admin::routing_rules,
            admin::create_routing_rule,
            admin::delete_routing_rule,
            admin::test_routing,
            admin::api_keys,
            admin::create_api_key,
            admin::revoke_api_key,
            admin::webhooks,
            admin::create_webhook,
            admin::patch_webhook,
            admin::delete_webhook,
            admin::webhook_deliveries,
            admin::retry_webhook_delivery,
            saved_replies::saved_replies,
            saved_replies::create_saved_reply,
            saved_replies::patch_saved_reply,
            saved_replies::delete_saved_reply,
            admin::audit,
            admin::export_audit_csv,
            privacy::workspace_settings,
            privacy::set_workspace_settings,
            privacy::contact,
            privacy::export_contact,
            privacy::erase_contact,
            privacy::wipe_user,
            commands::notification_settings,
            commands::set_notification_settings,
            lifecycle::take_pending_link,
            lifecycle::desktop_settings,
            lifecycle::set_autostart,
            lifecycle::set_close_to_tray,
            lifecycle::set_shared_computer,
            lifecycle::diagnostics,
            updates::update_state,
            updates::install_update,
        ])
        .events(tauri_specta::collect_events![
            CoreEvent,
            OpenConversation,
            OpenDevices,
            OpenWebhooks,
            updates::UpdateChanged
        ])
        // Sizes the UI pages by, from here only.
        .constant("INBOX_PAGE", commands::INBOX_PAGE)
        .constant("THREAD_PAGE", commands::THREAD_PAGE)
}

pub fn run() {
    secrets::init();
    let builder = specta_builder();
    let app = tauri::Builder::default()
        // First of all: a second launch hands its arguments (a handoff:// link) to this one and
        // exits, so one cache never has two sync loops or two tray icons.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| lifecycle::second_launch(app, args)))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_autostart::Builder::new().build())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(lifecycle::PendingLink::default())
        .manage(updates::Updates::new())
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            let log = lifecycle::init_logging(app.handle());
            tracing::info!(version = env!("CARGO_PKG_VERSION"), log = ?log.dir, "Handoff started");
            app.manage(log);
            builder.mount_events(app);
            let data_dir = app.path().app_data_dir()?;
            let config_dir = app.path().app_config_dir()?;
            // HANDOFF_CA_FILE: a private CA to trust beside the OS's store (docs/deploy.md).
            let options = handoff_core::ClientOptions::from_env()?;
            let prefs = prefs::Prefs::new(config_dir.join("prefs.json"));
            let has_tray = tray::create(app.handle(), tray::all_dnd(&prefs.load())).is_some();
            let tray_host = std::sync::atomic::AtomicBool::new(false);
            let workspaces = workspaces::Workspaces::new(data_dir, options);
            app.manage(AppCore { workspaces, prefs, has_tray, tray_host });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let shown = lifecycle::has_tray_host().await;
                handle.state::<AppCore>().tray_host.store(shown, std::sync::atomic::Ordering::Relaxed);
            });
            watch_links(app)?;
            updates::check_in_background(app.handle());
            Ok(())
        })
        .on_window_event(|window, event| match event {
            tauri::WindowEvent::Focused(focused) => {
                window.app_handle().state::<AppCore>().workspaces.set_window_focused(*focused);
            }
            // Signed in, closing hides the window to the tray: notifications keep coming, and
            // Quit in the tray menu quits.
            tauri::WindowEvent::CloseRequested { api, .. } if lifecycle::close_hides(window.app_handle()) => {
                api.prevent_close();
                // The window's place is saved now: an app that lives in the tray usually ends
                // with the computer, where the plugin's own save at exit never runs.
                use tauri_plugin_window_state::AppHandleExt;
                if let Err(e) = window.app_handle().save_window_state(tauri_plugin_window_state::StateFlags::all()) {
                    tracing::warn!(error = %e, "the window's place was not saved");
                }
                let _ = window.hide();
                window.app_handle().state::<AppCore>().workspaces.set_window_focused(false);
                tracing::info!("window closed: Handoff keeps running in the tray");
            }
            _ => {}
        })
        .build(tauri::generate_context!())
        .expect("error while building the Handoff app");
    app.run(|app, event| {
        // macOS: a click on the Dock icon brings a hidden window back.
        #[cfg(target_os = "macos")]
        if let tauri::RunEvent::Reopen { .. } = event {
            lifecycle::bring_forward(app);
        }
        // Quitting: every workspace's sync stops and its cache closes (its write-ahead log
        // written into the file) before the process ends, rather than under a connection
        // still at work (its encryption's library is torn down at exit).
        if let tauri::RunEvent::Exit = event {
            // On the app's runtime, waited for here (the event loop's thread) with a bound of its
            // own: a quit never hangs on it, and SQLite's log makes an unclosed cache whole.
            let (closed, all_closed) = std::sync::mpsc::channel();
            let handle = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Some(core) = handle.try_state::<AppCore>() {
                    for w in core.workspaces.all() {
                        core.workspaces.close(&w.key).await;
                    }
                }
                let _ = closed.send(());
            });
            match all_closed.recv_timeout(std::time::Duration::from_secs(3)) {
                Ok(()) => tracing::info!("Handoff quit: every workspace closed"),
                Err(_) => tracing::warn!("Handoff quit before every workspace closed"),
            }
            if let Some(log) = app.try_state::<lifecycle::LogFile>() {
                log.finish();
            }
        }
    });
}

/// `handoff://` links: the one this launch was started with (Linux and Windows pass it as an
/// argument; a second launch's reaches [`lifecycle::second_launch`]) and those the OS delivers
/// while running (macOS).
fn watch_links(app: &tauri::App) -> tauri::Result<()> {
    use tauri_plugin_deep_link::DeepLinkExt;
    let args: Vec<String> = std::env::args().collect();
    if let Some(link) = links::from_args(&args) {
        lifecycle::open_link(app.handle(), link);
    }
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        if let Some(link) = event.urls().iter().find_map(|u| links::parse(u.as_str())) {
            lifecycle::open_link(&handle, link);
        }
    });
    // An AppImage has no installed menu entry to carry the scheme: it registers itself.
    #[cfg(target_os = "linux")]
    if std::env::var_os("APPIMAGE").is_some() {
        if let Err(e) = app.deep_link().register_all() {
            tracing::warn!(error = %e, "handoff:// links not registered");
        }
    }
    Ok(())
}

/// Shows what a workspace's notifier decides; Open brings the window to the conversation in
/// that workspace, Claim claims it there. With several workspaces the title names it.
pub(crate) async fn show_notifications(
    app: tauri::AppHandle,
    key: String,
    mut notifications: tokio::sync::mpsc::UnboundedReceiver<handoff_core::notifications::Notification>,
) {
    while let Some(mut n) = notifications.recv().await {
        let Some(core) = app.try_state::<AppCore>() else { continue };
        let Ok(open) = core.workspaces.get(&key) else { return };
        if core.workspaces.several() {
            n.summary = format!("{} · {}", core.workspaces.label(&key), n.summary);
        }
        let (app, key, client, id) = (app.clone(), key.clone(), open.client.clone(), n.conversation_id);
        let webhook = n.kind == handoff_core::notifications::NotificationKind::WebhookPaused;
        let on_action = move |action: notify::Action| match (action, id) {
            (notify::Action::Open, Some(id)) => lifecycle::open_conversation(&app, &key, id),
            (notify::Action::Open, None) if webhook => open_webhooks(&app, &key),
            (notify::Action::Open, None) => open_devices(&app, &key),
            (notify::Action::Claim, None) => {}
            (notify::Action::Claim, Some(id)) => {
                tauri::async_runtime::spawn(async move {
                    if let Err(e) = client.claim(id).await {
                        tracing::warn!(error = %e, "claim from a notification failed");
                    }
                });
            }
        };
        if let Err(e) = notify::show(&n, on_action).await {
            tracing::warn!(error = %e, summary = %n.summary, "notification not shown");
        }
    }
}

/// Brings the window forward on a workspace's Devices screen.
fn open_devices(app: &tauri::AppHandle, key: &str) {
    lifecycle::bring_forward(app);
    if let Err(e) = (OpenDevices { workspace: key.to_string() }).emit(app) {
        tracing::warn!(error = %e, "could not open Devices");
    }
}

/// Brings the window forward on a workspace's Admin → Webhooks.
fn open_webhooks(app: &tauri::AppHandle, key: &str) {
    lifecycle::bring_forward(app);
    if let Err(e) = (OpenWebhooks { workspace: key.to_string() }).emit(app) {
        tracing::warn!(error = %e, "could not open Admin → Webhooks");
    }
}

#[cfg(test)]
mod tests {
    /// Writes `ui/src/bindings.ts`. CI fails when the committed file differs from what this writes.
    #[test]
    fn export_typescript_bindings() {
        let ts = specta_typescript::Typescript::default().header(
            "// Generated from the Rust types by `cargo test -p handoff-desktop`. Do not edit.\n// @ts-nocheck",
        );
        super::specta_builder().export(ts, "../ui/src/bindings.ts").expect("bindings exported");
    }
}
