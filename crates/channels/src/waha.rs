//! The WAHA gateway bridge: a WhatsApp number linked through a WAHA server (an HTTP gateway
//! that runs WhatsApp Web for us).
//!
//! Inbound, WAHA posts webhooks to the server (`POST /api/v1/devices/{id}/webhook`). Each one is
//! signed with the device's secret: [`verify_signature`] checks `X-Webhook-Hmac` (hex
//! HMAC-SHA512 of the raw body) in constant time, then [`parse_webhook`] maps the envelope to
//! [`DeviceEvent`]s. Outbound, [`WahaAdapter`] calls WAHA's REST API with `X-Api-Key`, retrying
//! with backoff when WAHA is unreachable or answers 5xx/429.
//!
//! Addresses: WAHA writes phone-number chats as `<digits>@c.us`; they become `@s.whatsapp.net`
//! JIDs here, so a customer has one address whichever adapter reported them, and go back to
//! `@c.us` on the way out. `@lid` and `@g.us` chats pass through.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use handoff_proto::{Delivery, Media, MediaKind};
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    AdapterError, Attachment, DeviceAdapter, DeviceEvent, EventSink, Jid, LinkState, Participant, MAX_DOWNLOAD,
};

/// Where the gateway is and which of its sessions is this device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WahaConfig {
    /// `http://waha:3000`, without a trailing `/api`.
    pub base_url: String,
    pub api_key: String,
    pub session: String,
}

/// A gateway address as the adapter uses it: an http(s) URL with a host, without a trailing `/`.
pub fn base_url(input: &str) -> Option<String> {
    let trimmed = input.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.has_host()).then(|| trimmed.to_string())
}

/// Checks `X-Webhook-Hmac` (hex, either case) against HMAC-SHA512 of the raw body, in constant
/// time. A missing or non-hex header is a mismatch.
pub fn verify_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(signature) = header.and_then(|h| hex::decode(h.trim()).ok()) else { return false };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// Hex HMAC-SHA512 of `body`: what WAHA puts in `X-Webhook-Hmac` (and what tests sign with).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Which delivery a webhook is: the envelope's event id (the same on WAHA's retries) and when
/// WAHA sent it. Both are inside the signed body, so a replayed body cannot change them; the
/// server refuses a stamp outside its time window and processes an id once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub id: String,
    pub sent_at: chrono::DateTime<Utc>,
}

/// The longest event id kept for the replay check (WAHA's are 30 characters).
const MAX_EVENT_ID: usize = 128;

/// Reads the envelope's `id` and `timestamp` (milliseconds since 1970). A webhook without them
/// cannot be told from a replay, so it is [`Malformed`].
pub fn webhook_stamp(body: &[u8]) -> Result<Stamp, Malformed> {
    #[derive(Deserialize)]
    struct Head {
        id: Option<String>,
        timestamp: Option<i64>,
    }
    let head: Head = serde_json::from_slice(body).map_err(|e| Malformed(e.to_string()))?;
    let id = head
        .id
        .filter(|id| !id.is_empty() && id.len() <= MAX_EVENT_ID)
        .ok_or_else(|| Malformed(format!("the envelope needs its event id (1 to {MAX_EVENT_ID} characters)")))?;
    let sent_at = head
        .timestamp
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .ok_or_else(|| Malformed("the envelope needs its timestamp (milliseconds since 1970)".into()))?;
    Ok(Stamp { id, sent_at })
}

