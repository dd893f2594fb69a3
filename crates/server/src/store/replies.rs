//! Replies on their way to WhatsApp: the device's queue of pending replies, their send outcome,
//! and the delivery receipts that move them on (kept for a day when one comes before its reply's
//! send is recorded).

use chrono::{DateTime, Utc};
use handoff_proto::{ConversationId, Delivery, DeviceId, MessageId, MessageKind, WorkspaceId};

use super::cols::parse_uuid;
use super::Conn;
use super::{ts, DbResult};

/// A reply waiting to be sent.
pub struct PendingReply {
    pub id: MessageId,
    pub body: String,
    /// The id it is sent with (so that a resend after a crash is the same message); `None` for
    /// a reply committed before ids were chosen at commit.
    pub send_id: Option<String>,
    /// The customer's WhatsApp address.
    pub chat: String,
}

/// The device's oldest pending reply.
pub async fn next_pending(conn: &mut Conn, device_id: DeviceId) -> DbResult<Option<PendingReply>> {
    let row: Option<(String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT m.id, m.body, m.send_id, k.jid FROM messages m \
         JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id \
         WHERE m.device_id = $1 AND m.kind = $2 AND m.delivery = $3 ORDER BY m.created_at, m.id LIMIT 1",
    )
    .bind(device_id.to_string())
    .bind(MessageKind::Outbound)
    .bind(Delivery::Pending)
    .fetch_optional(conn)
    .await?;
    row.map(|(id, body, send_id, chat)| Ok(PendingReply { id: parse_uuid("id", &id)?, body, send_id, chat }))
        .transpose()
}

/// Gives a reply its send id, unless it has one.
pub async fn set_send_id(conn: &mut Conn, id: MessageId, send_id: &str) -> DbResult<()> {
    sqlx::query("UPDATE messages SET send_id = $1 WHERE id = $2 AND send_id IS NULL")
        .bind(send_id)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a pending reply as sent (or `delivery`, further, when a receipt beat the send) under
/// the id WhatsApp's events name it by, unless another row holds that id already (a copy stored
/// before echoes were matched): then it is sent, unnamed, rather than sent again for ever over a
/// constraint. Whether the reply was still pending.
pub async fn mark_sent(
    conn: &mut Conn,
    device_id: DeviceId,
    id: MessageId,
    wa_message_id: &str,
    delivery: Delivery,
) -> DbResult<bool> {
    let changed = sqlx::query(
        "UPDATE messages SET delivery = $1, failure = NULL, wa_message_id = CASE WHEN EXISTS \
           (SELECT 1 FROM messages o WHERE o.device_id = $2 AND o.wa_message_id = $3 AND o.id != $4) \
           THEN wa_message_id ELSE $3 END \
         WHERE id = $4 AND delivery = $5",
    )
    .bind(delivery)
    .bind(device_id.to_string())
    .bind(wa_message_id)
    .bind(id.to_string())
    .bind(Delivery::Pending)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() > 0)
}

/// Records a pending reply as failed, with why. Whether it was still pending.
pub async fn mark_failed(conn: &mut Conn, id: MessageId, reason: &str) -> DbResult<bool> {
    let changed = sqlx::query("UPDATE messages SET delivery = $1, failure = $2 WHERE id = $3 AND delivery = $4")
        .bind(Delivery::Failed)
        .bind(reason)
        .bind(id.to_string())
        .bind(Delivery::Pending)
        .execute(conn)
        .await?;
    Ok(changed.rows_affected() > 0)
}

