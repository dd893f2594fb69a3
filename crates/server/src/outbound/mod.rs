//! Replies out to WhatsApp: the partner of [`inbound`](crate::inbound).
//!
//! A reply is committed (delivery `pending`, with the WhatsApp message id it will go out as, its
//! `send_id`) and acknowledged; nothing in the request waits for WhatsApp. One worker per linked
//! device sends that device's pending replies from the database, oldest first, and commits each
//! outcome as a second event: `sent` with the id WhatsApp's events name it by, or `failed` with
//! the device's reason. Because the id is chosen before the first attempt, a gateway's retries,
//! a resend after a crash and the resend at the next start are all the same WhatsApp message, and
//! the device's echo of it is matched to the reply instead of being stored again ([`ours`]).
//!
//! A reply written while its number is not connected to WhatsApp waits, as WhatsApp's own clock
//! icon does, and goes out when the number is back; after [`LINK_WAIT`] it fails with the reason.
//! A worker waiting on a hanging gateway holds up only its own device. Removing a device stops
//! its worker first ([`Outbound::stop`]); a graceful stop lets each worker finish the send in
//! hand and take no more ([`Outbound::drain`]).

pub mod dispatch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handoff_channels::{message_id_parts, new_message_id, AdapterError, Jid};
use handoff_proto::{Delivery, DeviceId, EventBody, MessageId};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::store::{self, DbResult};
use crate::AppState;

/// How long a worker waits before it tries again after a database error (doubling to
/// [`MAX_PAUSE`]); a reply is never dropped for one.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// How long a reply waits for its number to be connected to WhatsApp before it fails.
pub const LINK_WAIT: Duration = Duration::from_secs(10 * 60);
/// How often a worker holding a reply for an unconnected number looks at the clock (a connection
/// wakes it at once).
const LINK_RECHECK: Duration = Duration::from_secs(30);

/// The running workers, one per device.
#[derive(Default)]
pub struct Outbound {
    workers: Mutex<HashMap<DeviceId, Worker>>,
    running: TaskTracker,
}

