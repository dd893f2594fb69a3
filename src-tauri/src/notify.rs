//! Native notifications (notify-rust) for what the core's notifier decides, with Open and Claim
//! actions where the platform has them. A missing or frozen notification server never blocks the
//! app: showing has a timeout, and waiting for an action runs on its own thread.

use std::time::Duration;

use handoff_core::notifications::Notification;

/// How long showing one notification may take before it is given up.
pub const SHOW_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a notification stays up (milliseconds).
const EXPIRE_MS: u32 = 10_000;

/// What the agent clicked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    Open,
    Claim,
}

/// The app's identifier (`tauri.conf.json`): Windows shows a toast under the name of the Start
/// menu shortcut that carries it as its AppUserModelID (the installers make that shortcut), macOS
/// under the app bundle that has it. Without it Windows toasts would show as PowerShell's.
pub const APP_ID: &str = "app.handoff.desktop";

/// Shows `n`; `on_action` runs (on another thread) if the agent clicks Open or Claim.
pub async fn show(n: &Notification, on_action: impl FnOnce(Action) + Send + 'static) -> Result<(), String> {
    let mut native = notify_rust::Notification::new();
    native.appname("Handoff").summary(&n.summary).body(&n.body).timeout(notify_rust::Timeout::Milliseconds(EXPIRE_MS));
    // XDG: "default" is a click on the notification itself.
    #[cfg(all(unix, not(target_os = "macos")))]
    native.action("default", "Open");
    native.action("open", "Open");
    if n.can_claim {
        native.action("claim", "Claim");
    }
    #[cfg(target_os = "windows")]
    native.app_id(APP_ID);
    let shown = show_native(native).await?;
    // Waits for the agent's click on its own thread (macOS: also where it is delivered). Windows
    // and XDG answer with the action's identifier, macOS with the button's label or "default".
    std::thread::spawn(move || {
        shown.wait_for_action(|action| match action {
            "default" | "open" | "Open" => on_action(Action::Open),
            "claim" | "Claim" => on_action(Action::Claim),
            _ => {}
        })
    });
    Ok(())
}

fn too_slow() -> String {
    format!("the notification server did not answer within {} s", SHOW_TIMEOUT.as_secs())
}

/// Linux and the BSDs: over D-Bus, without blocking a thread.
#[cfg(all(unix, not(target_os = "macos")))]
async fn show_native(native: notify_rust::Notification) -> Result<notify_rust::NotificationHandle, String> {
    tokio::time::timeout(SHOW_TIMEOUT, native.show_async())
        .await
        .map_err(|_| too_slow())?
        .map_err(|e| format!("no notification shown: {e}"))
}

/// Windows (a toast) and macOS (Notification Center): a blocking call, on a blocking thread.
#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn show_native(native: notify_rust::Notification) -> Result<notify_rust::NotificationHandle, String> {
    #[cfg(target_os = "macos")]
    {
        static NAMED: std::sync::Once = std::sync::Once::new();
        NAMED.call_once(|| {
            if let Err(e) = notify_rust::set_application(APP_ID) {
                tracing::warn!(error = %e, "notifications will not show under Handoff's name");
            }
        });
    }
    let shown = tokio::task::spawn_blocking(move || native.show());
    tokio::time::timeout(SHOW_TIMEOUT, shown)
        .await
        .map_err(|_| too_slow())?
        .map_err(|e| format!("no notification shown: {e}"))?
        .map_err(|e| format!("no notification shown: {e}"))
}
