//! The send guard: what happened to a conversation after the version an agent last saw that
//! should stop a reply going out blind.
//!
//! Counted: a new customer message, a reply by someone else (an agent, or the phone itself), and a
//! change of hands made by someone else. Not counted: notes, read markers, status changes and
//! receipts: they do not make a reply wrong.

use handoff_proto::{ConversationChange, ConversationId, EventBody, MessageKind, UpdateCause, UserId, WorkspaceId};

use crate::store::{self, DbResult};

pub async fn changes_since(
    conn: &mut store::Conn,
    ws: WorkspaceId,
    conversation_id: ConversationId,
    seen_version: i64,
    actor: UserId,
) -> DbResult<Vec<ConversationChange>> {
    let mut changes = Vec::new();
    for body in crate::store::events::of_conversation_since(conn, ws, conversation_id, seen_version).await? {
        if let Some(change) = relevant(&body, actor) {
            changes.push(change);
        }
    }
    Ok(changes)
}

fn relevant(body: &EventBody, actor: UserId) -> Option<ConversationChange> {
    match body {
        EventBody::MessageCreated { message, .. } => match message.kind {
            MessageKind::Inbound => Some(ConversationChange::InboundMessage {
                message_id: message.id,
                at: message.created_at,
                preview: crate::inbound::preview(&message.body),
            }),
            MessageKind::Outbound if message.author_id != Some(actor) => Some(ConversationChange::Reply {
                message_id: message.id,
                author_id: message.author_id,
                at: message.created_at,
                preview: crate::inbound::preview(&message.body),
            }),
            _ => None,
        },
        EventBody::ConversationUpdated {
            conversation,
            actor_id,
            cause: UpdateCause::Claimed | UpdateCause::Assigned,
        } if *actor_id != Some(actor) => Some(ConversationChange::Reassigned {
            assignee_id: conversation.assignee_id,
            by: *actor_id,
            at: conversation.assigned_at.unwrap_or(conversation.last_message_at),
        }),
        _ => None,
    }
}
