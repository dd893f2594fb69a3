//! Privacy (docs/privacy.md): each workspace's retention period and offline grace, a contact's
//! export, and a contact's erasure.
//!
//! * **Erasure** deletes every row about a contact in one transaction, redacts every event about
//!   their conversations (each keeps its `seq`: a catch-up stays gap-free) and appends
//!   `contact.erased`, so every app removes them at its next sync. The audit log keeps
//!   "Erased a contact" without personal data. On SQLite, the database deletes securely
//!   (`secure_delete`) and the erasure empties the write-ahead log after it, so no copy of the
//!   erased bytes stays in the server's files.
//! * **Erasure records** (`contact.erased`) are kept [`ERASURES_KEPT`]; then they are redacted
//!   too and the workspace's floor moves past them: an app that was offline longer than that
//!   drops its cache and syncs from 0 (the welcome's `floor`).
//! * **Retention**: once an hour (by the server's clock: tests move it), the messages and notes
//!   older than each linked number's period are deleted, `messages.purged` tells the apps to do
//!   the same, and the events of the conversations that lost messages are rewritten without
//!   them: a `message.created` of a message that is gone becomes the conversation's
//!   `conversation.updated`, a receipt or a mention of it becomes `redacted`, and a
//!   conversation's preview from before the period is blanked. A first sync then sees every
//!   conversation and none of the messages that are gone.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use chrono::{DateTime, Utc};
use handoff_proto::{
    ContactDetail, ContactExport, ContactId, ConversationId, DeviceId, Erased, Event, EventBody, ExportedAttachment,
    MessageId, PatchSettingsRequest, UpdateCause, UserId, UserKind, Wiped, WorkspaceId, WorkspaceSettings,
    MAX_OFFLINE_GRACE_DAYS, MAX_RETENTION_DAYS,
};

use crate::audit;
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store::{self, DbResult};
use crate::AppState;

/// How long the log keeps an erasure's record (`contact.erased`, ids only). An app offline
/// longer than this resyncs from scratch.
pub const ERASURES_KEPT: chrono::Duration = chrono::Duration::days(90);

/// How often the retention period is applied (by the server's clock).
const EVERY: chrono::Duration = chrono::Duration::hours(1);

/// Messages deleted per transaction: the write lock is held a moment at a time.
const PURGE_BATCH: i64 = 10_000;

pub async fn settings(state: &AppState, actor: &Actor) -> Result<WorkspaceSettings> {
    actor.require_admin("see the workspace's settings")?;
    let mut conn = state.store.reader().await?;
    Ok(store::privacy::settings(&mut conn, actor.ws()).await?)
}

pub async fn patch_settings(state: &AppState, actor: &Actor, req: PatchSettingsRequest) -> Result<WorkspaceSettings> {
    actor.require_admin("change the workspace's settings")?;
    if let Some(Some(days)) = req.retention_days {
        if !(1..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(Error::invalid(
                "retention_days",
                format!("retention_days is a number of days from 1 to {MAX_RETENTION_DAYS}, or null to keep messages."),
            ));
        }
    }
    for n in &req.numbers {
        if let Some(days) = n.retention_days.filter(|d| !(1..=MAX_RETENTION_DAYS).contains(d)) {
            return Err(Error::invalid(
                "numbers",
                format!("A number's retention is 1 to {MAX_RETENTION_DAYS} days, or null for the workspace's ({days} given)."),
            ));
        }
    }
    if let Some(days) = req.offline_grace_days {
        if !(1..=MAX_OFFLINE_GRACE_DAYS).contains(&days) {
            return Err(Error::invalid(
                "offline_grace_days",
                format!("offline_grace_days is a number of days from 1 to {MAX_OFFLINE_GRACE_DAYS}."),
            ));
        }
    }
    let mut w = state.store.begin().await?;
    let before = store::privacy::settings(w.conn(), actor.ws()).await?;
    store::privacy::set_settings(w.conn(), actor.ws(), req.retention_days, req.offline_grace_days).await?;
    for n in &req.numbers {
        if !store::privacy::set_number_retention(w.conn(), actor.ws(), n.device_id, n.retention_days).await? {
            return Err(Error::not_found(&format!("linked number {} in this workspace", n.device_id)));
        }
    }
    let after = store::privacy::settings(w.conn(), actor.ws()).await?;
    if after == before {
        return Ok(after);
    }
    let retention = match after.retention_days {
        Some(days) => format!("{days} days"),
        None => "kept".to_string(),
    };
    let mut summary =
        format!("Settings: messages {retention}, apps open offline for {} days", after.offline_grace_days);
    let own: Vec<String> = after
        .numbers
        .iter()
        .filter_map(|n| n.retention_days.map(|days| format!("number {} {days} days", n.device_id)))
        .collect();
    if !own.is_empty() {
        summary.push_str(&format!("; {}", own.join(", ")));
    }
    audit::record(w.conn(), actor.into(), "settings.update", None, &summary, None).await?;
    w.commit().await?;
    Ok(after)
}

