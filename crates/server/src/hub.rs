//! Fan-out of committed events and ephemeral presence to every live WebSocket connection.
//!
//! Each frame is serialised once and shared: every connection sends the same bytes (a reference
//! count, not a copy). A connection that falls more than the channel's
//! capacity behind is told so (`error{code: "lagged"}`) and closed; it reconnects and catches up
//! from the event log, so the server's memory never grows with a slow consumer.

use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use handoff_proto::{Event, Seq, ServerFrame, WorkspaceId};
use tokio::sync::{broadcast, watch};

#[derive(Clone, Debug)]
pub enum HubMsg {
    /// A committed event, and when it was handed to the hub.
    Event {
        seq: Seq,
        json: Utf8Bytes,
        published: std::time::Instant,
    },
    Presence {
        json: Utf8Bytes,
    },
}

/// One broadcast channel per workspace: a connection hears only its own workspace's events and
/// presence, and a workspace's burst wakes nobody else's connections.
#[derive(Clone)]
pub struct Hub {
    capacity: usize,
    channels: Arc<Mutex<HashMap<WorkspaceId, broadcast::Sender<HubMsg>>>>,
    /// Counts the events handed over, in every workspace: the outbound webhook worker waits on it.
    events: Arc<watch::Sender<u64>>,
}

impl Hub {
    pub fn new(capacity: usize) -> Hub {
        Hub { capacity, channels: Default::default(), events: Arc::new(watch::Sender::new(0)) }
    }

    /// Changes whenever an event of any workspace is handed over (this node's, or another's it
    /// caught up with).
    pub fn events_published(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }

    /// What `workspace` publishes from now on.
    pub fn subscribe(&self, workspace: WorkspaceId) -> broadcast::Receiver<HubMsg> {
        let mut channels = self.channels.lock().expect("the hub's lock");
        channels.entry(workspace).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe()
    }

    pub fn publish_event(&self, workspace: WorkspaceId, event: Event) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
        let seq = event.seq;
        match serde_json::to_string(&ServerFrame::Event(Box::new(event))) {
            Ok(json) => {
                self.send(workspace, HubMsg::Event { seq, json: json.into(), published: std::time::Instant::now() })
            }
            Err(e) => tracing::error!(error = %e, seq, "event not serialisable"),
        }
    }

    pub fn publish_presence(&self, workspace: WorkspaceId, frame: &ServerFrame) {
        if let Ok(json) = serde_json::to_string(frame) {
            self.send(workspace, HubMsg::Presence { json: json.into() });
        }
    }

    /// To the workspace's connections; a workspace nobody listens to any more loses its channel.
    fn send(&self, workspace: WorkspaceId, msg: HubMsg) {
        let mut channels = self.channels.lock().expect("the hub's lock");
        if let Some(tx) = channels.get(&workspace) {
            if tx.send(msg).is_err() {
                channels.remove(&workspace);
            }
        }
    }

    /// Live connections, in every workspace.
    pub fn connections(&self) -> usize {
        self.channels.lock().expect("the hub's lock").values().map(|tx| tx.receiver_count()).sum()
    }
}
