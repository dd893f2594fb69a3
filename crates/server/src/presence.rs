//! Who is online: users with at least one live WebSocket connection. Routing hands conversations
//! only to online agents, and a user coming online lets a team's backlog drain to them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use uuid::Uuid;

#[derive(Clone)]
pub struct Online {
    connections: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Bumped whenever someone comes online or goes offline.
    generation: Arc<watch::Sender<u64>>,
}

impl Default for Online {
    fn default() -> Self {
        Online { connections: Arc::default(), generation: Arc::new(watch::Sender::new(0)) }
    }
}

/// Keeps its user online while it lives.
pub struct OnlineGuard {
    online: Online,
    user: Uuid,
}

impl Online {
    /// Counts a new connection; the second value says whether the user just came online.
    pub fn connect(&self, user: Uuid) -> (OnlineGuard, bool) {
        let mut map = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(user).or_insert(0);
        *count += 1;
        let came = *count == 1;
        if came {
            self.generation.send_modify(|g| *g += 1);
        }
        (OnlineGuard { online: self.clone(), user }, came)
    }

    /// Changes whenever someone comes online or goes offline.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    pub fn is_online(&self, user: Uuid) -> bool {
        self.connections.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&user)
    }

    pub fn users(&self) -> HashSet<Uuid> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner()).keys().copied().collect()
    }
}

impl Drop for OnlineGuard {
    fn drop(&mut self) {
        let mut map = self.online.connections.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.user);
                self.online.generation.send_modify(|g| *g += 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_online_while_any_connection_lives() {
        let online = Online::default();
        let ana = Uuid::now_v7();
        let (first, came) = online.connect(ana);
        assert!(came);
        let (second, came) = online.connect(ana);
        assert!(!came);
        drop(first);
        assert!(online.is_online(ana));
        drop(second);
        assert!(!online.is_online(ana));
        assert!(online.users().is_empty());
    }
}
