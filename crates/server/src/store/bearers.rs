//! The bearer tokens this node checked in the last second, so that a request's token check does
//! not read the database each time: under load that read was the longest wait on a customer
//! message's way in (docs/decisions.md, "Token checks from a one-second cache").
//!
//! What is kept is the row as read ([`Bearer`]); whether it is still good (expired, deactivated)
//! is decided at each use, on the server's clock. A change to accounts, sessions or API keys made
//! through this node empties the cache when it commits ([`super::Writer::credentials_changed`]); one
//! made through another node is seen here within [`FRESH_FOR`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::people::Bearer;

/// How long a token read from the database is trusted without reading it again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Tokens kept at most; beyond that the stale ones go, then all.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub(crate) struct Bearers {
    /// Moves on at every committed change to credentials: an entry read under an older one is stale.
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    bearer: Bearer,
    generation: u64,
    read_at: Instant,
}

impl Bearers {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The generation to stamp a read with: taken before the read, so that a change committed
    /// meanwhile makes what was read stale.
    pub fn generation(&self) -> u64 {
        self.generation.load(SeqCst)
    }

    pub fn get(&self, hash: &str) -> Option<Bearer> {
        let generation = self.generation();
        let entries = self.entries();
        let entry = entries.get(hash)?;
        (entry.generation == generation && entry.read_at.elapsed() < FRESH_FOR).then(|| entry.bearer.clone())
    }

    pub fn put(&self, hash: &str, bearer: Bearer, generation: u64) {
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            let current = self.generation();
            entries.retain(|_, e| e.generation == current && e.read_at.elapsed() < FRESH_FOR);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash.to_owned(), Entry { bearer, generation, read_at: Instant::now() });
    }

    /// Credentials changed: nothing read before is trusted.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, SeqCst);
        self.entries().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_proto::{Role, User, UserId, UserKind};

    fn bearer() -> Bearer {
        let user = User {
            id: UserId::new(),
            email: "ana@example.com".into(),
            name: "Ana".into(),
            role: Role::Agent,
            active: true,
            kind: UserKind::Person,
            must_change_password: false,
        };
        Bearer { workspace: handoff_proto::WorkspaceId::nil(), user, session: None }
    }

    #[test]
    fn a_token_is_trusted_until_credentials_change() {
        let cache = Bearers::default();
        let read_under = cache.generation();
        cache.put("h", bearer(), read_under);
        assert!(cache.get("h").is_some());
        assert!(cache.get("other").is_none());
        cache.forget_all();
        assert!(cache.get("h").is_none());
    }

    #[test]
    fn a_read_that_a_change_overtook_is_not_trusted() {
        let cache = Bearers::default();
        let read_under = cache.generation();
        // A change commits while the read is on its way ...
        cache.forget_all();
        // ... so what it read may be the old row.
        cache.put("h", bearer(), read_under);
        assert!(cache.get("h").is_none());
    }
}
