//! Privacy: a workspace's retention and offline grace, a contact with every conversation, and
//! what an export holds (`docs/privacy.md`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::ids::{ContactId, ConversationId, DeviceId, MessageId, WorkspaceId};
use crate::{wire, AuditEntry, Conversation, MediaKind, Message};

/// The longest retention period accepted: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// The longest offline grace accepted: a year.
pub const MAX_OFFLINE_GRACE_DAYS: u32 = 365;

wire! {
    /// A workspace's settings, which its Admins change (`GET/PATCH /api/v1/settings`).
    pub struct WorkspaceSettings {
        /// Messages, notes and attachments older than this many days are removed from the server
        /// and from every app's cache; `null` keeps them.
        pub retention_days: Option<u32>,
        /// How many days an app may open from its cache without reaching the server; after that
        /// it asks for the password first.
        pub offline_grace_days: u32,
        /// Each linked number, with a retention period of its own (`null`: the workspace's).
        #[serde(default)]
        pub numbers: Vec<NumberRetention>,
    }
}

wire! {
    /// A linked number's own retention period, in days; `null` follows the workspace's.
    pub struct NumberRetention {
        pub device_id: DeviceId,
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
        pub retention_days: Option<u32>,
    }
}

wire! {
    /// `PATCH /api/v1/settings`: what to change; an absent field stays as it is.
    pub struct PatchSettingsRequest {
        /// 1 to 3650 days, or `null` to keep messages for ever.
        #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 1, maximum = 3650))]
        #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
        pub retention_days: Option<Option<u32>>,
        /// 1 to 365 days.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
        pub offline_grace_days: Option<u32>,
        /// Linked numbers whose own period changes (`null`: back to the workspace's); the others
        /// stay as they are.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub numbers: Vec<NumberRetention>,
    }
}

/// A field that may be `null`: absent is `None`, `null` is `Some(None)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

wire! {
    /// A customer: how they are shown, every address they are known by, and every conversation
    /// with them (`GET /api/v1/contacts/{id}`).
    pub struct ContactDetail {
        pub id: ContactId,
        pub name: Option<String>,
        pub phone: String,
        /// The linked number they wrote to.
        pub device_id: DeviceId,
        /// Every WhatsApp address (JID) that names them: a phone number's and a LID.
        pub aliases: Vec<String>,
        pub conversations: Vec<Conversation>,
    }
}

wire! {
    /// Everything the workspace holds about one contact (`GET /api/v1/contacts/{id}/export`).
    pub struct ContactExport {
        pub exported_at: DateTime<Utc>,
        pub workspace_id: WorkspaceId,
        pub contact: ContactDetail,
        /// Every message and internal note of each conversation, oldest first.
        pub messages: Vec<Message>,
        /// The audit log's entries about their conversations, oldest first.
        pub audit: Vec<AuditEntry>,
        pub attachments: Vec<ExportedAttachment>,
    }
}

wire! {
    /// An attachment a message of theirs carries (the file itself is fetched on demand:
    /// `GET /api/v1/messages/{message_id}/media`).
    pub struct ExportedAttachment {
        pub message_id: MessageId,
        pub conversation_id: ConversationId,
        pub created_at: DateTime<Utc>,
        pub kind: MediaKind,
        pub filename: Option<String>,
        pub mime: Option<String>,
        pub size: Option<u32>,
    }
}

wire! {
    /// `POST /api/v1/users/{id}/wipe`: how many of the person's sessions in the workspace ended;
    /// each app that held one deletes its copy of the workspace at its next contact.
    pub struct Wiped {
        pub sessions: u32,
    }
}

wire! {
    /// `POST /api/v1/contacts/{id}/erase`: what was erased (202: every app removes it at its next sync).
    pub struct Erased {
        pub contact_id: ContactId,
        pub conversations: u32,
        pub messages: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_tells_null_from_absent() {
        let p: PatchSettingsRequest = serde_json::from_str(r#"{"retention_days": null}"#).unwrap();
        assert_eq!(p.retention_days, Some(None));
        let p: PatchSettingsRequest = serde_json::from_str(r#"{"offline_grace_days": 3}"#).unwrap();
        assert_eq!(p.retention_days, None);
        let p: PatchSettingsRequest = serde_json::from_str(r#"{"retention_days": 30}"#).unwrap();
        assert_eq!(p.retention_days, Some(Some(30)));
        // And written back the same way: a field left out is not sent as null.
        let only_grace = PatchSettingsRequest { retention_days: None, offline_grace_days: Some(5), numbers: vec![] };
        assert_eq!(serde_json::to_string(&only_grace).unwrap(), r#"{"offline_grace_days":5}"#);
        let keep = PatchSettingsRequest { retention_days: Some(None), offline_grace_days: None, numbers: vec![] };
        assert_eq!(serde_json::to_string(&keep).unwrap(), r#"{"retention_days":null}"#);
    }
}
