//! The native WhatsApp Web adapter: the server itself is a linked device of the phone, through
//! whatsapp-rust (behind the cargo feature `whatsapp-web`; a large build, so off by default).
//!
//! One `WhatsappWeb` per device, with its own persistent store (a SQLite file, or memory for
//! tests). whatsapp-rust keeps the connection and reconnects by itself; everything it reports
//! goes through [`map_event`] into [`DeviceEvent`]s for the server's sink. Outbound: send text,
//! mark read, typing, log out, relink.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::Utc;
use handoff_proto::{Delivery, Media, MediaKind};
use serde::{Deserialize, Serialize};
use whatsapp_rust::download::{DownloadParams, Downloadable, MediaType};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::{Bot, BotHandle, Client, Event, InboundMessage, MessageExt, SqliteStore};
use whatsapp_rust::types::events::{ChatPresenceUpdate, Receipt};
use whatsapp_rust::types::presence::{ChatPresence, ReceiptType};
use whatsapp_rust::wacore_binary::jid::JidExt;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::InboundDurabilityHook;

use crate::{AdapterError, Attachment, DeviceAdapter, DeviceEvent, EventSink, Jid, LinkState, MAX_DOWNLOAD};

/// Where a device keeps its WhatsApp keys and sessions.
#[derive(Clone, Debug)]
pub enum Store {
    /// A SQLite file of its own (production: `<data dir>/whatsapp/<device id>.db`).
    File(PathBuf),
    /// Nothing kept (tests).
    Memory,
}

pub struct WhatsappWeb {
    store: Store,
    /// Where whatsapp-rust connects (WhatsApp's own server unless set; tests point it elsewhere).
    ws_url: Option<String>,
    /// Link by a code typed on this phone (digits with country code) instead of the QR code.
    pair_phone: Option<String>,
    sink: OnceLock<Arc<dyn EventSink>>,
    running: Mutex<Option<(Arc<Client>, BotHandle)>>,
}

impl WhatsappWeb {
    pub fn new(store: Store, ws_url: Option<String>, pair_phone: Option<String>) -> Arc<WhatsappWeb> {
        Arc::new(WhatsappWeb { store, ws_url, pair_phone, sink: OnceLock::new(), running: Mutex::new(None) })
    }

    /// What whatsapp-rust needs to ask WhatsApp for a pair code (shown as `PairCode` events).
    fn pair_code_options(&self) -> Option<PairCodeOptions> {
        let phone_number = self.pair_phone.clone()?;
        Some(PairCodeOptions { phone_number, ..PairCodeOptions::default() })
    }

    fn client(&self) -> Result<Arc<Client>, AdapterError> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.as_ref().map(|(c, _)| c.clone()).ok_or(AdapterError::NotConnected)
    }

    /// Builds the bot on the store and runs it in the background.
    async fn launch(&self) -> Result<(), AdapterError> {
        let sink = self.sink.get().cloned().ok_or_else(|| AdapterError::Unreachable("not started".into()))?;
        let commit = CommitBeforeAck { sink: sink.clone() };
        let on_event = move |event: Arc<Event>, _client: Arc<Client>| {
            let sink = sink.clone();
            async move {
                for e in map_event(&event) {
                    if let Err(err) = sink.deliver(e).await {
                        tracing::warn!(error = %err, "WhatsApp event not stored");
                    }
                }
            }
        };
        let mut transport = whatsapp_rust::transport::TokioWebSocketTransportFactory::new();
        if let Some(url) = &self.ws_url {
            transport = transport.with_url(url.clone());
        }
        let builder = match &self.store {
            Store::File(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| AdapterError::Unreachable(e.to_string()))?;
                }
                let store = SqliteStore::new(&path.to_string_lossy())
                    .await
                    .map_err(|e| AdapterError::Unreachable(format!("the WhatsApp store did not open: {e}")))?;
                let builder = Bot::builder()
                    .with_backend(store)
                    .with_transport_factory(transport)
                    .with_inbound_durability_hook(commit)
                    .on_event(on_event);
                match self.pair_code_options() {
                    Some(options) => builder.with_pair_code(options).build().await,
                    None => builder.build().await,
                }
            }
            Store::Memory => {
                let store = whatsapp_rust::wacore::store::InMemoryBackend::new();
                let builder = Bot::builder()
                    .with_backend(store)
                    .with_transport_factory(transport)
                    .with_inbound_durability_hook(commit)
                    .on_event(on_event);
                match self.pair_code_options() {
                    Some(options) => builder.with_pair_code(options).build().await,
                    None => builder.build().await,
                }
            }
        };
        let bot = builder.map_err(|e| AdapterError::Unreachable(format!("WhatsApp did not start: {e}")))?;
        let client = bot.client();
        let handle = bot.spawn();
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some((client, handle));
        Ok(())
    }

    /// Stops the bot (its store stays).
    pub async fn stop(&self) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((_, handle)) = running {
            handle.shutdown().await;
        }
    }
}

