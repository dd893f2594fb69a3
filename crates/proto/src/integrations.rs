//! Integrations: outbound webhooks (`docs/api.md`, "Webhooks").

use chrono::{DateTime, Utc};

use crate::ids::{ConversationId, DeliveryId, SavedReplyId, TeamId, UserId, WebhookId, WorkspaceId};
use crate::wire;

wire! {
    /// What a webhook endpoint can be sent. New types may be added; an endpoint receives only
    /// those it asked for.
    #[derive(Copy, Eq, Hash)]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text"))]
    pub enum WebhookEvent {
        /// A customer's message arrived. `data`: `{message, conversation}`.
        #[serde(rename = "message.received")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "message.received"))]
        MessageReceived,
        /// A reply was stored and handed to the linked number to send. `data`: `{message,
        /// conversation}`.
        #[serde(rename = "message.sent")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "message.sent"))]
        MessageSent,
        /// A reply's delivery state changed (sent, delivered, read, failed). `data`: `{message}`.
        #[serde(rename = "message.delivery")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "message.delivery"))]
        MessageDelivery,
        /// Claimed, assigned, unassigned or routed. `data`: `{conversation, actor_id}`.
        #[serde(rename = "conversation.assigned")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "conversation.assigned"))]
        ConversationAssigned,
        /// Handed to a team with a note. `data`: `{conversation, actor_id}`.
        #[serde(rename = "conversation.escalated")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "conversation.escalated"))]
        ConversationEscalated,
        /// Marked resolved. `data`: `{conversation, actor_id}`.
        #[serde(rename = "conversation.resolved")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "conversation.resolved"))]
        ConversationResolved,
        /// An internal note was added. `data`: `{message, conversation}`.
        #[serde(rename = "note.created")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "note.created"))]
        NoteCreated,
        /// A linked number went down (disconnected, logged out, banned, failed). `data`: `{device}`.
        #[serde(rename = "device.down")]
        #[cfg_attr(feature = "sqlx", sqlx(rename = "device.down"))]
        DeviceDown,
    }
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::MessageReceived,
        WebhookEvent::MessageSent,
        WebhookEvent::MessageDelivery,
        WebhookEvent::ConversationAssigned,
        WebhookEvent::ConversationEscalated,
        WebhookEvent::ConversationResolved,
        WebhookEvent::NoteCreated,
        WebhookEvent::DeviceDown,
    ];

    /// The `type` on the wire: `message.received`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::MessageReceived => "message.received",
            WebhookEvent::MessageSent => "message.sent",
            WebhookEvent::MessageDelivery => "message.delivery",
            WebhookEvent::ConversationAssigned => "conversation.assigned",
            WebhookEvent::ConversationEscalated => "conversation.escalated",
            WebhookEvent::ConversationResolved => "conversation.resolved",
            WebhookEvent::NoteCreated => "note.created",
            WebhookEvent::DeviceDown => "device.down",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum WebhookStatus {
        /// Deliveries go out.
        Active,
        /// Nothing is sent: an Admin paused it, or every attempt failed for a day. Events that
        /// happen while it is paused are not delivered later (`GET /api/v1/sync` has them).
        Paused,
    }
}

wire! {
    /// A registered endpoint, as listed: never its secret.
    pub struct Webhook {
        pub id: WebhookId,
        pub url: String,
        pub events: Vec<WebhookEvent>,
        pub status: WebhookStatus,
        /// Since when every attempt has failed; `null` once one succeeds.
        pub failing_since: Option<DateTime<Utc>>,
        pub paused_at: Option<DateTime<Utc>>,
        pub created_by: UserId,
        pub created_at: DateTime<Utc>,
    }
}

wire! {
    /// The answer to registering an endpoint: the endpoint, and `secret`, shown this once.
    pub struct CreatedWebhook {
        #[serde(flatten)]
        pub webhook: Webhook,
        /// The key each delivery is signed with (`Handoff-Signature`).
        pub secret: String,
    }
}

wire! {
    /// `POST /api/v1/webhooks`.
    pub struct CreateWebhookRequest {
        /// `https://…` (or `http://…`); the server posts each delivery here.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
        pub url: String,
        /// At least one.
        #[cfg_attr(feature = "openapi", schema(min_items = 1))]
        pub events: Vec<WebhookEvent>,
    }
}