struct Worker {
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Outbound {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, Worker>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the device's worker (once; again if it ended, a panic say), which looks for
    /// replies waiting at once: those a stopped or crashed server left pending go out first.
    pub fn start(&self, state: &AppState, device_id: DeviceId) {
        let mut workers = self.lock();
        if workers.get(&device_id).is_some_and(|w| !w.task.is_finished()) {
            return;
        }
        let wake = Arc::new(Notify::new());
        let task = self.running.spawn(run(state.clone(), device_id, wake.clone()));
        workers.insert(device_id, Worker { wake, task });
    }

    /// A reply for this device was committed (or the number connected): its worker looks again.
    pub fn wake(&self, state: &AppState, device_id: DeviceId) {
        let running = self.lock().get(&device_id).filter(|w| !w.task.is_finished()).map(|w| w.wake.clone());
        match running {
            // A permit is kept if the worker is busy: it looks again when it is done.
            Some(wake) => wake.notify_one(),
            // Never started, or ended (a panic): started now, unless the server is stopping.
            None if !*state.shutdown.borrow() => self.start(state, device_id),
            None => {}
        }
    }

    /// Stops the device's worker, a send in hand included, and returns once it has stopped (the
    /// device is being removed: its replies go with it).
    pub async fn stop(&self, device_id: DeviceId) {
        let worker = self.lock().remove(&device_id);
        if let Some(worker) = worker {
            worker.task.abort();
            let _ = worker.task.await;
        }
    }

    /// For a graceful stop (the server's shutdown signal is already sent): waits until every
    /// worker has finished the send in hand, at most until `deadline`; what is still sending
    /// then is cut, and goes out at the next start as the same WhatsApp message.
    pub async fn drain(&self, deadline: tokio::time::Instant) {
        self.running.close();
        if tokio::time::timeout_at(deadline, self.running.wait()).await.is_err() {
            tracing::warn!("device sends still running at the stop's deadline: cut off, sent again at the next start");
            for worker in self.lock().values() {
                worker.task.abort();
            }
        }
    }
}

/// One reply to send.
struct Pending {
    id: MessageId,
    body: String,
    send_id: String,
    chat: String,
}

/// What one attempt came to.
enum Attempt {
    Sent(String),
    Failed(String),
    /// The number is not connected to WhatsApp: the reply waits (up to [`LINK_WAIT`]).
    NotLinked,
}

async fn run(state: AppState, device_id: DeviceId, wake: Arc<Notify>) {
    let mut shutdown = state.shutdown.clone();
    let mut pause = FIRST_PAUSE;
    // The reply held for a number that is not connected, and since when: the wait is counted
    // from the worker's first try, not from the commit (a server that was down an hour does not
    // fail what it left pending at its first try after the start).
    let mut held: Option<(MessageId, tokio::time::Instant)> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match next(&state, device_id).await {
            Ok(Some(reply)) => {
                let outcome = match send(&state, device_id, &reply).await {
                    Attempt::Sent(wa_id) => Ok(wa_id),
                    Attempt::Failed(reason) => Err(reason),
                    Attempt::NotLinked => {
                        let since = match held {
                            Some((id, since)) if id == reply.id => since,
                            _ => held.insert((reply.id, tokio::time::Instant::now())).1,
                        };
                        if since.elapsed() < LINK_WAIT {
                            // Held: a connection wakes the worker; the clock is looked at now and then.
                            tokio::select! {
                                _ = wake.notified() => {}
                                _ = tokio::time::sleep(LINK_RECHECK) => {}
                                _ = stopping(&mut shutdown) => {}
                            }
                            continue;
                        }
                        Err(format!(
                            "the number was not connected to WhatsApp for {} minutes",
                            LINK_WAIT.as_secs() / 60
                        ))
                    }
                };
                match record(&state, device_id, reply.id, outcome).await {
                    Ok(()) => pause = FIRST_PAUSE,
                    Err(e) => {
                        // Not recorded: the reply is still pending and is sent again (the same
                        // WhatsApp message) once the database answers.
                        tracing::warn!(%device_id, message_id = %reply.id, error = %e, "a send's outcome was not stored");
                        pause = wait(pause, &mut shutdown).await;
                    }
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%device_id, error = %e, "pending replies not read; trying again");
                pause = wait(pause, &mut shutdown).await;
                continue;
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = stopping(&mut shutdown) => {}
        }
    }
}

/// Resolves once the server is stopping; never, if its handle is gone without a stop.
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    if shutdown.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits `pause` (or until the server stops) and returns the next, longer one.
async fn wait(pause: Duration, shutdown: &mut tokio::sync::watch::Receiver<bool>) -> Duration {
    tokio::select! {
        _ = tokio::time::sleep(pause) => {}
        _ = stopping(shutdown) => {}
    }
    (pause * 2).min(MAX_PAUSE)
}

/// The device's oldest pending reply.
async fn next(state: &AppState, device_id: DeviceId) -> DbResult<Option<Pending>> {
    let Some(store::replies::PendingReply { id, body, send_id, chat }) =
        store::replies::next_pending(&mut *state.store.reader().await?, device_id).await?
    else {
        return Ok(None);
    };
    let send_id = match send_id {
        Some(send_id) => send_id,
        // Committed without one (a reply retried from before ids were chosen at commit): chosen
        // and stored now, before the first attempt.
        None => {
            let send_id = new_message_id();
            let mut w = state.store.begin().await?;
            store::replies::set_send_id(w.conn(), id, &send_id).await?;
            w.commit().await?;
            send_id
        }
    };
    Ok(Some(Pending { id, body, send_id, chat }))
}

/// Hands the reply to the device.
async fn send(state: &AppState, device_id: DeviceId, reply: &Pending) -> Attempt {
    // No adapter (yet: the worker starts before it; or its start failed): held like a number
    // that is down, and woken when the adapter is there.
    let Some(device) = state.devices.get(device_id) else { return Attempt::NotLinked };
    // What the device last reported: a gateway or WhatsApp Web number that is down would refuse
    // the send as an error of its own kind, not as "not connected".
    let status = match state.store.reader().await {
        Ok(mut conn) => {
            crate::store::devices::get(&mut conn, device.workspace, device_id).await.ok().flatten().map(|d| d.status)
        }
        Err(_) => None,
    };
    if status.is_some_and(|s| s != handoff_proto::DeviceStatus::Connected) {
        return Attempt::NotLinked;
    }
    let Some(chat) = Jid::parse(&reply.chat) else {
        return Attempt::Failed(format!("{} is not a WhatsApp address", reply.chat));
    };
    match device.adapter.send_text(&chat, &reply.body, &reply.send_id).await {
        Ok(wa_id) => Attempt::Sent(wa_id),
        Err(AdapterError::NotConnected) => Attempt::NotLinked,
        Err(e) => Attempt::Failed(e.to_string()),
    }
}

/// Commits a send's outcome: `sent` (or further, by a receipt that beat it) or `failed`. A reply
/// its echo or a receipt already marked sent, or one gone with its device, is left as it is.
async fn record(
    state: &AppState,
    device_id: DeviceId,
    message_id: MessageId,
    outcome: Result<String, String>,
) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    let Some(ws) = store::devices::workspace_of(w.conn(), device_id).await? else { return Ok(()) }; // removed
    let changed = match &outcome {
        Ok(wa_id) => {
            // A receipt that beat this commit (a fast phone, named in a form we could not match)
            // counts from here.
            let delivery = store::replies::take_early_receipt(w.conn(), device_id, wa_id)
                .await?
                .filter(|d| d.rank() > Delivery::Sent.rank())
                .unwrap_or(Delivery::Sent);
            store::replies::mark_sent(w.conn(), device_id, message_id, wa_id, delivery).await?
        }
        Err(reason) => {
            tracing::warn!(%message_id, reason, "reply not sent");
            store::replies::mark_failed(w.conn(), message_id, reason).await?
        }
    };
    if !changed {
        return Ok(());
    }
    if outcome.is_ok() {
        state.metrics.sent();
    }
    let Some(message) = store::messages::get(w.conn(), ws, message_id).await? else { return Ok(()) };
    w.append(ws, EventBody::MessageUpdated { message }).await?;
    w.commit().await
}

/// The reply a device event's message id names: by the id WhatsApp's events use once the send is
/// recorded, else by the id it was sent with (in whatever form the device wraps it). `None` for a
/// message this server did not send (typed on the phone).
pub async fn ours(
    conn: &mut store::Conn,
    device_id: DeviceId,
    wa_message_id: &str,
) -> DbResult<Option<store::replies::Ours>> {
    let mut found = store::replies::ours_by_wa_id(&mut *conn, device_id, wa_message_id).await?;
    for part in message_id_parts(wa_message_id) {
        if found.is_some() {
            break;
        }
        found = store::replies::ours_by_send_id(&mut *conn, device_id, part).await?;
    }
    Ok(found)
}