/// Commits each batch of customer messages before whatsapp-rust acknowledges it to WhatsApp. A
/// message the store could not take is not acknowledged: the library keeps it in its own store
/// and it comes again at the next connect (ingest stores a message once, so a replay doubles
/// nothing). The `Messages` event that follows a batch carries the same messages; stored already,
/// they change nothing.
struct CommitBeforeAck {
    sink: Arc<dyn EventSink>,
}

#[async_trait::async_trait]
impl InboundDurabilityHook for CommitBeforeAck {
    async fn on_messages(&self, _client: Arc<Client>, batch: &[InboundMessage]) -> whatsapp_rust::anyhow::Result<()> {
        for m in batch {
            if let Some(event) = message(&m.message, &m.info) {
                self.sink.deliver(event).await.map_err(|e| whatsapp_rust::anyhow::anyhow!("not stored: {e}"))?;
            }
        }
        Ok(())
    }
}

fn wa_jid(jid: &Jid) -> Result<whatsapp_rust::Jid, AdapterError> {
    jid.as_str().parse().map_err(|_| AdapterError::Refused(format!("{jid} is not a WhatsApp address")))
}

fn our_jid(jid: &whatsapp_rust::Jid) -> Option<Jid> {
    Jid::parse(&jid.to_string())
}

#[async_trait::async_trait]
impl DeviceAdapter for WhatsappWeb {
    async fn start(&self, sink: Arc<dyn EventSink>) -> Result<(), AdapterError> {
        if self.sink.set(sink).is_err() {
            return Ok(()); // already started
        }
        self.launch().await
    }

    async fn send_text(&self, chat: &Jid, body: &str, id: &str) -> Result<String, AdapterError> {
        use whatsapp_rust::prelude::MessageBuilderExt;
        let options = whatsapp_rust::SendOptions::default().with_message_id(id);
        let message = wa::Message::text(body);
        let sent = self.client()?.send_message_with_options(wa_jid(chat)?, message, options).await;
        sent.map(|r| r.message_id).map_err(|e| AdapterError::Refused(e.to_string()))
    }

    async fn mark_read(&self, chat: &Jid, wa_message_ids: &[String]) -> Result<(), AdapterError> {
        let ids: Vec<&str> = wa_message_ids.iter().map(String::as_str).collect();
        let read = self.client()?.mark_as_read(&wa_jid(chat)?, None, &ids).await;
        read.map_err(|e| AdapterError::Unreachable(e.to_string()))
    }

    async fn set_typing(&self, chat: &Jid, composing: bool) -> Result<(), AdapterError> {
        let client = self.client()?;
        let to = wa_jid(chat)?;
        let state = client.chatstate();
        let done = if composing { state.send_composing(&to).await } else { state.send_paused(&to).await };
        done.map_err(|e| AdapterError::Unreachable(e.to_string()))
    }

    async fn logout(&self) -> Result<(), AdapterError> {
        self.client()?.logout().await;
        Ok(())
    }

    /// After a logout: a fresh start on the same store shows a new QR code.
    async fn relink(&self) -> Result<(), AdapterError> {
        self.stop().await;
        self.launch().await
    }

    /// The connection to WhatsApp closes; the session stays in the store for the next holder.
    async fn release(&self) {
        self.stop().await;
    }

    /// Fetched from WhatsApp's media servers and decrypted, and passed on only once checked (its
    /// MAC and SHA-256 cover the whole file): held whole, at most [`MAX_DOWNLOAD`].
    async fn download(&self, locator: &str) -> Result<crate::Download, AdapterError> {
        let params = serde_json::from_str::<MediaLocator>(locator)
            .ok()
            .and_then(|l| (l.file_length <= MAX_DOWNLOAD as u64).then(|| l.params()).flatten())
            .ok_or_else(|| {
                AdapterError::Unavailable("this attachment cannot be fetched (too large, or no keys)".into())
            })?;
        let bytes = self.client()?.download(&params).await;
        // WhatsApp drops media from its servers after a while; the phone may still have it.
        bytes
            .map(crate::Download::whole)
            .map_err(|e| AdapterError::Unavailable(format!("WhatsApp did not give the file: {e}")))
    }
}

