//! Privacy: each workspace's settings (retention, offline grace), a contact with everything the
//! workspace holds about them, erasure, and the retention period's purge (docs/privacy.md).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use handoff_proto::{
    AuditEntry, ContactId, ConversationId, DeviceId, Message, MessageId, NumberRetention, WorkspaceId,
    WorkspaceSettings,
};
use sqlx::Row;

use super::cols::{parse_uuid, uuid_col};
use super::sql::Sql;
use super::Conn;
use super::{ts, DbResult};

/// The sentence an erasure leaves in an audit entry that named the contact (the only change the
/// audit log's trigger lets through: migrations 0017 and 0005).
pub const ERASED_SUMMARY: &str = "Erased with the contact";

pub async fn settings(conn: &mut Conn, ws: WorkspaceId) -> DbResult<WorkspaceSettings> {
    let (retention, grace): (Option<i64>, i64) =
        sqlx::query_as("SELECT retention_days, offline_grace_days FROM workspaces WHERE id = $1")
            .bind(ws)
            .fetch_one(&mut *conn)
            .await?;
    let numbers: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT id, retention_days FROM devices WHERE workspace_id = $1 ORDER BY created_at, id")
            .bind(ws)
            .fetch_all(&mut *conn)
            .await?;
    let numbers = numbers
        .into_iter()
        .map(|(id, days)| {
            Ok(NumberRetention { device_id: parse_uuid("device id", &id)?, retention_days: days.map(|d| d as u32) })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(WorkspaceSettings { retention_days: retention.map(|d| d as u32), offline_grace_days: grace as u32, numbers })
}

/// Sets a linked number's own retention period (`None`: the workspace's). False when `ws` has
/// no such number.
pub async fn set_number_retention(
    conn: &mut Conn,
    ws: WorkspaceId,
    device: DeviceId,
    days: Option<u32>,
) -> DbResult<bool> {
    let set = sqlx::query("UPDATE devices SET retention_days = $1 WHERE workspace_id = $2 AND id = $3")
        .bind(days.map(i64::from))
        .bind(ws)
        .bind(device)
        .execute(conn)
        .await?;
    Ok(set.rows_affected() == 1)
}

/// Changes what is given: `retention` (`Some(None)` keeps messages for ever) and `grace`.
pub async fn set_settings(
    conn: &mut Conn,
    ws: WorkspaceId,
    retention: Option<Option<u32>>,
    grace: Option<u32>,
) -> DbResult<()> {
    if let Some(days) = retention {
        sqlx::query("UPDATE workspaces SET retention_days = $1 WHERE id = $2")
            .bind(days.map(i64::from))
            .bind(ws)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(days) = grace {
        sqlx::query("UPDATE workspaces SET offline_grace_days = $1 WHERE id = $2")
            .bind(i64::from(days))
            .bind(ws)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Every workspace's id.
pub async fn workspaces(conn: &mut Conn) -> DbResult<Vec<WorkspaceId>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM workspaces ORDER BY created_at, id").fetch_all(conn).await?;
    ids.iter().map(|id| parse_uuid("workspace id", id)).collect()
}

/// Each linked number of `ws` with its retention period in days: its own, else the workspace's
/// (`None`: kept for ever).
pub async fn retention_of_devices(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<(DeviceId, Option<u32>)>> {
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT d.id, COALESCE(d.retention_days, w.retention_days) FROM devices d \
         JOIN workspaces w ON w.id = d.workspace_id WHERE d.workspace_id = $1 ORDER BY d.id",
    )
    .bind(ws)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|(id, days)| Ok((parse_uuid("device id", &id)?, days.map(|d| d as u32)))).collect()
}

/// A contact as stored: who they are and the linked number they wrote to.
pub struct ContactRow {
    pub id: ContactId,
    pub device_id: DeviceId,
    pub name: Option<String>,
    pub phone: String,
    pub jid: String,
}

pub async fn contact(conn: &mut Conn, ws: WorkspaceId, id: ContactId) -> DbResult<Option<ContactRow>> {
    let row = sqlx::query("SELECT id, device_id, name, phone, jid FROM contacts WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| {
        Ok(ContactRow {
            id: uuid_col(&row, "id")?,
            device_id: uuid_col(&row, "device_id")?,
            name: row.try_get("name")?,
            phone: row.try_get("phone")?,
            jid: row.try_get("jid")?,
        })
    })
    .transpose()
}

/// Every address (JID) a contact is known by, sorted.
pub async fn aliases(conn: &mut Conn, id: ContactId) -> DbResult<Vec<String>> {
    sqlx::query_scalar("SELECT jid FROM contact_aliases WHERE contact_id = $1 ORDER BY jid")
        .bind(id)
        .fetch_all(conn)
        .await
        .map_err(Into::into)
}

/// The conversations with a contact, oldest first.
pub async fn conversations_of(conn: &mut Conn, ws: WorkspaceId, id: ContactId) -> DbResult<Vec<ConversationId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 ORDER BY created_at, id",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(conn)
    .await?;
    ids.iter().map(|id| parse_uuid("conversation id", id)).collect()
}

/// `AND <column> IN ($n, …)` over `ids` (`AND 1 = 0` for none).
fn and_in<T: ToString>(q: &mut Sql, column: &str, ids: &[T]) {
    if ids.is_empty() {
        q.push(" AND 1 = 0");
        return;
    }
    q.push(" AND ").push(column).push(" IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.to_string());
    }
    q.push(")");
}

/// The messages and notes of `conversations`, oldest first.
pub async fn messages_of(conn: &mut Conn, ws: WorkspaceId, conversations: &[ConversationId]) -> DbResult<Vec<Message>> {
    let mut q = Sql::new(&format!("SELECT {} FROM messages WHERE workspace_id = ", super::messages::COLUMNS));
    q.bind(ws);
    and_in(&mut q, "conversation_id", conversations);
    q.push(" ORDER BY created_at, id");
    let rows = q.query()?.fetch_all(conn).await?;
    rows.iter().map(super::messages::from_row).collect()
}

/// The audit log's entries about `conversations`, oldest first.
pub async fn audit_of(conn: &mut Conn, ws: WorkspaceId, conversations: &[ConversationId]) -> DbResult<Vec<AuditEntry>> {
    let mut q = Sql::new(&format!("SELECT {} FROM audit WHERE workspace_id = ", super::audit::COLUMNS));
    q.bind(ws);
    and_in(&mut q, "conversation_id", conversations);
    q.push(" ORDER BY id");
    let rows = q.query()?.fetch_all(conn).await?;
    rows.iter().map(super::audit::from_row).collect()
}

/// What an erasure removed.
pub struct ErasedRows {
    pub messages: u64,
}

/// Erases a contact: their messages and notes, conversations (with `merged`: those merged into
/// them before), labels and reads, addresses and the contact itself; every event about those
/// conversations is redacted ([`super::events::redact_conversations`]), the stored answers of
/// changes made to them are dropped, and every audit entry that names one of `addresses` (or a
/// download of their files) keeps its place with [`ERASED_SUMMARY`] as its sentence.
pub async fn erase(
    conn: &mut Conn,
    ws: WorkspaceId,
    device: DeviceId,
    contact: ContactId,
    conversations: &[ConversationId],
    addresses: &[String],
) -> DbResult<ErasedRows> {
    let mut q = Sql::new("SELECT COUNT(*) FROM messages WHERE workspace_id = ");
    q.bind(ws);
    and_in(&mut q, "conversation_id", conversations);
    let messages: i64 = q.query()?.fetch_one(&mut *conn).await?.try_get(0)?;
    for table in ["messages", "conversation_labels", "reads"] {
        let mut q = Sql::new(&format!("DELETE FROM {table} WHERE 1 = 1"));
        and_in(&mut q, "conversation_id", conversations);
        q.query()?.execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM conversations WHERE workspace_id = $1 AND contact_id = $2")
        .bind(ws)
        .bind(contact)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM contact_aliases WHERE contact_id = $1").bind(contact).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(contact)
        .execute(&mut *conn)
        .await?;
    // A change's stored answer (a reply, a note, the conversation) names its conversation.
    for id in conversations {
        sqlx::query("DELETE FROM applied WHERE workspace_id = $1 AND response LIKE $2")
            .bind(ws)
            .bind(format!("%{id}%"))
            .execute(&mut *conn)
            .await?;
    }
    super::events::redact_conversations(conn, ws, conversations).await?;
    // Their webhook deliveries hold their messages, name and number.
    super::webhooks::forget_conversations(conn, conversations).await?;
    // A gateway's message ids carry the chat's address: receipts kept for one of theirs (the
    // whole address, not the start of a longer number).
    for address in addresses.iter().filter(|a| a.len() >= 6) {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT wa_message_id FROM early_receipts WHERE device_id = $1 AND wa_message_id LIKE $2 ESCAPE '\\'",
        )
        .bind(device)
        .bind(format!("%{}%", like_escaped(address)))
        .fetch_all(&mut *conn)
        .await?;
        for id in ids.iter().filter(|id| names(id, address)) {
            sqlx::query("DELETE FROM early_receipts WHERE device_id = $1 AND wa_message_id = $2")
                .bind(device)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
    }
    // The audit: any entry whose sentence has one of their addresses, and the entries about their
    // conversations that can name a person in other words (a merge, a file's name).
    let mut blank: Vec<i64> = audit_naming(conn, ws, addresses).await?.iter().map(|e| e.id).collect();
    let mut q = Sql::new("SELECT id FROM audit WHERE workspace_id = ");
    q.bind(ws).push(" AND action IN ('contact.merge', 'media.download')");
    and_in(&mut q, "conversation_id", conversations);
    for row in q.query()?.fetch_all(&mut *conn).await? {
        blank.push(row.try_get("id")?);
    }
    blank.sort_unstable();
    blank.dedup();
    for id in blank {
        sqlx::query("UPDATE audit SET summary = $1 WHERE workspace_id = $2 AND id = $3")
            .bind(ERASED_SUMMARY)
            .bind(ws)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(ErasedRows { messages: messages as u64 })
}

/// The audit entries of `ws` whose sentence names one of `addresses` (each a whole address, not
/// part of a longer number), oldest first.
pub async fn audit_naming(conn: &mut Conn, ws: WorkspaceId, addresses: &[String]) -> DbResult<Vec<AuditEntry>> {
    let addresses: Vec<&String> = addresses.iter().filter(|a| a.len() >= 4).collect();
    let mut q = Sql::new(&format!("SELECT {} FROM audit WHERE workspace_id = ", super::audit::COLUMNS));
    q.bind(ws).push(" AND (1 = 0");
    for address in &addresses {
        q.push(" OR summary LIKE ").bind(format!("%{}%", like_escaped(address))).push(" ESCAPE '\\'");
    }
    q.push(") ORDER BY id");
    let rows = q.query()?.fetch_all(conn).await?;
    let entries = rows.iter().map(super::audit::from_row).collect::<DbResult<Vec<_>>>()?;
    Ok(entries.into_iter().filter(|e| addresses.iter().any(|a| names(&e.summary, a))).collect())
}

/// Whether `text` has `address` in it as a whole: not as part of a longer number or word
/// ("+49301234567" is not in "+493012345678").
fn names(text: &str, address: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    text.match_indices(address)
        .any(|(at, _)| !word(text[..at].chars().next_back()) && !word(text[at + address.len()..].chars().next()))
}

/// `s` with LIKE's wildcards escaped by a backslash.
fn like_escaped(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Whether linked number `device` of `ws` has a message from before `before` (a read: the hourly
/// pass writes nothing for a number with none).
pub async fn has_messages_before(
    conn: &mut Conn,
    ws: WorkspaceId,
    device: DeviceId,
    before: DateTime<Utc>,
) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM messages WHERE workspace_id = $1 AND device_id = $2 AND created_at < $3 LIMIT 1",
    )
    .bind(ws)
    .bind(device)
    .bind(ts(before))
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// The retention period on one linked number: deletes at most `limit` of its messages and notes
/// from before `before`, blanks the preview of its conversations whose last message went with
/// them, and unpins an escalation note that went. Returns how many messages went, and from which
/// conversations.
pub async fn purge_messages(
    conn: &mut Conn,
    ws: WorkspaceId,
    device: DeviceId,
    before: DateTime<Utc>,
    limit: i64,
) -> DbResult<(u64, Vec<ConversationId>)> {
    let before = ts(before);
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, conversation_id FROM messages WHERE workspace_id = $1 AND device_id = $2 AND created_at < $3 \
         ORDER BY created_at LIMIT $4",
    )
    .bind(ws)
    .bind(device)
    .bind(&before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok((0, Vec::new()));
    }
    let ids: Vec<&String> = rows.iter().map(|(id, _)| id).collect();
    let mut conversations: Vec<ConversationId> =
        rows.iter().map(|(_, c)| parse_uuid("conversation id", c)).collect::<DbResult<_>>()?;
    conversations.sort_unstable();
    conversations.dedup();
    let mut gone = 0;
    for chunk in ids.chunks(500) {
        let mut q = Sql::new("DELETE FROM messages WHERE workspace_id = ");
        q.bind(ws);
        and_in(&mut q, "id", chunk);
        gone += q.query()?.execute(&mut *conn).await?.rows_affected();
    }
    if gone == 0 {
        return Ok((0, conversations));
    }
    sqlx::query(
        "UPDATE conversations SET last_message_preview = '' WHERE workspace_id = $1 AND device_id = $2 \
         AND last_message_at < $3 AND last_message_preview <> ''",
    )
    .bind(ws)
    .bind(device)
    .bind(&before)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE conversations SET escalation_note_id = NULL WHERE workspace_id = $1 AND device_id = $2 \
         AND escalation_note_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = conversations.escalation_note_id)",
    )
    .bind(ws)
    .bind(device)
    .execute(&mut *conn)
    .await?;
    Ok((gone, conversations))
}

/// Which of `ids` are still stored.
pub async fn existing_messages(conn: &mut Conn, ws: WorkspaceId, ids: &[MessageId]) -> DbResult<HashSet<MessageId>> {
    let mut q = Sql::new("SELECT id FROM messages WHERE workspace_id = ");
    q.bind(ws);
    and_in(&mut q, "id", ids);
    let rows = q.query()?.fetch_all(conn).await?;
    rows.iter().map(|row| uuid_col(row, "id")).collect()
}

/// The oldest `seq` of `ws` a client may catch up from: an app whose `last_seq` is below it
/// missed an erasure whose record the log no longer holds (0: none yet).
pub async fn floor(conn: &mut Conn, ws: WorkspaceId) -> DbResult<i64> {
    let value = super::meta::get(conn, &format!("floor:{ws}")).await?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub async fn set_floor(conn: &mut Conn, ws: WorkspaceId, seq: i64) -> DbResult<()> {
    super::meta::set(conn, &format!("floor:{ws}"), &seq.to_string()).await
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn an_address_is_named_only_whole() {
        let said = "Learned that 1234@lid is the same customer as +493012345678";
        assert!(names(said, "+493012345678"));
        assert!(names(said, "493012345678"));
        assert!(!names(said, "+49301234567"), "the start of a longer number is another person");
        assert!(!names(said, "93012345678"), "nor is its end");
        assert!(names("Merged 4930123@s.whatsapp.net into x", "4930123"));
        assert!(!names("Downloaded 4930123.pdf", "930123"));
    }
}
