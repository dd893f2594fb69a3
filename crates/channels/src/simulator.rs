//! A simulated WhatsApp number for demos and tests.
//!
//! It behaves like a linked phone: it shows a QR until linked, delivers customer messages to the
//! sink, gives every sent message a WhatsApp-style id, and reports receipts
//! (sent -> delivered -> read) after short random delays drawn from a seeded RNG.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoff_proto::{Delivery, Media};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{AdapterError, Attachment, DeviceAdapter, DeviceEvent, EventSink, Jid, LinkState, Participant, SinkError};

/// What the simulated phone was asked to send to WhatsApp.
#[derive(Clone, Debug, PartialEq)]
pub struct SentRecord {
    pub to: Jid,
    pub body: String,
    pub wa_message_id: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    pub seed: u64,
    /// The simulated phone's own number.
    pub phone: String,
    /// Start already linked (demo devices) instead of showing a QR.
    pub linked: bool,
    /// Delay range between receipt steps; `None` sends no automatic receipts.
    pub receipt_delay: Option<(Duration, Duration)>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 7,
            phone: "+15550100".into(),
            linked: false,
            receipt_delay: Some((Duration::from_millis(300), Duration::from_millis(1500))),
        }
    }
}

/// How the simulated WhatsApp reports receipts for the messages this number sends.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiptPlan {
    /// The steps, in the order WhatsApp reports them: `[Delivered, Read]` normally; `[Read]`
    /// skips one, `[Read, Delivered]` reorders, `[Delivered, Delivered, Read]` repeats.
    pub steps: Vec<Delivery>,
    /// Report them before the send returns, as a fast phone does: before the server has
    /// recorded WhatsApp's id for the message.
    pub early: bool,
}

impl Default for ReceiptPlan {
    fn default() -> Self {
        ReceiptPlan { steps: vec![Delivery::Delivered, Delivery::Read], early: false }
    }
}

/// A customer message for [`Simulator::inject_inbound`].
#[derive(Clone, Debug)]
pub struct Inbound {
    pub from: Jid,
    /// The customer's other address (the phone-number JID of a LID, or the reverse).
    pub alt: Option<Jid>,
    /// Written in a group: the group's JID and name (`from` is then the member who wrote).
    pub group: Option<(Jid, Option<String>)>,
    pub name: Option<String>,
    pub body: String,
    pub wa_message_id: Option<String>,
    pub media: Option<Media>,
    /// The attachment's bytes, as a download returns them; absent: a file of the placeholder's
    /// size (at most 1 MiB) filled with its name.
    pub content: Option<Vec<u8>>,
}

/// How many messages delivered before a disconnect WhatsApp delivers again after it (the
/// offline drain repeats what it is not sure arrived).
const REDELIVERED_AFTER_RECONNECT: usize = 2;

struct State {
    rng: StdRng,
    link: LinkState,
    sent: Vec<SentRecord>,
    marked_read: Vec<String>,
    /// "typing…" shown to customers (chat, on), in order.
    typing: Vec<(Jid, bool)>,
    /// Set by a control endpoint: receipts then follow this plan, with or without delays.
    plan: Option<ReceiptPlan>,
    /// Reasons the next sends fail with, one each.
    failures: Vec<String>,
    /// Customer messages sent while the phone was offline: delivered at reconnect.
    offline: Vec<DeviceEvent>,
    /// The last customer messages delivered (redelivered by the drain after a reconnect).
    recent: Vec<DeviceEvent>,
    /// Attachments' bytes by their WhatsApp message id (the locator), as WhatsApp's servers keep them.
    files: HashMap<String, Vec<u8>>,
}