/// What a whatsapp-rust event means for the inbox. Events Handoff does not use map to nothing.
pub fn map_event(event: &Event) -> Vec<DeviceEvent> {
    match event {
        Event::PairingQrCode(qr) => vec![DeviceEvent::Pairing {
            qr: qr.code.clone(),
            expires_at: Utc::now() + chrono::Duration::from_std(qr.timeout).unwrap_or(chrono::Duration::seconds(20)),
        }],
        Event::PairingCode(code) => vec![DeviceEvent::PairCode {
            code: code.code.clone(),
            expires_at: Utc::now() + chrono::Duration::from_std(code.timeout).unwrap_or(chrono::Duration::seconds(60)),
        }],
        Event::PairSuccess(paired) => {
            vec![DeviceEvent::Connection { state: LinkState::Connected, phone: our_jid(&paired.id).map(|j| j.phone()) }]
        }
        Event::Connected(_) => vec![DeviceEvent::Connection { state: LinkState::Connected, phone: None }],
        Event::Disconnected(_) => vec![DeviceEvent::Connection { state: LinkState::Disconnected, phone: None }],
        Event::LoggedOut(_) => vec![DeviceEvent::Connection { state: LinkState::LoggedOut, phone: None }],
        Event::Messages(batch) => batch.messages.iter().filter_map(|m| message(&m.message, &m.info)).collect(),
        Event::Receipt(receipt) => receipts(receipt),
        Event::ChatPresence(update) => typing(update).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn message(msg: &wa::Message, info: &whatsapp_rust::prelude::MessageInfo) -> Option<DeviceEvent> {
    let source = &info.source;
    if source.chat.is_status_broadcast() || source.chat.is_newsletter() {
        return None; // status updates and channel posts are not customer chats
    }
    let chat = our_jid(&source.chat)?;
    let base = msg.get_base_message();
    let media = media_of(base);
    let body = match (msg.text_content(), &media) {
        (Some(text), _) => text.to_string(),
        (None, Some((_, caption))) => caption.clone().unwrap_or_default(),
        (None, None) => return None, // reactions, protocol messages, calls...
    };
    // In a one-to-one chat the sender's other address (LID <-> phone) is the customer's.
    let alt = if source.is_group { None } else { source.sender_alt.as_ref().and_then(our_jid) };
    let name = Some(info.push_name.clone()).filter(|n| !n.is_empty() && !source.is_from_me);
    // In a group the push name is the member's, not the chat's.
    let (push_name, participant) = match (source.is_group, our_jid(&source.sender)) {
        (true, Some(jid)) if !source.is_from_me => (None, Some(crate::Participant { jid, name })),
        _ => (name, None),
    };
    Some(DeviceEvent::Message {
        wa_message_id: info.id.to_string(),
        chat,
        push_name,
        body,
        at: info.timestamp,
        from_me: source.is_from_me,
        media: media.map(|(m, _)| m),
        alt,
        participant,
    })
}

/// An attachment as a typed placeholder with its locator, and its caption.
fn media_of(m: &wa::Message) -> Option<(Attachment, Option<String>)> {
    let placeholder = |kind, file: &dyn Downloadable, mime: &Option<String>, filename: Option<String>| {
        let media = Media {
            kind,
            filename,
            mime: mime.clone(),
            size: file.file_length().and_then(|s| u32::try_from(s).ok()),
            downloadable: false,
        };
        let locator = MediaLocator::of(kind, file).map(|l| serde_json::to_string(&l).expect("plain fields serialise"));
        Attachment { media: Media { downloadable: locator.is_some(), ..media }, locator }
    };
    if let Some(i) = m.image_message.as_option() {
        return Some((placeholder(MediaKind::Image, i, &i.mimetype, None), i.caption.clone()));
    }
    if let Some(v) = m.video_message.as_option() {
        return Some((placeholder(MediaKind::Video, v, &v.mimetype, None), v.caption.clone()));
    }
    if let Some(a) = m.audio_message.as_option() {
        return Some((placeholder(MediaKind::Audio, a, &a.mimetype, None), None));
    }
    if let Some(d) = m.document_message.as_option() {
        return Some((placeholder(MediaKind::Document, d, &d.mimetype, d.file_name.clone()), d.caption.clone()));
    }
    if let Some(s) = m.sticker_message.as_option() {
        return Some((placeholder(MediaKind::Sticker, s, &s.mimetype, None), None));
    }
    None
}

/// What fetching an attachment from WhatsApp's media servers takes, kept by the server (never
/// shown to clients): the CDN path and the keys to check and decrypt the file.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct MediaLocator {
    kind: MediaKind,
    direct_path: String,
    media_key: String,
    file_sha256: String,
    file_enc_sha256: String,
    file_length: u64,
}

impl MediaLocator {
    /// `None` when the message lacks what a download needs.
    fn of(kind: MediaKind, file: &dyn Downloadable) -> Option<MediaLocator> {
        Some(MediaLocator {
            kind,
            direct_path: file.direct_path()?.to_string(),
            media_key: hex::encode(file.media_key()?),
            file_sha256: hex::encode(file.file_sha256()?),
            file_enc_sha256: hex::encode(file.file_enc_sha256()?),
            file_length: file.file_length()?,
        })
    }

    fn params(&self) -> Option<DownloadParams> {
        let media_type = match self.kind {
            MediaKind::Image => MediaType::Image,
            MediaKind::Video => MediaType::Video,
            MediaKind::Audio => MediaType::Audio,
            MediaKind::Document => MediaType::Document,
            MediaKind::Sticker => MediaType::Sticker,
        };
        let key = |h: &str| hex::decode(h).ok();
        Some(DownloadParams::encrypted(
            self.direct_path.clone(),
            &key(&self.media_key)?,
            &key(&self.file_sha256)?,
            &key(&self.file_enc_sha256)?,
            self.file_length,
            media_type,
        ))
    }
}

fn receipts(receipt: &Receipt) -> Vec<DeviceEvent> {
    let state = match receipt.r#type {
        ReceiptType::Delivered => Delivery::Delivered,
        ReceiptType::Read | ReceiptType::Played => Delivery::Read,
        ReceiptType::ServerError => Delivery::Failed,
        // Our own other devices reading, retries, history sync...: nothing for the customer's ticks.
        _ => return Vec::new(),
    };
    receipt.message_ids.iter().map(|id| DeviceEvent::Receipt { wa_message_id: id.to_string(), state }).collect()
}

