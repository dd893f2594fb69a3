//! handoff-desktop: the Tauri shell. Each command is a line or two into handoff-core; the core's
//! changes are forwarded to the UI as one typed event. Platform glue lives here: the OS keyring
//! ([`secrets`]) and the remembered servers ([`prefs`]).

mod admin;
mod commands;
pub mod notify;
mod prefs;
pub mod secrets;
mod tray;

use handoff_core::{Change, Client};
use serde::{Deserialize, Serialize};
use tauri::Manager;
use tauri_specta::Event;

/// Everything the core reports, forwarded to the UI as it happens.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct CoreEvent(pub Change);

/// The agent clicked a notification (or the tray): show this conversation.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct OpenConversation {
    pub conversation_id: uuid::Uuid,
}

/// The agent clicked a notification about a linked number: show Devices.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct OpenDevices;

/// What the commands share.
pub struct AppCore {
    pub client: Client,
    pub prefs: prefs::Prefs,
    pub notifier: handoff_core::notifier::NotifierControl,
}

/// The typed command and event list; `ui/src/bindings.ts` is generated from it.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            commands::restore_session,
            commands::sign_in,
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
            admin::audit,
            admin::export_audit_csv,
            commands::notification_settings,
            commands::set_notification_settings,
        ])
        .events(tauri_specta::collect_events![CoreEvent, OpenConversation, OpenDevices])
}

pub fn run() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // HANDOFF_LOG_FILE sends the log to a file (the E2E tests keep it with their screenshots).
    let log_file = std::env::var_os("HANDOFF_LOG_FILE").and_then(|p| std::fs::File::create(p).ok());
    match log_file {
        Some(file) => tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(file).init(),
        None => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
    secrets::init();
    let builder = specta_builder();
    tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let data_dir = app.path().app_data_dir()?;
            let config_dir = app.path().app_config_dir()?;
            // HANDOFF_CA_FILE: a private CA to trust beside the OS's store (docs/deploy.md).
            let options = handoff_core::ClientOptions::from_env()?;
            let client = tauri::async_runtime::block_on(Client::open_with(&data_dir.join("cache.db"), &options))?;
            let prefs = prefs::Prefs::new(config_dir.join("prefs.json"));
            let handle = app.handle().clone();
            let tray = tray::create(&handle, prefs.load().notifications.dnd);
            let mut changes = client.subscribe();
            let forward_client = client.clone();
            tauri::async_runtime::spawn(async move {
                loop {
                    let change = match changes.recv().await {
                        Ok(change) => change,
                        // Fell behind: the UI re-reads everything.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Change::Inbox,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    };
                    if matches!(change, Change::Inbox) {
                        tray::update_count(&handle, tray.as_ref(), &forward_client).await;
                    }
                    if let Err(e) = CoreEvent(change).emit(&handle) {
                        tracing::warn!(error = %e, "event not delivered to the window");
                    }
                }
            });
            let (notifier, notifications) = tauri::async_runtime::block_on(async {
                // The notifier's task runs on the app's runtime.
                client.notifier(prefs.load().notifications)
            });
            tauri::async_runtime::spawn(show_notifications(app.handle().clone(), client.clone(), notifications));
            app.manage(AppCore { client, prefs, notifier });
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Focused(focused) = event {
                window.app_handle().state::<AppCore>().notifier.set_focused(*focused);
            }
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the Handoff app");
}

/// Shows what the notifier decides; Open brings the window to the conversation, Claim claims it.
async fn show_notifications(
    app: tauri::AppHandle,
    client: Client,
    mut notifications: tokio::sync::mpsc::UnboundedReceiver<handoff_core::notifications::Notification>,
) {
    while let Some(n) = notifications.recv().await {
        let (app, client, id) = (app.clone(), client.clone(), n.conversation_id);
        let on_action = move |action: notify::Action| match (action, id) {
            (notify::Action::Open, Some(id)) => open_conversation(&app, id),
            (notify::Action::Open, None) => open_devices(&app),
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

fn bring_forward(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Brings the window forward and tells the UI to show a conversation.
pub fn open_conversation(app: &tauri::AppHandle, conversation_id: uuid::Uuid) {
    bring_forward(app);
    if let Err(e) = (OpenConversation { conversation_id }).emit(app) {
        tracing::warn!(error = %e, "could not open the conversation");
    }
}

/// Brings the window forward on the Devices screen.
fn open_devices(app: &tauri::AppHandle) {
    bring_forward(app);
    if let Err(e) = OpenDevices.emit(app) {
        tracing::warn!(error = %e, "could not open Devices");
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
