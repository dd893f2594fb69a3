//! The adapter interface between the server and a linked WhatsApp number.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use handoff_proto::{Delivery, Media};

use crate::Jid;

/// Where a device stands with WhatsApp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    PendingLink,
    Connected,
    Disconnected,
    LoggedOut,
    /// WhatsApp has banned the number, usually for a while.
    Banned,
}

/// Everything a linked number reports.
// Messages are most events and each is moved once, adapter to sink: boxing them buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceEvent {
    /// A QR code to scan (it rotates; each one expires).
    Pairing { qr: String, expires_at: DateTime<Utc> },
    /// The alternative to the QR: a code to type on the phone (Link with phone number instead).
    PairCode { code: String, expires_at: DateTime<Utc> },
    /// The link came up or went down. `phone` is the linked number once known.
    Connection { state: LinkState, phone: Option<String> },
    /// A message in a chat. `from_me` is true for messages typed on the phone itself.
    Message {
        wa_message_id: String,
        chat: Jid,
        push_name: Option<String>,
        body: String,
        at: DateTime<Utc>,
        from_me: bool,
        /// An attachment (the body is its caption).
        media: Option<Attachment>,
        /// The customer's other address, when WhatsApp tells it: the phone-number JID of a LID
        /// chat, or the LID of a phone chat. Lets the server keep one contact per person.
        alt: Option<Jid>,
        /// In a group chat (`chat` is the group), the member who wrote it.
        participant: Option<Participant>,
    },
    /// A delivery receipt for a message this device sent.
    Receipt { wa_message_id: String, state: Delivery },
    /// The customer started or stopped typing.
    Typing { chat: Jid, composing: bool },
}

/// An attachment as an adapter reports it: the placeholder everyone sees, and where this
/// adapter can fetch the file later ([`DeviceAdapter::download`]). The locator is the adapter's
/// own (a gateway's file URL, WhatsApp's media keys): the server keeps it and never shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    pub media: Media,
    pub locator: Option<String>,
}

/// The largest attachment a download passes on (WhatsApp allows larger documents; those are
/// refused with a clear reason).
pub const MAX_DOWNLOAD: usize = 100 * 1024 * 1024;

/// An attachment on its way from the device: its size when known, and its bytes as they come. A
/// gateway's file streams through (never whole in the server's memory); a stream that passes
/// [`MAX_DOWNLOAD`] ends in an error.
pub struct Download {
    pub length: Option<u64>,
    pub body: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, AdapterError>>,
}

impl Download {
    /// A file the adapter already holds whole (checked before it is passed on: WhatsApp's media
    /// is authenticated over the whole file).
    pub fn whole(bytes: Vec<u8>) -> Download {
        use futures_util::StreamExt;
        let length = Some(bytes.len() as u64);
        Download { length, body: futures_util::stream::once(async move { Ok(bytes::Bytes::from(bytes)) }).boxed() }
    }

    /// Every byte, read to the end.
    pub async fn bytes(mut self) -> Result<Vec<u8>, AdapterError> {
        use futures_util::StreamExt;
        let mut all = Vec::new();
        while let Some(chunk) = self.body.next().await {
            all.extend_from_slice(&chunk?);
        }
        Ok(all)
    }
}

/// A member of a group chat.
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    pub jid: Jid,
    pub name: Option<String>,
}

impl Participant {
    /// How the thread shows who wrote: their name, else their number.
    pub fn display(&self) -> String {
        self.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| self.jid.phone())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Receives device events. The server's sink commits each event before it returns, so an
/// adapter that acknowledges upstream only after `deliver` returns loses nothing.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    async fn deliver(&self, event: DeviceEvent) -> Result<(), SinkError>;
}

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("the device is not connected to WhatsApp")]
    NotConnected,
    #[error("WhatsApp refused the request: {0}")]
    Refused(String),
    #[error("the device could not be reached: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Unavailable(String),
}

/// A fresh WhatsApp message id in WhatsApp Web's own form: `3EB0` and 18 hex digits.
pub fn new_message_id() -> String {
    use rand::Rng;
    let n: u128 = rand::rng().random();
    format!("3EB0{:018X}", n & ((1u128 << 72) - 1))
}

/// The parts of a message id as an event names it, where the id a send was given may be found: the
/// whole id, then each `_`-separated part (WAHA names our message `3EB0…` as
/// `true_4915112345678@c.us_3EB0…`, in a group with the sender's address after it).
pub fn message_id_parts(wa_message_id: &str) -> Vec<&str> {
    let mut parts = vec![wa_message_id];
    if wa_message_id.contains('_') {
        parts.extend(wa_message_id.split('_').filter(|p| !p.is_empty() && !p.contains('@')));
    }
    parts
}

/// One linked WhatsApp number. Outbound actions only; everything inbound goes to the sink.
#[async_trait::async_trait]
pub trait DeviceAdapter: Send + Sync {
    /// Starts the adapter; from now on it reports to `sink`.
    async fn start(&self, sink: Arc<dyn EventSink>) -> Result<(), AdapterError>;
    /// Sends a text to a chat as the WhatsApp message `id` (chosen by the server before the first
    /// attempt, [`new_message_id`]: sending the same id again is the same message, not a second
    /// one). Returns the id WhatsApp's events will name the message by: `id` itself, or the form
    /// a gateway wraps it in (WAHA's `true_<chat>_<id>`, see [`message_id_parts`]).
    async fn send_text(&self, chat: &Jid, body: &str, id: &str) -> Result<String, AdapterError>;
    /// Marks the chat read up to and including these messages.
    async fn mark_read(&self, chat: &Jid, wa_message_ids: &[String]) -> Result<(), AdapterError>;
    /// Shows or clears "typing..." to the customer.
    async fn set_typing(&self, chat: &Jid, composing: bool) -> Result<(), AdapterError>;
    /// Unlinks the number.
    async fn logout(&self) -> Result<(), AdapterError>;
    /// Starts linking again (after a logout): a new QR code follows as a `Pairing` event.
    async fn relink(&self) -> Result<(), AdapterError>;
    /// Stops driving the number, which stays linked: another server node takes it over. An
    /// adapter that holds no connection of its own (a gateway's is WAHA's) has nothing to do.
    async fn release(&self) {}
    /// Fetches an attachment's bytes by the locator this adapter gave with it (at most
    /// [`MAX_DOWNLOAD`]). `Unavailable` when the file is gone or too large.
    async fn download(&self, locator: &str) -> Result<Download, AdapterError> {
        let _ = locator;
        Err(AdapterError::Unavailable("this kind of device cannot download attachments".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_look_like_whatsapp_webs() {
        let id = new_message_id();
        assert_eq!(id.len(), 22);
        assert!(id.starts_with("3EB0") && id[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new_message_id(), id);
    }

    #[test]
    fn the_id_a_send_was_given_is_found_in_a_gateways_form_of_it() {
        assert_eq!(message_id_parts("3EB0AB"), vec!["3EB0AB"]);
        let waha = message_id_parts("true_4915112345678@c.us_3EB0AB");
        assert!(waha.contains(&"3EB0AB") && !waha.contains(&"4915112345678@c.us"));
        let group = message_id_parts("true_120363@g.us_3EB0CD_4915112345678@c.us");
        assert!(group.contains(&"3EB0CD"));
    }
}
