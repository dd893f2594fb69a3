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

/// Shows `n`; `on_action` runs (on another thread) if the agent clicks Open or Claim.
pub async fn show(n: &Notification, on_action: impl FnOnce(Action) + Send + 'static) -> Result<(), String> {
    let mut native = notify_rust::Notification::new();
    native.appname("Handoff").summary(&n.summary).body(&n.body).timeout(notify_rust::Timeout::Milliseconds(EXPIRE_MS));
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        native.action("default", "Open").action("open", "Open");
        if n.can_claim {
            native.action("claim", "Claim");
        }
    }
    let shown = tokio::time::timeout(SHOW_TIMEOUT, native.show_async())
        .await
        .map_err(|_| format!("the notification server did not answer within {} s", SHOW_TIMEOUT.as_secs()))?
        .map_err(|e| format!("no notification shown: {e}"))?;
    #[cfg(all(unix, not(target_os = "macos")))]
    std::thread::spawn(move || {
        shown.wait_for_action(|action| match action {
            "default" | "open" => on_action(Action::Open),
            "claim" => on_action(Action::Claim),
            _ => {}
        })
    });
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = (shown, on_action);
    }
    Ok(())
}