/// A contact with every address and conversation.
pub async fn contact(state: &AppState, actor: &Actor, id: ContactId) -> Result<ContactDetail> {
    let mut conn = state.store.reader().await?;
    detail(&mut conn, actor.ws(), id).await?.ok_or_else(|| Error::not_found("contact"))
}

async fn detail(conn: &mut store::Conn, ws: WorkspaceId, id: ContactId) -> DbResult<Option<ContactDetail>> {
    let Some(row) = store::privacy::contact(conn, ws, id).await? else { return Ok(None) };
    let aliases = store::privacy::aliases(conn, id).await?;
    let mut conversations = Vec::new();
    for c in store::privacy::conversations_of(conn, ws, id).await? {
        conversations.extend(store::conversations::get(conn, ws, c, None).await?);
    }
    Ok(Some(ContactDetail { id, name: row.name, phone: row.phone, device_id: row.device_id, aliases, conversations }))
}

/// Everything the workspace holds about a contact. Audited (without the contact's data).
pub async fn export(state: &AppState, actor: &Actor, id: ContactId) -> Result<ContactExport> {
    actor.require_admin("export a contact's data")?;
    let mut conn = state.store.reader().await?;
    let contact = detail(&mut conn, actor.ws(), id).await?.ok_or_else(|| Error::not_found("contact"))?;
    let mut ids: Vec<_> = contact.conversations.iter().map(|c| c.id).collect();
    ids.extend(store::events::merged_into(&mut conn, actor.ws(), &ids).await?);
    let messages = store::privacy::messages_of(&mut conn, actor.ws(), &ids).await?;
    let mut audit = store::privacy::audit_of(&mut conn, actor.ws(), &ids).await?;
    // And the entries that name them without being about a conversation of theirs.
    let addresses = addresses_of(&mut conn, actor.ws(), id).await?;
    audit.extend(store::privacy::audit_naming(&mut conn, actor.ws(), &addresses).await?);
    audit.sort_by_key(|e| e.id);
    audit.dedup_by_key(|e| e.id);
    drop(conn);
    let attachments = messages
        .iter()
        .filter_map(|m| {
            let media = m.media.as_ref()?;
            Some(ExportedAttachment {
                message_id: m.id,
                conversation_id: m.conversation_id,
                created_at: m.created_at,
                kind: media.kind,
                filename: media.filename.clone(),
                mime: media.mime.clone(),
                size: media.size,
            })
        })
        .collect();
    let mut w = state.store.begin().await?;
    let summary = format!("Exported a contact's data: {} messages and notes", messages.len());
    audit::record(w.conn(), actor.into(), "contact.export", None, &summary, None).await?;
    w.commit().await?;
    Ok(ContactExport { exported_at: Utc::now(), workspace_id: actor.ws(), contact, messages, audit, attachments })
}