/// What one webhook amounts to.
#[derive(Debug, PartialEq)]
pub enum Webhook {
    /// Events for the device, in order (possibly none, e.g. a `message.any` with an empty payload).
    Events { session: String, events: Vec<DeviceEvent> },
    /// An event kind this bridge does not use (reactions, edits, group changes...): ignored.
    Ignored { session: String, event: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed webhook: {0}")]
pub struct Malformed(pub String);

#[derive(Deserialize)]
struct Envelope {
    event: String,
    session: String,
    #[serde(default)]
    me: Option<Me>,
    #[serde(default)]
    payload: Value,
}

#[derive(Deserialize)]
struct Me {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageBody {
    id: String,
    timestamp: i64,
    from: String,
    #[serde(default)]
    to: Option<String>,
    /// In a group chat, the member who wrote.
    #[serde(default)]
    participant: Option<String>,
    #[serde(default)]
    from_me: bool,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    has_media: bool,
    #[serde(default)]
    media: Option<MediaBody>,
    #[serde(default, rename = "_data")]
    data: Option<Value>,
}

#[derive(Deserialize)]
struct MediaBody {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    mimetype: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Deserialize)]
struct AckBody {
    id: String,
    ack: i64,
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

#[derive(Deserialize)]
struct PresenceBody {
    id: String,
    presences: Vec<PresenceEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresenceEntry {
    last_known_presence: String,
}

/// Maps a webhook body to device events. Unknown event kinds are [`Webhook::Ignored`]; a body
/// that is not a WAHA envelope, or a known event whose payload lacks what it needs, is
/// [`Malformed`] (and nothing of it is stored).
pub fn parse_webhook(body: &[u8]) -> Result<Webhook, Malformed> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| Malformed(e.to_string()))?;
    let session = envelope.session;
    let events = match envelope.event.as_str() {
        "message" | "message.any" => {
            // WAHA sends an empty payload for some `message.any` deliveries: nothing to store.
            if envelope.payload.as_object().is_none_or(|o| o.is_empty()) {
                Vec::new()
            } else {
                message(payload(envelope.payload)?)?.into_iter().collect()
            }
        }
        "message.ack" => {
            let ack: AckBody = payload(envelope.payload)?;
            receipt_state(ack.ack)
                .map(|state| vec![DeviceEvent::Receipt { wa_message_id: ack.id, state }])
                .unwrap_or_default()
        }
        "session.status" => {
            let status: StatusBody = payload(envelope.payload)?;
            let phone = envelope.me.and_then(|me| chat_jid(&me.id)).map(|jid| jid.phone());
            link_state(&status.status)
                .map(|state| vec![DeviceEvent::Connection { state, phone }])
                .ok_or_else(|| Malformed(format!("unknown session status {:?}", status.status)))?
        }
        "presence.update" => {
            let presence: PresenceBody = payload(envelope.payload)?;
            let chat = chat_jid(&presence.id).ok_or_else(|| Malformed(format!("bad chat id {:?}", presence.id)))?;
            let composing =
                presence.presences.iter().any(|p| matches!(p.last_known_presence.as_str(), "typing" | "recording"));
            vec![DeviceEvent::Typing { chat, composing }]
        }
        _ => return Ok(Webhook::Ignored { session, event: envelope.event }),
    };
    Ok(Webhook::Events { session, events })
}

fn payload<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Malformed> {
    serde_json::from_value(value).map_err(|e| Malformed(format!("payload: {e}")))
}

/// A chat message, or `None` for status updates and channel posts (not customer chats).
fn message(m: MessageBody) -> Result<Option<DeviceEvent>, Malformed> {
    // `from` is the chat, except for messages this number sent: then the chat is `to`.
    let chat_id = if m.from_me { m.to.as_deref().unwrap_or(&m.from) } else { &m.from };
    if chat_id.ends_with("@broadcast") || chat_id.ends_with("@newsletter") {
        return Ok(None);
    }
    let chat = chat_jid(chat_id).ok_or_else(|| Malformed(format!("bad chat id {chat_id:?}")))?;
    let at = Utc.timestamp_opt(m.timestamp, 0).single().ok_or_else(|| Malformed("bad timestamp".into()))?;
    // With media, the body is its caption (possibly empty).
    let body = m.body.unwrap_or_default();
    let media = (m.has_media || m.media.is_some()).then(|| {
        let file = m.media.unwrap_or(MediaBody { url: None, mimetype: None, filename: None });
        let media = Media {
            kind: file.mimetype.as_deref().map(MediaKind::from_mime).unwrap_or(MediaKind::Document),
            filename: file.filename,
            mime: file.mimetype,
            size: None,
            downloadable: file.url.is_some(),
        };
        Attachment { media, locator: file.url }
    });
    let notify_name = m.data.as_ref().and_then(|d| d.get("notifyName")).and_then(Value::as_str).map(str::to_string);
    // In a group the name is the member's, not the chat's.
    let member = if chat.as_str().ends_with("@g.us") { m.participant.as_deref().and_then(chat_jid) } else { None };
    let (push_name, participant) = match member {
        Some(jid) => (None, Some(Participant { jid, name: notify_name })),
        None => (notify_name, None),
    };
    Ok(Some(DeviceEvent::Message {
        wa_message_id: m.id,
        chat,
        push_name,
        body,
        at,
        from_me: m.from_me,
        media,
        alt: None,
        participant,
    }))
}

/// WAHA's ack numbers: -1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED.
fn receipt_state(ack: i64) -> Option<Delivery> {
    match ack {
        -1 => Some(Delivery::Failed),
        1 => Some(Delivery::Sent),
        2 => Some(Delivery::Delivered),
        3 | 4 => Some(Delivery::Read),
        _ => None, // 0 PENDING says nothing new
    }
}

fn link_state(status: &str) -> Option<LinkState> {
    Some(match status {
        "WORKING" => LinkState::Connected,
        "SCAN_QR_CODE" | "PASSKEY_REQUIRED" | "PASSKEY_CONFIRMATION_REQUIRED" => LinkState::PendingLink,
        "STOPPED" | "STARTING" | "FAILED" => LinkState::Disconnected,
        _ => return None,
    })
}

/// A WAHA chat id as a JID: `@c.us` becomes `@s.whatsapp.net`.
pub fn chat_jid(id: &str) -> Option<Jid> {
    match id.strip_suffix("@c.us") {
        Some(user) => Jid::parse(&format!("{user}@s.whatsapp.net")),
        None => Jid::parse(id),
    }
}

/// A JID as WAHA's chat id: phone-number JIDs become `@c.us`.
pub fn waha_chat_id(jid: &Jid) -> String {
    match jid.as_str().strip_suffix("@s.whatsapp.net") {
        Some(user) => format!("{user}@c.us"),
        None => jid.as_str().to_string(),
    }
}

/// How often and how patiently a REST call is retried.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 5, first_delay: Duration::from_millis(250), max_delay: Duration::from_secs(4) }
    }
}

