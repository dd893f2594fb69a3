//! Housekeeping: what the server keeps only for a while.
//!
//! * Idempotency records (`applied`: the answer to each mutation id and `Idempotency-Key`) are
//!   kept [`IDEMPOTENCY_KEPT`], far longer than any retry waits: the app resends its outbox
//!   within seconds of reconnecting, and an integration retries within minutes. A request
//!   repeated after that is applied as new.
//!
//! * Sessions are kept [`EXPIRED_SESSIONS_KEPT`] after they expire (their token answers 401
//!   `session_expired`, so the app asks for the password rather than a new sign-in), then deleted.
//!
//! * Tokens whose access an Admin removed (`access_removed`) are kept as long as expired
//!   sessions: a token older than that is refused as any unknown token.
//!
//! * Receipts that came before their reply's send was recorded are kept [`EARLY_RECEIPTS_KEPT`].
//!
//! * Gateway webhook event ids are kept [`WEBHOOKS_SEEN_KEPT`], twice the time window a webhook
//!   is accepted in: a replay of an older one is refused by its timestamp.
//!
//! * Outbound webhook deliveries are kept [`DELIVERIES_KEPT`] once done (delivered or given up),
//!   or less where a workspace's retention period (or one of its numbers') is shorter: their
//!   payloads hold messages.
//!
//! The task runs once an hour on the system clock; [`prune_once`] does one pass at a given time.

use chrono::{DateTime, Utc};

use crate::store::{self, DbResult};
use crate::AppState;

/// How long the answer to a mutation id or `Idempotency-Key` is kept.
pub const IDEMPOTENCY_KEPT: chrono::Duration = chrono::Duration::days(30);

/// How long an expired session's record stays (its token then answers plain `unauthenticated`).
pub const EXPIRED_SESSIONS_KEPT: chrono::Duration = chrono::Duration::days(30);

/// How long a receipt that came before its reply's send was recorded is kept (a gateway's
/// message ids can hold the customer's number).
pub const EARLY_RECEIPTS_KEPT: chrono::Duration = chrono::Duration::days(1);

/// How long a processed webhook's event id is remembered.
pub const WEBHOOKS_SEEN_KEPT: chrono::Duration = chrono::Duration::minutes(10);

/// How long the outbound webhooks' delivery log keeps a delivery that is done.
pub const DELIVERIES_KEPT: chrono::Duration = chrono::Duration::days(14);

const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    loop {
        tick.tick().await;
        match prune_once(&state, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "old idempotency records and sessions pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning failed; tried again in an hour"),
        }
    }
}

/// Deletes the idempotency records older than [`IDEMPOTENCY_KEPT`] at `now`, and the sessions
/// expired longer than [`EXPIRED_SESSIONS_KEPT`] ago, and the webhook ids seen longer than
/// [`WEBHOOKS_SEEN_KEPT`] ago; returns how many rows went.
pub async fn prune_once(state: &AppState, now: DateTime<Utc>) -> DbResult<u64> {
    let span = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let used_before = now.checked_sub_signed(span(state.config.session_idle) + EXPIRED_SESSIONS_KEPT);
    let created_before = now.checked_sub_signed(span(state.config.session_max_age) + EXPIRED_SESSIONS_KEPT);
    let mut w = state.store.begin().await?;
    let mut gone = store::idempotency::prune(w.conn(), now - IDEMPOTENCY_KEPT).await?;
    gone += store::people::prune_sessions(&mut w, used_before, created_before).await?;
    gone += store::gateway_seen::prune(w.conn(), now - WEBHOOKS_SEEN_KEPT).await?;
    gone += store::replies::prune_early_receipts(w.conn(), now - EARLY_RECEIPTS_KEPT).await?;
    if let Some(before) = created_before {
        gone += store::people::prune_access_removed(w.conn(), before).await?;
    }
    gone += store::webhooks::prune(w.conn(), now - DELIVERIES_KEPT).await?;
    for ws in store::privacy::workspaces(w.conn()).await? {
        let settings = store::privacy::settings(w.conn(), ws).await?;
        let shortest = settings.numbers.iter().filter_map(|n| n.retention_days).chain(settings.retention_days).min();
        if let Some(days) = shortest.filter(|d| i64::from(*d) < DELIVERIES_KEPT.num_days()) {
            gone +=
                store::webhooks::prune_workspace(w.conn(), ws, now - chrono::Duration::days(i64::from(days))).await?;
        }
    }
    w.commit().await?;
    Ok(gone)
}
