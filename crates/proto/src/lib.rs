//! handoff-proto: the one definition of every type that crosses the wire.
//!
//! * [`rest`] holds the JSON bodies of the public HTTP API (see `docs/api.md`).
//! * [`event`] holds the durable events of the server's log (`GET /api/v1/sync`, WebSocket replay).
//! * [`ws`] holds the WebSocket frames between the server and the desktop core.
//!
//! Rules: changes are additive; a retired tag is never reused; every WebSocket
//! connection states [`ws::PROTOCOL_VERSION`] in its hello.

pub mod admin;
pub mod csv;
pub mod devices;
pub mod event;
pub mod ids;
pub mod integrations;
pub mod presence;
pub mod privacy;
pub mod rest;
pub mod ws;

pub use admin::*;
pub use devices::*;
pub use event::{Event, EventBody, UpdateCause};
pub use ids::{
    ApiKeyId, ContactId, ConversationId, DeliveryId, DeviceId, MessageId, MutationId, RuleId, SavedReplyId, SessionId,
    TeamId, UserId, WebhookId, WorkspaceId,
};
pub use integrations::*;
pub use presence::{ActivityEntry, PresenceStatus, UserStatus, TYPING_TTL_SECS};
pub use privacy::*;
pub use rest::*;
pub use ws::{Activity, ClientFrame, Op, ServerFrame, PROTOCOL_VERSION};

/// A position in the server's event log. Strictly increasing, starting at 1.
pub type Seq = i64;

/// Derives shared by every wire type: serde both ways, plus the optional schema generators.
#[doc(hidden)]
#[macro_export]
macro_rules! wire {
    ($item:item) => {
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        $item
    };
}

/// Fixed-width RFC 3339 UTC text with microseconds (`2026-11-25T12:00:00.000000Z`). Both the
/// server's store and the desktop cache keep times this way, so text order is time order.
pub fn sortable_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The status enums are stored as text by their wire names (the `sqlx::Type` derive on each).
/// The derive knows each database's driver but not sqlx's Any driver (its Encode is generic and
/// serves the Any driver as it is; Type and Decode are written here), through which the server's
/// store runs one query text on SQLite and PostgreSQL: there they are text too.
#[cfg(feature = "sqlx")]
macro_rules! text_on_any_driver {
    ($($name:ty),* $(,)?) => {$(
        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <str as sqlx::Type<sqlx::Any>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        // Read by the same names serde gives them on the wire (the derive's names for SQLite,
        // which a test of the store compares variant by variant).
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                use serde::de::value::{Error, StrDeserializer};
                let text = <&'r str as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                <$name as serde::Deserialize>::deserialize(StrDeserializer::<Error>::new(text))
                    .map_err(|_| format!("a stored {} is not one this server knows: {text:?}", stringify!($name)).into())
            }
        }
    )*};
}

#[cfg(feature = "sqlx")]
text_on_any_driver!(
    Role,
    UserKind,
    ConversationStatus,
    MessageKind,
    Delivery,
    DeviceKind,
    DeviceStatus,
    WebhookEvent,
    WebhookStatus,
    DeliveryStatus,
);
