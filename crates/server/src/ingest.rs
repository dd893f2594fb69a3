//! Device events into the store: deduplicated on (device, WhatsApp message id), committed before
//! the adapter hears back, then fanned out.

use handoff_channels::{DeviceEvent, Jid, LinkState};
use handoff_proto::{Delivery, DeviceStatus, EventBody, Media, MediaKind, MessageKind, QrResponse};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::store::{self, conversation_by_id, device_by_id, message_by_id, DbResult};
use crate::{routing, AppState};

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
                *handle.qr.lock().unwrap_or_else(|p| p.into_inner()) = Some(QrResponse { qr, expires_at });
            }
            Ok(())
        }
        DeviceEvent::Connection { state: link, phone } => connection(state, device_id, link, phone).await,
        DeviceEvent::Message { wa_message_id, chat, push_name, body, from_me, media, .. } => {
            let kind = if from_me { MessageKind::Outbound } else { MessageKind::Inbound };
            let incoming = Incoming { wa_message_id: &wa_message_id, chat: &chat, push_name, body: &body, media };
            message(state, device_id, incoming, kind).await.map(drop)
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
    let Some(current) = device_by_id(w.conn(), device_id).await? else {
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
    let device = device_by_id(w.conn(), device_id).await?.expect("device updated above");
    w.append(EventBody::DeviceUpdated { device }).await?;
    w.commit().await
}

/// A chat message as a device reported it.
pub struct Incoming<'a> {
    pub wa_message_id: &'a str,
    pub chat: &'a Jid,
    pub push_name: Option<String>,
    pub body: &'a str,
    pub media: Option<Media>,
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

/// Stores a chat message once. Returns the new message id, or `None` for a redelivery.
pub async fn message(
    state: &AppState,
    device_id: Uuid,
    incoming: Incoming<'_>,
    kind: MessageKind,
) -> DbResult<Option<Uuid>> {
    let Incoming { wa_message_id, chat, push_name, body, media } = incoming;
    let mut w = state.store.begin().await?;
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
    let (conversation_id, created) = conversation_for(w.conn(), device_id, chat, push_name).await?;
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
        "INSERT INTO messages (id, conversation_id, device_id, kind, body, created_at, delivery, wa_message_id, media) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    let message = message_by_id(w.conn(), message_id).await?.expect("inserted above");
    let conversation = conversation_by_id(w.conn(), conversation_id, None).await?.expect("exists");
    w.append(EventBody::MessageCreated { message, conversation }).await?;
    if inbound && (created || reopened) {
        routing::route(&mut w, &state.presence.users(), conversation_id, body, reopened).await?;
    }
    w.commit().await?;
    if previous == "snoozed" && reopened {
        state.snooze.reset();
    }
    state.metrics.inbound(kind);
    Ok(Some(message_id))
}

/// The conversation for this chat on this device, created with its contact on first contact
/// (then the second value is true).
async fn conversation_for(
    conn: &mut SqliteConnection,
    device_id: Uuid,
    chat: &Jid,
    push_name: Option<String>,
) -> DbResult<(Uuid, bool)> {
    let contact_id: String = sqlx::query_scalar(
        "INSERT INTO contacts (id, device_id, jid, phone, name) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (device_id, jid) DO UPDATE SET name = COALESCE(excluded.name, contacts.name) RETURNING id",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(device_id.to_string())
    .bind(chat.as_str())
    .bind(chat.phone())
    .bind(push_name)
    .fetch_one(&mut *conn)
    .await?;
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM conversations WHERE contact_id = ?")
        .bind(&contact_id)
        .fetch_optional(&mut *conn)
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
    .execute(conn)
    .await?;
    Ok((id, true))
}

/// Moves a sent message's delivery state forward; a late or repeated receipt changes nothing.
async fn receipt(state: &AppState, device_id: Uuid, wa_message_id: &str, delivery: Delivery) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT id, delivery FROM messages WHERE device_id = ? AND wa_message_id = ?")
            .bind(device_id.to_string())
            .bind(wa_message_id)
            .fetch_optional(w.conn())
            .await?;
    let Some((id, current)) = row else {
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
    let current = current.as_deref().and_then(Delivery::parse);
    if current.is_some_and(|c| c == Delivery::Failed || c.rank() >= delivery.rank()) {
        return Ok(());
    }
    sqlx::query("UPDATE messages SET delivery = ? WHERE id = ?")
        .bind(delivery.as_str())
        .bind(&id)
        .execute(w.conn())
        .await?;
    let id = Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let message = message_by_id(w.conn(), id).await?.expect("exists");
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
