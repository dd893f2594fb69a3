//! The audit log: one append-only row for every change someone (or the server itself) made and
//! for every time someone opened a conversation. Rows are written in the same transaction as the
//! change they describe, so the log never claims a change that was rolled back, nor misses one.

use handoff_proto::{AuditEntry, ConversationId, Seq, WorkspaceId};

use crate::auth::Actor;
use crate::store::{self, DbResult};

/// The name the server signs its own changes with (routing, snooze wake-up).
pub const SERVER_NAME: &str = "Handoff";

/// Who did something: a signed-in user or API key (in its workspace), or the server (in the
/// workspace it acted in).
#[derive(Clone, Copy)]
pub enum Who<'a> {
    Actor(&'a Actor),
    Server(WorkspaceId),
}

impl Who<'_> {
    /// The workspace the change is made in, and recorded in.
    pub fn workspace(&self) -> WorkspaceId {
        match self {
            Who::Actor(a) => a.workspace,
            Who::Server(ws) => *ws,
        }
    }
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
    write(conn, who.workspace(), who, action, conversation_id, summary, seq).await
}

/// Records a change in workspace `ws`, which need not be `who`'s own (a workspace its owner just
/// created).
pub async fn record_in(
    conn: &mut store::Conn,
    ws: WorkspaceId,
    who: Who<'_>,
    action: &str,
    summary: &str,
    seq: Option<Seq>,
) -> DbResult<()> {
    write(conn, ws, who, action, None, summary, seq).await
}

async fn write(
    conn: &mut store::Conn,
    workspace: WorkspaceId,
    who: Who<'_>,
    action: &str,
    conversation_id: Option<ConversationId>,
    summary: &str,
    seq: Option<Seq>,
) -> DbResult<()> {
    let (actor_id, actor_name) = match who {
        Who::Actor(a) => (Some(a.id()), a.user.name.as_str()),
        Who::Server(_) => (None, SERVER_NAME),
    };
    let entry = store::audit::NewEntry { workspace, actor_id, actor_name, action, conversation_id, summary, seq };
    store::audit::insert(conn, &entry, store::now()).await
}

pub use crate::store::audit::Filter;

/// The workspace's audit entries `filter` selects, newest first.
pub async fn list(conn: &mut store::Conn, ws: WorkspaceId, filter: &Filter, limit: i64) -> DbResult<Vec<AuditEntry>> {
    store::audit::list(conn, ws, filter, limit).await
}

/// Records that `actor` opened a conversation (the app says so when it shows a thread; the HTTP
/// API when the first page of its messages is read). Opening it again within
/// [`VIEW_RECORDED_EVERY`] (an app reconnecting with the thread on screen, an agent switching
/// back and forth) is the same opening.
pub async fn viewed(state: &crate::AppState, actor: &Actor, conversation_id: ConversationId) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    let exists = store::conversations::exists(w.conn(), actor.ws(), conversation_id).await?;
    let since = store::now() - VIEW_RECORDED_EVERY;
    if exists && !store::audit::viewed_since(w.conn(), actor.ws(), actor.id(), conversation_id, since).await? {
        record(w.conn(), actor.into(), "view", Some(conversation_id), "Opened the conversation", None).await?;
        w.commit().await?;
    }
    Ok(())
}

/// One person's openings of one conversation within this long are one audit row: switching
/// back and forth between two chats all day must not grow the (append-only) log without end.
pub const VIEW_RECORDED_EVERY: chrono::Duration = chrono::Duration::minutes(5);
