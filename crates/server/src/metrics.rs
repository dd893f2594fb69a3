//! Counters served at `GET /metrics` in Prometheus' text format, and histograms of where a
//! customer message spends its time on the way to the agents: waiting for the writer, being
//! written, being committed, and from the hub to each connection's socket.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use handoff_proto::MessageKind;

/// Upper bounds of the histograms' buckets, in microseconds (then +Inf).
const BOUNDS_US: [u64; 14] =
    [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 5_000_000];

/// A Prometheus histogram of durations: counts per bucket, their sum and their number.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let i = BOUNDS_US.iter().position(|b| us <= *b).unwrap_or(BOUNDS_US.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut count = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            count += bucket.load(Relaxed);
            match BOUNDS_US.get(i) {
                Some(b) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {count}", *b as f64 / 1e6);
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
                }
            }
        }
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {count}", self.sum_us.load(Relaxed) as f64 / 1e6);
    }
}

#[derive(Default)]
pub struct Metrics {
    inbound: AtomicU64,
    from_phone: AtomicU64,
    sent: AtomicU64,
    login_failures: AtomicU64,
    ws_sessions: AtomicU64,
    message_commits: AtomicU64,
    slow_clients: AtomicU64,
    webhooks_delivered: AtomicU64,
    webhooks_failed: AtomicU64,
    /// One outbound webhook attempt, from the request to the answer's first bytes.
    pub webhook_attempts: Histogram,
    /// A customer message from its device's hand-over to the writer taking it.
    pub ingest_wait: Histogram,
    /// A batch of customer messages being written, before its commit.
    pub ingest_write: Histogram,
    /// A batch's commit (on disk before anyone is told).
    pub ingest_commit: Histogram,
    /// A committed event from the hub to a connection's socket, per connection.
    pub fanout_wait: Histogram,
    /// A request's bearer-token check, from the token to its user (the database read included).
    pub auth: Histogram,
}

impl Metrics {
    pub fn inbound(&self, kind: MessageKind) {
        match kind {
            MessageKind::Inbound => self.inbound.fetch_add(1, Relaxed),
            _ => self.from_phone.fetch_add(1, Relaxed),
        };
    }
    /// A transaction that stored customer messages committed (group commit: under load, one
    /// stores many).
    pub fn message_commit(&self) {
        self.message_commits.fetch_add(1, Relaxed);
    }
    /// A WebSocket client was cut off: it fell too far behind, or left frames unread too long.
    pub fn slow_client(&self) {
        self.slow_clients.fetch_add(1, Relaxed);
    }
    /// An outbound webhook attempt: delivered (2xx) or not, and how long it took.
    pub fn webhook_attempt(&self, delivered: bool, took: Duration) {
        if delivered { &self.webhooks_delivered } else { &self.webhooks_failed }.fetch_add(1, Relaxed);
        self.webhook_attempts.observe(took);
    }
    pub fn sent(&self) {
        self.sent.fetch_add(1, Relaxed);
    }
    pub fn login_failed(&self) {
        self.login_failures.fetch_add(1, Relaxed);
    }
    pub fn ws_session(&self) {
        self.ws_sessions.fetch_add(1, Relaxed);
    }

    pub fn render(&self, head_seq: i64, ws_connections: usize) -> String {
        let mut out = String::new();
        let counters = [
            ("handoff_inbound_messages_total", "Customer messages stored", self.inbound.load(Relaxed)),
            ("handoff_phone_messages_total", "Messages typed on a linked phone, stored", self.from_phone.load(Relaxed)),
            ("handoff_replies_sent_total", "Replies handed to a device", self.sent.load(Relaxed)),
            ("handoff_login_failures_total", "Failed logins", self.login_failures.load(Relaxed)),
            ("handoff_ws_sessions_total", "WebSocket sessions opened", self.ws_sessions.load(Relaxed)),
            (
                "handoff_message_commits_total",
                "Transactions that stored device messages (several per transaction under load)",
                self.message_commits.load(Relaxed),
            ),
            (
                "handoff_ws_slow_clients_total",
                "WebSocket clients cut off for falling behind (they catch up from the log)",
                self.slow_clients.load(Relaxed),
            ),
            (
                "handoff_webhook_deliveries_total",
                "Outbound webhook attempts answered 2xx",
                self.webhooks_delivered.load(Relaxed),
            ),
            (
                "handoff_webhook_failures_total",
                "Outbound webhook attempts that failed (retried with backoff for a day)",
                self.webhooks_failed.load(Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let histograms = [
            (
                "handoff_ingest_wait_seconds",
                "A customer message from its device to the writer taking it",
                &self.ingest_wait,
            ),
            (
                "handoff_ingest_write_seconds",
                "A batch of customer messages being written, before its commit",
                &self.ingest_write,
            ),
            ("handoff_ingest_commit_seconds", "A batch's commit", &self.ingest_commit),
            (
                "handoff_fanout_wait_seconds",
                "A committed event from the hub to a connection's socket",
                &self.fanout_wait,
            ),
            ("handoff_auth_seconds", "A request's bearer-token check", &self.auth),
            ("handoff_webhook_attempt_seconds", "An outbound webhook attempt, to its answer", &self.webhook_attempts),
        ];
        for (name, help, histogram) in histograms {
            histogram.render(&mut out, name, help);
        }
        let _ = writeln!(out, "# HELP handoff_event_log_head Events in the event logs: the sum of every workspace's last seq\n# TYPE handoff_event_log_head gauge\nhandoff_event_log_head {head_seq}");
        let _ = writeln!(out, "# HELP handoff_ws_connections Live WebSocket connections\n# TYPE handoff_ws_connections gauge\nhandoff_ws_connections {ws_connections}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_duration_in_its_bucket_and_renders_them_cumulatively() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(80));
        h.observe(Duration::from_micros(3_000));
        h.observe(Duration::from_secs(9));
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.0001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.002\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
        assert!(out.contains("x_sum 9.00308\n"), "{out}");
    }
}