/// An echo of a reply (WhatsApp has it): sent, named by the echo's id unless it has one.
pub async fn mark_echoed(conn: &mut Conn, id: MessageId, wa_message_id: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE messages SET delivery = $1, wa_message_id = COALESCE(wa_message_id, $2), failure = NULL WHERE id = $3",
    )
    .bind(Delivery::Sent)
    .bind(wa_message_id)
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// A receipt moves a message's delivery state on; `name` gives it the receipt's WhatsApp id too
/// (a reply whose send has not reported yet).
pub async fn set_delivery(conn: &mut Conn, id: MessageId, delivery: Delivery, name: Option<&str>) -> DbResult<()> {
    sqlx::query(
        "UPDATE messages SET delivery = $1, failure = NULL, wa_message_id = COALESCE($2, wa_message_id) WHERE id = $3",
    )
    .bind(delivery)
    .bind(name)
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// One of our replies, as a device event names it.
pub struct Ours {
    pub id: MessageId,
    pub delivery: Option<Delivery>,
    /// The id WhatsApp's events name it by, once known.
    pub wa_message_id: Option<String>,
}

fn ours_of(row: Option<(String, Option<Delivery>, Option<String>)>) -> DbResult<Option<Ours>> {
    row.map(|(id, delivery, wa_message_id)| Ok(Ours { id: parse_uuid("id", &id)?, delivery, wa_message_id }))
        .transpose()
}

/// Our reply stored under the id WhatsApp's events name it by.
pub async fn ours_by_wa_id(conn: &mut Conn, device_id: DeviceId, wa_message_id: &str) -> DbResult<Option<Ours>> {
    let row = sqlx::query_as(
        "SELECT id, delivery, wa_message_id FROM messages WHERE device_id = $1 AND wa_message_id = $2 AND kind = $3",
    )
    .bind(device_id.to_string())
    .bind(wa_message_id)
    .bind(MessageKind::Outbound)
    .fetch_optional(conn)
    .await?;
    ours_of(row)
}

/// Our reply sent with `send_id`.
pub async fn ours_by_send_id(conn: &mut Conn, device_id: DeviceId, send_id: &str) -> DbResult<Option<Ours>> {
    let row = sqlx::query_as("SELECT id, delivery, wa_message_id FROM messages WHERE device_id = $1 AND send_id = $2")
        .bind(device_id.to_string())
        .bind(send_id)
        .fetch_optional(conn)
        .await?;
    ours_of(row)
}

/// Any message stored under a WhatsApp id (one typed on the phone, say), and its delivery state.
pub async fn delivery_by_wa_id(
    conn: &mut Conn,
    device_id: DeviceId,
    wa_message_id: &str,
) -> DbResult<Option<(MessageId, Option<Delivery>)>> {
    let row: Option<(String, Option<Delivery>)> =
        sqlx::query_as("SELECT id, delivery FROM messages WHERE device_id = $1 AND wa_message_id = $2")
            .bind(device_id.to_string())
            .bind(wa_message_id)
            .fetch_optional(conn)
            .await?;
    row.map(|(id, d)| Ok((parse_uuid("id", &id)?, d))).transpose()
}

/// Takes the receipt kept for a message id before its send was recorded, if there is one.
pub async fn take_early_receipt(
    conn: &mut Conn,
    device_id: DeviceId,
    wa_message_id: &str,
) -> DbResult<Option<Delivery>> {
    let early: Option<Delivery> =
        sqlx::query_scalar("DELETE FROM early_receipts WHERE device_id = $1 AND wa_message_id = $2 RETURNING delivery")
            .bind(device_id.to_string())
            .bind(wa_message_id)
            .fetch_optional(conn)
            .await?;
    Ok(early)
}

/// Forgets the early receipts kept since before `before` (see [`keep_early_receipt`]); the
/// hourly prune calls it too, so that a quiet number's last ones do not stay.
pub async fn prune_early_receipts(conn: &mut Conn, before: DateTime<Utc>) -> DbResult<u64> {
    Ok(sqlx::query("DELETE FROM early_receipts WHERE received_at < $1")
        .bind(ts(before))
        .execute(conn)
        .await?
        .rows_affected())
}

/// Keeps a receipt that came before its message's send was recorded: the furthest state only, for
/// a day (older ones go here).
pub async fn keep_early_receipt(
    conn: &mut Conn,
    device_id: DeviceId,
    wa_message_id: &str,
    delivery: Delivery,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query("DELETE FROM early_receipts WHERE received_at < $1")
        .bind(ts(now - chrono::Duration::days(1)))
        .execute(&mut *conn)
        .await?;
    let kept: Option<Delivery> =
        sqlx::query_scalar("SELECT delivery FROM early_receipts WHERE device_id = $1 AND wa_message_id = $2")
            .bind(device_id.to_string())
            .bind(wa_message_id)
            .fetch_optional(&mut *conn)
            .await?;
    if kept.is_some_and(|k| k.rank() >= delivery.rank()) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO early_receipts (device_id, wa_message_id, delivery, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (device_id, wa_message_id) DO UPDATE SET delivery = excluded.delivery",
    )
    .bind(device_id.to_string())
    .bind(wa_message_id)
    .bind(delivery)
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a failed reply back in its device's queue, under the same send id (if the failed
/// attempt reached WhatsApp after all, this is the same message, not a second one). Whether
/// `id` was a failed reply of the conversation.
pub async fn requeue_failed(
    conn: &mut Conn,
    ws: WorkspaceId,
    id: MessageId,
    conversation_id: ConversationId,
) -> DbResult<bool> {
    let failed: Option<String> = sqlx::query_scalar(
        "UPDATE messages SET delivery = $1, failure = NULL, wa_message_id = NULL \
         WHERE id = $2 AND conversation_id = $3 AND kind = $4 AND delivery = $5 AND workspace_id = $6 RETURNING id",
    )
    .bind(Delivery::Pending)
    .bind(id.to_string())
    .bind(conversation_id.to_string())
    .bind(MessageKind::Outbound)
    .bind(Delivery::Failed)
    .bind(ws)
    .fetch_optional(conn)
    .await?;
    Ok(failed.is_some())
}