pub struct Simulator {
    config: SimulatorConfig,
    state: Mutex<State>,
    sink: OnceLock<Arc<dyn EventSink>>,
    /// Counts what the number was asked to do (send, mark read, typing): tests wait on it.
    asked: tokio::sync::watch::Sender<u64>,
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Arc<Simulator> {
        let state = State {
            rng: StdRng::seed_from_u64(config.seed),
            link: if config.linked { LinkState::Connected } else { LinkState::PendingLink },
            sent: Vec::new(),
            marked_read: Vec::new(),
            typing: Vec::new(),
            plan: None,
            failures: Vec::new(),
            offline: Vec::new(),
            recent: Vec::new(),
            files: HashMap::new(),
        };
        let asked = tokio::sync::watch::Sender::new(0);
        Arc::new(Simulator { config, state: Mutex::new(state), sink: OnceLock::new(), asked })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes each time the number is asked to send, mark read or show typing: a test waits on
    /// it for what it expects the number to have been asked.
    pub fn asked(&self) -> tokio::sync::watch::Receiver<u64> {
        self.asked.subscribe()
    }

    fn sink(&self) -> Result<&Arc<dyn EventSink>, SinkError> {
        self.sink.get().ok_or_else(|| SinkError("the simulator has not been started".into()))
    }

    /// A fresh WhatsApp-style message id (`3EB0` + 16 hex digits, like WhatsApp Web's).
    fn new_message_id(&self) -> String {
        let n: u64 = self.state().rng.random();
        format!("3EB0{n:016X}")
    }

    pub fn link_state(&self) -> LinkState {
        self.state().link
    }

    /// A customer writes to this number. Returns the WhatsApp id of the message and whether it
    /// was delivered now (`false`: the phone is offline and WhatsApp holds it until it is back).
    pub async fn inject_inbound(&self, inbound: Inbound) -> Result<(String, bool), AdapterError> {
        let Inbound { from, alt, group, name, body, wa_message_id, media, content } = inbound;
        let link = self.link_state();
        if !matches!(link, LinkState::Connected | LinkState::Disconnected) {
            return Err(AdapterError::NotConnected);
        }
        let wa_message_id = wa_message_id.unwrap_or_else(|| self.new_message_id());
        let media = media.map(|media| {
            let bytes = content.unwrap_or_else(|| placeholder_file(&media));
            self.state().files.insert(wa_message_id.clone(), bytes);
            Attachment { media, locator: Some(wa_message_id.clone()) }
        });
        // In a group the chat is the group (named by its subject) and the writer a participant.
        let (chat, push_name, participant) = match group {
            Some((group, subject)) => (group, subject, Some(Participant { jid: from, name })),
            None => (from, name, None),
        };
        let event = DeviceEvent::Message {
            wa_message_id: wa_message_id.clone(),
            chat,
            push_name,
            body,
            at: Utc::now(),
            from_me: false,
            media,
            alt,
            participant,
        };
        if link == LinkState::Disconnected {
            self.state().offline.push(event);
            return Ok((wa_message_id, false));
        }
        self.deliver(event.clone()).await?;
        let mut st = self.state();
        st.recent.push(event);
        let excess = st.recent.len().saturating_sub(REDELIVERED_AFTER_RECONNECT);
        st.recent.drain(..excess);
        Ok((wa_message_id, true))
    }

    /// Someone types a message on the phone itself: it shows as outbound, sent by the phone.
    pub async fn phone_message(&self, to: Jid, body: String) -> Result<String, AdapterError> {
        if self.link_state() != LinkState::Connected {
            return Err(AdapterError::NotConnected);
        }
        let wa_message_id = self.new_message_id();
        let event = DeviceEvent::Message {
            wa_message_id: wa_message_id.clone(),
            chat: to,
            push_name: None,
            body,
            at: Utc::now(),
            from_me: true,
            media: None,
            alt: None,
            participant: None,
        };
        self.deliver(event).await?;
        Ok(wa_message_id)
    }

    /// An attachment's bytes, while the phone is linked (WhatsApp's media servers answer only a
    /// linked device).
    pub fn file(&self, locator: &str) -> Result<Vec<u8>, AdapterError> {
        let st = self.state();
        if st.link != LinkState::Connected {
            return Err(AdapterError::NotConnected);
        }
        st.files
            .get(locator)
            .cloned()
            .ok_or_else(|| AdapterError::Unavailable("WhatsApp no longer has this file".into()))
    }

    /// From now on, receipts follow `plan` (skipped, reordered, repeated or early steps).
    pub fn set_receipt_plan(&self, plan: ReceiptPlan) {
        self.state().plan = Some(plan);
    }

    /// The next sends fail, one per reason, as WhatsApp refuses them.
    pub fn fail_next(&self, reasons: Vec<String>) {
        self.state().failures.extend(reasons);
    }

    /// The person holding the phone scans the QR: the link completes.
    pub async fn complete_link(&self) -> Result<(), AdapterError> {
        self.state().link = LinkState::Connected;
        self.deliver(DeviceEvent::Connection { state: LinkState::Connected, phone: Some(self.config.phone.clone()) })
            .await
    }

    /// The phone loses its connection.
    pub async fn disconnect(&self) -> Result<(), AdapterError> {
        self.state().link = LinkState::Disconnected;
        self.deliver(DeviceEvent::Connection { state: LinkState::Disconnected, phone: None }).await
    }

    /// The phone comes back (after a disconnect or when a ban is lifted). WhatsApp then drains
    /// what arrived meanwhile, repeating the last messages delivered before the disconnect.
    pub async fn reconnect(&self) -> Result<(), AdapterError> {
        self.state().link = LinkState::Connected;
        self.deliver(DeviceEvent::Connection { state: LinkState::Connected, phone: Some(self.config.phone.clone()) })
            .await?;
        let drain: Vec<DeviceEvent> = {
            let mut st = self.state();
            let held = std::mem::take(&mut st.offline);
            st.recent.iter().cloned().chain(held).collect()
        };
        for event in drain {
            self.deliver(event).await?;
        }
        Ok(())
    }

    /// WhatsApp bans the number for a while: nothing goes in or out until [`Simulator::reconnect`].
    pub async fn ban(&self) -> Result<(), AdapterError> {
        self.state().link = LinkState::Banned;
        self.deliver(DeviceEvent::Connection { state: LinkState::Banned, phone: None }).await
    }

    /// The QR code expires and a new one is shown, as WhatsApp Web rotates it. Only while
    /// waiting to be linked.
    pub async fn rotate_qr(&self) -> Result<(), AdapterError> {
        if !matches!(self.link_state(), LinkState::PendingLink) {
            return Err(AdapterError::Refused("the device is not waiting to be linked".into()));
        }
        let pairing = self.pairing();
        self.deliver(pairing).await?;
        let code = self.pair_code();
        self.deliver(code).await
    }

    /// The pair-code alternative: eight letters and digits, shown as `ABCD-EFGH`.
    fn pair_code(&self) -> DeviceEvent {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTVWXYZ23456789";
        let code: String = {
            let mut st = self.state();
            (0..8).map(|_| ALPHABET[st.rng.random_range(0..ALPHABET.len())] as char).collect()
        };
        DeviceEvent::PairCode {
            code: format!("{}-{}", &code[..4], &code[4..]),
            expires_at: Utc::now() + chrono::Duration::seconds(60),
        }
    }

    /// A new QR code to scan, valid for a minute.
    fn pairing(&self) -> DeviceEvent {
        let code: u128 = self.state().rng.random();
        DeviceEvent::Pairing {
            qr: format!("2@{code:032x},handoff-simulator"),
            expires_at: Utc::now() + chrono::Duration::seconds(60),
        }
    }

    /// Reports a receipt for a sent message, as WhatsApp would.
    pub async fn receipt(&self, wa_message_id: String, state: Delivery) -> Result<(), AdapterError> {
        self.deliver(DeviceEvent::Receipt { wa_message_id, state }).await
    }

    /// Everything this number was asked to send, oldest first.
    pub fn sent(&self) -> Vec<SentRecord> {
        self.state().sent.clone()
    }

    /// Message ids the server asked to mark read.
    pub fn marked_read(&self) -> Vec<String> {
        self.state().marked_read.clone()
    }

    /// Every "typing…" shown to or cleared for a customer, in order.
    pub fn typing_shown(&self) -> Vec<(Jid, bool)> {
        self.state().typing.clone()
    }

    async fn deliver(&self, event: DeviceEvent) -> Result<(), AdapterError> {
        let sink = self.sink().map_err(|e| AdapterError::Unreachable(e.0))?;
        sink.deliver(event).await.map_err(|e| AdapterError::Unreachable(e.0))
    }

    /// Reports the receipts of a sent message: by the plan a control endpoint set (at once, or
    /// after the configured delays), else delivered then read after the delays, else none.
    fn schedule_receipts(&self, wa_message_id: String) {
        let Ok(sink) = self.sink() else { return };
        let sink = Arc::clone(sink);
        let (steps, delays): (Vec<Delivery>, Vec<Duration>) = {
            let mut st = self.state();
            let steps = match (&st.plan, self.config.receipt_delay) {
                (Some(plan), _) => plan.steps.clone(),
                (None, Some(_)) => ReceiptPlan::default().steps,
                (None, None) => return,
            };
            let delays = match self.config.receipt_delay {
                Some((lo, hi)) => steps.iter().map(|_| st.rng.random_range(lo..=hi)).collect(),
                None => steps.iter().map(|_| Duration::ZERO).collect(),
            };
            (steps, delays)
        };
        tokio::spawn(async move {
            for (delay, state) in delays.into_iter().zip(steps) {
                if !delay.is_zero() {
                    // The phone's own pace between receipts, not a wait for readiness.
                    tokio::time::sleep(delay).await;
                }
                let receipt = DeviceEvent::Receipt { wa_message_id: wa_message_id.clone(), state };
                if let Err(e) = sink.deliver(receipt).await {
                    tracing::warn!(error = %e, "simulator receipt not delivered");
                    return;
                }
            }
        });
    }
}

/// A stand-in file for an attachment sent without content: the placeholder's size (1 KiB when
/// unknown, at most 1 MiB), its name repeated.
fn placeholder_file(media: &Media) -> Vec<u8> {
    let size = media.size.map_or(1024, |s| s as usize).min(1 << 20);
    let name = media.filename.clone().unwrap_or_else(|| "attachment".into());
    format!("{name}\n").into_bytes().into_iter().cycle().take(size).collect()
}

#[async_trait::async_trait]
impl DeviceAdapter for Simulator {
    async fn start(&self, sink: Arc<dyn EventSink>) -> Result<(), AdapterError> {
        if self.sink.set(sink).is_err() {
            return Ok(()); // already started
        }
        if self.link_state() == LinkState::Connected {
            let phone = Some(self.config.phone.clone());
            return self.deliver(DeviceEvent::Connection { state: LinkState::Connected, phone }).await;
        }
        let pairing = self.pairing();
        self.deliver(pairing).await?;
        let code = self.pair_code();
        self.deliver(code).await
    }

