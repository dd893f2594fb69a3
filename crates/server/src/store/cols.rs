//! Decoding columns: ids and times are stored as text.

use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::{parse_ts, DbResult};

pub(crate) fn decode_err(what: &str, value: &str) -> super::Error {
    super::Error::Corrupt { what: what.into(), value: value.into() }
}

/// An id as stored (text); `what` names it in the error.
pub(crate) fn parse_uuid<T: From<Uuid>>(what: &str, s: &str) -> DbResult<T> {
    Uuid::parse_str(s).map(T::from).map_err(|_| decode_err(what, s))
}

pub(crate) fn uuid_col<T: From<Uuid>>(row: &AnyRow, col: &str) -> DbResult<T> {
    parse_uuid(col, &row.try_get::<String, _>(col)?)
}

pub(crate) fn opt_uuid_col<T: From<Uuid>>(row: &AnyRow, col: &str) -> DbResult<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| parse_uuid(col, &s)).transpose()
}

/// A yes/no column: an integer 0 or 1 in SQLite, a boolean in PostgreSQL.
pub(crate) fn flag_col(row: &AnyRow, col: &str) -> DbResult<bool> {
    match row.try_get::<bool, _>(col) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(col)? != 0),
    }
}

pub(crate) fn opt_ts_col(row: &AnyRow, col: &str) -> DbResult<Option<chrono::DateTime<chrono::Utc>>> {
    let s: Option<String> = row.try_get(col)?;
    s.as_deref().map(parse_ts).transpose()
}

#[cfg(test)]
mod tests {
    use handoff_proto::{ConversationStatus, Delivery, DeviceKind, DeviceStatus, MessageKind, Role, UserKind};
    use sqlx::{Any, Connection};

    use crate::store::Conn;

    /// Each variant is stored as the name it has on the wire (and in every row written before
    /// the store used the derived encoding), and reads back as itself.
    async fn stored_as_wire_name<T>(conn: &mut Conn, variants: &[T])
    where
        T: serde::Serialize + PartialEq + std::fmt::Debug + Copy + Send + Unpin + 'static,
        T: sqlx::Type<Any> + for<'q> sqlx::Encode<'q, Any> + for<'r> sqlx::Decode<'r, Any>,
    {
        for &v in variants {
            let wire = serde_json::to_value(v).expect("serialises");
            let stored: String = sqlx::query_scalar("SELECT $1").bind(v).fetch_one(&mut *conn).await.expect("stored");
            assert_eq!(Some(stored.as_str()), wire.as_str(), "{v:?}");
            let read: T = sqlx::query_scalar("SELECT $1").bind(&stored).fetch_one(&mut *conn).await.expect("read");
            assert_eq!(read, v);
        }
    }

    #[tokio::test]
    async fn status_enums_are_stored_by_their_wire_names() {
        sqlx::any::install_default_drivers();
        let mut conn = Conn::connect("sqlite::memory:").await.expect("in-memory database");
        let c = &mut conn;
        stored_as_wire_name(c, &[Role::Admin, Role::Agent, Role::Viewer]).await;
        stored_as_wire_name(c, &[UserKind::Person, UserKind::ApiKey]).await;
        use ConversationStatus as S;
        stored_as_wire_name(c, &[S::Open, S::Pending, S::Snoozed, S::Resolved]).await;
        use MessageKind as K;
        stored_as_wire_name(c, &[K::Inbound, K::Outbound, K::Note, K::System]).await;
        use Delivery as D;
        stored_as_wire_name(c, &[D::Pending, D::Sent, D::Delivered, D::Read, D::Failed]).await;
        stored_as_wire_name(c, &[DeviceKind::Simulator, DeviceKind::WhatsappWeb, DeviceKind::Gateway]).await;
        use DeviceStatus as V;
        let statuses = [V::PendingLink, V::Connected, V::Disconnected, V::Failed, V::LoggedOut, V::Banned];
        stored_as_wire_name(c, &statuses).await;
        stored_as_wire_name(c, &handoff_proto::WebhookEvent::ALL).await;
        use handoff_proto::{DeliveryStatus, WebhookStatus};
        stored_as_wire_name(c, &[WebhookStatus::Active, WebhookStatus::Paused]).await;
        stored_as_wire_name(c, &[DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed]).await;
        // A name this server never writes is an error, not a silent default.
        let bad: Result<Role, _> = sqlx::query_scalar("SELECT 'owner'").fetch_one(&mut *c).await;
        assert!(bad.is_err());
    }
}
