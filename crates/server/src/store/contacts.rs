//! Contacts (customers, per linked number) and the addresses they are known by: a phone
//! number's JID and a LID may both name one person, and then point at one contact.

use handoff_proto::{ContactId, ConversationId, ConversationStatus, DeviceId, WorkspaceId};

use super::cols::parse_uuid;
use super::Conn;
use super::DbResult;

/// The contact an address on this device belongs to.
pub async fn by_address(conn: &mut Conn, device_id: DeviceId, jid: &str) -> DbResult<Option<ContactId>> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT contact_id FROM contact_aliases WHERE device_id = $1 AND jid = $2")
            .bind(device_id.to_string())
            .bind(jid)
            .fetch_optional(conn)
            .await?;
    id.as_deref().map(|id| parse_uuid("id", id)).transpose()
}

/// What one lookup tells about an address on a device: its contact, how that contact is shown,
/// and its conversation with that conversation's status (a customer message needs all of it).
pub struct Known {
    pub contact_id: ContactId,
    /// The address the contact is shown by (a LID until its phone number is known).
    pub jid: String,
    pub name: Option<String>,
    pub conversation: Option<(ConversationId, ConversationStatus)>,
}

/// The contact an address on this device belongs to, with its conversation, in one query.
pub async fn known_by(conn: &mut Conn, device_id: DeviceId, jid: &str) -> DbResult<Option<Known>> {
    Ok(arrival(conn, device_id, jid, None).await?.1)
}

/// A chat message arriving: whether the device delivered `wa_message_id` before (then it is a
/// redelivery), and who the address `jid` belongs to ([`known_by`]), in one query.
pub async fn arrival(
    conn: &mut Conn,
    device_id: DeviceId,
    jid: &str,
    wa_message_id: Option<&str>,
) -> DbResult<(bool, Option<Known>)> {
    type Row =
        (Option<i64>, Option<String>, Option<String>, Option<String>, Option<String>, Option<ConversationStatus>);
    let (seen, id, jid, name, conversation, status): Row = sqlx::query_as(
        "SELECT (SELECT 1 FROM messages m WHERE m.device_id = $1 AND m.wa_message_id = $3), \
           k.id, k.jid, k.name, c.id, c.status \
         FROM (SELECT 1 AS one) AS x LEFT JOIN contact_aliases a ON a.device_id = $1 AND a.jid = $2 \
         LEFT JOIN contacts k ON k.id = a.contact_id LEFT JOIN conversations c ON c.contact_id = k.id",
    )
    .bind(device_id.to_string())
    .bind(jid)
    .bind(wa_message_id)
    .fetch_one(conn)
    .await?;
    let known = match (id, jid) {
        (Some(id), Some(jid)) => {
            let conversation = match (conversation, status) {
                (Some(c), Some(s)) => Some((parse_uuid("conversation id", &c)?, s)),
                _ => None,
            };
            Some(Known { contact_id: parse_uuid("id", &id)?, jid, name, conversation })
        }
        _ => None,
    };
    Ok((seen.is_some(), known))
}