    /// A send with an id already sent is the same message (WhatsApp shows it once): recorded once.
    async fn send_text(&self, chat: &Jid, body: &str, id: &str) -> Result<String, AdapterError> {
        if self.link_state() != LinkState::Connected {
            return Err(AdapterError::NotConnected);
        }
        let failure = {
            let mut st = self.state();
            (!st.failures.is_empty()).then(|| st.failures.remove(0))
        };
        if let Some(reason) = failure {
            return Err(AdapterError::Refused(reason));
        }
        let wa_message_id = id.to_string();
        {
            let mut st = self.state();
            if st.sent.iter().any(|s| s.wa_message_id == wa_message_id) {
                return Ok(wa_message_id);
            }
            st.sent.push(SentRecord {
                to: chat.clone(),
                body: body.to_string(),
                wa_message_id: wa_message_id.clone(),
                at: Utc::now(),
            });
        }
        self.asked.send_modify(|n| *n += 1);
        let early = self.state().plan.as_ref().filter(|p| p.early).map(|p| p.steps.clone());
        match early {
            // A fast phone: the receipts arrive before this call has even returned the id.
            Some(steps) => {
                for state in steps {
                    self.deliver(DeviceEvent::Receipt { wa_message_id: wa_message_id.clone(), state }).await?;
                }
            }
            None => self.schedule_receipts(wa_message_id.clone()),
        }
        Ok(wa_message_id)
    }

