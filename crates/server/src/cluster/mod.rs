//! Several nodes on one PostgreSQL database (docs/decisions.md, "Several nodes").
//!
//! An SQLite database has one server, which drives every device and knows every connection:
//! [`Cluster`] is then `single` and nothing here runs. On PostgreSQL each node:
//! - hears the others through PostgreSQL's notifications ([`listen`]): the event log's new
//!   head (it reads those events from the log and hands them to its hub after what it handed
//!   before, [`crate::store::Store::catch_up`]), their connections' presence, and calls for the
//!   devices it drives ("typing…", read receipts);
//! - says it is alive, renews the leases of the devices it drives and takes those nobody drives
//!   ([`leases`]): each device is driven by exactly one node, and another takes it over within
//!   [`leases::LEASE`] of its node's death;
//! - passes a request about a device it does not drive to the node that does ([`forward`]);
//! - tells the others what its own connections do ([`peers`]).
//!
//! Claims, the send guard, idempotency keys and routing caps need nothing of their own here:
//! they are decided inside write transactions, which the event log's lock puts one after another
//! across nodes ([`crate::store::Store::begin`]).

pub mod forward;
pub mod leases;
pub mod listen;
pub mod peers;

use std::collections::HashSet;
use std::path::Path;
use std::sync::RwLock;

use anyhow::Context;
use chrono::{DateTime, Utc};
use handoff_proto::DeviceId;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::store::{self, Database, DbResult};
use crate::AppState;

/// This node, and on a shared database what it shares with the others.
pub struct Cluster {
    node: Uuid,
    shared: Option<Shared>,
}

pub struct Shared {
    /// The database's URL (the notification listener opens a connection of its own).
    database_url: String,
    /// Where the other nodes reach this one.
    pub url: String,
    started: DateTime<Utc>,
    /// The devices this node holds a lease on, and so drives.
    held: RwLock<HashSet<DeviceId>>,
    /// Passes requests on to other nodes.
    http: reqwest::Client,
    /// Wakes the lease loop early (a device was added, or the node stops).
    kick: Notify,
}

/// A call for a device's adapter, made on one node for the node that drives the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum DeviceCall {
    /// Show or clear "typing…" in a chat.
    Typing { chat: String, composing: bool },
    /// Mark these messages of a chat read.
    Read { chat: String, ids: Vec<String> },
    /// A reply was committed: the device's worker looks for what to send.
    Send,
}

impl Cluster {
    /// The node's id is kept in its data folder (`node-id`): a node that restarts is the same
    /// node, and takes its devices' leases back at once instead of waiting for them to run out.
    pub fn new(data_dir: &Path, database: &Database, url: String) -> anyhow::Result<Cluster> {
        let node = node_id(data_dir)?;
        let shared = match database {
            Database::Sqlite(_) => None,
            Database::Postgres(database_url) => Some(Shared {
                database_url: database_url.clone(),
                url,
                started: store::now(),
                held: RwLock::default(),
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .build()
                    .context("an HTTP client for the other nodes")?,
                kick: Notify::new(),
            }),
        };
        Ok(Cluster { node, shared })
    }

    pub fn node(&self) -> Uuid {
        self.node
    }

    /// The node's id as stored.
    pub fn node_text(&self) -> String {
        self.node.to_string()
    }

    pub fn shared(&self) -> Option<&Shared> {
        self.shared.as_ref()
    }

    /// Whether this node drives the device (on one node: every device).
    pub fn holds(&self, device: DeviceId) -> bool {
        match &self.shared {
            None => true,
            Some(s) => s.held.read().unwrap_or_else(|p| p.into_inner()).contains(&device),
        }
    }

    /// The devices this node drives (on one node: none is counted here).
    pub fn held(&self) -> Vec<DeviceId> {
        match &self.shared {
            None => Vec::new(),
            Some(s) => s.held.read().unwrap_or_else(|p| p.into_inner()).iter().copied().collect(),
        }
    }

    /// A device was just added on this node: it takes the device's lease and drives it (unless
    /// another node was quicker). Returns whether it drives it.
    pub async fn take(&self, state: &AppState, device: DeviceId) -> DbResult<bool> {
        let Some(shared) = &self.shared else { return Ok(true) };
        let until = store::now() + leases::LEASE;
        let taken = store::cluster::take(&mut *state.store.unlogged().await?, device, &self.node_text(), until).await?;
        if taken {
            shared.held.write().unwrap_or_else(|p| p.into_inner()).insert(device);
        }
        shared.kick.notify_one();
        Ok(taken)
    }

    /// Asks the node that drives `device` to make a call (this node, if it drives it).
    pub async fn call(&self, state: &AppState, device: DeviceId, call: DeviceCall) {
        if self.holds(device) {
            listen::device_call(state, device, call).await;
            return;
        }
        let payload = match serde_json::to_string(&listen::DeviceCallNote { device, call }) {
            Ok(p) => p,
            Err(_) => return,
        };
        let sent =
            async { store::cluster::notify(&mut *state.store.unlogged().await?, listen::DEVICES, &payload).await };
        if let Err(e) = sent.await {
            tracing::debug!(%device, error = %e, "a device call was not passed on to its node");
        }
    }
}

/// This node's id, from `node-id` in the data folder (made the first time).
fn node_id(data_dir: &Path) -> anyhow::Result<Uuid> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => Uuid::parse_str(text.trim()).with_context(|| format!("{} is not a node id", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = Uuid::new_v4();
            std::fs::write(&path, format!("{id}\n")).with_context(|| format!("writing {}", path.display()))?;
            Ok(id)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Starts this node's part on a shared database: hears the others, takes its devices (the
/// first round runs before this returns, so the node starts with its devices driven), and
/// keeps its leases and heartbeat. Nothing on one node.
pub async fn start(state: &AppState) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let Some(shared) = state.cluster.shared() else { return Ok(Vec::new()) };
    let listener = listen::connect(&shared.database_url).await?;
    let mut tasks = vec![tokio::spawn(listen::run(state.clone(), listener))];
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    state.presence.tell_peers(tx);
    tasks.push(tokio::spawn(peers::run(state.clone(), rx)));
    leases::round(state).await?;
    tasks.push(tokio::spawn(leases::run(state.clone())));
    Ok(tasks)
}

/// A graceful stop: the node gives up its leases (other nodes take the devices at once) and
/// says goodbye (its connections' presence goes with it).
pub async fn leave(state: &AppState) {
    let Some(shared) = state.cluster.shared() else { return };
    let node = state.cluster.node_text();
    let left = async {
        let mut conn = state.store.unlogged().await?;
        store::cluster::release(&mut conn, &node).await?;
        store::cluster::leave(&mut conn, &node).await?;
        let note = serde_json::to_string(&peers::Note::Gone { node: state.cluster.node(), seen: store::now() })?;
        store::cluster::notify(&mut conn, peers::CHANNEL, &note).await?;
        anyhow::Ok(())
    };
    if let Err(e) = left.await {
        tracing::warn!(error = %e, "the node's leases were not given up: other nodes take its devices when they run out");
    }
    shared.held.write().unwrap_or_else(|p| p.into_inner()).clear();
}
