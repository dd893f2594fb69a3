//! Device events into the store: deduplicated on (device, WhatsApp message id), committed before
//! the adapter hears back, then fanned out. Customer messages that arrive together are committed
//! together ([`group_commit`]).

pub mod group_commit;

pub use group_commit::Queue;

use handoff_channels::{Attachment, DeviceEvent, Jid, LinkState};
use handoff_proto::{Delivery, DeviceStatus, EventBody, Media, MediaKind, MessageKind, QrResponse};
use sqlx::SqliteConnection;
use uuid::Uuid;

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

pub async fn device_event(state: &AppState, device_id: Uuid, event: DeviceEvent) -> DbResult<()> {
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
        DeviceEvent::Connection { state: link, phone } => connection(state, device_id, link, phone).await,
        DeviceEvent::Message { wa_message_id, chat, push_name, body, from_me, media, alt, participant, .. } => {
            let kind = if from_me { MessageKind::Outbound } else { MessageKind::Inbound };
            let sender = participant.map(|p| p.display());
            let incoming = Incoming { wa_message_id, chat, alt, push_name, body, media, sender };
            state.ingest.message(device_id, incoming, kind).await.map(drop)
        }
        DeviceEvent::Receipt { wa_message_id, state: delivery } => {
            receipt(state, device_id, &wa_message_id, delivery).await
        }
        DeviceEvent::Typing { chat, composing } => {
            tracing::debug!(%device_id, %chat, composing, "customer typing");
            Ok(())
        }
    }
}

async fn connection(state: &AppState, device_id: Uuid, link: LinkState, phone: Option<String>) -> DbResult<()> {
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
    let Some(current) = store::devices::get(w.conn(), device_id).await? else {
        return Ok(()); // removed meanwhile
    };
    // A repeated report changes nothing: `last_seen_at` stays the time of the last change, which
    // is what "disconnected 4 min ago" counts from.
    if current.status == status && phone.as_ref().is_none_or(|p| current.phone.as_ref() == Some(p)) {
        return Ok(());
    }
    sqlx::query("UPDATE devices SET status = ?, phone = COALESCE(?, phone), last_seen_at = ? WHERE id = ?")
        .bind(status.as_str())
        .bind(phone)
        .bind(store::ts(store::now()))
        .bind(device_id.to_string())
        .execute(w.conn())
        .await?;
    let device = store::devices::get(w.conn(), device_id).await?.expect("device updated above");
    w.append(EventBody::DeviceUpdated { device }).await?;
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
    id: Uuid,
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
    device_id: Uuid,
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
            echoed(w, reply, wa_message_id).await?;
            return Ok(None);
        }
    }
    let seen: Option<i64> = sqlx::query_scalar("SELECT 1 FROM messages WHERE device_id = ? AND wa_message_id = ?")
        .bind(device_id.to_string())
        .bind(wa_message_id)
        .fetch_optional(w.conn())
        .await?;
    if seen.is_some() {
        tracing::debug!(%device_id, wa_message_id, "duplicate delivery ignored");
        return Ok(None);
    }
    let now = store::now();
    let (conversation_id, created) = conversation_for(w, device_id, chat, alt.as_ref(), push_name.clone()).await?;
    let previous: String = sqlx::query_scalar("SELECT status FROM conversations WHERE id = ?")
        .bind(conversation_id.to_string())
        .fetch_one(w.conn())
        .await?;
    let inbound = kind == MessageKind::Inbound;
    // A new customer message reopens a resolved or snoozed conversation; after resolved, the SLA
    // clocks start again.
    let reopened = inbound && matches!(previous.as_str(), "resolved" | "snoozed");
    let restart_sla = inbound && previous == "resolved";
    let message_id = Uuid::now_v7();
    let delivery = (kind == MessageKind::Outbound).then_some(Delivery::Sent);
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, device_id, kind, body, created_at, delivery, wa_message_id, media, \
           sender, media_locator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(message_id.to_string())
    .bind(conversation_id.to_string())
    .bind(device_id.to_string())
    .bind(kind.as_str())
    .bind(body)
    .bind(store::ts(now))
    .bind(delivery.map(Delivery::as_str))
    .bind(wa_message_id)
    .bind(media.as_ref().map(|m| serde_json::to_string(m).expect("plain fields serialise")))
    .bind(sender)
    .bind(locator)
    .execute(w.conn())
    .await?;
    sqlx::query(
        "UPDATE conversations SET version = version + 1, last_message_at = ?1, last_message_preview = ?2, \
           status = CASE WHEN ?3 THEN 'open' ELSE status END, \
           resolved_at = CASE WHEN ?3 THEN NULL ELSE resolved_at END, \
           snooze_until = CASE WHEN ?4 THEN NULL ELSE snooze_until END, \
           opened_at = CASE WHEN ?5 THEN ?1 ELSE opened_at END, \
           first_response_at = CASE WHEN ?5 THEN NULL WHEN ?4 THEN first_response_at \
                                    ELSE COALESCE(first_response_at, ?1) END \
         WHERE id = ?6",
    )
    .bind(store::ts(now))
    .bind(preview_of(body, media.as_ref()))
    .bind(reopened)
    .bind(inbound)
    .bind(restart_sla)
    .bind(conversation_id.to_string())
    .execute(w.conn())
    .await?;
    let message = store::messages::get(w.conn(), message_id).await?.expect("inserted above");
    let conversation = store::conversations::get(w.conn(), conversation_id, None).await?.expect("exists");
    w.append(EventBody::MessageCreated { message, conversation }).await?;
    if inbound && (created || reopened) {
        routing::route(w, &state.presence.users(), conversation_id, body, reopened).await?;
    }
    Ok(Some(Stored { id: message_id, kind, unsnoozed: previous == "snoozed" && reopened }))
}

