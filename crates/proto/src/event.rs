//! Durable events: every change the server commits takes the next `seq` and becomes one of these.
//! Clients apply them in order to their cache; applying the same event twice changes nothing
//! (every body carries the full new state of what it touches).

use crate::ids::{ContactId, ConversationId, DeviceId, MessageId, UserId, WebhookId};
use chrono::{DateTime, Utc};

use crate::{wire, Conversation, Device, Message, Seq, Team, User};

wire! {
    /// `{seq, type, at, ...}`: one entry of the event log.
    pub struct Event {
        pub seq: Seq,
        pub at: DateTime<Utc>,
        #[serde(flatten)]
        pub body: EventBody,
    }
}

wire! {
    #[serde(tag = "type")]
    pub enum EventBody {
        /// A message was stored (inbound, outbound, note or system), with its conversation's new state.
        #[serde(rename = "message.created")]
        MessageCreated { message: Message, conversation: Conversation },
        /// A stored message changed (delivery receipts).
        #[serde(rename = "message.updated")]
        MessageUpdated { message: Message },
        /// A conversation changed (claim, assignment, status).
        #[serde(rename = "conversation.updated")]
        ConversationUpdated { conversation: Conversation, actor_id: Option<UserId>, cause: UpdateCause },
        /// A user read a conversation up to `read_at`. Only that user's clients act on it.
        #[serde(rename = "conversation.read")]
        ConversationRead { conversation_id: ConversationId, user_id: UserId, read_at: DateTime<Utc> },
        #[serde(rename = "device.updated")]
        DeviceUpdated { device: Device },
        #[serde(rename = "device.removed")]
        DeviceRemoved { device_id: DeviceId },
        #[serde(rename = "user.updated")]
        UserUpdated { user: User },
        /// A team was created or changed (name, members, cap, SLA targets).
        #[serde(rename = "team.updated")]
        TeamUpdated { team: Team },
        /// `user_id` was @mentioned in a note (`message_id`) by `by`.
        #[serde(rename = "mention")]
        Mention { conversation_id: ConversationId, message_id: MessageId, user_id: UserId, by: Option<UserId> },
        /// Two conversations turned out to be one customer's (a LID and a phone number): the
        /// messages of `from` now belong to `conversation`, and `from` is gone.
        #[serde(rename = "conversation.merged")]
        ConversationMerged { from: ConversationId, conversation: Conversation },
        /// An Admin erased a contact: its conversations, their messages and notes are gone, and
        /// every earlier event about them is now `redacted`. A client deletes all it holds about
        /// them (rows, search entries, drafts, queued changes).
        #[serde(rename = "contact.erased")]
        ContactErased { contact_id: ContactId, conversation_ids: Vec<ConversationId> },
        /// The retention period removed every message and note older than `before` (in the
        /// conversations of `device_id` when set, else of every linked number); a client drops the
        /// same, and the previews of conversations whose last message went with them.
        #[serde(rename = "messages.purged")]
        MessagesPurged { before: DateTime<Utc>, device_id: Option<DeviceId> },
        /// Saved replies changed: the workspace's library (`owner_id` null) or one person's own
        /// (only that person's apps read them again). No text travels in the log.
        #[serde(rename = "saved_replies.changed")]
        SavedRepliesChanged { owner_id: Option<UserId> },
        /// Every delivery to a webhook endpoint failed for a day: it is paused until an Admin
        /// resumes it. `host` is the endpoint's host name (the rest of its address may hold a
        /// secret, and every member hears this event); the app tells its Admins.
        #[serde(rename = "webhook.paused")]
        WebhookPaused { webhook_id: WebhookId, host: String },
        /// An event whose content was removed (an erasure, the retention period). It keeps its
        /// `seq`, so a catch-up still sees every number; there is nothing to apply.
        #[serde(rename = "redacted")]
        Redacted,
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    pub enum UpdateCause {
        Claimed,
        Assigned,
        Status,
        /// Handed to a team's queue with a note.
        Escalated,
        /// Assigned by a routing rule or handed out from a team queue.
        Routed,
        Labels,
        /// A snoozed conversation woke up by itself.
        Woke,
        /// Recomputed by the server (a team's SLA targets changed).
        Refreshed,
    }
}

impl EventBody {
    /// The `type` tag, as stored in the log.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::MessageCreated { .. } => "message.created",
            EventBody::MessageUpdated { .. } => "message.updated",
            EventBody::ConversationUpdated { .. } => "conversation.updated",
            EventBody::ConversationRead { .. } => "conversation.read",
            EventBody::DeviceUpdated { .. } => "device.updated",
            EventBody::DeviceRemoved { .. } => "device.removed",
            EventBody::UserUpdated { .. } => "user.updated",
            EventBody::TeamUpdated { .. } => "team.updated",
            EventBody::Mention { .. } => "mention",
            EventBody::ConversationMerged { .. } => "conversation.merged",
            EventBody::ContactErased { .. } => "contact.erased",
            EventBody::MessagesPurged { .. } => "messages.purged",
            EventBody::WebhookPaused { .. } => "webhook.paused",
            EventBody::SavedRepliesChanged { .. } => "saved_replies.changed",
            EventBody::Redacted => "redacted",
        }
    }

    /// The conversation this event belongs to, if any.
    pub fn conversation_id(&self) -> Option<ConversationId> {
        match self {
            EventBody::MessageCreated { conversation, .. } => Some(conversation.id),
            EventBody::MessageUpdated { message } => Some(message.conversation_id),
            EventBody::ConversationUpdated { conversation, .. }
            | EventBody::ConversationMerged { conversation, .. } => Some(conversation.id),
            EventBody::ConversationRead { conversation_id, .. } | EventBody::Mention { conversation_id, .. } => {
                Some(*conversation_id)
            }
            _ => None,
        }
    }
}