/// The outbound half of a WAHA device.
pub struct WahaAdapter {
    config: WahaConfig,
    http: reqwest::Client,
    retry: Retry,
    /// The phone number behind each LID WAHA has told (it does not change): asked once.
    lids: std::sync::Mutex<std::collections::HashMap<Jid, Jid>>,
}

impl WahaAdapter {
    pub fn new(config: WahaConfig, retry: Retry) -> Arc<WahaAdapter> {
        // Never follow a redirect: every request carries the gateway's API key, which must go
        // to the configured gateway and nowhere else. A 3xx answer is a refusal.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS builds");
        Arc::new(WahaAdapter { config, http, retry, lids: Default::default() })
    }

    pub fn config(&self) -> &WahaConfig {
        &self.config
    }

    /// The QR code to scan while the session waits for it (WAHA's raw QR value).
    pub async fn qr(&self) -> Result<String, AdapterError> {
        #[derive(Deserialize)]
        struct Raw {
            value: String,
        }
        let path = format!("/api/{}/auth/qr?format=raw", self.config.session);
        let raw: Raw = serde_json::from_value(self.call(reqwest::Method::GET, &path, None).await?)
            .map_err(|e| AdapterError::Refused(format!("unexpected QR answer: {e}")))?;
        Ok(raw.value)
    }

