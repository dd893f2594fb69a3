//! What agents do that the customer sees besides replies (those go through [`crate::outbound`]):
//! "typing…" and read receipts, best effort, through the conversation's device adapter.

use handoff_channels::Jid;
use uuid::Uuid;

use crate::store::DbResult;
use crate::AppState;

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
