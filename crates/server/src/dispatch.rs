//! Replies out through the conversation's device adapter.
//!
//! A reply is committed first (delivery `pending`), then handed to the adapter; the outcome
//! (`sent` with WhatsApp's id, or `failed`) is a second event. Replies still pending when the
//! server stops are handed over at the next start (at least once: a crash between the adapter
//! call and the commit of its outcome can repeat a send).

use handoff_channels::Jid;
use handoff_proto::{Delivery, EventBody, Message};
use uuid::Uuid;

use crate::store::{message_by_id, DbResult};
use crate::AppState;

pub async fn send_reply(state: &AppState, message_id: Uuid) -> DbResult<Option<Message>> {
    let target: Option<(String, String, String)> = {
        let mut conn = state.store.reader().await?;
        sqlx::query_as(
            "SELECT m.body, k.jid, c.device_id FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id \
             WHERE m.id = ? AND m.kind = 'outbound' AND m.delivery = 'pending' AND m.wa_message_id IS NULL",
        )
        .bind(message_id.to_string())
        .fetch_optional(&mut *conn)
        .await?
    };
    let Some((body, jid, device_id)) = target else { return Ok(None) };
    let device = Uuid::parse_str(&device_id).ok().and_then(|id| state.devices.get(id));
    let outcome = match (device, Jid::parse(&jid)) {
        (Some(device), Some(jid)) => device.adapter.send_text(&jid, &body).await.map_err(|e| e.to_string()),
        (None, _) => Err("the device is not linked to this server".to_string()),
        (_, None) => Err(format!("{jid} is not a WhatsApp address")),
    };
    let mut w = state.store.begin().await?;
    match &outcome {
        Ok(wa_id) => {
            // A receipt that beat this commit (a fast phone) counts from here.
            let early: Option<String> = sqlx::query_scalar(
                "DELETE FROM early_receipts WHERE device_id = ? AND wa_message_id = ? RETURNING delivery",
            )
            .bind(&device_id)
            .bind(wa_id)
            .fetch_optional(w.conn())
            .await?;
            let delivery = early
                .as_deref()
                .and_then(Delivery::parse)
                .filter(|d| d.rank() > Delivery::Sent.rank())
                .unwrap_or(Delivery::Sent);
            sqlx::query(
                "UPDATE messages SET delivery = ?, wa_message_id = ?, failure = NULL WHERE id = ? AND delivery = 'pending'",
            )
            .bind(delivery.as_str())
            .bind(wa_id)
            .bind(message_id.to_string())
            .execute(w.conn())
            .await?;
            state.metrics.sent();
        }
        Err(reason) => {
            tracing::warn!(%message_id, reason, "reply not sent");
            sqlx::query("UPDATE messages SET delivery = ?, failure = ? WHERE id = ?")
                .bind(Delivery::Failed.as_str())
                .bind(reason)
                .bind(message_id.to_string())
                .execute(w.conn())
                .await?;
        }
    }
    let message = message_by_id(w.conn(), message_id).await?.expect("exists");
    w.append(EventBody::MessageUpdated { message: message.clone() }).await?;
    w.commit().await?;
    Ok(Some(message))
}

/// The device adapter of a conversation and its customer's address.
async fn device_and_chat(
    state: &AppState,
    conversation_id: Uuid,
) -> DbResult<Option<(std::sync::Arc<crate::devices::DeviceHandle>, Jid)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT c.device_id, k.jid FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?",
    )
    .bind(conversation_id.to_string())
    .fetch_optional(&mut *state.store.reader().await?)
    .await?;
    Ok(row.and_then(|(device, jid)| {
        let device = Uuid::parse_str(&device).ok().and_then(|id| state.devices.get(id))?;
        Some((device, Jid::parse(&jid)?))
    }))
}

/// Shows (or clears) "typing…" to the customer while an agent writes a reply. Best effort, in
/// the background: a device that cannot is only logged.
pub fn typing(state: &AppState, conversation_id: Uuid, composing: bool) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Ok(Some((device, chat))) = device_and_chat(&state, conversation_id).await {
            if let Err(e) = device.adapter.set_typing(&chat, composing).await {
                tracing::debug!(%conversation_id, error = %e, "typing not shown to the customer");
            }
        }
    });
}

/// The customer's messages since `since` (all when `None`) are read: WhatsApp shows them read
/// (blue ticks). Best effort, in the background.
pub fn mark_read(state: &AppState, conversation_id: Uuid, since: Option<String>) {
    let state = state.clone();
    tokio::spawn(async move {
        let unread: Result<Vec<String>, _> = async {
            sqlx::query_scalar(
                "SELECT wa_message_id FROM messages WHERE conversation_id = ? AND kind = 'inbound' \
                 AND wa_message_id IS NOT NULL AND (?2 IS NULL OR created_at > ?2) ORDER BY created_at DESC LIMIT 100",
            )
            .bind(conversation_id.to_string())
            .bind(&since)
            .fetch_all(&mut *state.store.reader().await?)
            .await
        }
        .await;
        let (Ok(ids), Ok(Some((device, chat)))) = (unread, device_and_chat(&state, conversation_id).await) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        if let Err(e) = device.adapter.mark_read(&chat, &ids).await {
            tracing::debug!(%conversation_id, error = %e, "read receipts not sent to WhatsApp");
        }
    });
}

/// Hands over every reply that was committed but not yet given to its adapter.
pub async fn resume_pending(state: &AppState) -> DbResult<usize> {
    let ids: Vec<String> = {
        let mut conn = state.store.reader().await?;
        sqlx::query_scalar(
            "SELECT id FROM messages WHERE kind = 'outbound' AND delivery = 'pending' AND wa_message_id IS NULL ORDER BY created_at",
        )
        .fetch_all(&mut *conn)
        .await?
    };
    for id in &ids {
        if let Ok(id) = Uuid::parse_str(id) {
            send_reply(state, id).await?;
        }
    }
    Ok(ids.len())
}