fn typing(update: &ChatPresenceUpdate) -> Option<DeviceEvent> {
    let chat = our_jid(&update.source.chat)?;
    Some(DeviceEvent::Typing { chat, composing: update.state == ChatPresence::Composing })
}

#[cfg(test)]
mod tests {
    //! Real whatsapp-rust event values, built with their public constructors, mapped to device events.
    use std::sync::Arc;
    use std::time::Duration;

    use whatsapp_rust::prelude::{
        BatchOrigin, InboundMessage, MessageBatch, MessageBuilderExt, MessageField, MessageInfo,
    };
    use whatsapp_rust::transport::DisconnectReason;
    use whatsapp_rust::types::events::{Connected, Disconnected, PairingQrCode};
    use whatsapp_rust::types::message::MessageSource;
    use whatsapp_rust::types::presence::ChatPresenceMedia;

    use super::*;

    fn jid(s: &str) -> whatsapp_rust::Jid {
        s.parse().expect("a JID")
    }

    fn info(chat: &str, from_me: bool, sender_alt: Option<&str>) -> MessageInfo {
        MessageInfo {
            source: MessageSource {
                chat: jid(chat),
                sender: jid(chat),
                is_from_me: from_me,
                sender_alt: sender_alt.map(jid),
                ..Default::default()
            },
            id: "3EB0C431C26A1916E07A".into(),
            push_name: "Lena Hoffmann".into(),
            timestamp: Utc::now(),
            ..Default::default()
        }
    }

    fn batch(message: wa::Message, info: MessageInfo) -> Event {
        let inbound = InboundMessage::builder().message(Arc::new(message)).info(Arc::new(info)).build();
        Event::Messages(MessageBatch::builder().messages(Arc::from(vec![inbound])).origin(BatchOrigin::Live).build())
    }

