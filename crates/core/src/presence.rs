//! What the client knows of everyone's presence: statuses and who is viewing or writing where.
//! Filled by the server's roster on each connection and its live frames; forgotten when the
//! connection drops (nothing is shown that might be stale), and when the server restarted (a new
//! `boot`). Composing lapses at its `expires_at` unless the writer renews it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use handoff_proto::{Activity, ActivityEntry, ConversationId, PresenceStatus, UserId, UserStatus};
use uuid::Uuid;

use crate::types::view;

view! {
    /// Everyone's presence as known now.
    pub struct PresenceView {
        /// Users online or away (anyone missing is offline or unknown).
        pub statuses: Vec<UserStatus>,
        /// Live activities, newest first.
        pub activities: Vec<ActivityEntry>,
    }
}

#[derive(Default)]
pub struct Board {
    boot: Option<Uuid>,
    statuses: HashMap<UserId, UserStatus>,
    activities: HashMap<(UserId, ConversationId), ActivityEntry>,
}

impl Board {
    /// Replaces everything with the server's roster. Returns whether the server restarted since
    /// the last roster.
    pub fn roster(&mut self, boot: Uuid, statuses: Vec<UserStatus>, activities: Vec<ActivityEntry>) -> bool {
        let restarted = self.boot.is_some_and(|b| b != boot);
        self.boot = Some(boot);
        self.statuses = statuses.into_iter().map(|s| (s.user_id, s)).collect();
        self.activities = activities.into_iter().map(|a| ((a.user_id, a.conversation_id), a)).collect();
        restarted
    }

    pub fn status(&mut self, user_id: UserId, status: PresenceStatus, at: DateTime<Utc>) {
        if status == PresenceStatus::Offline {
            self.statuses.remove(&user_id);
            self.activities.retain(|(u, _), _| *u != user_id);
        } else {
            self.statuses.insert(user_id, UserStatus { user_id, status, since: at });
        }
    }

    pub fn activity(
        &mut self,
        user_id: UserId,
        conversation_id: Option<ConversationId>,
        activity: Activity,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) {
        let Some(conversation_id) = conversation_id else { return };
        if activity == Activity::Idle {
            self.activities.remove(&(user_id, conversation_id));
        } else {
            // One conversation at a time per person in this view: the newest wins.
            self.activities.retain(|(u, _), _| *u != user_id);
            let entry = ActivityEntry { user_id, conversation_id, activity, at, expires_at };
            self.activities.insert((user_id, conversation_id), entry);
        }
    }

    /// Forgets everything (the connection dropped).
    pub fn clear(&mut self) {
        self.statuses.clear();
        self.activities.clear();
    }

    pub fn view(&self, now: DateTime<Utc>) -> PresenceView {
        let mut statuses: Vec<UserStatus> = self.statuses.values().cloned().collect();
        statuses.sort_by_key(|s| s.user_id);
        let mut activities: Vec<ActivityEntry> =
            self.activities.values().filter(|a| a.expires_at.is_none_or(|t| t > now)).cloned().collect();
        activities.sort_by(|a, b| b.at.cmp(&a.at).then(a.user_id.cmp(&b.user_id)));
        PresenceView { statuses, activities }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn typing_lapses_a_new_boot_is_told_and_offline_clears() {
        let mut b = Board::default();
        let (ben, c) = (UserId::new(), ConversationId::new());
        let now = Utc::now();
        assert!(!b.roster(Uuid::now_v7(), vec![], vec![]));
        b.status(ben, PresenceStatus::Online, now);
        b.activity(ben, Some(c), Activity::ComposingReply, now, Some(now + Duration::seconds(8)));
        assert_eq!(b.view(now).activities.len(), 1);
        assert!(b.view(now + Duration::seconds(8)).activities.is_empty(), "lapsed");
        b.activity(ben, Some(c), Activity::Viewing, now, None);
        assert_eq!(b.view(now + Duration::hours(1)).activities[0].activity, Activity::Viewing);
        b.status(ben, PresenceStatus::Offline, now);
        assert!(b.view(now).statuses.is_empty() && b.view(now).activities.is_empty());
        assert!(b.roster(Uuid::now_v7(), vec![], vec![]), "another boot: the server restarted");
    }
}