wire! {
    /// `PATCH /api/v1/webhooks/{id}`: what is given changes. `status: "active"` resumes a
    /// paused endpoint (its pending deliveries go out again), `"paused"` pauses it.
    #[derive(Default)]
    pub struct PatchWebhookRequest {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
        pub url: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_items = 1))]
        pub events: Option<Vec<WebhookEvent>>,
        #[serde(default)]
        pub status: Option<WebhookStatus>,
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum DeliveryStatus {
        /// Not delivered yet: the next attempt is due at `next_attempt_at`.
        Pending,
        /// The endpoint answered 2xx.
        Delivered,
        /// Every attempt for 24 hours failed; "send again" tries once more.
        Failed,
    }
}

wire! {
    /// One event's delivery to one endpoint, with its latest attempt (the delivery log).
    pub struct WebhookDelivery {
        pub id: DeliveryId,
        pub webhook_id: WebhookId,
        #[serde(rename = "type")]
        pub event_type: WebhookEvent,
        /// The event log's `seq` it came from.
        #[cfg_attr(feature = "specta", specta(type = f64))] // a TypeScript number
        pub seq: i64,
        pub conversation_id: Option<ConversationId>,
        pub status: DeliveryStatus,
        pub attempts: u32,
        pub created_at: DateTime<Utc>,
        pub next_attempt_at: Option<DateTime<Utc>>,
        pub last_attempt_at: Option<DateTime<Utc>>,
        /// The HTTP status of the latest answer; `null` when none came (refused, timed out).
        pub status_code: Option<u16>,
        pub latency_ms: Option<u32>,
        /// Why the latest attempt failed, in words.
        pub error: Option<String>,
        /// The first bytes (at most 512) of the latest answer's body.
        pub response: Option<String>,
        pub delivered_at: Option<DateTime<Utc>>,
        /// The JSON posted (the same bytes at every attempt).
        pub body: String,
    }
}

// Not in the app's bindings (no `wire!`): only the server writes it, only integrations read it.
/// What each delivery posts: `{id, type, at, workspace_id, data}`. `id` is the delivery's:
/// a receiver that sees the same id twice has already handled it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookPayload {
    pub id: DeliveryId,
    #[serde(rename = "type")]
    pub event_type: WebhookEvent,
    /// When the event happened.
    pub at: DateTime<Utc>,
    pub workspace_id: WorkspaceId,
    pub data: serde_json::Value,
}

/// The longest shortcut: `/` and at most 32 letters, digits, `-` or `_`.
pub const MAX_SHORTCUT_CHARS: usize = 32;
/// The longest saved reply.
pub const MAX_SAVED_REPLY_CHARS: usize = 4096;

wire! {
    /// A saved reply: typed as `/shortcut` in the composer, its body put in with its variables
    /// filled in (`{{contact.first_name}}`, `{{contact.name}}`, `{{agent.first_name}}`,
    /// `{{agent.name}}`).
    pub struct SavedReply {
        pub id: SavedReplyId,
        /// Without its `/`: lower-case letters, digits, `-` and `_`.
        pub shortcut: String,
        pub body: String,
        /// The workspace's library: the team it is for, if any (a label: everyone sees it).
        pub team_id: Option<TeamId>,
        /// Someone's own (only they see and change it); `null` for the workspace's library.
        pub owner_id: Option<UserId>,
        pub created_by: UserId,
        pub updated_at: DateTime<Utc>,
    }
}

wire! {
    /// `POST /api/v1/saved-replies`.
    pub struct CreateSavedReplyRequest {
        /// `thanks` or `/thanks` (stored without the `/`, in lower case).
        #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*/*[A-Za-z0-9_-]{1,32}\s*$"))]
        pub shortcut: String,
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4096, pattern = r"\S"))]
        pub body: String,
        /// In the workspace's library, for this team.
        #[serde(default)]
        pub team_id: Option<TeamId>,
        /// Yours only (`true`), or the workspace's library (`false`: Admins). Unset: the
        /// library for an Admin, yours for anyone else.
        #[serde(default)]
        pub personal: Option<bool>,
    }
}

wire! {
    /// `PATCH /api/v1/saved-replies/{id}`: what is given changes.
    #[derive(Default)]
    pub struct PatchSavedReplyRequest {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*/*[A-Za-z0-9_-]{1,32}\s*$"))]
        pub shortcut: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4096, pattern = r"\S"))]
        pub body: Option<String>,
    }
}