/// The conversation for this chat on this device, created with its contact on first contact
/// (then the second value is true).
/// The conversation of the customer at `chat` (and `alt`, their other address), created on first
/// contact. Every address a customer is known by points at one contact; when a message shows that
/// two contacts are one person (a LID and its phone number), they are merged, with their
/// conversations, and the merge is audited.
async fn conversation_for(
    w: &mut Writer<'_>,
    device_id: Uuid,
    chat: &Jid,
    alt: Option<&Jid>,
    push_name: Option<String>,
) -> DbResult<(Uuid, bool)> {
    let addresses: Vec<&Jid> = std::iter::once(chat).chain(alt.filter(|a| *a != chat)).collect();
    let mut known: Vec<String> = Vec::new();
    for jid in &addresses {
        let contact: Option<String> =
            sqlx::query_scalar("SELECT contact_id FROM contact_aliases WHERE device_id = ? AND jid = ?")
                .bind(device_id.to_string())
                .bind(jid.as_str())
                .fetch_optional(w.conn())
                .await?;
        if let Some(c) = contact.filter(|c| !known.contains(c)) {
            known.push(c);
        }
    }
    // The phone number shows a person best: a LID hides it.
    let phone_jid = addresses.iter().find(|j| j.is_phone()).copied().unwrap_or(chat);
    let contact_id = match known.as_slice() {
        [] => {
            let id: String = sqlx::query_scalar(
                "INSERT INTO contacts (id, device_id, jid, phone, name) VALUES (?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(device_id.to_string())
            .bind(phone_jid.as_str())
            .bind(phone_jid.phone())
            .bind(&push_name)
            .fetch_one(w.conn())
            .await?;
            id
        }
        [one] => one.clone(),
        [keep, other, ..] => {
            let (keep, other) = merge_order(w.conn(), keep, other).await?;
            merge_contacts(w, device_id, &keep, &other).await?;
            keep
        }
    };
    // Addresses learned now: the contact answers to them from here on.
    for jid in &addresses {
        let added = sqlx::query(
            "INSERT INTO contact_aliases (device_id, jid, contact_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(device_id.to_string())
        .bind(jid.as_str())
        .bind(&contact_id)
        .execute(w.conn())
        .await?;
        if added.rows_affected() == 1 && known.len() == 1 {
            let summary = format!("Learned that {} is the same customer as {}", jid.as_str(), phone_jid.phone());
            audit::record(w.conn(), Who::Server, "contact.merge", None, &summary, None).await?;
        }
    }
    if phone_jid.is_phone() {
        // A contact first known by its LID gets its phone number once WhatsApp tells it.
        sqlx::query("UPDATE contacts SET jid = ?, phone = ? WHERE id = ? AND jid LIKE '%@lid'")
            .bind(phone_jid.as_str())
            .bind(phone_jid.phone())
            .bind(&contact_id)
            .execute(w.conn())
            .await?;
    }
    if push_name.is_some() {
        sqlx::query("UPDATE contacts SET name = ? WHERE id = ?")
            .bind(&push_name)
            .bind(&contact_id)
            .execute(w.conn())
            .await?;
    }
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM conversations WHERE contact_id = ?")
        .bind(&contact_id)
        .fetch_optional(w.conn())
        .await?;
    if let Some(id) = existing {
        return Ok((Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?, false));
    }
    let id = Uuid::now_v7();
    let now = store::ts(store::now());
    sqlx::query(
        "INSERT INTO conversations (id, device_id, contact_id, status, version, last_message_at, last_message_preview, \
           created_at, opened_at) VALUES (?, ?, ?, 'open', 0, ?, '', ?, ?)",
    )
    .bind(id.to_string())
    .bind(device_id.to_string())
    .bind(contact_id)
    .bind(&now)
    .bind(&now)
    .bind(&now)
    .execute(w.conn())
    .await?;
    Ok((id, true))
}

async fn contact_jid(conn: &mut SqliteConnection, id: &str) -> DbResult<String> {
    sqlx::query_scalar("SELECT jid FROM contacts WHERE id = ?").bind(id).fetch_one(conn).await
}

/// Which of two contacts of one person stays: the one known by a phone number, else the older.
async fn merge_order(conn: &mut SqliteConnection, a: &str, b: &str) -> DbResult<(String, String)> {
    let a_phone = !contact_jid(&mut *conn, a).await?.ends_with("@lid");
    let b_phone = !contact_jid(&mut *conn, b).await?.ends_with("@lid");
    // Ids are UUIDv7: text order is creation order.
    let a_stays = if a_phone != b_phone { a_phone } else { a <= b };
    let (keep, other) = if a_stays { (a, b) } else { (b, a) };
    Ok((keep.to_string(), other.to_string()))
}

/// Folds contact `other` into `keep`: its addresses, and its conversation (messages, labels, an
/// owner if `keep`'s has none). Clients hear `conversation.merged`; the audit log says who was merged.
async fn merge_contacts(w: &mut Writer<'_>, device_id: Uuid, keep: &str, other: &str) -> DbResult<()> {
    let keep_jid = contact_jid(w.conn(), keep).await?;
    let other_jid = contact_jid(w.conn(), other).await?;
    sqlx::query("UPDATE contact_aliases SET contact_id = ? WHERE contact_id = ?")
        .bind(keep)
        .bind(other)
        .execute(w.conn())
        .await?;
    let conversation_of = "SELECT id FROM conversations WHERE contact_id = ?";
    let kept: Option<String> = sqlx::query_scalar(conversation_of).bind(keep).fetch_optional(w.conn()).await?;
    let folded: Option<String> = sqlx::query_scalar(conversation_of).bind(other).fetch_optional(w.conn()).await?;
    let merged_into = match (kept, folded) {
        (_, None) => None,
        (None, Some(folded)) => {
            // Only the other one had a conversation: it simply changes hands.
            sqlx::query("UPDATE conversations SET contact_id = ?, version = version + 1 WHERE id = ?")
                .bind(keep)
                .bind(&folded)
                .execute(w.conn())
                .await?;
            Some((folded, None))
        }
        (Some(kept), Some(folded)) => {
            for sql in [
                "UPDATE messages SET conversation_id = ?1 WHERE conversation_id = ?2",
                "INSERT OR IGNORE INTO conversation_labels (conversation_id, label) \
                 SELECT ?1, label FROM conversation_labels WHERE conversation_id = ?2",
                "UPDATE conversations SET \
                   assignee_id = COALESCE(assignee_id, (SELECT assignee_id FROM conversations WHERE id = ?2)), \
                   assigned_at = COALESCE(assigned_at, (SELECT assigned_at FROM conversations WHERE id = ?2)), \
                   team_id = COALESCE(team_id, (SELECT team_id FROM conversations WHERE id = ?2)) WHERE id = ?1",
                // The thread's newest message leads the queue row, whichever side it came from.
                "UPDATE conversations SET last_message_at = f.last_message_at, last_message_preview = f.last_message_preview \
                 FROM (SELECT last_message_at, last_message_preview FROM conversations WHERE id = ?2) AS f \
                 WHERE conversations.id = ?1 AND f.last_message_at > conversations.last_message_at",
                "UPDATE conversations SET version = version + 1 WHERE id = ?1",
                "DELETE FROM conversations WHERE id = ?2",
            ] {
                sqlx::query(sql).bind(&kept).bind(&folded).execute(w.conn()).await?;
            }
            Some((kept, Some(folded)))
        }
    };
    sqlx::query("DELETE FROM contacts WHERE id = ?").bind(other).execute(w.conn()).await?;
    let mut seq = None;
    let mut conversation_id = None;
    if let Some((id, folded)) = merged_into {
        let id = Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let conversation = store::conversations::get(w.conn(), id, None).await?.expect("kept above");
        conversation_id = Some(id);
        seq = Some(match folded {
            Some(from) => {
                let from = Uuid::parse_str(&from).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                w.append(EventBody::ConversationMerged { from, conversation }).await?
            }
            None => {
                let cause = handoff_proto::UpdateCause::Refreshed;
                w.append(EventBody::ConversationUpdated { conversation, actor_id: None, cause }).await?
            }
        });
    }
    let summary = format!("Merged {other_jid} into {keep_jid}: one customer, one conversation");
    tracing::info!(%device_id, %summary, "contacts merged");
    audit::record(w.conn(), Who::Server, "contact.merge", conversation_id, &summary, seq).await
}

/// An echo of our reply: a reply still waiting for its send's outcome (or one that failed, which
/// WhatsApp has after all) is sent, under the id the echo names it by.
async fn echoed(w: &mut Writer<'_>, reply: outbound::Ours, wa_message_id: &str) -> DbResult<()> {
    if !matches!(reply.delivery, Some(Delivery::Pending | Delivery::Failed)) {
        return Ok(());
    }
    sqlx::query(
        "UPDATE messages SET delivery = ?, wa_message_id = COALESCE(wa_message_id, ?), failure = NULL WHERE id = ?",
    )
    .bind(Delivery::Sent.as_str())
    .bind(wa_message_id)
    .bind(reply.id.to_string())
    .execute(w.conn())
    .await?;
    if let Some(message) = store::messages::get(w.conn(), reply.id).await? {
        w.append(EventBody::MessageUpdated { message }).await?;
    }
    Ok(())
}

/// Moves a sent message's delivery state forward; a late or repeated receipt changes nothing.
async fn receipt(state: &AppState, device_id: Uuid, wa_message_id: &str, delivery: Delivery) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    let row = match outbound::ours(w.conn(), device_id, wa_message_id).await? {
        // A receipt for a reply that failed means WhatsApp has it after all: it counts.
        Some(reply) if reply.delivery == Some(Delivery::Failed) && delivery != Delivery::Failed => {
            Some((reply.id, None, reply.wa_message_id.is_none()))
        }
        Some(reply) => Some((reply.id, reply.delivery, reply.wa_message_id.is_none())),
        // A message typed on the phone.
        None => sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT id, delivery FROM messages WHERE device_id = ? AND wa_message_id = ?",
        )
        .bind(device_id.to_string())
        .bind(wa_message_id)
        .fetch_optional(w.conn())
        .await?
        .map(|(id, d)| {
            Ok::<_, sqlx::Error>((
                Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                d.as_deref().and_then(Delivery::parse),
                false,
            ))
        })
        .transpose()?,
    };
    let Some((id, current, unnamed)) = row else {
        // Before the send's outcome is recorded (or for a message this server never sent): kept
        // for when the id is recorded, the furthest state only.
        tracing::debug!(%device_id, wa_message_id, "receipt before its message: kept");
        let now = store::now();
        sqlx::query("DELETE FROM early_receipts WHERE received_at < ?")
            .bind(store::ts(now - chrono::Duration::days(1)))
            .execute(w.conn())
            .await?;
        let kept: Option<String> =
            sqlx::query_scalar("SELECT delivery FROM early_receipts WHERE device_id = ? AND wa_message_id = ?")
                .bind(device_id.to_string())
                .bind(wa_message_id)
                .fetch_optional(w.conn())
                .await?;
        if kept.as_deref().and_then(Delivery::parse).is_some_and(|k| k.rank() >= delivery.rank()) {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO early_receipts (device_id, wa_message_id, delivery, received_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (device_id, wa_message_id) DO UPDATE SET delivery = excluded.delivery",
        )
        .bind(device_id.to_string())
        .bind(wa_message_id)
        .bind(delivery.as_str())
        .bind(store::ts(now))
        .execute(w.conn())
        .await?;
        return w.commit().await;
    };
    if current.is_some_and(|c| c == Delivery::Failed || c.rank() >= delivery.rank()) {
        return Ok(());
    }
    // A receipt for a reply whose send has not reported yet: it names the reply from now on.
    sqlx::query(
        "UPDATE messages SET delivery = ?, failure = NULL, wa_message_id = CASE WHEN ? THEN ? ELSE wa_message_id END WHERE id = ?",
    )
    .bind(delivery.as_str())
    .bind(unnamed)
    .bind(wa_message_id)
    .bind(id.to_string())
    .execute(w.conn())
    .await?;
    let message = store::messages::get(w.conn(), id).await?.expect("exists");
    w.append(EventBody::MessageUpdated { message }).await?;
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
