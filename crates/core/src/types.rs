//! What the core hands to the shell and the UI.

use chrono::{DateTime, Utc};
use handoff_proto::{
    Conversation, ConversationId, DeviceId, ErrorDetail, Message, MessageId, MutationId, TeamId, User, UserId,
};

/// The derives every view type shares.
macro_rules! view {
    ($item:item) => {
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        $item
    };
}
pub(crate) use view;

view! {
    /// Which slice of the shared queue to show.
    #[serde(rename_all = "snake_case")]
    pub enum InboxView {
        /// Assigned to me, neither resolved nor snoozed.
        Mine,
        /// Nobody owns it, neither resolved nor snoozed.
        Unassigned,
        /// Everything.
        All,
        /// A team's conversations, neither resolved nor snoozed (give the team).
        Team,
        /// Conversations with notes that @mention me.
        Mentions,
        Snoozed,
        Resolved,
    }
}

view! {
    /// How many conversations each view holds (for the rail).
    pub struct ViewCounts {
        pub mine: u32,
        pub unassigned: u32,
        pub all: u32,
        pub mentions: u32,
        pub snoozed: u32,
        pub resolved: u32,
        /// (team id, conversations in its queue), for every team with any.
        pub teams: Vec<(TeamId, u32)>,
    }
}

view! {
    /// A message in a thread, with whether it still waits in the outbox.
    pub struct ThreadMessage {
        #[serde(flatten)]
        pub message: Message,
        /// Made here and not yet acknowledged by the server ("sends when online").
        pub queued: bool,
        /// Where this agent saved the attachment, if they downloaded it here.
        #[serde(default)]
        pub saved_to: Option<String>,
    }
}

view! {
    /// A conversation's thread, or its newest part (see [`crate::Client::thread_page`]).
    pub struct Thread {
        pub conversation: Conversation,
        /// Oldest first.
        pub messages: Vec<ThreadMessage>,
        /// Older messages than the first of `messages`, not included.
        #[serde(default)]
        pub earlier: u32,
        /// The note the conversation was escalated with, wherever it is in the thread.
        #[serde(default)]
        pub escalation_note: Option<ThreadMessage>,
        /// When the customer last wrote (WhatsApp's 24-hour reply window runs from it), wherever
        /// it is in the thread.
        #[serde(default)]
        pub last_inbound_at: Option<DateTime<Utc>>,
    }
}

view! {
    /// A change with text that the server refused after it was queued: it waits in the "Needs
    /// attention" list until the agent sends it anyway, edits it or discards it.
    pub struct Attention {
        pub mutation_id: MutationId,
        pub conversation_id: ConversationId,
        /// The contact's name, or number (empty if the conversation is no longer cached).
        pub contact: String,
        /// `reply`, `note` or `escalate`.
        pub op: String,
        /// The text the agent wrote.
        pub body: String,
        /// Why it was refused, with what changed (for `conversation_changed`).
        pub error: ErrorDetail,
        pub refused_at: DateTime<Utc>,
    }
}

view! {
    /// A message that matches a search, with the matching words marked in `snippet` between
    /// U+0002 (start) and U+0003 (end), so the UI can highlight them without parsing HTML.
    pub struct MessageHit {
        pub message_id: MessageId,
        pub conversation_id: ConversationId,
        pub contact_name: Option<String>,
        pub contact_phone: String,
        pub kind: handoff_proto::MessageKind,
        pub snippet: String,
        pub created_at: DateTime<Utc>,
    }
}

view! {
    /// What local search found: conversations whose contact matches, then messages, newest first.
    pub struct SearchResults {
        pub contacts: Vec<Conversation>,
        pub messages: Vec<MessageHit>,
        /// Messages not searchable yet: after a first sync they are indexed in the background,
        /// newest first (0: search covers everything cached).
        #[serde(default)]
        pub not_indexed: u32,
    }
}

view! {
    #[serde(tag = "state", rename_all = "snake_case")]
    pub enum ConnectionState {
        /// Not signed in, or stopped.
        Idle,
        Connecting,
        /// Replaying what happened while away.
        CatchingUp {
            #[cfg_attr(feature = "specta", specta(type = i32))]
            done: i64,
            #[cfg_attr(feature = "specta", specta(type = i32))]
            total: i64,
        },
        Online,
        Offline { since: DateTime<Utc>, reason: String },
        /// The server no longer takes this session: it `expired` (idle or too old), or it was
        /// ended (signed out elsewhere, a password change or reset). Nothing syncs until the
        /// agent signs in again; the cache and the outbox stay, and signing in again as the same
        /// person carries on where they were.
        SignedOut { expired: bool },
        /// An Admin removed this person's access to the workspace (deactivated them, or signed
        /// them out everywhere): this computer's copy of the workspace was deleted, outbox and
        /// drafts included. Signing in again starts afresh.
        AccessRemoved,
    }
}

