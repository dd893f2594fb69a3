//! Which webhook event an event of the log is, and what its delivery posts.

use handoff_proto::{
    ConversationId, ConversationStatus, DeliveryId, DeviceStatus, Event, EventBody, MessageKind, UpdateCause,
    WebhookEvent, WebhookPayload, WorkspaceId,
};
use serde_json::json;

/// An event of the log as a webhook event: its type, the conversation it belongs to (one
/// conversation's deliveries arrive in order), and its `data`. `None` for what no webhook is
/// about (reads, presence of teams, a system line, a redacted event).
pub fn of(event: &Event) -> Option<(WebhookEvent, Option<ConversationId>, serde_json::Value)> {
    let conversation_id = event.body.conversation_id();
    let (kind, data) = match &event.body {
        EventBody::MessageCreated { message, conversation } => {
            let kind = match message.kind {
                MessageKind::Inbound => WebhookEvent::MessageReceived,
                MessageKind::Outbound => WebhookEvent::MessageSent,
                MessageKind::Note => WebhookEvent::NoteCreated,
                MessageKind::System => return None,
            };
            (kind, json!({ "message": message, "conversation": conversation }))
        }
        // A receipt moved a reply on (sent, delivered, read, failed).
        EventBody::MessageUpdated { message }
            if message.kind == MessageKind::Outbound && message.delivery.is_some() =>
        {
            (WebhookEvent::MessageDelivery, json!({ "message": message }))
        }
        EventBody::ConversationUpdated { conversation, actor_id, cause } => {
            let kind = match cause {
                UpdateCause::Claimed | UpdateCause::Assigned | UpdateCause::Routed => {
                    WebhookEvent::ConversationAssigned
                }
                UpdateCause::Escalated => WebhookEvent::ConversationEscalated,
                UpdateCause::Status if conversation.status == ConversationStatus::Resolved => {
                    WebhookEvent::ConversationResolved
                }
                _ => return None,
            };
            (kind, json!({ "conversation": conversation, "actor_id": actor_id }))
        }
        // The log has a device's event only when its state changed (`inbound::connection`).
        EventBody::DeviceUpdated { device }
            if matches!(
                device.status,
                DeviceStatus::Disconnected | DeviceStatus::Failed | DeviceStatus::LoggedOut | DeviceStatus::Banned
            ) =>
        {
            (WebhookEvent::DeviceDown, json!({ "device": device }))
        }
        _ => return None,
    };
    Some((kind, conversation_id, data))
}

/// The JSON a delivery posts, the same bytes at every attempt.
pub fn body(id: DeliveryId, kind: WebhookEvent, event: &Event, ws: WorkspaceId, data: serde_json::Value) -> String {
    let payload = WebhookPayload { id, event_type: kind, at: event.at, workspace_id: ws, data };
    serde_json::to_string(&payload).expect("a payload serialises")
}
