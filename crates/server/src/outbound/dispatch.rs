//! What agents do that the customer sees besides replies (those go through [`crate::outbound`]):
//! "typing…" and read receipts, best effort, through the conversation's device adapter (on the
//! node that drives it: [`crate::cluster::Cluster::call`]).

use handoff_proto::{ConversationId, WorkspaceId};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use handoff_proto::DeviceId;
use tokio::sync::watch;

use crate::cluster::DeviceCall;
use crate::store::{self, DbResult};
use crate::AppState;

/// The device a conversation of workspace `ws` goes through and its customer's address.
async fn device_and_chat(
    state: &AppState,
    ws: WorkspaceId,
    conversation_id: ConversationId,
) -> DbResult<Option<(DeviceId, String)>> {
    store::conversations::device_and_jid(&mut *state.store.reader().await?, ws, conversation_id).await
}

/// The shortest time between two "typing…" calls to WhatsApp for one conversation: however often
/// agents' apps start and stop typing, the customer's phone (and the gateway) hears of it at most
/// this often, and only the latest state.
pub const TYPING_GAP: Duration = Duration::from_secs(2);

/// "typing…" towards customers: one task per conversation while anyone types in it, which
/// relays the latest wanted state at most every [`TYPING_GAP`]. The customer sees "typing…"
/// while at least one agent's connection types a reply, and it clears when the last stops.
#[derive(Default)]
pub struct TypingRelay {
    /// By workspace and conversation: a caller names a conversation only in its own workspace.
    conversations: Mutex<HashMap<(WorkspaceId, ConversationId), Relay>>,
}

struct Relay {
    /// Connections typing a reply in the conversation now.
    typists: usize,
    /// Whether the customer should see "typing…".
    wanted: watch::Sender<bool>,
}

impl TypingRelay {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(WorkspaceId, ConversationId), Relay>> {
        self.conversations.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One connection starts (`true`) or stops typing a reply in the conversation: shown to (or
/// cleared for) the customer through its device, best effort (a device that cannot is logged).
pub fn typing(state: &AppState, ws: WorkspaceId, conversation_id: ConversationId, composing: bool) {
    let mut conversations = state.typing.lock();
    match conversations.entry((ws, conversation_id)) {
        Entry::Occupied(mut entry) => {
            let relay = entry.get_mut();
            relay.typists = if composing { relay.typists + 1 } else { relay.typists.saturating_sub(1) };
            relay.wanted.send_replace(relay.typists > 0);
        }
        Entry::Vacant(entry) => {
            if !composing {
                return; // nothing is shown
            }
            let (wanted, rx) = watch::channel(true);
            entry.insert(Relay { typists: 1, wanted });
            tokio::spawn(relay(state.clone(), ws, conversation_id, rx));
        }
    }
}

async fn relay(state: AppState, ws: WorkspaceId, conversation_id: ConversationId, mut wanted: watch::Receiver<bool>) {
    let mut shown = false;
    loop {
        let want = *wanted.borrow_and_update();
        if want != shown {
            // Through the node that drives the device (this one, on one node).
            if let Ok(Some((device, chat))) = device_and_chat(&state, ws, conversation_id).await {
                state.cluster.call(&state, device, DeviceCall::Typing { chat, composing: want }).await;
            }
            shown = want;
            // Changes meanwhile are taken together, as their latest state, after the gap.
            tokio::time::sleep(TYPING_GAP).await;
            continue;
        }
        if !shown {
            // Nothing shown and nobody typing: the task ends (under the lock, so that a new
            // typist either finds this relay still listening or starts a new one).
            let mut conversations = state.typing.lock();
            if !*wanted.borrow() && conversations.get(&(ws, conversation_id)).is_some_and(|r| r.typists == 0) {
                conversations.remove(&(ws, conversation_id));
                return;
            }
        }
        if wanted.changed().await.is_err() {
            return;
        }
    }
}

/// The customer's messages since `since` (all when `None`) are read: WhatsApp shows them read
/// (blue ticks). Best effort, in the background.
pub fn mark_read(state: &AppState, ws: WorkspaceId, conversation_id: ConversationId, since: Option<String>) {
    let state = state.clone();
    tokio::spawn(async move {
        let unread = async {
            let mut conn = state.store.reader().await?;
            store::messages::inbound_wa_ids_since(&mut conn, ws, conversation_id, since.as_deref()).await
        }
        .await;
        let (Ok(ids), Ok(Some((device, chat)))) = (unread, device_and_chat(&state, ws, conversation_id).await) else {
            return;
        };
        if ids.is_empty() {
            return;
        }
        state.cluster.call(&state, device, DeviceCall::Read { chat, ids }).await;
    });
}
