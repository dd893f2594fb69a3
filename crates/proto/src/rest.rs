//! Bodies of the public HTTP API v1. Field names follow `docs/api.md` and the served OpenAPI document exactly.

use crate::ids::{ContactId, ConversationId, DeviceId, MessageId, MutationId, SessionId, TeamId, UserId, WorkspaceId};
use chrono::{DateTime, Utc};

use crate::{wire, Seq};

wire! {
    /// What a user may do. Enforced by the server on every route and WebSocket frame.
    #[derive(Copy, Eq, Hash)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum Role {
        Admin,
        Agent,
        Viewer,
    }
}

impl Role {
    /// Admins and agents change conversations; viewers only read.
    pub fn can_write(self) -> bool {
        matches!(self, Role::Admin | Role::Agent)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

wire! {
    pub struct User {
        pub id: UserId,
        pub email: String,
        pub name: String,
        pub role: Role,
        pub active: bool,
        /// A person, or the identity an API key acts as. Absent in older answers: a person.
        #[serde(default)]
        pub kind: UserKind,
        /// Signed in with a temporary password (an Admin reset it): until it is changed
        /// (`POST /api/v1/me/password`) the session may do nothing else.
        #[serde(default)]
        pub must_change_password: bool,
    }
}

wire! {
    #[derive(Copy, Eq, Default)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum UserKind {
        #[default]
        Person,
        /// The identity of an API key: it authors what the key does; nobody signs in as it.
        ApiKey,
    }
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Person => "person",
            UserKind::ApiKey => "api_key",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "person" => Some(Self::Person),
            "api_key" => Some(Self::ApiKey),
            _ => None,
        }
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum ConversationStatus {
        Open,
        Pending,
        Snoozed,
        Resolved,
    }
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Pending => "pending",
            ConversationStatus::Snoozed => "snoozed",
            ConversationStatus::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "pending" => Some(Self::Pending),
            "snoozed" => Some(Self::Snoozed),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

wire! {
    /// A customer as seen through one linked device.
    pub struct Contact {
        pub id: ContactId,
        pub name: Option<String>,
        pub phone: String,
    }
}

wire! {
    pub struct Conversation {
        pub id: ConversationId,
        pub device_id: DeviceId,
        pub contact: Contact,
        pub status: ConversationStatus,
        pub assignee_id: Option<UserId>,
        pub team_id: Option<TeamId>,
        /// Bumped by every change; replies carry the version the agent last saw (the send guard).
        #[cfg_attr(feature = "specta", specta(type = i32))] // a TypeScript number
        pub version: i64,
        pub last_message_at: DateTime<Utc>,
        pub last_message_preview: String,
        /// Inbound messages the caller has not read. In WebSocket events it is 0: each client counts its own.
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = i32))] // a TypeScript number
        pub unread_count: i64,
        /// When the current assignee got the conversation (claim or assign).
        #[serde(default)]
        pub assigned_at: Option<DateTime<Utc>>,
        /// Labels, sorted, lower case.
        #[serde(default)]
        pub labels: Vec<String>,
        /// When a snoozed conversation wakes up by itself.
        #[serde(default)]
        pub snooze_until: Option<DateTime<Utc>>,
        /// When the conversation was created or last reopened: SLA clocks start here.
        #[serde(default)]
        pub opened_at: Option<DateTime<Utc>>,
        /// The first reply to the customer since `opened_at`.
        #[serde(default)]
        pub first_response_at: Option<DateTime<Utc>>,
        /// SLA: when the first response is due (from the team's target), if the team has one.
        #[serde(default)]
        pub first_response_due_at: Option<DateTime<Utc>>,
        /// SLA: when resolution is due, if the team has a target.
        #[serde(default)]
        pub resolution_due_at: Option<DateTime<Utc>>,
        /// When it was last resolved (while it stays resolved).
        #[serde(default)]
        pub resolved_at: Option<DateTime<Utc>>,
        /// The note of the latest escalation, shown on top of the thread until it is resolved.
        #[serde(default)]
        pub escalation_note_id: Option<MessageId>,
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum MessageKind {
        Inbound,
        Outbound,
        Note,
        System,
    }
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Inbound => "inbound",
            MessageKind::Outbound => "outbound",
            MessageKind::Note => "note",
            MessageKind::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inbound" => Some(Self::Inbound),
            "outbound" => Some(Self::Outbound),
            "note" => Some(Self::Note),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

wire! {
    /// Delivery state of an outbound message. Only ever moves forward (see [`Delivery::rank`]);
    /// `failed` is terminal.
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum Delivery {
        Pending,
        Sent,
        Delivered,
        Read,
        Failed,
    }
}

