//! The webhook worker: follows each active endpoint's place in its workspace's event log, makes
//! a delivery for every event the endpoint wants, and posts the due ones.
//!
//! One worker per installation: on one PostgreSQL database the node holding the `webhooks`
//! lease runs it (another takes over within [`LEASE`] when that node stops). A delivery is
//! recorded before it is posted and marked delivered after its 2xx, so a crash between the two
//! posts it again: a receiver may see a delivery id twice. One conversation's deliveries go out
//! in the log's order: the next waits until the one before is delivered or given up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use handoff_proto::{DeliveryId, EventBody};

use super::payload;
use super::send::{host_of, Poster};
use crate::audit::{self, Who};
use crate::store::{self, webhooks::Due, DbResult};
use crate::AppState;

/// A delivery is retried for this long after it was made, then given up ("send again" remains).
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// An endpoint whose every attempt failed for this long is paused and its Admins told.
pub const PAUSE_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// Deliveries looked at per round, posted at once at most, of one endpoint in a batch at most,
/// and recorded together.
const BATCH: i64 = 200;
const AT_ONCE: usize = 32;
const PER_ENDPOINT: usize = 50;
const RECORD_EVERY: usize = 32;
/// Events read from the log at a time.
const EVENTS_PAGE: i64 = 500;
/// On a shared database: the lease on the job, renewed at a third of it.
pub const LEASE: Duration = Duration::from_secs(30);
const JOB: &str = "webhooks";

/// The wait after the `attempts`-th failed attempt: 30 s, doubling, at most 2 hours, and up to a
/// tenth more at random (endpoints that failed together are not retried in step). About 20
/// attempts fit in the 24 hours.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let base = 30i64.saturating_mul(1 << attempts.saturating_sub(1).min(10)).min(2 * 3600);
    let jitter = rand::random_range(0..=base / 10);
    chrono::Duration::seconds(base + jitter)
}