    /// The phone-number JID behind a LID, as WAHA knows it (`GET /api/{session}/lids/{lid}`:
    /// `{lid, pn}`, `pn` null when unknown). A number once known is kept; an unknown one is asked
    /// again next time.
    pub async fn phone_of(&self, lid: &Jid) -> Result<Option<Jid>, AdapterError> {
        if let Some(known) = self.lids.lock().unwrap_or_else(|p| p.into_inner()).get(lid) {
            return Ok(Some(known.clone()));
        }
        #[derive(Deserialize)]
        struct LidToPhone {
            pn: Option<String>,
        }
        let path = format!("/api/{}/lids/{}", self.config.session, lid.as_str().replace('@', "%40"));
        let found: LidToPhone = serde_json::from_value(self.call(reqwest::Method::GET, &path, None).await?)
            .map_err(|e| AdapterError::Refused(format!("unexpected LID answer: {e}")))?;
        let phone = found.pn.as_deref().and_then(chat_jid);
        if let Some(phone) = &phone {
            self.lids.lock().unwrap_or_else(|p| p.into_inner()).insert(lid.clone(), phone.clone());
        }
        Ok(phone)
    }

    /// One REST call and its JSON answer (`null` when empty), retried as [`WahaAdapter::send`] says.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, AdapterError> {
        let resp = self.send(method, path, body).await?;
        let text = resp.text().await.map_err(|e| AdapterError::Unreachable(e.to_string()))?;
        Ok(if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) })
    }

    /// A request to WAHA (`path` under its base URL) until it succeeds, retried with doubling
    /// delays while WAHA is unreachable or answers 429/5xx. Other 4xx answers are final: WAHA
    /// refused the request.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, AdapterError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            let mut request = self.http.request(method.clone(), &url).header("X-Api-Key", &self.config.api_key);
            if path.starts_with("/api/files/") {
                // A file streams through as fast as the person downloading takes it: the
                // client's 20 s for a whole call would cut a large one off midway.
                request = request.timeout(FILE_TIMEOUT);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) if resp.status() == reqwest::StatusCode::NOT_FOUND && path.starts_with("/api/files/") => {
                    return Err(AdapterError::Unavailable("the gateway no longer has this file".into()));
                }
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    let detail = format!("{} {path}: {status} {}", method, text.chars().take(200).collect::<String>());
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(AdapterError::Refused(detail));
                    }
                    AdapterError::Unreachable(detail)
                }
                Err(e) => AdapterError::Unreachable(format!("{method} {path}: {e}")),
            };
            if attempt >= self.retry.attempts {
                return Err(failure);
            }
            tracing::info!(attempt, error = %failure, "WAHA call failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.retry.max_delay);
            attempt += 1;
        }
    }

    fn chat_request(&self, chat: &Jid) -> Value {
        json!({ "session": self.config.session, "chatId": waha_chat_id(chat) })
    }
}

#[async_trait::async_trait]
impl DeviceAdapter for WahaAdapter {
    /// Inbound events arrive as webhooks at the server, not through the adapter.
    async fn start(&self, _sink: Arc<dyn EventSink>) -> Result<(), AdapterError> {
        Ok(())
    }

