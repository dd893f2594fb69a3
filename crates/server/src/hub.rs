//! Fan-out of committed events and ephemeral presence to every live WebSocket connection.
//!
//! Each frame is serialised once and shared: every connection sends the same bytes (a reference
//! count, not a copy). A connection that falls more than the channel's
//! capacity behind is told so (`error{code: "lagged"}`) and closed; it reconnects and catches up
//! from the event log, so the server's memory never grows with a slow consumer.

use axum::extract::ws::Utf8Bytes;
use handoff_proto::{Event, Seq, ServerFrame};
use tokio::sync::broadcast;

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

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<HubMsg>,
}

impl Hub {
    pub fn new(capacity: usize) -> Hub {
        Hub { tx: broadcast::channel(capacity).0 }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<HubMsg> {
        self.tx.subscribe()
    }

    pub fn publish_event(&self, event: Event) {
        let seq = event.seq;
        match serde_json::to_string(&ServerFrame::Event(Box::new(event))) {
            // No receivers is fine: nobody is connected.
            Ok(json) => {
                drop(self.tx.send(HubMsg::Event { seq, json: json.into(), published: std::time::Instant::now() }))
            }
            Err(e) => tracing::error!(error = %e, seq, "event not serialisable"),
        }
    }

    pub fn publish_presence(&self, frame: &ServerFrame) {
        if let Ok(json) = serde_json::to_string(frame) {
            drop(self.tx.send(HubMsg::Presence { json: json.into() }));
        }
    }

    pub fn connections(&self) -> usize {
        self.tx.receiver_count()
    }
}