    #[test]
    fn a_customer_text_is_an_inbound_message_with_the_other_address() {
        let at = Utc::now();
        let mut i = info("184467440737095@lid", false, Some("4915112345678@s.whatsapp.net"));
        i.timestamp = at;
        let events = map_event(&batch(wa::Message::text("Where is my order?"), i));
        assert_eq!(
            events,
            [DeviceEvent::Message {
                wa_message_id: "3EB0C431C26A1916E07A".into(),
                chat: Jid::parse("184467440737095@lid").unwrap(),
                push_name: Some("Lena Hoffmann".into()),
                body: "Where is my order?".into(),
                at,
                from_me: false,
                media: None,
                alt: Jid::parse("+4915112345678"),
                participant: None,
            }]
        );
    }

    #[test]
    fn a_message_typed_on_the_phone_is_outbound_and_status_posts_are_skipped() {
        let events = map_event(&batch(wa::Message::text("On it"), info("4915112345678@s.whatsapp.net", true, None)));
        assert!(matches!(&events[..], [DeviceEvent::Message { from_me: true, push_name: None, .. }]));
        let status = map_event(&batch(wa::Message::text("My holiday"), info("status@broadcast", false, None)));
        assert_eq!(status, []);
    }

    #[test]
    fn a_document_is_a_typed_placeholder_with_its_caption() {
        let doc = wa::Message {
            document_message: MessageField::some(wa::message::DocumentMessage {
                mimetype: Some("application/pdf".into()),
                file_name: Some("invoice-2231.pdf".into()),
                file_length: Some(48_213),
                caption: Some("The invoice".into()),
                direct_path: Some("/v/t62.7119-24/12345_67890.enc".into()),
                media_key: Some(vec![7; 32]),
                file_sha256: Some(vec![1; 32]),
                file_enc_sha256: Some(vec![2; 32]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let events = map_event(&batch(doc.clone(), info("4915112345678@s.whatsapp.net", false, None)));
        let [DeviceEvent::Message { body, media: Some(Attachment { media, locator: Some(locator) }), .. }] =
            &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(body, "The invoice");
        assert_eq!(
            (media.kind, media.filename.as_deref(), media.size, media.downloadable),
            (MediaKind::Document, Some("invoice-2231.pdf"), Some(48_213), true)
        );
        // The locator gives back exactly what whatsapp-rust needs to fetch and decrypt the file.
        let params = serde_json::from_str::<super::MediaLocator>(locator).unwrap().params().unwrap();
        let original = doc.document_message.as_option().unwrap();
        assert_eq!(params.direct_path(), original.direct_path());
        assert_eq!(params.media_key(), original.media_key());
        assert_eq!(params.file_sha256(), original.file_sha256());
        assert_eq!(params.file_enc_sha256(), original.file_enc_sha256());
        assert_eq!((params.file_length(), params.app_info()), (Some(48_213), MediaType::Document));

        // Without its keys (a message that lost them) it is shown, but cannot be downloaded.
        let mut bare = doc;
        if let Some(d) = bare.document_message.as_option_mut() {
            d.media_key = None;
        }
        let events = map_event(&batch(bare, info("4915112345678@s.whatsapp.net", false, None)));
        let [DeviceEvent::Message { media: Some(Attachment { media, locator: None }), .. }] = &events[..] else {
            panic!("{events:?}")
        };
        assert!(!media.downloadable);
    }

    #[test]
    fn receipts_typing_pairing_and_the_link_map_to_device_events() {
        let source = MessageSource { chat: jid("4915112345678@s.whatsapp.net"), ..Default::default() };
        let receipt = |r#type| {
            Event::Receipt(
                Receipt::builder()
                    .source(source.clone())
                    .message_ids(vec!["3EB0AA".into(), "3EB0BB".into()])
                    .timestamp(Utc::now())
                    .r#type(r#type)
                    .offline(false)
                    .build(),
            )
        };
        assert_eq!(
            map_event(&receipt(ReceiptType::Read)),
            [
                DeviceEvent::Receipt { wa_message_id: "3EB0AA".into(), state: Delivery::Read },
                DeviceEvent::Receipt { wa_message_id: "3EB0BB".into(), state: Delivery::Read },
            ]
        );
        assert!(matches!(
            &map_event(&receipt(ReceiptType::Delivered))[..],
            [DeviceEvent::Receipt { state: Delivery::Delivered, .. }, _]
        ));
        assert_eq!(map_event(&receipt(ReceiptType::ReadSelf)), [], "my own devices reading is not the customer");

        let composing = ChatPresenceUpdate::builder()
            .source(source.clone())
            .state(ChatPresence::Composing)
            .media(ChatPresenceMedia::Text)
            .build();
        assert_eq!(
            map_event(&Event::ChatPresence(composing)),
            [DeviceEvent::Typing { chat: Jid::parse("+4915112345678").unwrap(), composing: true }]
        );

        let qr = PairingQrCode::builder().code("2@abc,def,ghi".into()).timeout(Duration::from_secs(60)).build();
        let [DeviceEvent::Pairing { qr, expires_at }] = &map_event(&Event::PairingQrCode(qr))[..] else { panic!() };
        assert_eq!(qr, "2@abc,def,ghi");
        assert!(*expires_at > Utc::now() + chrono::Duration::seconds(50));
        assert_eq!(
            map_event(&Event::Connected(Connected::builder().build())),
            [DeviceEvent::Connection { state: LinkState::Connected, phone: None }]
        );
        let down = Disconnected::builder().reason(DisconnectReason::StreamEnded).build();
        assert_eq!(
            map_event(&Event::Disconnected(down)),
            [DeviceEvent::Connection { state: LinkState::Disconnected, phone: None }]
        );
    }

    /// A customer message the store does not take fails the durability hook, so whatsapp-rust
    /// does not acknowledge it to WhatsApp (by the hook's contract it keeps the message and it is
    /// delivered again); once the store takes it, the hook succeeds and it is acknowledged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_the_store_does_not_take_is_not_acknowledged_to_whatsapp() {
        #[derive(Default)]
        struct Flaky {
            refused: std::sync::atomic::AtomicBool,
            stored: Mutex<Vec<DeviceEvent>>,
        }
        #[async_trait::async_trait]
        impl EventSink for Flaky {
            async fn deliver(&self, event: DeviceEvent) -> Result<(), crate::SinkError> {
                if !self.refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    return Err(crate::SinkError("the database is locked".into()));
                }
                self.stored.lock().unwrap().push(event);
                Ok(())
            }
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/ws/chat", closed.local_addr().unwrap());
        drop(closed);
        let adapter = WhatsappWeb::new(Store::Memory, Some(url), None);
        adapter.start(Arc::new(Flaky { refused: true.into(), ..Flaky::default() })).await.expect("starts");
        let store = Arc::new(Flaky::default());
        let hook = CommitBeforeAck { sink: store.clone() };
        let message = Arc::new(wa::Message::text("Where is my order?"));
        let info = Arc::new(info("4915112345678@s.whatsapp.net", false, None));
        let batch = [InboundMessage::builder().message(message).info(info).build()];
        let client = adapter.client().expect("running");
        assert!(hook.on_messages(client.clone(), &batch).await.is_err(), "not stored: not acknowledged");
        assert!(store.stored.lock().unwrap().is_empty());
        hook.on_messages(client, &batch).await.expect("stored the second time: acknowledged");
        let stored = store.stored.lock().unwrap().clone();
        assert!(
            matches!(&stored[..], [DeviceEvent::Message { body, .. }] if body == "Where is my order?"),
            "{stored:?}"
        );
        adapter.stop().await;
    }

    /// Start-up on the in-memory store: the bot builds and runs (pointed at a closed local port,
    /// so it only tries to connect), and nothing is sent while it is not linked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn starts_on_the_in_memory_store_and_refuses_to_send_before_it_is_linked() {
        struct Nowhere;
        #[async_trait::async_trait]
        impl EventSink for Nowhere {
            async fn deliver(&self, _event: DeviceEvent) -> Result<(), crate::SinkError> {
                Ok(())
            }
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/ws/chat", closed.local_addr().unwrap());
        drop(closed);
        for pair_phone in [None, Some("4915112345678".to_string())] {
            let adapter = WhatsappWeb::new(Store::Memory, Some(url.clone()), pair_phone);
            adapter.start(Arc::new(Nowhere)).await.expect("starts on the in-memory store");
            let to = Jid::parse("+4915112345678").unwrap();
            assert!(adapter.send_text(&to, "hello", "3EB0AA").await.is_err(), "not linked: nothing goes out");
            adapter.stop().await;
        }
    }
}