    async fn mark_read(&self, _chat: &Jid, wa_message_ids: &[String]) -> Result<(), AdapterError> {
        self.state().marked_read.extend_from_slice(wa_message_ids);
        self.asked.send_modify(|n| *n += 1);
        Ok(())
    }

    async fn set_typing(&self, chat: &Jid, composing: bool) -> Result<(), AdapterError> {
        self.state().typing.push((chat.clone(), composing));
        self.asked.send_modify(|n| *n += 1);
        Ok(())
    }

    async fn logout(&self) -> Result<(), AdapterError> {
        self.state().link = LinkState::LoggedOut;
        self.deliver(DeviceEvent::Connection { state: LinkState::LoggedOut, phone: None }).await
    }

    async fn relink(&self) -> Result<(), AdapterError> {
        self.state().link = LinkState::PendingLink;
        self.deliver(DeviceEvent::Connection { state: LinkState::PendingLink, phone: None }).await?;
        let pairing = self.pairing();
        self.deliver(pairing).await?;
        let code = self.pair_code();
        self.deliver(code).await
    }

    async fn download(&self, locator: &str) -> Result<crate::Download, AdapterError> {
        self.file(locator).map(crate::Download::whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    struct ChannelSink(mpsc::UnboundedSender<DeviceEvent>);

    #[async_trait::async_trait]
    impl EventSink for ChannelSink {
        async fn deliver(&self, event: DeviceEvent) -> Result<(), SinkError> {
            self.0.send(event).map_err(|e| SinkError(e.to_string()))
        }
    }

    async fn started(config: SimulatorConfig) -> (Arc<Simulator>, mpsc::UnboundedReceiver<DeviceEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sim = Simulator::new(config);
        sim.start(Arc::new(ChannelSink(tx))).await.unwrap();
        (sim, rx)
    }

    #[tokio::test]
    async fn unlinked_device_shows_qr_then_links() {
        let (sim, mut rx) = started(SimulatorConfig::default()).await;
        assert!(matches!(rx.recv().await, Some(DeviceEvent::Pairing { .. })));
        let Some(DeviceEvent::PairCode { code, .. }) = rx.recv().await else { panic!("the pair-code alternative") };
        assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "{code}");
        let jid = Jid::parse("+4915112345678").unwrap();
        assert!(matches!(sim.send_text(&jid, "hi", "3EB0AA").await, Err(AdapterError::NotConnected)));
        sim.complete_link().await.unwrap();
        assert!(matches!(rx.recv().await, Some(DeviceEvent::Connection { state: LinkState::Connected, .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn sent_messages_get_ids_and_receipts_in_order() {
        let config = SimulatorConfig { linked: true, ..SimulatorConfig::default() };
        let (sim, mut rx) = started(config).await;
        assert!(matches!(rx.recv().await, Some(DeviceEvent::Connection { .. })));
        let jid = Jid::parse("+4915112345678").unwrap();
        let id = sim.send_text(&jid, "Hello", "3EB0C0FFEE").await.unwrap();
        assert_eq!(id, "3EB0C0FFEE", "the message goes out under the id it was given");
        // The same id again (a resend after a restart) is the same message: the customer sees one.
        assert_eq!(sim.send_text(&jid, "Hello", "3EB0C0FFEE").await.unwrap(), id);
        assert_eq!(sim.sent().len(), 1);
        assert_eq!(sim.sent()[0].body, "Hello");
        // clock: the paused runtime advances time to each receipt
        let states: Vec<Delivery> = [rx.recv().await, rx.recv().await]
            .into_iter()
            .map(|e| match e {
                Some(DeviceEvent::Receipt { wa_message_id, state }) if wa_message_id == id => state,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(states, vec![Delivery::Delivered, Delivery::Read]);
    }

    #[test]
    fn the_same_seed_gives_the_same_ids() {
        let config = SimulatorConfig { linked: true, receipt_delay: None, ..SimulatorConfig::default() };
        let a = Simulator::new(config.clone());
        let b = Simulator::new(config);
        assert_eq!(a.new_message_id(), b.new_message_id());
    }
}
