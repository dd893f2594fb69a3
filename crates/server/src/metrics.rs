//! Counters served at `GET /metrics` in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use handoff_proto::MessageKind;

#[derive(Default)]
pub struct Metrics {
    inbound: AtomicU64,
    from_phone: AtomicU64,
    sent: AtomicU64,
    login_failures: AtomicU64,
    ws_sessions: AtomicU64,
    message_commits: AtomicU64,
    slow_clients: AtomicU64,
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
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let _ = writeln!(out, "# HELP handoff_event_log_head Last seq of the event log\n# TYPE handoff_event_log_head gauge\nhandoff_event_log_head {head_seq}");
        let _ = writeln!(out, "# HELP handoff_ws_connections Live WebSocket connections\n# TYPE handoff_ws_connections gauge\nhandoff_ws_connections {ws_connections}");
        out
    }
}