    /// `id` goes with the request: a retried (or, after a restart, repeated) send is the same
    /// message, not a second one.
    async fn send_text(&self, chat: &Jid, body: &str, id: &str) -> Result<String, AdapterError> {
        let mut request = self.chat_request(chat);
        request["text"] = json!(body);
        request["id"] = json!(id);
        let sent = self.call(reqwest::Method::POST, "/api/sendText", Some(&request)).await?;
        // WAHA answers with the message; its id is what receipts will name.
        match sent.get("id") {
            Some(Value::String(id)) => Ok(id.clone()),
            Some(Value::Object(id)) => id
                .get("_serialized")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| AdapterError::Refused("WAHA's answer to sendText has no message id".into())),
            _ => Err(AdapterError::Refused("WAHA's answer to sendText has no message id".into())),
        }
    }

    async fn mark_read(&self, chat: &Jid, wa_message_ids: &[String]) -> Result<(), AdapterError> {
        let mut request = self.chat_request(chat);
        if !wa_message_ids.is_empty() {
            request["messageIds"] = json!(wa_message_ids);
        }
        self.call(reqwest::Method::POST, "/api/sendSeen", Some(&request)).await.map(drop)
    }

    async fn set_typing(&self, chat: &Jid, composing: bool) -> Result<(), AdapterError> {
        let path = if composing { "/api/startTyping" } else { "/api/stopTyping" };
        self.call(reqwest::Method::POST, path, Some(&self.chat_request(chat))).await.map(drop)
    }

    async fn logout(&self) -> Result<(), AdapterError> {
        let path = format!("/api/sessions/{}/logout", self.config.session);
        self.call(reqwest::Method::POST, &path, None).await.map(drop)
    }

    /// Restarts the session; WAHA then reports `SCAN_QR_CODE` and the QR is fetched as usual.
    async fn relink(&self) -> Result<(), AdapterError> {
        let path = format!("/api/sessions/{}/restart", self.config.session);
        self.call(reqwest::Method::POST, &path, None).await.map(drop)
    }

    /// The file behind a message's `media.url`. Only WAHA's own file store is fetched, always
    /// from the configured base URL (WAHA may name itself differently, e.g. `localhost:3000`),
    /// so the API key never goes to another host.
    /// Streamed from WAHA's file store as it comes: never whole in the server's memory.
    async fn download(&self, locator: &str) -> Result<crate::Download, AdapterError> {
        use futures_util::StreamExt;
        let path = files_path(locator)
            .ok_or_else(|| AdapterError::Unavailable(format!("not a file of the gateway's: {locator}")))?;
        let resp = self.send(reqwest::Method::GET, path, None).await?;
        let length = resp.content_length();
        if length.is_some_and(|n| n > MAX_DOWNLOAD as u64) {
            return Err(too_large());
        }
        // (response, bytes so far); `None` once the stream has ended in an error.
        let body = futures_util::stream::unfold(Some((resp, 0usize)), |state| async move {
            let (mut resp, sent) = state?;
            match resp.chunk().await {
                Ok(None) => None,
                Ok(Some(chunk)) if sent + chunk.len() > MAX_DOWNLOAD => Some((Err(too_large()), None)),
                Ok(Some(chunk)) => {
                    let sent = sent + chunk.len();
                    Some((Ok(chunk), Some((resp, sent))))
                }
                Err(e) => Some((Err(AdapterError::Unreachable(e.to_string())), None)),
            }
        });
        Ok(crate::Download { length, body: body.boxed() })
    }
}

/// The longest a file download from the gateway may take, its reading included.
const FILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

fn too_large() -> AdapterError {
    AdapterError::Unavailable(format!("the file is larger than {} MiB; open it on the phone", MAX_DOWNLOAD >> 20))
}

/// The path of a WAHA file URL (`http://host:3000/api/files/{session}/{name}`), whatever host it names.
fn files_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let path = &rest[rest.find('/')?..];
    (path.starts_with("/api/files/") && !path.contains("..")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_hmac_test_vector_verifies() {
        // WAHA's own example: this body, key `my-secret-key`, sha512.
        let body = br#"{"event":"message","session":"default","engine":"WEBJS"}"#;
        let expected = "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8\
                        097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89";
        assert_eq!(sign(b"my-secret-key", body), expected);
        assert!(verify_signature(b"my-secret-key", body, Some(expected)));
        assert!(verify_signature(b"my-secret-key", body, Some(&expected.to_uppercase())));
        assert!(!verify_signature(b"other-key", body, Some(expected)));
        assert!(!verify_signature(b"my-secret-key", b"{}", Some(expected)));
        assert!(!verify_signature(b"my-secret-key", body, None));
        assert!(!verify_signature(b"my-secret-key", body, Some("not hex")));
        assert!(!verify_signature(b"my-secret-key", body, Some(&expected[..64])), "a truncated signature");
    }

    #[test]
    fn chat_ids_round_trip_between_waha_and_jids() {
        let jid = chat_jid("4915112345678@c.us").unwrap();
        assert_eq!(jid.as_str(), "4915112345678@s.whatsapp.net");
        assert_eq!(waha_chat_id(&jid), "4915112345678@c.us");
        assert_eq!(chat_jid("123456789@lid").unwrap().as_str(), "123456789@lid");
        assert_eq!(waha_chat_id(&chat_jid("120363@g.us").unwrap()), "120363@g.us");
        assert!(chat_jid("status@broadcast").is_none());
    }
}