pub async fn run(state: AppState) {
    let poster = match Poster::new(state.config.webhooks_to_private_addresses) {
        Ok(p) => p,
        Err(e) => return tracing::error!(error = %e, "outbound webhooks are off: no HTTP client"),
    };
    let mut published = state.store.hub().events_published();
    let mut shutdown = state.shutdown.clone();
    let mut lease = Lease::default();
    loop {
        let mut next = None;
        if lease.keep(&state).await {
            match round(&state, &poster, &mut lease).await {
                Ok(n) => next = n,
                Err(e) => tracing::warn!(error = %e, "outbound webhooks: a round failed; trying again shortly"),
            }
        }
        // On a shared database, the lease is renewed at a third of its length; on SQLite, a
        // round a minute looks for what nothing woke the worker for.
        let poll = if state.cluster.shared().is_some() { LEASE / 3 } else { Duration::from_secs(60) };
        let due = async {
            match next {
                Some(at) => {
                    state.clock.sleep_until(at).await;
                    // Never round after round without a pause (a clock read twice the same).
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = published.changed() => if changed.is_err() { return },
            _ = state.webhooks.kicked() => {}
            _ = due => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    if lease.held && state.cluster.shared().is_some() {
        if let Ok(mut conn) = state.store.unlogged().await {
            let _ = store::webhooks::release_job(&mut conn, JOB, &state.cluster.node_text()).await;
        }
    }
}

/// Whether this node runs the worker: always on SQLite (one node); on a shared database while
/// it holds the `webhooks` lease, renewed at a third of its length (between batches too, so a
/// long round never outlives it).
#[derive(Default)]
pub struct Lease {
    held: bool,
    /// When it was last taken or renewed.
    asked: Option<std::time::Instant>,
}

impl Lease {
    async fn keep(&mut self, state: &AppState) -> bool {
        if state.cluster.shared().is_none() {
            self.held = true;
            return true;
        }
        if self.asked.is_some_and(|at| at.elapsed() < LEASE / 3) {
            return self.held;
        }
        self.asked = Some(std::time::Instant::now());
        let now = store::now();
        let until = now + chrono::Duration::from_std(LEASE).expect("a short span");
        let held = async {
            let mut conn = state.store.unlogged().await?;
            store::webhooks::hold_job(&mut conn, JOB, &state.cluster.node_text(), now, until).await
        };
        let holds = match held.await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "outbound webhooks: the lease was not renewed");
                false
            }
        };
        if holds != self.held {
            tracing::info!(held = holds, "outbound webhooks: this node delivers them: {holds}");
        }
        self.held = holds;
        holds
    }
}

/// Makes the deliveries for what happened since the last round, posts every due one (and the
/// next of each conversation as the one before it goes through); returns when the next is due.
/// Outcomes are written as they come, a few at a time, so an endpoint that hangs holds up the
/// others' records by no more than one attempt's timeout; and no endpoint takes more than
/// [`PER_ENDPOINT`] of a batch when others have work too.
pub async fn round(state: &AppState, poster: &Poster, lease: &mut Lease) -> DbResult<Option<DateTime<Utc>>> {
    // No active endpoint (most installations): nothing is due either.
    if fan_out(state).await? == 0 {
        return Ok(None);
    }
    loop {
        if !lease.keep(state).await {
            return Ok(None);
        }
        let mut due = store::webhooks::due(&mut *state.store.reader().await?, state.clock.now(), BATCH).await?;
        if due.is_empty() {
            break;
        }
        let full = due.len() as i64 == BATCH;
        // Several endpoints with work: none takes more than its share of the batch.
        let mut taken: std::collections::HashMap<handoff_proto::WebhookId, usize> = Default::default();
        let several = due.iter().any(|d| d.endpoint_id != due[0].endpoint_id);
        due.retain(|d| {
            let n = taken.entry(d.endpoint_id).or_default();
            *n += 1;
            !several || *n <= PER_ENDPOINT
        });
        let mut attempts = futures_util::stream::iter(due)
            .map(|d| async move {
                let at = state.clock.now();
                let answer = poster.post(&d.url, &d.secret, &d.id.to_string(), &d.body, at.timestamp()).await;
                Posted { due: d, at, answer }
            })
            .buffer_unordered(AT_ONCE);
        let mut delivered = 0;
        let mut done = Vec::new();
        while let Some(posted) = attempts.next().await {
            delivered += usize::from(posted.answer.ok);
            done.push(posted);
            if done.len() >= RECORD_EVERY {
                record(state, &done).await?;
                done.clear();
            }
        }
        if !done.is_empty() {
            record(state, &done).await?;
        }
        // What failed is due later; what went through may have let its conversation's next
        // delivery become due.
        if delivered == 0 && !full {
            break;
        }
    }
    store::webhooks::next_due(&mut *state.store.reader().await?).await
}

/// Turns the log's new events into deliveries, for each active endpoint; returns how many
/// endpoints are active.
async fn fan_out(state: &AppState) -> DbResult<usize> {
    let endpoints = store::webhooks::active(&mut *state.store.reader().await?).await?;
    let active = endpoints.len();
    for mut endpoint in endpoints {
        loop {
            let events = state.store.events_after(endpoint.workspace, endpoint.cursor_seq, EVENTS_PAGE).await?;
            let Some(last) = events.last().map(|e| e.seq) else { break };
            let mut deliveries = Vec::new();
            for event in &events {
                let Some((kind, conversation_id, data)) = payload::of(event) else { continue };
                if !endpoint.events.contains(&kind) {
                    continue;
                }
                let id = DeliveryId::new();
                deliveries.push(store::webhooks::NewDelivery {
                    id,
                    seq: event.seq,
                    log_type: event.body.type_name(),
                    event_type: kind,
                    conversation_id,
                    body: payload::body(id, kind, event, endpoint.workspace, data),
                });
            }
            let mut w = state.store.begin().await?;
            let moved =
                store::webhooks::add_deliveries(w.conn(), &endpoint, &deliveries, last, state.clock.now()).await?;
            w.commit().await?;
            // Deleted, paused or changed meanwhile: the next round starts from what it is now.
            if !moved {
                break;
            }
            endpoint.cursor_seq = last;
            if (events.len() as i64) < EVENTS_PAGE {
                break;
            }
        }
    }
    Ok(active)
}

/// One attempt: what was posted, when it started, what came back.
struct Posted {
    due: Due,
    at: DateTime<Utc>,
    answer: super::send::Answer,
}

/// Writes the attempts' outcomes in one transaction; pauses the endpoints that have failed for a
/// day (and tells their workspace). Each attempt counts from when it started: the next is due
/// its backoff after that, and a day of failures is a day of attempts.
async fn record(state: &AppState, answers: &[Posted]) -> DbResult<()> {
    let mut w = state.store.begin().await?;
    for Posted { due, at, answer } in answers {
        let now = *at;
        let attempts = due.attempts.saturating_add(1);
        let next_at = (!answer.ok && now - due.created_at < GIVE_UP_AFTER).then(|| now + backoff(attempts));
        let attempt = store::webhooks::Attempt {
            at: now,
            status_code: answer.status_code,
            latency_ms: u32::try_from(answer.latency.as_millis()).unwrap_or(u32::MAX),
            error: answer.error.clone(),
            response: answer.response.clone(),
            delivered: answer.ok,
            next_at,
        };
        state.metrics.webhook_attempt(answer.ok, answer.latency);
        let failing_since = store::webhooks::record(w.conn(), due, &attempt).await?;
        if answer.ok {
            continue;
        }
        tracing::debug!(delivery = %due.id, webhook = %due.endpoint_id, attempts, error = answer.error.as_deref().unwrap_or(""),
            retry_at = ?next_at, "webhook delivery failed");
        if failing_since.is_some_and(|since| now - since >= PAUSE_AFTER)
            && store::webhooks::pause(w.conn(), due.endpoint_id, now).await?
        {
            let host = host_of(&due.url);
            tracing::warn!(webhook = %due.endpoint_id, %host, "webhook paused: every delivery failed for a day");
            let seq = w
                .append(due.workspace, EventBody::WebhookPaused { webhook_id: due.endpoint_id, host: host.clone() })
                .await?;
            let summary = format!("Paused webhook {host}: every delivery failed for a day");
            audit::record(w.conn(), Who::Server(due.workspace), "webhook.pause", None, &summary, Some(seq)).await?;
        }
    }
    w.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_to_two_hours_and_fits_about_20_attempts_in_a_day() {
        let secs: Vec<i64> = (1..=12).map(|n| backoff(n).num_seconds()).collect();
        for (n, (got, base)) in
            secs.iter().zip([30, 60, 120, 240, 480, 960, 1920, 3840, 7200, 7200, 7200, 7200]).enumerate()
        {
            assert!((base..=base + base / 10).contains(got), "attempt {}: {got} s", n + 1);
        }
        let mut total = chrono::Duration::zero();
        let mut attempts = 0;
        while total < GIVE_UP_AFTER {
            attempts += 1;
            total += backoff(attempts);
        }
        assert!((15..=25).contains(&attempts), "{attempts} attempts in a day");
    }
}
