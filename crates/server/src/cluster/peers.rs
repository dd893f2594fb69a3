//! Presence across nodes. Each node tells the others what its own connections do (opened,
//! away, viewing or typing, closed): as PostgreSQL notifications, in order, for the nodes
//! listening now, and as rows of `presence_conns`, for a node that starts (or reconnects) later
//! and reads them first. Each node applies the others' changes to its own [`crate::presence`],
//! which works a user's status out of all their connections on every node.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::presence::{Change, ConnKey, RemoteConn};
use crate::store::{self, cluster::ConnRow};
use crate::AppState;

/// The notification channel.
pub const CHANNEL: &str = "handoff_presence";
/// A notification's payload stays under PostgreSQL's 8,000 bytes.
const NOTE_BYTES: usize = 7_000;

/// What one node tells the others.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum Note {
    /// Changes to `node`'s connections, in the order they happened.
    Changes { node: Uuid, changes: Vec<Change> },
    /// `node` is gone (stopped, or not heard of since `seen`): its connections closed then.
    Gone { node: Uuid, seen: DateTime<Utc> },
}

/// Applies another node's note to this node's presence.
pub fn hear(state: &AppState, note: Note) {
    match note {
        Note::Changes { node, changes } => {
            let mut came = false;
            for change in &changes {
                came |= state.presence.remote(node, change);
            }
            if came {
                state.routing.kick(); // a team's backlog may drain to them
            }
        }
        Note::Gone { node, seen } if node != state.cluster.node() => state.presence.node_gone(node, seen),
        Note::Gone { .. } => {}
    }
}

/// Tells the other nodes `note` (best effort: a node that misses it reads the table later).
pub async fn tell(state: &AppState, note: &Note) {
    let sent = async {
        let payload = serde_json::to_string(note)?;
        store::cluster::notify(&mut *state.store.unlogged().await?, CHANNEL, &payload).await?;
        anyhow::Ok(())
    };
    if let Err(e) = sent.await {
        tracing::debug!(error = %e, "a presence note was not sent");
    }
}

/// Sets the other nodes' connections to what `presence_conns` holds.
pub async fn resync(state: &AppState) {
    let rows = async {
        store::cluster::conns_of_others(&mut *state.store.unlogged().await?, &state.cluster.node_text()).await
    };
    let rows = match rows.await {
        Ok(rows) => rows,
        Err(e) => return tracing::warn!(error = %e, "the other nodes' connections were not read"),
    };
    let conns = rows
        .into_iter()
        .filter_map(|row| {
            Some(RemoteConn {
                key: ConnKey { node: Uuid::parse_str(&row.node).ok()?, id: row.conn_id },
                ws: row.ws,
                user: row.user,
                away: row.away,
                activity: row.activity.and_then(|a| serde_json::from_str(&a).ok()),
            })
        })
        .collect();
    if state.presence.resync(conns) {
        state.routing.kick();
    }
}

/// This node's own connections as the table has them.
struct Mine {
    node: String,
    conns: HashMap<u64, ConnRow>,
}

impl Mine {
    /// Applies a change; returns the connection it touched.
    fn apply(&mut self, change: &Change) -> u64 {
        match change {
            Change::Open { conn, ws, user } => {
                let node = self.node.clone();
                self.conns
                    .insert(*conn, ConnRow { node, conn_id: *conn, ws: *ws, user: *user, away: false, activity: None });
            }
            Change::Away { conn, away } => {
                if let Some(row) = self.conns.get_mut(conn) {
                    row.away = *away;
                }
            }
            Change::Doing { conn, conversation_id, activity, at, expires_at } => {
                if let Some(row) = self.conns.get_mut(conn) {
                    row.activity = match conversation_id {
                        Some(id) if *activity != handoff_proto::Activity::Idle => {
                            serde_json::to_string(&handoff_proto::ActivityEntry {
                                user_id: row.user,
                                conversation_id: *id,
                                activity: *activity,
                                at: *at,
                                expires_at: *expires_at,
                            })
                            .ok()
                        }
                        _ => None,
                    };
                }
            }
            Change::Close { conn } => {
                self.conns.remove(conn);
            }
        }
        change.conn()
    }
}

/// Passes this node's presence changes on, in order, a batch at a time: the rows they touch
/// are written (the latest state of each), then the changes are told.
pub async fn run(state: AppState, mut changes: mpsc::UnboundedReceiver<Change>) {
    let mut mine = Mine { node: state.cluster.node_text(), conns: HashMap::new() };
    // A table that missed a write is written whole with the next batch.
    let mut stale = true;
    while let Some(first) = changes.recv().await {
        let mut batch = vec![first];
        while batch.len() < 500 {
            match changes.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        let touched: Vec<u64> = batch.iter().map(|c| mine.apply(c)).collect();
        let written = async {
            let mut conn = state.store.unlogged().await?;
            if stale {
                store::cluster::forget_conns(&mut conn, &mine.node).await?;
                for row in mine.conns.values() {
                    store::cluster::put_conn(&mut conn, row).await?;
                }
            } else {
                let mut done = std::collections::HashSet::new();
                for id in touched {
                    if !done.insert(id) {
                        continue;
                    }
                    match mine.conns.get(&id) {
                        Some(row) => store::cluster::put_conn(&mut conn, row).await?,
                        None => store::cluster::drop_conn(&mut conn, &mine.node, id).await?,
                    }
                }
            }
            store::DbResult::Ok(())
        };
        stale = match written.await {
            Ok(()) => false,
            Err(e) => {
                tracing::warn!(error = %e, "this node's connections were not written for the other nodes");
                true
            }
        };
        for note in notes(state.cluster.node(), batch) {
            tell(&state, &note).await;
        }
    }
}

/// The changes as notes, each under [`NOTE_BYTES`].
fn notes(node: Uuid, batch: Vec<Change>) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut current: Vec<Change> = Vec::new();
    let mut bytes = 0;
    for change in batch {
        let size = serde_json::to_string(&change).map(|s| s.len() + 1).unwrap_or(0);
        if !current.is_empty() && bytes + size > NOTE_BYTES {
            notes.push(Note::Changes { node, changes: std::mem::take(&mut current) });
            bytes = 0;
        }
        bytes += size;
        current.push(change);
    }
    if !current.is_empty() {
        notes.push(Note::Changes { node, changes: current });
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_proto::UserId;

    #[test]
    fn a_large_batch_is_told_in_notes_under_postgres_limit_in_order() {
        let node = Uuid::new_v4();
        let batch: Vec<Change> = (0..400)
            .map(|i| Change::Open { conn: i, ws: handoff_proto::WorkspaceId::nil(), user: UserId::new() })
            .collect();
        let notes = notes(node, batch);
        assert!(notes.len() > 1);
        let mut next = 0;
        for note in &notes {
            assert!(serde_json::to_string(note).unwrap().len() < 8000);
            let Note::Changes { changes, .. } = note else { panic!() };
            for c in changes {
                assert_eq!(c.conn(), next);
                next += 1;
            }
        }
        assert_eq!(next, 400);
    }
}
