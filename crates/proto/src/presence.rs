//! Ephemeral presence: who is online, away or offline, and who is viewing or writing in which
//! conversation. Never stored; the server keeps it in memory and a restart starts it afresh
//! (`boot` changes, and clients drop what they knew).

use crate::ids::{ConversationId, UserId};
use chrono::{DateTime, Utc};

use crate::{wire, Activity};

/// A "composing" activity lasts this long unless renewed (clients renew it while typing).
pub const TYPING_TTL_SECS: i64 = 8;

wire! {
    #[derive(Copy, Eq, Hash)]
    #[serde(rename_all = "snake_case")]
    pub enum PresenceStatus {
        /// At least one live connection, not away.
        Online,
        /// Connected, but idle or with the app in the background.
        Away,
        /// No connection for longer than the grace period.
        Offline,
    }
}

wire! {
    pub struct UserStatus {
        pub user_id: UserId,
        pub status: PresenceStatus,
        pub since: DateTime<Utc>,
    }
}

wire! {
    /// Someone viewing or writing in a conversation now.
    pub struct ActivityEntry {
        pub user_id: UserId,
        pub conversation_id: ConversationId,
        pub activity: Activity,
        pub at: DateTime<Utc>,
        /// When it lapses unless renewed (composing); `None` while the connection lasts (viewing).
        pub expires_at: Option<DateTime<Utc>>,
    }
}