/// A new contact, known by `jid` (its phone number when WhatsApp shows one).
pub async fn insert(
    conn: &mut Conn,
    ws: WorkspaceId,
    device_id: DeviceId,
    jid: &str,
    phone: &str,
    name: Option<&str>,
) -> DbResult<ContactId> {
    let id = ContactId::new();
    sqlx::query("INSERT INTO contacts (id, device_id, jid, phone, name, workspace_id) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id.to_string())
        .bind(device_id.to_string())
        .bind(jid)
        .bind(phone)
        .bind(name)
        .bind(ws)
        .execute(conn)
        .await?;
    Ok(id)
}

/// The contact answers to `jid` on this device from now on. Whether the address is new.
pub async fn add_address(conn: &mut Conn, device_id: DeviceId, jid: &str, contact_id: ContactId) -> DbResult<bool> {
    let added = sqlx::query(
        "INSERT INTO contact_aliases (device_id, jid, contact_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(device_id.to_string())
    .bind(jid)
    .bind(contact_id.to_string())
    .execute(conn)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// A contact first known by its LID gets its phone number (a contact known by a phone keeps its own).
pub async fn learn_phone(conn: &mut Conn, id: ContactId, jid: &str, phone: &str) -> DbResult<()> {
    sqlx::query("UPDATE contacts SET jid = $1, phone = $2 WHERE id = $3 AND jid LIKE '%@lid'")
        .bind(jid)
        .bind(phone)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_name(conn: &mut Conn, id: ContactId, name: &str) -> DbResult<()> {
    sqlx::query("UPDATE contacts SET name = $1 WHERE id = $2").bind(name).bind(id.to_string()).execute(conn).await?;
    Ok(())
}

/// The address a contact is shown by.
pub async fn jid(conn: &mut Conn, id: ContactId) -> DbResult<String> {
    sqlx::query_scalar("SELECT jid FROM contacts WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(conn)
        .await
        .map_err(Into::into)
}

/// What folding one contact into another did to their conversations.
pub enum Folded {
    /// The folded contact had no conversation.
    Nothing,
    /// Only the folded contact had one: it changed hands.
    Moved(ConversationId),
    /// Both had one: `from`'s messages and labels (and owner and team, where `into` had none)
    /// went into `into`, and `from` is gone.
    Merged { into: ConversationId, from: ConversationId },
}

/// Folds contact `other` into `keep`, in one transaction: its addresses, its conversation (see
/// [`Folded`]), then the contact itself.
pub async fn fold(conn: &mut Conn, keep: ContactId, other: ContactId) -> DbResult<Folded> {
    let (keep, other) = (keep.to_string(), other.to_string());
    sqlx::query("UPDATE contact_aliases SET contact_id = $1 WHERE contact_id = $2")
        .bind(&keep)
        .bind(&other)
        .execute(&mut *conn)
        .await?;
    let conversation_of = "SELECT id FROM conversations WHERE contact_id = $1";
    let kept: Option<String> = sqlx::query_scalar(conversation_of).bind(&keep).fetch_optional(&mut *conn).await?;
    let folded: Option<String> = sqlx::query_scalar(conversation_of).bind(&other).fetch_optional(&mut *conn).await?;
    let outcome = match (kept, folded) {
        (_, None) => Folded::Nothing,
        (None, Some(folded)) => {
            sqlx::query("UPDATE conversations SET contact_id = $1, version = version + 1 WHERE id = $2")
                .bind(&keep)
                .bind(&folded)
                .execute(&mut *conn)
                .await?;
            Folded::Moved(parse_uuid("id", &folded)?)
        }
        (Some(kept), Some(folded)) => {
            for sql in [
                "UPDATE messages SET conversation_id = $1 WHERE conversation_id = $2",
                "INSERT INTO conversation_labels (conversation_id, label) \
                 SELECT $1, label FROM conversation_labels WHERE conversation_id = $2 ON CONFLICT DO NOTHING",
                "UPDATE conversations SET \
                   assignee_id = COALESCE(assignee_id, (SELECT assignee_id FROM conversations WHERE id = $2)), \
                   assigned_at = COALESCE(assigned_at, (SELECT assigned_at FROM conversations WHERE id = $2)), \
                   team_id = COALESCE(team_id, (SELECT team_id FROM conversations WHERE id = $2)) WHERE id = $1",
                // The thread's newest message leads the queue row, whichever side it came from.
                "UPDATE conversations SET last_message_at = f.last_message_at, last_message_preview = f.last_message_preview \
                 FROM (SELECT last_message_at, last_message_preview FROM conversations WHERE id = $2) AS f \
                 WHERE conversations.id = $1 AND f.last_message_at > conversations.last_message_at",
                "UPDATE conversations SET version = version + 1 WHERE id = $1",
                "DELETE FROM conversations WHERE id = $2",
            ] {
                sqlx::query(sql).bind(&kept).bind(&folded).execute(&mut *conn).await?;
            }
            Folded::Merged { into: parse_uuid("id", &kept)?, from: parse_uuid("id", &folded)? }
        }
    };
    sqlx::query("DELETE FROM contacts WHERE id = $1").bind(&other).execute(conn).await?;
    Ok(outcome)
}
