//! The server's sense of "now" for timers (snooze wake-up, unclaimed reminders). Production uses
//! the system clock; tests use a [`ManualClock`] they move forward, so nothing sleeps in a test.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(ManualClock),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(m) => m.now(),
        }
    }

    /// Resolves once the clock reads `at` or later.
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match self {
            Clock::System => {
                let wait = (at - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            Clock::Manual(m) => {
                let mut rx = m.tx.subscribe();
                let _ = rx.wait_for(|now| *now >= at).await;
            }
        }
    }
}

/// A clock that only moves when told to.
#[derive(Clone, Debug)]
pub struct ManualClock {
    tx: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock { tx: Arc::new(watch::Sender::new(start)) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.tx.borrow()
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.tx.send_modify(|now| *now += by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_when_moved_past_their_time() {
        let clock = ManualClock::new(Utc::now());
        let c = Clock::Manual(clock.clone());
        let at = clock.now() + chrono::Duration::minutes(5);
        let sleeper = tokio::spawn(async move { c.sleep_until(at).await });
        clock.advance(chrono::Duration::minutes(4));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(chrono::Duration::minutes(1));
        sleeper.await.unwrap();
    }
}
