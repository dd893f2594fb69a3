//! WebSocket frames between the server (`GET /api/v1/ws`) and the desktop core.
//!
//! Every frame is one JSON text message tagged by `t`. The client opens with
//! `hello{protocol, last_seq}`; the server answers `welcome{epoch, head_seq}`, replays every event
//! after `last_seq` in order, then streams live ones. A client whose protocol the server does not
//! speak gets `error{code: "unsupported_protocol"}` and the connection closes.

use crate::ids::{ConversationId, MessageId, MutationId, TeamId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{wire, ActivityEntry, ConversationStatus, Event, PresenceStatus, Seq, User, UserStatus};

/// The WebSocket protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;

wire! {
    #[serde(tag = "t", rename_all = "snake_case")]
    pub enum ClientFrame {
        Hello { protocol: u32, last_seq: Seq },
        /// A change. `mutation_id` (UUIDv7, client-made) makes it apply at most once.
        Mutate { mutation_id: MutationId, op: Op },
        /// Ephemeral: what this agent is doing now. Fanned out, never stored.
        Presence { conversation_id: Option<ConversationId>, activity: Activity },
        /// This connection is away (idle, app in the background) or back (`online`).
        Status { status: PresenceStatus },
        Ping { nonce: u64 },
    }
}

impl ClientFrame {
    /// A client's text frame, as the server reads it (fuzzed: `fuzz/fuzz_targets/client_frame.rs`).
    pub fn decode(text: &str) -> Result<ClientFrame, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

wire! {
    #[serde(tag = "t", rename_all = "snake_case")]
    pub enum ServerFrame {
        /// `epoch` identifies this database's history: a new epoch means the client must resync
        /// fully. So does a `last_seq` below `floor` (above 0): the log no longer holds an
        /// erasure that client missed, so it drops what it cached and syncs from 0.
        Welcome {
            protocol: u32,
            epoch: Uuid,
            head_seq: Seq,
            user: User,
            #[serde(default)]
            floor: Seq,
            /// How many days the app may open from its cache without reaching the server (the
            /// workspace's setting); after that it asks for the password first.
            #[serde(default)]
            offline_grace_days: Option<u32>,
        },
        Event(Box<Event>),
        /// The mutation was applied (or had been applied before); `seq` is the event it produced.
        Ack { mutation_id: MutationId, seq: Option<Seq> },
        /// The mutation was refused; `error` has the HTTP API's error shape.
        Reject { mutation_id: MutationId, error: crate::ErrorDetail },
        Presence {
            user_id: UserId,
            conversation_id: Option<ConversationId>,
            activity: Activity,
            at: DateTime<Utc>,
            /// When a composing activity lapses unless renewed.
            #[serde(default)]
            expires_at: Option<DateTime<Utc>>,
        },
        /// Someone came online, went away, or went offline (after the grace period).
        Status { user_id: UserId, status: PresenceStatus, at: DateTime<Utc> },
        /// Right after `welcome`: everyone's status and activity now. A different `boot` than the
        /// last one means the server restarted: drop what was known before.
        Roster { boot: Uuid, statuses: Vec<UserStatus>, activities: Vec<ActivityEntry> },
        Pong { nonce: u64 },
        /// Fatal: the server closes the connection after it.
        Error { code: String, message: String },
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    pub enum Activity {
        Viewing,
        ComposingReply,
        ComposingNote,
        Idle,
    }
}

wire! {
    /// A change a client asks for over the WebSocket; the same rules as the HTTP routes apply.
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum Op {
        Reply { conversation_id: ConversationId, body: String, seen_version: i64, #[serde(default)] force: bool },
        Note { conversation_id: ConversationId, body: String },
        Claim { conversation_id: ConversationId },
        /// `team_id` absent keeps the conversation's team.
        Assign { conversation_id: ConversationId, assignee_id: Option<UserId>, #[serde(default)] team_id: Option<TeamId> },
        /// To a team's queue, with a required note (which may @mention teammates).
        Escalate { conversation_id: ConversationId, team_id: TeamId, note: String },
        Label { conversation_id: ConversationId, #[serde(default)] add: Vec<String>, #[serde(default)] remove: Vec<String> },
        SetStatus { conversation_id: ConversationId, status: ConversationStatus, #[serde(default)] snooze_until: Option<DateTime<Utc>> },
        MarkRead { conversation_id: ConversationId },
        /// Send a failed reply again (it goes back to `pending`).
        Retry { conversation_id: ConversationId, message_id: MessageId },
    }
}

impl Op {
    /// The op's tag (`reply`, `claim`, ...), as the audit log names the action.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Reply { .. } => "reply",
            Op::Note { .. } => "note",
            Op::Claim { .. } => "claim",
            Op::Assign { .. } => "assign",
            Op::Escalate { .. } => "escalate",
            Op::Label { .. } => "label",
            Op::SetStatus { .. } => "set_status",
            Op::MarkRead { .. } => "mark_read",
            Op::Retry { .. } => "retry",
        }
    }

    pub fn conversation_id(&self) -> ConversationId {
        match self {
            Op::Reply { conversation_id, .. }
            | Op::Note { conversation_id, .. }
            | Op::Claim { conversation_id }
            | Op::Assign { conversation_id, .. }
            | Op::Escalate { conversation_id, .. }
            | Op::Label { conversation_id, .. }
            | Op::SetStatus { conversation_id, .. }
            | Op::MarkRead { conversation_id }
            | Op::Retry { conversation_id, .. } => *conversation_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    #[test]
    fn hello_is_tagged() {
        let f = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq: 7 };
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"t":"hello","protocol":2,"last_seq":7}"#);
    }

    #[test]
    fn event_frame_round_trips_with_flat_shape() {
        let ev = Event {
            seq: 3,
            at: Utc::now(),
            body: EventBody::ConversationRead {
                conversation_id: ConversationId::nil(),
                user_id: UserId::nil(),
                read_at: Utc::now(),
            },
        };
        let json = serde_json::to_value(ServerFrame::Event(Box::new(ev.clone()))).unwrap();
        assert_eq!(json["t"], "event");
        assert_eq!(json["seq"], 3);
        assert_eq!(json["type"], "conversation.read");
        let back: ServerFrame = serde_json::from_value(json).unwrap();
        assert_eq!(back, ServerFrame::Event(Box::new(ev)));
    }

    #[test]
    fn mutate_op_is_tagged() {
        let id = MutationId::new();
        let f = ClientFrame::Mutate { mutation_id: id, op: Op::Claim { conversation_id: ConversationId::nil() } };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["op"]["op"], "claim");
        assert_eq!(serde_json::from_value::<ClientFrame>(json).unwrap(), f);
    }

    #[test]
    fn delivery_only_moves_forward_by_rank() {
        assert!(Delivery::Read.rank() > Delivery::Delivered.rank());
        assert!(Delivery::Delivered.rank() > Delivery::Sent.rank());
        assert!(Delivery::Sent.rank() > Delivery::Pending.rank());
    }
}
