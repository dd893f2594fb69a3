//! handoff-channels: how the server talks to linked WhatsApp numbers.
//!
//! A [`DeviceAdapter`] drives one linked number. It reports everything that happens on it as
//! [`DeviceEvent`]s to an [`EventSink`] (the server's ingest, which commits before it returns) and
//! takes the few outbound actions WhatsApp knows: send a text, mark read, typing, log out.
//! There is deliberately no way to hand an adapter an internal note.

mod adapter;
mod jid;
pub mod simulator;
pub mod waha;
#[cfg(feature = "whatsapp-web")]
pub mod whatsapp_web;

pub use adapter::{
    message_id_parts, new_message_id, AdapterError, Attachment, DeviceAdapter, DeviceEvent, Download, EventSink,
    LinkState, Participant, SinkError, MAX_DOWNLOAD,
};
pub use jid::Jid;
pub use simulator::Simulator;