/// An export as CSV files in a zip: `contact.csv`, `conversations.csv`, `messages.csv`,
/// `audit.csv` and `attachments.csv`, UTF-8 with a header row each.
pub fn export_zip(export: &ContactExport) -> std::io::Result<Vec<u8>> {
    let c = &export.contact;
    let contact = csv(
        &["id", "name", "phone", "device_id", "aliases"],
        [vec![
            c.id.to_string(),
            c.name.clone().unwrap_or_default(),
            c.phone.clone(),
            c.device_id.to_string(),
            c.aliases.join(" "),
        ]],
    );
    let conversations = csv(
        &["id", "device_id", "status", "assignee_id", "team_id", "labels", "created_or_reopened_at", "last_message_at"],
        c.conversations.iter().map(|v| {
            vec![
                v.id.to_string(),
                v.device_id.to_string(),
                v.status.as_str().to_string(),
                opt(v.assignee_id),
                opt(v.team_id),
                v.labels.join(" "),
                opt(v.opened_at.map(|t| t.to_rfc3339())),
                v.last_message_at.to_rfc3339(),
            ]
        }),
    );
    let messages = csv(
        &["conversation_id", "id", "created_at", "kind", "author_id", "sender", "body", "delivery", "attachment"],
        export.messages.iter().map(|m| {
            vec![
                m.conversation_id.to_string(),
                m.id.to_string(),
                m.created_at.to_rfc3339(),
                m.kind.as_str().to_string(),
                opt(m.author_id),
                m.sender.clone().unwrap_or_default(),
                m.body.clone(),
                opt(m.delivery.map(wire_name)),
                m.media.as_ref().and_then(|x| x.filename.clone()).unwrap_or_default(),
            ]
        }),
    );
    let audit = csv(
        &["id", "at", "actor_id", "actor_name", "action", "conversation_id", "summary"],
        export.audit.iter().map(|a| {
            vec![
                a.id.to_string(),
                a.at.to_rfc3339(),
                opt(a.actor_id),
                a.actor_name.clone(),
                a.action.clone(),
                opt(a.conversation_id),
                a.summary.clone(),
            ]
        }),
    );
    let attachments = csv(
        &["message_id", "conversation_id", "created_at", "kind", "filename", "mime", "size"],
        export.attachments.iter().map(|a| {
            vec![
                a.message_id.to_string(),
                a.conversation_id.to_string(),
                a.created_at.to_rfc3339(),
                wire_name(a.kind),
                a.filename.clone().unwrap_or_default(),
                a.mime.clone().unwrap_or_default(),
                opt(a.size),
            ]
        }),
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in [
        ("contact.csv", contact),
        ("conversations.csv", conversations),
        ("messages.csv", messages),
        ("audit.csv", audit),
        ("attachments.csv", attachments),
    ] {
        zip.start_file(name, options).map_err(std::io::Error::other)?;
        zip.write_all(text.as_bytes())?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// A value's name on the wire (`"delivered"`).
fn wire_name<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// CSV lines (CRLF) under a header ([`handoff_proto::csv`]).
fn csv<I: IntoIterator<Item = Vec<String>>>(header: &[&str], rows: I) -> String {
    let mut out = handoff_proto::csv::line(header) + "\r\n";
    for row in rows {
        out.push_str(&handoff_proto::csv::line(&row));
        out.push_str("\r\n");
    }
    out
}

/// Erases a contact (see the module's comment). Every app removes them at its next sync.
pub async fn erase(state: &AppState, actor: &Actor, id: ContactId) -> Result<Erased> {
    actor.require_admin("erase a contact")?;
    let mut w = state.store.begin().await?;
    let contact =
        store::privacy::contact(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("contact"))?;
    let mut conversations = store::privacy::conversations_of(w.conn(), actor.ws(), id).await?;
    let own = conversations.len();
    conversations.extend(store::events::merged_into(w.conn(), actor.ws(), &conversations).await?);
    let addresses = addresses_of(w.conn(), actor.ws(), id).await?;
    let rows = store::privacy::erase(w.conn(), actor.ws(), contact.device_id, id, &conversations, &addresses).await?;
    let seq = w
        .append(actor.ws(), EventBody::ContactErased { contact_id: id, conversation_ids: conversations.clone() })
        .await?;
    let plural = |n: u64, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let summary = format!(
        "Erased a contact: {}, {}",
        plural(own as u64, "conversation", "conversations"),
        plural(rows.messages, "message or note", "messages and notes")
    );
    audit::record(w.conn(), actor.into(), "contact.erase", None, &summary, Some(seq)).await?;
    w.commit().await?;
    tracing::info!(contact = %id, conversations = own, messages = rows.messages, "contact erased");
    // SQLite: the erased rows' old pages may still be in the write-ahead log.
    if let Err(e) = state.store.checkpoint().await {
        tracing::warn!(error = %e, "the write-ahead log was not emptied after an erasure; it is at the next one");
    }
    Ok(Erased { contact_id: id, conversations: own as u32, messages: rows.messages as u32 })
}

/// Signs a person out of the workspace everywhere and has every app that held one of those
/// sessions delete its copy of the workspace at its next contact (401 `access_removed`). They
/// stay a member and may sign in again. Audited.
pub async fn wipe_user(state: &AppState, actor: &Actor, id: UserId) -> Result<Wiped> {
    actor.require_admin("sign someone out everywhere")?;
    let mut w = state.store.begin().await?;
    let user = store::people::user(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("user"))?;
    if user.kind == UserKind::ApiKey {
        return Err(Error::bad_request("That user is an API key: revoke it under API keys."));
    }
    let sessions = store::people::remove_access_in(&mut w, actor.ws(), id, state.clock.now()).await?;
    let summary =
        format!("Signed {} out everywhere and had each computer delete its copy ({sessions} sessions)", user.name);
    audit::record(w.conn(), actor.into(), "user.wipe", None, &summary, None).await?;
    w.commit().await?;
    Ok(Wiped { sessions: sessions as u32 })
}

/// Every way a contact can be written in the server's records: each WhatsApp address (JID), their
/// number as stored, and the digits of each (a gateway's ids and the audit's sentences write
/// them so).
async fn addresses_of(conn: &mut store::Conn, ws: WorkspaceId, id: ContactId) -> DbResult<Vec<String>> {
    let Some(contact) = store::privacy::contact(conn, ws, id).await? else { return Ok(Vec::new()) };
    let mut addresses = store::privacy::aliases(conn, id).await?;
    addresses.extend([contact.jid, contact.phone]);
    let numbers: Vec<String> = addresses
        .iter()
        .map(|a| a.split('@').next().unwrap_or(a).chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|digits| digits.len() >= 6)
        .collect();
    addresses.extend(numbers);
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

/// What one retention pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub messages: u64,
    pub events: u64,
    pub erasures: u64,
}

/// The background task: one pass an hour by the server's clock.
pub async fn run(state: AppState) {
    loop {
        state.clock.sleep_until(state.clock.now() + EVERY).await;
        match retention_once(&state, state.clock.now()).await {
            Ok(p) if p == Purged::default() => {}
            Ok(p) => {
                tracing::info!(messages = p.messages, events = p.events, erasures = p.erasures, "retention applied")
            }
            Err(e) => tracing::warn!(error = %e, "applying the retention period failed; tried again in an hour"),
        }
    }
}

/// Applies every workspace's retention period as of `now`, and retires the erasure records
/// older than [`ERASURES_KEPT`].
pub async fn retention_once(state: &AppState, now: DateTime<Utc>) -> DbResult<Purged> {
    let workspaces = store::privacy::workspaces(&mut *state.store.reader().await?).await?;
    let mut done = Purged::default();
    for ws in workspaces {
        let devices = store::privacy::retention_of_devices(&mut *state.store.reader().await?, ws).await?;
        let cutoffs: HashMap<DeviceId, DateTime<Utc>> = devices
            .into_iter()
            .filter_map(|(d, days)| Some((d, now - chrono::Duration::days(i64::from(days?)))))
            .collect();
        if !cutoffs.is_empty() {
            let (messages, events) = purge_messages(state, ws, &cutoffs).await?;
            done.messages += messages;
            done.events += events;
        }
        let mut w = state.store.begin().await?;
        if let Some(seq) = store::events::redact_erasures(w.conn(), ws, now - ERASURES_KEPT).await? {
            if seq > store::privacy::floor(w.conn(), ws).await? {
                store::privacy::set_floor(w.conn(), ws, seq).await?;
                done.erasures += 1;
            }
        }
        w.commit().await?;
    }
    if done != Purged::default() {
        state.store.checkpoint().await?;
    }
    Ok(done)
}

/// Deletes each number's messages from before its cutoff, ten thousand per transaction (a first
/// pass over years of history holds the write lock a moment at a time), each batch with its
/// `messages.purged` (the newest covers those before it), then rewrites the events of the
/// conversations that lost messages. A number with nothing that old costs one indexed read.
async fn purge_messages(
    state: &AppState,
    ws: WorkspaceId,
    cutoffs: &HashMap<DeviceId, DateTime<Utc>>,
) -> DbResult<(u64, u64)> {
    let (mut gone, mut rewritten) = (0, 0);
    for (&device, &before) in cutoffs {
        if !store::privacy::has_messages_before(&mut *state.store.reader().await?, ws, device, before).await? {
            continue;
        }
        let mut touched: Vec<ConversationId> = Vec::new();
        loop {
            let mut w = state.store.begin().await?;
            let (n, conversations) = store::privacy::purge_messages(w.conn(), ws, device, before, PURGE_BATCH).await?;
            if n > 0 {
                let seq = w.append(ws, EventBody::MessagesPurged { before, device_id: Some(device) }).await?;
                store::events::redact_covered_purges(w.conn(), ws, device, before, seq).await?;
            }
            w.commit().await?;
            gone += n;
            touched.extend(conversations);
            if n < PURGE_BATCH as u64 {
                break;
            }
        }
        touched.sort_unstable();
        touched.dedup();
        rewritten += rewrite_events(state, ws, device, before, &touched).await?;
    }
    Ok((gone, rewritten))
}

/// Rewrites the events of `conversations` (and of those merged into them earlier) without the
/// messages the retention period removed (see the module's comment), a few conversations per
/// transaction. Rewriting is idempotent: a conversation that loses more messages in a later
/// pass is read again, and its events already rewritten stay as they are.
async fn rewrite_events(
    state: &AppState,
    ws: WorkspaceId,
    device: DeviceId,
    before: DateTime<Utc>,
    conversations: &[ConversationId],
) -> DbResult<u64> {
    let mut rewritten = 0;
    for chunk in conversations.chunks(20) {
        let mut w = state.store.begin().await?;
        let mut ids = chunk.to_vec();
        ids.extend(store::events::merged_into(w.conn(), ws, chunk).await?);
        for id in ids {
            let events = store::events::of_conversation(w.conn(), ws, id).await?;
            let mentioned: Vec<MessageId> = events.iter().filter_map(|e| message_of(&e.body)).collect();
            let present = store::privacy::existing_messages(w.conn(), ws, &mentioned).await?;
            for event in &events {
                if let Some(body) = without_purged(event, device, before, &present) {
                    store::events::rewrite(w.conn(), ws, event.seq, &body).await?;
                    rewritten += 1;
                }
            }
        }
        w.commit().await?;
    }
    Ok(rewritten)
}

/// The message an event is about, when the event says anything of it.
fn message_of(body: &EventBody) -> Option<MessageId> {
    match body {
        EventBody::MessageCreated { message, .. } | EventBody::MessageUpdated { message } => Some(message.id),
        EventBody::Mention { message_id, .. } => Some(*message_id),
        _ => None,
    }
}

/// What an event from before the retention period says once its purged content is taken out,
/// or `None` when it is right as it is. `present`: the messages still stored among those the
/// events name.
fn without_purged(
    event: &Event,
    device: DeviceId,
    before: DateTime<Utc>,
    present: &HashSet<MessageId>,
) -> Option<EventBody> {
    // A preview is the text of the message at `last_message_at`: gone when that is before the
    // number's cutoff.
    let old = |c: &handoff_proto::Conversation| {
        c.device_id == device && c.last_message_at < before && !c.last_message_preview.is_empty()
    };
    let blank = |conversation: &handoff_proto::Conversation| {
        let mut c = conversation.clone();
        c.last_message_preview.clear();
        c
    };
    match &event.body {
        // Its conversation as it was then, without the message, whose text its preview was.
        EventBody::MessageCreated { message, conversation } if !present.contains(&message.id) => {
            Some(EventBody::ConversationUpdated {
                conversation: blank(conversation),
                actor_id: None,
                cause: UpdateCause::Refreshed,
            })
        }
        EventBody::MessageUpdated { message } if !present.contains(&message.id) => Some(EventBody::Redacted),
        EventBody::Mention { message_id, .. } if !present.contains(message_id) => Some(EventBody::Redacted),
        EventBody::ConversationUpdated { conversation, actor_id, cause } if old(conversation) => {
            Some(EventBody::ConversationUpdated {
                conversation: blank(conversation),
                actor_id: *actor_id,
                cause: *cause,
            })
        }
        EventBody::ConversationMerged { from, conversation } if old(conversation) => {
            Some(EventBody::ConversationMerged { from: *from, conversation: blank(conversation) })
        }
        _ => None,
    }
}
