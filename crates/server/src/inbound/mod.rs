//! Device events into the store: deduplicated on (device, WhatsApp message id), committed before
//! the adapter hears back, then fanned out. Customer messages that arrive together are committed
//! together ([`group_commit`]).

pub mod group_commit;
pub mod webhook;

pub use group_commit::Queue;

use handoff_channels::{Attachment, DeviceEvent, Jid, LinkState};
use handoff_proto::{
    ContactId, ConversationId, ConversationStatus, Delivery, DeviceId, DeviceStatus, EventBody, Media, MediaKind,
    MessageId, MessageKind, QrResponse, WorkspaceId,
};

use crate::audit::{self, Who};
use crate::store::{self, DbResult, Writer};
use crate::{outbound, routing, AppState};

/// How long a conversation preview is, in characters.
pub const PREVIEW_CHARS: usize = 120;

pub fn preview(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= PREVIEW_CHARS {
        one_line
    } else {
        let cut: String = one_line.chars().take(PREVIEW_CHARS - 1).collect();
        format!("{cut}…")
    }
}

pub async fn device_event(state: &AppState, ws: WorkspaceId, device_id: DeviceId, event: DeviceEvent) -> DbResult<()> {
    match event {
        DeviceEvent::Pairing { qr, expires_at } => {
            if let Some(handle) = state.devices.get(device_id) {
                let mut shown = handle.qr.lock().unwrap_or_else(|p| p.into_inner());
                let pair_code = shown.take().and_then(|s| s.pair_code);
                *shown = Some(QrResponse { qr, expires_at, pair_code });
            }
            Ok(())
        }
        DeviceEvent::PairCode { code, .. } => {
            if let Some(handle) = state.devices.get(device_id) {
                if let Some(shown) = handle.qr.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    shown.pair_code = Some(code);
                }
            }
            Ok(())
        }
        DeviceEvent::Connection { state: link, phone } => connection(state, ws, device_id, link, phone).await,
        DeviceEvent::Message { wa_message_id, chat, push_name, body, from_me, media, alt, participant, .. } => {
            let kind = if from_me { MessageKind::Outbound } else { MessageKind::Inbound };
            let sender = participant.map(|p| p.display());
            let incoming = Incoming { wa_message_id, chat, alt, push_name, body, media, sender };
            state.ingest.message(ws, device_id, incoming, kind).await.map(drop)
        }
        DeviceEvent::Receipt { wa_message_id, state: delivery } => {
            receipt(state, ws, device_id, &wa_message_id, delivery).await
        }
        DeviceEvent::Typing { chat, composing } => {
            tracing::debug!(%device_id, %chat, composing, "customer typing");
            Ok(())
        }
    }
}

