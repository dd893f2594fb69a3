//! Snoozed conversations wake up by themselves at `snooze_until` (by the server's [`Clock`], so
//! tests move time instead of waiting). A woken conversation is open again and, when its owner
//! is offline, routed again.

use handoff_proto::{EventBody, UpdateCause};
use tokio::sync::Notify;

use crate::audit::{self, Who};
use crate::store::{self, DbResult};
use crate::{routing, AppState};

/// Tells the wake-up task that snooze times changed.
#[derive(Default)]
pub struct Alarm(Notify);

impl Alarm {
    pub fn reset(&self) {
        self.0.notify_one();
    }
}

/// Opens every snoozed conversation that is due. Returns how many woke.
pub async fn wake_due(state: &AppState) -> DbResult<usize> {
    let mut w = state.store.begin().await?;
    let due = store::conversations::snooze_ended(w.conn(), state.clock.now()).await?;
    for &(ws, id) in &due {
        let online = state.presence.users(ws);
        store::conversations::wake(w.conn(), ws, id).await?;
        let conversation = store::conversations::get(w.conn(), ws, id, None).await?.expect("listed above");
        let seq = w
            .append(ws, EventBody::ConversationUpdated { conversation, actor_id: None, cause: UpdateCause::Woke })
            .await?;
        audit::record(w.conn(), Who::Server(ws), "wake", Some(id), "The snooze ended: open again.", Some(seq)).await?;
        routing::route(&mut w, ws, &online, id, "", true).await?;
    }
    w.commit().await?;
    Ok(due.len())
}

/// The background task: sleeps until the next snooze ends (or snooze times change), wakes what is due.
pub async fn run(state: AppState) {
    loop {
        let next = async { store::conversations::next_snooze_end(&mut *state.store.reader().await?).await }.await;
        let next = match next {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "reading snooze times failed");
                None
            }
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = state.clock.sleep_until(at) => {
                        match wake_due(&state).await {
                            Ok(n) => tracing::info!(woke = n, "snoozed conversations woke up"),
                            Err(e) => {
                                tracing::warn!(error = %e, "waking snoozed conversations failed; trying again in 5 s");
                                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                            }
                        }
                    }
                    _ = state.snooze.0.notified() => {}
                }
            }
            None => state.snooze.0.notified().await,
        }
    }
}