impl Delivery {
    /// Order along the happy path; a receipt with a lower rank than the stored state is ignored.
    pub fn rank(self) -> u8 {
        match self {
            Delivery::Pending => 0,
            Delivery::Sent => 1,
            Delivery::Delivered => 2,
            Delivery::Read => 3,
            Delivery::Failed => 4,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Delivered => "delivered",
            Delivery::Read => "read",
            Delivery::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" => Some(Self::Read),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

wire! {
    pub struct Message {
        pub id: MessageId,
        pub conversation_id: ConversationId,
        pub kind: MessageKind,
        pub body: String,
        pub author_id: Option<UserId>,
        pub created_at: DateTime<Utc>,
        pub delivery: Option<Delivery>,
        pub wa_message_id: Option<String>,
        /// The client mutation that created it, so a client can swap its optimistic copy for this one.
        #[serde(default)]
        pub mutation_id: Option<MutationId>,
        /// Why a reply failed (`delivery: failed`), as the device said it.
        #[serde(default)]
        pub failure: Option<String>,
        /// In a group chat, who of its members wrote it (their name, else their number).
        #[serde(default)]
        pub sender: Option<String>,
        /// What the customer attached (the body is then its caption, possibly empty). Boxed: most
        /// messages have none, and events carry messages by value.
        #[serde(default)]
        pub media: Option<Box<Media>>,
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    pub enum MediaKind {
        Image,
        Video,
        Audio,
        Document,
        Sticker,
    }
}

wire! {
    /// An attachment as a typed placeholder: what it is, its name and size. The bytes stay with
    /// WhatsApp (or the gateway) until someone downloads them.
    pub struct Media {
        pub kind: MediaKind,
        #[serde(default)]
        pub filename: Option<String>,
        #[serde(default)]
        pub mime: Option<String>,
        /// Bytes (WhatsApp's own limit, 2 GB, fits).
        #[serde(default)]
        pub size: Option<u32>,
        /// The device can fetch the file on demand: `GET /api/v1/messages/{id}/media`. Where it
        /// fetches it from stays on the server (a gateway's file URL, WhatsApp's media keys).
        #[serde(default)]
        pub downloadable: bool,
    }
}

impl MediaKind {
    /// The kind of a MIME type (`image/jpeg` is an image; anything unknown a document).
    pub fn from_mime(mime: &str) -> MediaKind {
        match mime.split('/').next().unwrap_or_default() {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            _ => MediaKind::Document,
        }
    }
}

/// One page of a list: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

wire! {
    /// The error shape of every non-2xx answer.
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }
}

wire! {
    pub struct ErrorDetail {
        /// snake_case code: `invalid_request`, `unauthenticated`, `forbidden`, `not_found`,
        /// `conversation_changed`, `already_claimed`, `payload_too_large`, `rate_limited`, ...
        pub code: String,
        /// A human sentence that says what happened and what to do.
        pub message: String,
        /// For `invalid_request`: the offending field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub field: Option<String>,
        /// For `conversation_changed`: what changed since the version the caller saw.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub changes: Option<Vec<ConversationChange>>,
        /// For `conversation_changed`: the conversation's current version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        pub version: Option<i64>,
        /// For `already_claimed`: who holds it and since when.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub assignee_id: Option<UserId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub claimed_at: Option<DateTime<Utc>>,
        /// `true` when the server could not apply the request now (its own fault, or too busy):
        /// nothing was changed, and the same request may succeed later, so a client retries it
        /// with backoff. Absent on a refusal (role, send guard, validation), which will not change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub transient: Option<bool>,
    }
}

impl ErrorDetail {
    /// The server could not apply it now; the same request may succeed later ([`ErrorDetail::transient`]).
    pub fn is_transient(&self) -> bool {
        self.transient == Some(true)
    }

    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorDetail {
            code: code.into(),
            message: message.into(),
            field: None,
            changes: None,
            version: None,
            assignee_id: None,
            claimed_at: None,
            transient: None,
        }
    }
}

wire! {
    /// One thing that happened to a conversation after the version an agent saw.
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum ConversationChange {
        /// The customer wrote again.
        InboundMessage { message_id: MessageId, at: DateTime<Utc>, preview: String },
        /// Someone else replied.
        Reply { message_id: MessageId, author_id: Option<UserId>, at: DateTime<Utc>, preview: String },
        /// The conversation changed hands.
        Reassigned { assignee_id: Option<UserId>, by: Option<UserId>, at: DateTime<Utc> },
    }
}

wire! {
    pub struct LoginRequest {
        pub email: String,
        pub password: String,
        /// The workspace the session acts in; the caller's first (the oldest) when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub workspace_id: Option<WorkspaceId>,
    }
}

wire! {
    pub struct LoginResponse {
        pub token: String,
        pub user: User,
        /// The workspace this session acts in (kept with the session).
        pub workspace: Workspace,
        /// Every workspace the caller belongs to, and their role.
        pub workspaces: Vec<WorkspaceEntry>,
    }
}

wire! {
    /// A workspace: one client account of an agency, with its own numbers, people and data.
    pub struct Workspace {
        pub id: WorkspaceId,
        pub name: String,
    }
}

wire! {
    /// A workspace the caller belongs to, and their role there.
    pub struct WorkspaceEntry {
        pub id: WorkspaceId,
        pub name: String,
        pub role: Role,
    }
}

wire! {
    /// `POST /api/v1/workspaces` (the installation's owner): a new, empty workspace, with its
    /// creator as its first Admin.
    pub struct CreateWorkspaceRequest {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
        pub name: String,
    }
}

wire! {
    /// `POST /api/v1/workspaces/{id}/members` (that workspace's Admin, signed in to it): someone
    /// joins the workspace with a role. An email without an account gets one, with a temporary
    /// password to change at the first sign-in.
    pub struct AddMemberRequest {
        #[cfg_attr(feature = "openapi", schema(max_length = 254, pattern = r"^\s*[^\s@]+@[^\s@]+\s*$"))]
        pub email: String,
        pub role: Role,
        /// The new account's name (the email's part before `@` when left out); an existing
        /// account keeps its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
        pub name: Option<String>,
    }
}

wire! {
    /// A member added: who, and for an account created now its temporary password (shown once).
    pub struct AddedMember {
        pub user: User,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub temporary_password: Option<String>,
    }
}

wire! {
    /// `POST /api/v1/me/password`: every other session of the caller ends.
    pub struct ChangePasswordRequest {
        pub current_password: String,
        /// 8 to 256 characters.
        #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
        pub new_password: String,
    }
}

wire! {
    /// `POST /api/v1/users/{id}/reset-password`: shown once; the user must change it at sign-in.
    pub struct ResetPasswordResponse {
        pub temporary_password: String,
    }
}

wire! {
    /// One signed-in session of the caller (`GET /api/v1/me/sessions`).
    pub struct SessionEntry {
        pub id: SessionId,
        pub created_at: DateTime<Utc>,
        pub last_used_at: DateTime<Utc>,
        /// When it ends if nobody uses it (idle timeout), or at its absolute end, whichever is first.
        pub expires_at: DateTime<Utc>,
        /// The client's own description (its User-Agent: `Handoff-Desktop/0.1.0 (linux)`).
        pub client: Option<String>,
        /// The address it signed in from.
        pub address: Option<String>,
        /// The session making this request.
        pub current: bool,
    }
}

wire! {
    pub struct CreateUserRequest {
        #[cfg_attr(feature = "openapi", schema(max_length = 254, pattern = r"^\s*[^\s@]+@[^\s@]+\s*$"))]
        pub email: String,
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
        pub name: String,
        /// 8 to 256 characters.
        #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
        pub password: String,
        pub role: Role,
    }
}

wire! {
    pub struct PatchUserRequest {
        #[serde(default)]
        pub role: Option<Role>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
        pub name: Option<String>,
        #[serde(default)]
        pub active: Option<bool>,
    }
}

wire! {
    pub struct ReplyRequest {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536, pattern = r"\S"))]
        pub body: String,
        pub seen_version: i64,
        #[serde(default)]
        pub force: bool,
    }
}

