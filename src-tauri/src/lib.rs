//! handoff-desktop: the Tauri shell. Each command is a line or two into handoff-core; the core's
//! changes are forwarded to the UI as one typed event. Platform glue lives here: the OS keyring
//! ([`secrets`]) and the remembered servers ([`prefs`]).

mod admin;
mod commands;
mod prefs;
mod secrets;

use handoff_core::{Change, Client};
use serde::{Deserialize, Serialize};
use tauri::Manager;
use tauri_specta::Event;

/// Everything the core reports, forwarded to the UI as it happens.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct CoreEvent(pub Change);

/// What the commands share.
pub struct AppCore {
    pub client: Client,
    pub prefs: prefs::Prefs,
}

/// The typed command and event list; `ui/src/bindings.ts` is generated from it.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            commands::restore_session,
            commands::sign_in,
            commands::sign_out,
            commands::recent_servers,
            commands::connection,
            commands::inbox,
            commands::thread,
            commands::users,
            commands::devices,
            commands::reply,
            commands::note,
            commands::claim,
            commands::assign,
            commands::escalate,
            commands::label,
            commands::snooze,
            commands::teams,
            commands::counts,
            commands::labels,
            commands::set_status,
            commands::mark_read,
            commands::set_presence,
            commands::set_away,
            commands::presence,
            admin::dashboard,
            admin::agents,
            admin::create_user,
            admin::patch_user,
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
        ])
        .events(tauri_specta::collect_events![CoreEvent])
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
            let client = tauri::async_runtime::block_on(Client::open(&data_dir.join("cache.db")))?;
            let handle = app.handle().clone();
            let mut changes = client.subscribe();
            tauri::async_runtime::spawn(async move {
                loop {
                    let change = match changes.recv().await {
                        Ok(change) => change,
                        // Fell behind: the UI re-reads everything.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Change::Inbox,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    };
                    if let Err(e) = CoreEvent(change).emit(&handle) {
                        tracing::warn!(error = %e, "event not delivered to the window");
                    }
                }
            });
            app.manage(AppCore { client, prefs: prefs::Prefs::new(config_dir.join("prefs.json")) });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running the Handoff app");
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
