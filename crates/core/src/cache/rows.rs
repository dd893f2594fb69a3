//! Writing the server's rows into the cache: upserts that keep each row's rowid (the search
//! indexes refer to it), many rows per statement, and the run of message events a batch collects.

use std::collections::HashMap;

use handoff_proto::{sortable_time as ts, Conversation, ConversationId, Delivery, Message, MessageId};
use sqlx::SqliteConnection;

use super::DbResult;

/// Messages and conversations of consecutive message events, not yet written. Each event carries
/// the full new state, so for a row seen twice only its last state is written (at the position of
/// its first sighting, which keeps messages in log order for search).
#[derive(Default)]
pub(super) struct Run<'a> {
    messages: Vec<&'a Message>,
    message_at: HashMap<MessageId, usize>,
    conversations: Vec<&'a Conversation>,
    conversation_at: HashMap<ConversationId, usize>,
}

impl<'a> Run<'a> {
    pub(super) fn message(&mut self, m: &'a Message) {
        match self.message_at.get(&m.id) {
            Some(&i) => self.messages[i] = m,
            None => {
                self.message_at.insert(m.id, self.messages.len());
                self.messages.push(m);
            }
        }
    }

    pub(super) fn conversation(&mut self, c: &'a Conversation) {
        match self.conversation_at.get(&c.id) {
            Some(&i) => self.conversations[i] = c,
            None => {
                self.conversation_at.insert(c.id, self.conversations.len());
                self.conversations.push(c);
            }
        }
    }

    pub(super) async fn write(&mut self, conn: &mut SqliteConnection) -> DbResult<()> {
        upsert_messages(conn, &self.messages).await?;
        upsert_conversations(conn, &self.conversations).await?;
        *self = Run::default();
        Ok(())
    }
}

/// Rows per multi-row statement: well under SQLite's bound-parameter limit (32,766) at 20
/// columns, and large enough that statement overhead no longer matters.
const ROWS_PER_STATEMENT: usize = 200;

// Upserts, not INSERT OR REPLACE: a row keeps its rowid, which the search index refers to.
const CONVERSATION_INSERT: &str = "INSERT INTO conversations (id, device_id, contact_id, contact_name, contact_phone, \
    status, assignee_id, team_id, version, assigned_at, last_message_at, last_message_preview, labels, snooze_until, \
    opened_at, first_response_at, first_response_due_at, resolution_due_at, resolved_at, escalation_note_id) ";
const CONVERSATION_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET device_id = excluded.device_id, \
    contact_id = excluded.contact_id, contact_name = excluded.contact_name, contact_phone = excluded.contact_phone, \
    status = excluded.status, assignee_id = excluded.assignee_id, team_id = excluded.team_id, \
    version = excluded.version, assigned_at = excluded.assigned_at, last_message_at = excluded.last_message_at, \
    last_message_preview = excluded.last_message_preview, labels = excluded.labels, \
    snooze_until = excluded.snooze_until, opened_at = excluded.opened_at, \
    first_response_at = excluded.first_response_at, first_response_due_at = excluded.first_response_due_at, \
    resolution_due_at = excluded.resolution_due_at, resolved_at = excluded.resolved_at, \
    escalation_note_id = excluded.escalation_note_id";
const MESSAGE_INSERT: &str = "INSERT INTO messages (id, conversation_id, kind, body, author_id, created_at, delivery, \
    wa_message_id, mutation_id, pending, failure, media, sender) ";
const MESSAGE_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET conversation_id = excluded.conversation_id, \
    kind = excluded.kind, body = excluded.body, author_id = excluded.author_id, created_at = excluded.created_at, \
    delivery = excluded.delivery, wa_message_id = excluded.wa_message_id, mutation_id = excluded.mutation_id, \
    pending = excluded.pending, failure = excluded.failure, media = excluded.media, sender = excluded.sender";

pub(super) async fn upsert_conversation(conn: &mut SqliteConnection, c: &Conversation) -> DbResult<()> {
    upsert_conversations(conn, &[c]).await
}

/// Writes conversations as the server sent them, many rows per statement.
async fn upsert_conversations(conn: &mut SqliteConnection, all: &[&Conversation]) -> DbResult<()> {
    for chunk in all.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(CONVERSATION_INSERT);
        q.push_values(chunk, |mut b, c| {
            b.push_bind(c.id.to_string())
                .push_bind(c.device_id.to_string())
                .push_bind(c.contact.id.to_string())
                .push_bind(c.contact.name.clone())
                .push_bind(c.contact.phone.clone())
                .push_bind(c.status)
                .push_bind(c.assignee_id.map(|u| u.to_string()))
                .push_bind(c.team_id.map(|u| u.to_string()))
                .push_bind(c.version)
                .push_bind(c.assigned_at.map(ts))
                .push_bind(ts(c.last_message_at))
                .push_bind(c.last_message_preview.clone())
                .push_bind(c.labels.join("\n"))
                .push_bind(c.snooze_until.map(ts))
                .push_bind(c.opened_at.map(ts))
                .push_bind(c.first_response_at.map(ts))
                .push_bind(c.first_response_due_at.map(ts))
                .push_bind(c.resolution_due_at.map(ts))
                .push_bind(c.resolved_at.map(ts))
                .push_bind(c.escalation_note_id.map(|n| n.to_string()));
        });
        q.push(CONVERSATION_UPSERT);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes messages as the server sent them; each replaces the optimistic copy it confirms.
async fn upsert_messages(conn: &mut SqliteConnection, all: &[&Message]) -> DbResult<()> {
    let confirmed: Vec<String> = all.iter().filter_map(|m| m.mutation_id).map(|id| id.to_string()).collect();
    for chunk in confirmed.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("DELETE FROM messages WHERE pending = 1 AND id IN (");
        let mut ids = q.separated(", ");
        for id in chunk {
            ids.push_bind(id.clone());
        }
        q.push(")");
        q.build().execute(&mut *conn).await?;
    }
    insert_messages(conn, all, false).await
}

pub(crate) async fn insert_message(conn: &mut SqliteConnection, m: &Message, pending: bool) -> DbResult<()> {
    insert_messages(conn, &[m], pending).await
}

async fn insert_messages(conn: &mut SqliteConnection, all: &[&Message], pending: bool) -> DbResult<()> {
    for chunk in all.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(MESSAGE_INSERT);
        q.push_values(chunk, |mut b, m| {
            b.push_bind(m.id.to_string())
                .push_bind(m.conversation_id.to_string())
                .push_bind(m.kind)
                .push_bind(m.body.clone())
                .push_bind(m.author_id.map(|u| u.to_string()))
                .push_bind(ts(m.created_at))
                .push_bind(m.delivery.map(Delivery::as_str))
                .push_bind(m.wa_message_id.clone())
                .push_bind(m.mutation_id.map(|u| u.to_string()))
                .push_bind(pending)
                .push_bind(m.failure.clone())
                .push_bind(m.media.as_ref().map(|x| serde_json::to_string(x).expect("plain fields serialise")))
                .push_bind(m.sender.clone());
        });
        q.push(MESSAGE_UPSERT);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}