wire! {
    pub struct NoteRequest {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536, pattern = r"\S"))]
        pub body: String,
    }
}

wire! {
    /// `team_id` absent keeps the conversation's team; `assignee_id: null` leaves it unowned.
    pub struct AssignRequest {
        pub assignee_id: Option<UserId>,
        #[serde(default)]
        pub team_id: Option<TeamId>,
    }
}

wire! {
    /// Hand the conversation to a team's queue with an internal note for whoever picks it up.
    pub struct EscalateRequest {
        pub team_id: TeamId,
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 65536, pattern = r"\S"))]
        pub note: String,
    }
}

wire! {
    pub struct LabelsRequest {
        #[serde(default)]
        pub add: Vec<String>,
        #[serde(default)]
        pub remove: Vec<String>,
    }
}

wire! {
    pub struct StatusRequest {
        pub status: ConversationStatus,
        #[serde(default)]
        pub snooze_until: Option<DateTime<Utc>>,
    }
}

wire! {
    pub struct SyncResponse {
        pub events: Vec<crate::Event>,
        pub head_seq: Seq,
    }
}

wire! {
    pub struct Health {
        pub status: String,
    }
}

wire! {
    /// `GET /readyz`: whether this server can serve (its database answers), and which linked
    /// numbers are down (they do not make it unready: everything else works).
    pub struct Readiness {
        /// `ready`, or `unavailable` (with status 503).
        pub status: String,
        /// `ok`, or what went wrong with the database.
        pub database: String,
        /// Linked numbers that are disconnected, failed, logged out or banned (no phone numbers:
        /// this answer needs no sign-in).
        pub devices_down: Vec<DeviceDown>,
    }
}

wire! {
    /// A linked number that is down, as `/readyz` names it.
    pub struct DeviceDown {
        pub id: DeviceId,
        pub name: String,
        pub status: crate::DeviceStatus,
    }
}
