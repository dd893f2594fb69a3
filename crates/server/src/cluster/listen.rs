//! What a node hears from the others: PostgreSQL's notifications, on a connection of its own.
//!
//! - [`EVENTS`]: a node committed events; the payload is the log's new head. The events are read
//!   from the log and handed to this node's hub after those it handed before, so its clients
//!   see every node's events in one order with no hole.
//! - [`super::peers::CHANNEL`]: another node's connections' presence.
//! - [`DEVICES`]: a call for a device's adapter, done by the node that drives the device.
//!
//! A notification sent while the connection is down is lost, so after every (re)connection the
//! node reads what it may have missed from the tables: the log after its last event, and the
//! other nodes' connections.

use std::time::Duration;

use handoff_channels::Jid;
use handoff_proto::DeviceId;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;

use super::{peers, DeviceCall};
use crate::store;
use crate::AppState;

/// The event log's new head.
pub const EVENTS: &str = store::events::CHANNEL;
/// Calls for devices' adapters.
pub const DEVICES: &str = "handoff_devices";

/// A [`DeviceCall`] as one node passes it to the others.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceCallNote {
    pub device: DeviceId,
    #[serde(flatten)]
    pub call: DeviceCall,
}

/// A connection that listens on every channel.
pub async fn connect(url: &str) -> anyhow::Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen_all([EVENTS, peers::CHANNEL, DEVICES]).await?;
    Ok(listener)
}

/// Hears the other nodes until the server stops; reconnects (and catches up) when the
/// connection is lost.
pub async fn run(state: AppState, mut listener: PgListener) {
    let shared = state.cluster.shared().expect("a shared database");
    let mut shutdown = state.shutdown.clone();
    let mut pause = Duration::from_millis(100);
    loop {
        catch_up(&state).await;
        loop {
            let next = tokio::select! {
                next = listener.try_recv() => next,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            match next {
                Ok(Some(note)) => hear(&state, note.channel(), note.payload()).await,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "notifications from the other nodes failed");
                    break;
                }
            }
        }
        tracing::warn!("the connection for the other nodes' notifications was lost: reconnecting");
        listener = loop {
            match connect(&shared.database_url).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(error = %e, "no connection for the other nodes' notifications yet");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.wait_for(|s| *s) => return,
                    }
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        };
        pause = Duration::from_millis(100);
    }
}

/// Reads what notifications may have been missed: the log's events after the last one handed
/// to the hub, and the other nodes' connections; the workers of this node's devices look for
/// replies to send (a missed [`DeviceCall::Send`]).
async fn catch_up(state: &AppState) {
    for device in state.cluster.held() {
        state.outbound.wake(state, device);
    }
    let heads = match state.store.heads().await {
        Ok(heads) => heads,
        Err(e) => return tracing::warn!(error = %e, "the event logs' heads were not read"),
    };
    for (ws, head) in heads {
        if let Err(e) = state.store.catch_up(ws, head).await {
            tracing::warn!(error = %e, %ws, "events of other nodes not read");
        }
    }
    peers::resync(state).await;
}

async fn hear(state: &AppState, channel: &str, payload: &str) {
    match channel {
        EVENTS => match crate::store::events::parse_head(payload) {
            Some((ws, head)) => {
                if let Err(e) = state.store.catch_up(ws, head).await {
                    tracing::warn!(error = %e, %ws, head, "events of another node not read");
                }
            }
            None => tracing::warn!(payload, "a bad event log head"),
        },
        peers::CHANNEL => match serde_json::from_str(payload) {
            Ok(note) => peers::hear(state, note),
            Err(e) => tracing::warn!(error = %e, "a bad presence note"),
        },
        DEVICES => match serde_json::from_str::<DeviceCallNote>(payload) {
            Ok(note) if state.cluster.holds(note.device) => device_call(state, note.device, note.call).await,
            Ok(_) => {} // another node drives it
            Err(e) => tracing::warn!(error = %e, "a bad device call"),
        },
        _ => {}
    }
}

/// Makes a call on the adapter of a device this node drives (best effort, like the calls
/// themselves: "typing…" and read receipts).
pub async fn device_call(state: &AppState, device: DeviceId, call: DeviceCall) {
    if call == DeviceCall::Send {
        return state.outbound.wake(state, device);
    }
    let Some(handle) = state.devices.get(device) else { return };
    let result = match &call {
        DeviceCall::Typing { chat, composing } => match Jid::parse(chat) {
            Some(jid) => handle.adapter.set_typing(&jid, *composing).await,
            None => return,
        },
        DeviceCall::Read { chat, ids } => match Jid::parse(chat) {
            Some(jid) => handle.adapter.mark_read(&jid, ids).await,
            None => return,
        },
        DeviceCall::Send => return,
    };
    if let Err(e) = result {
        tracing::debug!(%device, ?call, error = %e, "a device call failed");
    }
}