async fn connection(
    state: &AppState,
    ws: WorkspaceId,
    device_id: DeviceId,
    link: LinkState,
    phone: Option<String>,
) -> DbResult<()> {
    let status = match link {
        LinkState::Connected => DeviceStatus::Connected,
        LinkState::Disconnected => DeviceStatus::Disconnected,
        LinkState::PendingLink => DeviceStatus::PendingLink,
        LinkState::LoggedOut => DeviceStatus::LoggedOut,
        LinkState::Banned => DeviceStatus::Banned,
    };
    if status != DeviceStatus::PendingLink {
        if let Some(handle) = state.devices.get(device_id) {
            *handle.qr.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
    let mut w = state.store.begin().await?;
    let Some(current) = store::devices::get(w.conn(), ws, device_id).await? else {
        return Ok(()); // removed meanwhile
    };
    // A repeated report changes nothing: `last_seen_at` stays the time of the last change, which
    // is what "disconnected 4 min ago" counts from.
    if current.status == status && phone.as_ref().is_none_or(|p| current.phone.as_ref() == Some(p)) {
        return Ok(());
    }
    store::devices::set_status(w.conn(), device_id, status, phone.as_deref()).await?;
    let device = store::devices::get(w.conn(), ws, device_id).await?.expect("device updated above");
    w.append(ws, EventBody::DeviceUpdated { device }).await?;
    w.commit().await?;
    if status == DeviceStatus::Connected {
        state.outbound.wake(state, device_id); // replies held while the number was away go now
    }
    Ok(())
}

/// A chat message as a device reported it.
pub struct Incoming {
    pub wa_message_id: String,
    pub chat: Jid,
    /// The customer's other address, if the device knows it.
    pub alt: Option<Jid>,
    pub push_name: Option<String>,
    pub body: String,
    pub media: Option<Attachment>,
    /// In a group chat, the member who wrote it.
    pub sender: Option<String>,
}

/// The one line a conversation shows for a message: its text, or what is attached.
fn preview_of(body: &str, media: Option<&Media>) -> String {
    match media {
        None => preview(body),
        Some(m) => {
            let what = match m.kind {
                MediaKind::Image => "📷 Photo",
                MediaKind::Video => "🎬 Video",
                MediaKind::Audio => "🎤 Voice message",
                MediaKind::Document => "📄 Document",
                MediaKind::Sticker => "Sticker",
            };
            let name = m.filename.as_deref().filter(|_| m.kind == MediaKind::Document);
            let caption = Some(body.trim()).filter(|b| !b.is_empty());
            preview(&[Some(what), name, caption].into_iter().flatten().collect::<Vec<_>>().join(" · "))
        }
    }
}

/// A chat message written in a transaction, and what to do once it is committed.
struct Stored {
    id: MessageId,
    kind: MessageKind,
    /// It woke a snoozed conversation: the snooze timer has one conversation less to wake.
    unsnoozed: bool,
}

impl Stored {
    fn committed(&self, state: &AppState) {
        if self.unsnoozed {
            state.snooze.reset();
        }
        state.metrics.inbound(self.kind);
    }
}

/// Writes a chat message once, in `w`. `None` for a redelivery.
async fn store_message(
    w: &mut Writer<'_>,
    state: &AppState,
    ws: WorkspaceId,
    device_id: DeviceId,
    incoming: &Incoming,
    kind: MessageKind,
) -> DbResult<Option<Stored>> {
    let Incoming { wa_message_id, chat, alt, push_name, body, media, sender } = incoming;
    let (media, locator) = match media {
        Some(Attachment { media, locator }) => {
            (Some(Media { downloadable: locator.is_some(), ..media.clone() }), locator.as_ref())
        }
        None => (None, None),
    };
    if kind == MessageKind::Outbound {
        if let Some(reply) = outbound::ours(w.conn(), device_id, wa_message_id).await? {
            // The device's echo of one of our replies (it may beat the send's own outcome): the
            // reply is sent, and is not stored a second time.
            tracing::debug!(%device_id, wa_message_id, "our own reply echoed");
            echoed(w, ws, reply, wa_message_id).await?;
            return Ok(None);
        }
    }
    let (seen, chat_known) = store::contacts::arrival(w.conn(), device_id, chat.as_str(), Some(wa_message_id)).await?;
    if seen {
        tracing::debug!(%device_id, wa_message_id, "duplicate delivery ignored");
        return Ok(None);
    }
    let now = store::now();
    let (conversation_id, created, previous) =
        conversation_for(w, ws, device_id, (chat, chat_known), alt.as_ref(), push_name.as_deref()).await?;
    let inbound = kind == MessageKind::Inbound;
    // A new customer message reopens a resolved or snoozed conversation; after resolved, the SLA
    // clocks start again.
    let reopened = inbound && matches!(previous, ConversationStatus::Resolved | ConversationStatus::Snoozed);
    let restart_sla = inbound && previous == ConversationStatus::Resolved;
    let message_id = MessageId::new();
    let message = store::messages::FromChat {
        workspace: ws,
        id: message_id,
        conversation_id,
        device_id,
        kind,
        body,
        created_at: now,
        wa_message_id,
        media: media.as_ref(),
        media_locator: locator.map(String::as_str),
        sender: sender.as_deref(),
    };
    let preview = preview_of(body, media.as_ref());
    let moves = store::messages::Moves { preview: &preview, inbound, reopens: reopened, restart_sla };
    let (message, conversation) = store::messages::store_from_chat(w.conn(), &message, &moves).await?;
    w.append(ws, EventBody::MessageCreated { message, conversation }).await?;
    if inbound && (created || reopened) {
        routing::route(w, ws, &state.presence.users(ws), conversation_id, body, reopened).await?;
    }
    Ok(Some(Stored { id: message_id, kind, unsnoozed: previous == ConversationStatus::Snoozed && reopened }))
}

/// The conversation of the customer at `chat` (and `alt`, their other address), created on first
/// contact, with its status before this message (and whether it was just created). Every address
/// a customer is known by points at one contact; when a message shows that two contacts are one
/// person (a LID and its phone number), they are merged, with their conversations, and the merge
/// is audited. A known customer's address is one query: what is already as it should be (the
/// address, the phone number, the name) is not written again.
async fn conversation_for(
    w: &mut Writer<'_>,
    ws: WorkspaceId,
    device_id: DeviceId,
    (chat, chat_known): (&Jid, Option<store::contacts::Known>),
    alt: Option<&Jid>,
    push_name: Option<&str>,
) -> DbResult<(ConversationId, bool, ConversationStatus)> {
    let addresses: Vec<&Jid> = std::iter::once(chat).chain(alt.filter(|a| *a != chat)).collect();
    let mut known: Vec<store::contacts::Known> = Vec::new();
    let mut unknown: Vec<&Jid> = Vec::new();
    // The chat's address was looked up with the redelivery check; its other one is looked up now.
    let mut chat_lookup = Some(chat_known);
    for jid in &addresses {
        let contact = match chat_lookup.take() {
            Some(chat_known) => chat_known,
            None => store::contacts::known_by(w.conn(), device_id, jid.as_str()).await?,
        };
        match contact {
            Some(k) if !known.iter().any(|c| c.contact_id == k.contact_id) => known.push(k),
            Some(_) => {}
            None => unknown.push(jid),
        }
    }
    // The phone number shows a person best: a LID hides it.
    let phone_jid = addresses.iter().find(|j| j.is_phone()).copied().unwrap_or(chat);
    // The contact, and what is known of it (`None` after a merge: read again).
    let found = known.len();
    let (contact_id, contact) = match found {
        0 => {
            let id =
                store::contacts::insert(w.conn(), ws, device_id, phone_jid.as_str(), &phone_jid.phone(), push_name)
                    .await?;
            let shown = store::contacts::Known {
                contact_id: id,
                jid: phone_jid.as_str().to_string(),
                name: push_name.map(str::to_string),
                conversation: None,
            };
            (id, Some(shown))
        }
        1 => {
            let one = known.pop().expect("one");
            (one.contact_id, Some(one))
        }
        _ => {
            let (keep, other) = merge_order(w.conn(), known[0].contact_id, known[1].contact_id).await?;
            merge_contacts(w, ws, device_id, keep, other).await?;
            (keep, None)
        }
    };
    // Addresses learned now: the contact answers to them from here on.
    for jid in &unknown {
        let added = store::contacts::add_address(w.conn(), device_id, jid.as_str(), contact_id).await?;
        if added && found == 1 {
            let summary = format!("Learned that {} is the same customer as {}", jid.as_str(), phone_jid.phone());
            audit::record(w.conn(), Who::Server(ws), "contact.merge", None, &summary, None).await?;
        }
    }
    // A contact first known by its LID gets its phone number once WhatsApp tells it.
    if phone_jid.is_phone() && contact.as_ref().is_none_or(|c| c.jid.ends_with("@lid")) {
        store::contacts::learn_phone(w.conn(), contact_id, phone_jid.as_str(), &phone_jid.phone()).await?;
    }
    if let Some(name) = push_name.filter(|n| contact.as_ref().is_none_or(|c| c.name.as_deref() != Some(*n))) {
        store::contacts::set_name(w.conn(), contact_id, name).await?;
    }
    let conversation = match contact {
        Some(c) => c.conversation,
        None => match store::conversations::of_contact(w.conn(), contact_id).await? {
            Some(id) => Some((id, store::conversations::status(w.conn(), ws, id).await?)),
            None => None,
        },
    };
    if let Some((id, status)) = conversation {
        return Ok((id, false, status));
    }
    let id = ConversationId::new();
    store::conversations::insert(w.conn(), ws, id, device_id, contact_id, store::now()).await?;
    Ok((id, true, ConversationStatus::Open))
}

/// Which of two contacts of one person stays: the one known by a phone number, else the older.
async fn merge_order(conn: &mut store::Conn, a: ContactId, b: ContactId) -> DbResult<(ContactId, ContactId)> {
    let a_phone = !store::contacts::jid(&mut *conn, a).await?.ends_with("@lid");
    let b_phone = !store::contacts::jid(&mut *conn, b).await?.ends_with("@lid");
    // Ids are UUIDv7: their order is creation order.
    let a_stays = if a_phone != b_phone { a_phone } else { a <= b };
    Ok(if a_stays { (a, b) } else { (b, a) })
}

/// Folds contact `other` into `keep`: its addresses, and its conversation (messages, labels, an
/// owner if `keep`'s has none). Clients hear `conversation.merged`; the audit log says who was merged.
async fn merge_contacts(
    w: &mut Writer<'_>,
    ws: WorkspaceId,
    device_id: DeviceId,
    keep: ContactId,
    other: ContactId,
) -> DbResult<()> {
    let keep_jid = store::contacts::jid(w.conn(), keep).await?;
    let other_jid = store::contacts::jid(w.conn(), other).await?;
    let merged_into = match store::contacts::fold(w.conn(), keep, other).await? {
        store::contacts::Folded::Nothing => None,
        store::contacts::Folded::Moved(id) => Some((id, None)),
        store::contacts::Folded::Merged { into, from } => Some((into, Some(from))),
    };
    let mut seq = None;
    let mut conversation_id = None;
    if let Some((id, folded)) = merged_into {
        let conversation = store::conversations::get(w.conn(), ws, id, None).await?.expect("kept above");
        conversation_id = Some(id);
        seq = Some(match folded {
            Some(from) => w.append(ws, EventBody::ConversationMerged { from, conversation }).await?,
            None => {
                let cause = handoff_proto::UpdateCause::Refreshed;
                w.append(ws, EventBody::ConversationUpdated { conversation, actor_id: None, cause }).await?
            }
        });
    }
    let summary = format!("Merged {other_jid} into {keep_jid}: one customer, one conversation");
    tracing::info!(%device_id, %summary, "contacts merged");
    audit::record(w.conn(), Who::Server(ws), "contact.merge", conversation_id, &summary, seq).await
}

/// An echo of our reply: a reply still waiting for its send's outcome (or one that failed, which
/// WhatsApp has after all) is sent, under the id the echo names it by.
async fn echoed(w: &mut Writer<'_>, ws: WorkspaceId, reply: store::replies::Ours, wa_message_id: &str) -> DbResult<()> {
    if !matches!(reply.delivery, Some(Delivery::Pending | Delivery::Failed)) {
        return Ok(());
    }
    store::replies::mark_echoed(w.conn(), reply.id, wa_message_id).await?;
    if let Some(message) = store::messages::get(w.conn(), ws, reply.id).await? {
        w.append(ws, EventBody::MessageUpdated { message }).await?;
    }
    Ok(())
}

/// Moves a sent message's delivery state forward; a late or repeated receipt changes nothing.
async fn receipt(
    state: &AppState,
    ws: WorkspaceId,
    device_id: DeviceId,
    wa_message_id: &str,
    delivery: Delivery,
) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    let row = match outbound::ours(w.conn(), device_id, wa_message_id).await? {
        // A receipt for a reply that failed means WhatsApp has it after all: it counts.
        Some(reply) if reply.delivery == Some(Delivery::Failed) && delivery != Delivery::Failed => {
            Some((reply.id, None, reply.wa_message_id.is_none()))
        }
        Some(reply) => Some((reply.id, reply.delivery, reply.wa_message_id.is_none())),
        // A message typed on the phone.
        None => store::replies::delivery_by_wa_id(w.conn(), device_id, wa_message_id)
            .await?
            .map(|(id, delivery)| (id, delivery, false)),
    };
    let Some((id, current, unnamed)) = row else {
        // Before the send's outcome is recorded (or for a message this server never sent): kept
        // for when the id is recorded, the furthest state only.
        tracing::debug!(%device_id, wa_message_id, "receipt before its message: kept");
        store::replies::keep_early_receipt(w.conn(), device_id, wa_message_id, delivery, store::now()).await?;
        return w.commit().await;
    };
    if current.is_some_and(|c| c == Delivery::Failed || c.rank() >= delivery.rank()) {
        return Ok(());
    }
    // A receipt for a reply whose send has not reported yet: it names the reply from now on.
    store::replies::set_delivery(w.conn(), id, delivery, unnamed.then_some(wa_message_id)).await?;
    let message = store::messages::get(w.conn(), ws, id).await?.expect("exists");
    w.append(ws, EventBody::MessageUpdated { message }).await?;
    w.commit().await
}

#[cfg(test)]
mod tests {
    use super::preview;

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview("Hello\n\n  world"), "Hello world");
        let long = "x".repeat(500);
        let p = preview(&long);
        assert_eq!(p.chars().count(), 120);
        assert!(p.ends_with('…'));
    }
}
