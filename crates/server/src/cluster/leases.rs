//! Each linked device is driven by exactly one node: the one holding its lease in the database.
//!
//! Every [`RENEW_EVERY`] a node says it is alive, renews its leases for [`LEASE`], stops the
//! devices whose lease it no longer holds, takes the devices nobody holds (never leased, or a
//! lease that ran out: its node died) and starts them, and buries the nodes not seen for
//! [`NODE_GONE_AFTER`] (their connections' presence goes). A node that cannot renew stops its
//! devices before its leases can run out, so two nodes never drive one number: it holds a
//! device only while a renewal it made is still running.
//!
//! A device moves within `LEASE` + `RENEW_EVERY` of its node's last renewal; its outbound
//! worker then starts on the new node and sends what was pending, with the ids chosen when the
//! replies were committed (so what the dead node may have sent already is the same message).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use handoff_proto::DeviceId;

use crate::store;
use crate::AppState;

/// How long a lease runs after its renewal.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(10);
/// How often a node renews its leases and looks for devices nobody drives.
pub const RENEW_EVERY: Duration = Duration::from_secs(2);
/// A node not heard of this long is gone.
pub const NODE_GONE_AFTER: chrono::Duration = chrono::Duration::seconds(10);
/// A node stops its devices this long before its last renewal runs out, if it cannot renew.
const MARGIN: chrono::Duration = chrono::Duration::seconds(3);

/// One round; returns until when this node's leases run.
pub async fn round(state: &AppState) -> anyhow::Result<DateTime<Utc>> {
    let shared = state.cluster.shared().expect("a shared database");
    let node = state.cluster.node_text();
    let now = store::now();
    let until = now + LEASE;
    let mut conn = state.store.unlogged().await?;
    store::cluster::beat(&mut conn, &node, &shared.url, shared.started, now).await?;
    let kept: HashSet<DeviceId> = store::cluster::renew(&mut conn, &node, until).await?.into_iter().collect();
    let taken = store::cluster::take_free(&mut conn, &node, until, now).await?;
    let buried = store::cluster::bury(&mut conn, now - NODE_GONE_AFTER).await?;
    drop(conn);

    let lost: Vec<DeviceId> = {
        let mut held = shared.held.write().unwrap_or_else(|p| p.into_inner());
        let lost = held.iter().filter(|d| !kept.contains(d)).copied().collect();
        *held = kept.iter().chain(taken.iter()).copied().collect();
        lost
    };
    for device in lost {
        tracing::warn!(%device, "this node no longer holds the device's lease: another node drives it");
        stop(state, device).await;
    }
    // Every held device runs (one whose adapter did not start before is tried again).
    for device in kept.iter().chain(taken.iter()) {
        if taken.contains(device) || state.devices.get(*device).is_none() {
            start(state, *device, taken.contains(device)).await;
        }
    }
    for (gone, seen) in buried {
        tracing::warn!(node = gone, last_seen = %seen, "a node stopped answering: its connections are offline after the grace period");
        if let Ok(id) = uuid::Uuid::parse_str(&gone) {
            state.presence.node_gone(id, seen);
            super::peers::tell(state, &super::peers::Note::Gone { node: id, seen }).await;
        }
    }
    Ok(until)
}

async fn start(state: &AppState, device: DeviceId, new: bool) {
    let found = async { store::devices::driven(&mut *state.store.reader().await?, device).await };
    match found.await {
        Ok(Some((ws, d))) => {
            if new {
                tracing::info!(%device, "this node now drives the device");
            }
            if let Err(e) = state.devices.start(state, ws, &d).await {
                tracing::warn!(%device, error = %e, "device adapter not started");
            }
        }
        Ok(None) => {} // removed meanwhile: its lease went with it
        Err(e) => tracing::warn!(%device, error = %e, "a held device was not read"),
    }
}

/// Stops driving a device whose lease this node lost: its worker (a send in hand goes out again
/// from the new node, as the same message) and its adapter, which stays linked.
pub async fn stop(state: &AppState, device: DeviceId) {
    state.outbound.stop(device).await;
    if let Some(handle) = state.devices.remove(device) {
        handle.adapter.release().await;
    }
}

/// The lease loop, every [`RENEW_EVERY`] (sooner when kicked).
pub async fn run(state: AppState) {
    let shared = state.cluster.shared().expect("a shared database");
    let mut valid_until = store::now() + LEASE;
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RENEW_EVERY) => {}
            _ = shared.kick.notified() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match round(&state).await {
            Ok(until) => valid_until = until,
            Err(e) => {
                tracing::warn!(error = %e, "leases not renewed");
                if store::now() > valid_until - MARGIN {
                    let held: Vec<DeviceId> = shared.held.write().unwrap_or_else(|p| p.into_inner()).drain().collect();
                    if !held.is_empty() {
                        tracing::error!(
                            devices = held.len(),
                            "leases about to run out unrenewed: this node stops driving its devices"
                        );
                    }
                    for device in held {
                        stop(&state, device).await;
                    }
                }
            }
        }
    }
}
