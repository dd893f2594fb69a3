//! Typed ids: one type per kind of thing, so a message id passed where a conversation id belongs
//! is a compile error rather than a query that finds nothing.
//!
//! Each id is a UUID underneath (v7 for what the server makes: time-ordered). On the wire and in
//! the TypeScript bindings it is the UUID's hyphenated text; in the OpenAPI document a string of
//! format `uuid`. In the server's store (feature `sqlx`) it is stored as that same text on every
//! backend, so one query text serves SQLite and PostgreSQL and text order is creation order.
//!
//! ```compile_fail
//! use handoff_proto::{ConversationId, MessageId};
//! fn open(_conversation: ConversationId) {}
//! open(MessageId::new()); // a message's id is not a conversation's
//! ```

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        pub struct $name(pub Uuid);

        // No `Default`: neither a random id nor the nil one is a sensible default for an id.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// A new, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The nil id (all zeros): a placeholder in tests and examples, never a stored row's id.
            pub const fn nil() -> Self {
                Self(Uuid::nil())
            }

            /// Reads an id from its text (any form the `uuid` crate reads).
            pub fn parse_str(s: &str) -> Result<Self, uuid::Error> {
                Uuid::parse_str(s).map(Self)
            }

            /// The UUID underneath.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_str(s)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode(self.0.hyphenated().to_string(), buf)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|e| format!("a stored {} is not a UUID ({text:?}): {e}", stringify!($name)).into())
            }
        }
    )*};
}

ids! {
    /// A person or a bot with an account: an Admin, an Agent, a Viewer, an integration.
    UserId;
    /// A team that conversations are routed and escalated to.
    TeamId;
    /// A linked WhatsApp number (a device: the simulator, a WAHA session, WhatsApp Web).
    DeviceId;
    /// A customer, as one linked number knows them.
    ContactId;
    /// A conversation with a customer through one linked number.
    ConversationId;
    /// A message in a conversation: the customer's, a reply, an internal note, a system line.
    MessageId;
    /// A routing rule.
    RuleId;
    /// An API key (its id, never its secret).
    ApiKeyId;
    /// A signed-in session (an app, a browser).
    SessionId;
    /// A client's id for one change it asks for: the server applies each once.
    MutationId;
    /// A workspace: one client account of an agency, with its own numbers, people and data.
    WorkspaceId;
    /// An endpoint an Admin registered for outbound webhooks.
    WebhookId;
    /// One event's delivery to one webhook endpoint (the same id at every attempt).
    DeliveryId;
    /// A saved reply (the workspace's library, or someone's own).
    SavedReplyId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_uuid_text_on_the_wire() {
        let id = ConversationId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.uuid().hyphenated()));
        assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<ConversationId>().unwrap(), id);
        assert!(serde_json::from_str::<ConversationId>("\"not-a-uuid\"").is_err());
    }

    #[test]
    fn new_ids_sort_in_creation_order_as_text() {
        let a = MessageId::new();
        let b = MessageId::new();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