view! {
    /// Something changed; the UI re-reads what it shows.
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Change {
        /// The queue changed (a conversation was added, moved or updated).
        Inbox,
        /// A conversation's thread or header changed.
        Conversation { conversation_id: ConversationId },
        Connection { state: ConnectionState },
        /// The server refused a change made here; it was rolled back.
        Rejected { mutation_id: MutationId, conversation_id: ConversationId, op: String, error: ErrorDetail, body: Option<String> },
        /// The server could not apply a change now (its own failure): it stays queued and is
        /// sent again with backoff.
        Retrying { mutation_id: MutationId, conversation_id: ConversationId, message: String },
        /// The "Needs attention" list changed.
        Attention,
        /// Users or devices changed.
        Directory,
        /// A teammate @mentioned me in a note (live, not while catching up).
        Mentioned { conversation_id: ConversationId, message_id: MessageId },
        /// A conversation became mine by someone else's hand (`by`: `None` for routing).
        AssignedToMe { conversation_id: ConversationId, by: Option<UserId> },
        /// The customer wrote in a conversation of mine.
        CustomerMessage { conversation_id: ConversationId, message_id: MessageId },
        /// Someone came online, went away or went offline.
        Status { user_id: UserId, status: handoff_proto::PresenceStatus },
        /// Everyone's presence was replaced (a new connection's roster, or the connection dropped).
        Roster,
        /// Someone is viewing or typing somewhere (ephemeral).
        Presence { user_id: UserId, conversation_id: Option<ConversationId>, activity: handoff_proto::Activity },
        /// A linked number that was connected is not any more (live, not while catching up).
        DeviceDown { device_id: DeviceId },
        /// The saved replies this person sees were read again from the server.
        SavedReplies,
        /// The server paused an outbound webhook after a day of failed deliveries (live, not
        /// while catching up): `host` is the endpoint's host.
        WebhookPaused { webhook_id: handoff_proto::WebhookId, host: String },
        /// After a first sync, older messages are being indexed for search: `left` of `total`.
        SearchIndex { left: u32, total: u32 },
    }
}

view! {
    /// Who is signed in where.
    pub struct SessionInfo {
        pub server: String,
        pub user: User,
        /// The connection is TLS (https and wss); false only for loopback and private addresses.
        pub encrypted: bool,
        /// The workspace this client acts in (`None` on a server from before workspaces).
        pub workspace: Option<handoff_proto::Workspace>,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("the server at {0} is not reachable")]
    Unreachable(String),
    /// TLS failed: the server's certificate is not trusted here, or the handshake failed.
    #[error("no secure connection to {server}: {detail}")]
    Tls { server: String, detail: String },
    #[error("{0}")]
    Server(String),
    #[error("not signed in")]
    NotSignedIn,
    /// The session ran out (idle or absolute lifetime): the password carries on.
    #[error("your session expired: enter your password to carry on")]
    SessionExpired,
    /// An Admin removed this person's access to the workspace; the cache was wiped.
    #[error("an Admin removed your access to this workspace; this computer's copy of it was deleted")]
    AccessRemoved,
    /// The app has not been signed in with the server for longer than the workspace allows: the
    /// password first (the cache is kept, closed).
    #[error("this workspace was last open with the server more than {days} days ago: sign in to open it again")]
    OfflineTooLong { days: u32 },
    #[error("{0}")]
    Invalid(String),
    #[error("local cache error: {0}")]
    Cache(#[from] sqlx::Error),
    /// A file could not be written (a download into a full or read-only folder).
    #[error("{0}")]
    Disk(String),
}

impl CoreError {
    /// A short stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::WrongCredentials => "wrong_credentials",
            CoreError::Unreachable(_) => "unreachable",
            CoreError::Tls { .. } => "tls",
            CoreError::Server(_) => "server",
            CoreError::NotSignedIn => "not_signed_in",
            CoreError::SessionExpired => "session_expired",
            CoreError::AccessRemoved => "access_removed",
            CoreError::OfflineTooLong { .. } => "offline_too_long",
            CoreError::Invalid(_) => "invalid",
            CoreError::Cache(_) => "cache",
            CoreError::Disk(_) => "disk",
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
