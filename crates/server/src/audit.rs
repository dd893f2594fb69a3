//! The audit log: one append-only row for every change someone (or the server itself) made and
//! for every time someone opened a conversation. Rows are written in the same transaction as the
//! change they describe, so the log never claims a change that was rolled back, nor misses one.

use handoff_proto::{AuditEntry, ConversationId, Seq};

use crate::auth::Actor;
use crate::store::{self, DbResult};

/// The name the server signs its own changes with (routing, snooze wake-up).
pub const SERVER_NAME: &str = "Handoff";

/// Who did something: a signed-in user or API key, or the server.
#[derive(Clone, Copy)]
pub enum Who<'a> {
    Actor(&'a Actor),
    Server,
}

impl<'a> From<&'a Actor> for Who<'a> {
    fn from(actor: &'a Actor) -> Self {
        Who::Actor(actor)
    }
}

pub async fn record(
    conn: &mut store::Conn,
    who: Who<'_>,
    action: &str,
    conversation_id: Option<ConversationId>,
    summary: &str,
    seq: Option<Seq>,
) -> DbResult<()> {
    let (actor_id, actor_name) = match who {
        Who::Actor(a) => (Some(a.id()), a.user.name.as_str()),
        Who::Server => (None, SERVER_NAME),
    };
    let entry = store::audit::NewEntry { actor_id, actor_name, action, conversation_id, summary, seq };
    store::audit::insert(conn, &entry, store::now()).await
}

pub use crate::store::audit::Filter;

/// The audit entries `filter` selects, newest first.
pub async fn list(conn: &mut store::Conn, filter: &Filter, limit: i64) -> DbResult<Vec<AuditEntry>> {
    store::audit::list(conn, filter, limit).await
}

/// Records that `actor` opened a conversation (the app says so when it shows a thread; the HTTP
/// API when the first page of its messages is read). Opening it again within
/// [`VIEW_RECORDED_EVERY`] (an app reconnecting with the thread on screen, an agent switching
/// back and forth) is the same opening.
pub async fn viewed(state: &crate::AppState, actor: &Actor, conversation_id: ConversationId) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    let exists = store::conversations::exists(w.conn(), conversation_id).await?;
    let since = store::now() - VIEW_RECORDED_EVERY;
    if exists && !store::audit::viewed_since(w.conn(), actor.id(), conversation_id, since).await? {
        record(w.conn(), actor.into(), "view", Some(conversation_id), "Opened the conversation", None).await?;
        w.commit().await?;
    }
    Ok(())
}

/// One person's openings of one conversation within this long are one audit row: switching
/// back and forth between two chats all day must not grow the (append-only) log without end.
pub const VIEW_RECORDED_EVERY: chrono::Duration = chrono::Duration::minutes(5);
