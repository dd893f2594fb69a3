//! Housekeeping: what the server keeps only for a while.
//!
//! * Idempotency records (`applied`: the answer to each mutation id and `Idempotency-Key`) are
//!   kept [`IDEMPOTENCY_KEPT`], far longer than any retry waits: the app resends its outbox
//!   within seconds of reconnecting, and an integration retries within minutes. A request
//!   repeated after that is applied as new.
//!
//! The task runs once an hour on the system clock; [`prune_once`] does one pass at a given time.

use chrono::{DateTime, Utc};

use crate::store::DbResult;
use crate::AppState;

/// How long the answer to a mutation id or `Idempotency-Key` is kept.
pub const IDEMPOTENCY_KEPT: chrono::Duration = chrono::Duration::days(30);

const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    loop {
        tick.tick().await;
        match prune_once(&state, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "old idempotency records pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning failed; tried again in an hour"),
        }
    }
}

/// Deletes the idempotency records older than [`IDEMPOTENCY_KEPT`] at `now`; returns how many.
pub async fn prune_once(state: &AppState, now: DateTime<Utc>) -> DbResult<u64> {
    let before = crate::store::ts(now - IDEMPOTENCY_KEPT);
    let mut w = state.store.begin().await?;
    let gone = sqlx::query("DELETE FROM applied WHERE created_at < ?").bind(before).execute(w.conn()).await?;
    w.commit().await?;
    Ok(gone.rows_affected())
}
