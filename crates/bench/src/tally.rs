//! What the fan-out benchmark's subscribers record, for Handoff and nats-server alike: when each
//! message was sent, how many subscribers have it, and each subscriber's own list of latencies;
//! and the two helpers both kinds share (finding a number in a frame's bytes, running a load on
//! a thread of its own).

use std::sync::atomic::{
    AtomicI64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::time::Duration;

use chrono::Utc;

/// What the subscribers of one run record into, for either system: when the bench sent each
/// message, and how many subscribers have it. Each subscriber keeps its own latencies; the bench
/// is woken once, when the last message reaches its last subscriber.
pub struct Tally {
    /// When message n went out (its tick), in Unix microseconds.
    pub sent_us: Vec<AtomicI64>,
    /// How many subscribers have message n.
    got: Vec<AtomicUsize>,
    receivers: usize,
    /// Messages every subscriber has.
    complete: AtomicUsize,
    all_in: tokio::sync::Notify,
    pub duplicated: AtomicUsize,
    pub reconnects: AtomicUsize,
    pub frame_bytes: AtomicUsize,
}

/// One subscriber's deliveries: (message, latency in microseconds), 8 bytes each: at 1,000
/// messages a second for 60 s, 200 subscribers hold 96 MB of them.
pub type Log = Vec<(u32, u32)>;

fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

impl Tally {
    pub fn new(count: usize, receivers: usize) -> Tally {
        Tally {
            sent_us: (0..count).map(|_| AtomicI64::new(0)).collect(),
            got: (0..count).map(|_| AtomicUsize::new(0)).collect(),
            receivers,
            complete: AtomicUsize::new(0),
            all_in: tokio::sync::Notify::new(),
            duplicated: AtomicUsize::new(0),
            reconnects: AtomicUsize::new(0),
            frame_bytes: AtomicUsize::new(0),
        }
    }

    /// Message `n` goes out now.
    pub fn sent(&self, n: usize) {
        self.sent_us[n].store(now_us(), Release);
    }

    /// Message `n` reached one subscriber (`seen` is that subscriber's own record).
    pub fn arrived(&self, n: usize, seen: &mut [bool], log: &mut Log) {
        let now = now_us();
        if n >= seen.len() {
            return;
        }
        if std::mem::replace(&mut seen[n], true) {
            self.duplicated.fetch_add(1, Relaxed);
            return;
        }
        let sent = self.sent_us[n].load(Acquire);
        log.push((n as u32, (now - sent).clamp(0, u32::MAX as i64) as u32));
        if self.got[n].fetch_add(1, AcqRel) + 1 == self.receivers
            && self.complete.fetch_add(1, AcqRel) + 1 == self.sent_us.len()
        {
            self.all_in.notify_one();
        }
    }

    /// Waits until every message reached every subscriber, or 10 s have passed without it (the
    /// rest count as lost).
    pub async fn all_in(&self) {
        if self.complete.load(Acquire) < self.sent_us.len() {
            let _ = tokio::time::timeout(Duration::from_secs(10), self.all_in.notified()).await;
        }
    }

    /// Every delivery, per message, from the subscribers' logs.
    pub fn per_message(&self, logs: Vec<Log>) -> Vec<Vec<Duration>> {
        let mut per_message = vec![Vec::with_capacity(self.receivers); self.sent_us.len()];
        for (n, micros) in logs.into_iter().flatten() {
            per_message[n as usize].push(Duration::from_micros(micros as u64));
        }
        per_message
    }
}

/// Runs a load on a thread and runtime of its own, as from a machine of its own: its waits (the
/// tick, each request's answer) do not queue behind the subscribers' tasks on this process's
/// runtime, which would count against the server under test. Both systems' loads run this way.
pub async fn on_own_thread<F, Fut, T>(load: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("bench-load".into()).spawn(move || {
        let ran = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(load()));
        let _ = done.send(ran);
    })?;
    outcome.await?
}

/// The number right after `key` in `text` (`"seq":41`, `"body":"bench 7`), if `key` is there.
pub fn number_after(text: &[u8], key: &[u8]) -> Option<i64> {
    let at = memchr::memmem::find(text, key)? + key.len();
    let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&text[at..at + digits]).ok()?.parse().ok()
}
