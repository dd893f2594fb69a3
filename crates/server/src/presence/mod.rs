//! Presence, kept in memory and never stored: each user's status (online, away, offline) and what
//! each connection is doing (viewing a conversation, composing a reply or a note).
//!
//! - A user is **online** with at least one connection that is not away, **away** when every
//!   connection says so, and **offline** only after a grace period with no connection at all (a
//!   laptop changing networks does not flap). The grace timer runs on the server's [`Clock`].
//! - Composing lapses after [`TYPING_TTL_SECS`] unless renewed; viewing lasts while the
//!   connection does. A closing connection clears what it was doing.
//! - Every change is fanned out through the hub; a new connection gets the whole roster with this
//!   process's `boot` id, so a client that sees a new one drops what it knew before a restart.
//! - Routing hands work only to **online** users (those in the grace period count).
//! - Presence is per workspace: a connection acts in its token's workspace, a person is online
//!   in the workspaces they have a connection in, and each workspace's frames go to its own
//!   connections only.
//! - On several nodes each node keeps everyone's connections: its own, and the others' as they
//!   tell it ([`Change`], passed on by [`crate::cluster`]). A user's status is worked out from
//!   all of them the same way on every node; a node that is gone takes its connections with it
//!   ([`Presence::node_gone`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use handoff_proto::{
    Activity, ActivityEntry, ConversationId, PresenceStatus, ServerFrame, UserId, UserStatus, WorkspaceId,
    TYPING_TTL_SECS,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch, Notify};
use uuid::Uuid;

use crate::clock::Clock;
use crate::hub::Hub;
use crate::AppState;

/// How long a user with no connection still counts as online (the default of
/// [`crate::Config::offline_grace`]).
pub const OFFLINE_GRACE_SECS: i64 = 30;

#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

struct Inner {
    /// This node: its connections' keys carry it.
    node: Uuid,
    /// Where this node's own changes go for the other nodes (set on a shared database).
    peers: OnceLock<mpsc::UnboundedSender<Change>>,
    state: Mutex<State>,
    /// Bumped whenever a status or a connection count changes.
    generation: watch::Sender<u64>,
    /// Poked when a grace deadline is set.
    alarm: Notify,
    boot: Uuid,
    hub: Hub,
    clock: Clock,
    /// How long a user with no connection still counts as online.
    grace: Duration,
}

#[derive(Default)]
struct State {
    next_conn: u64,
    users: HashMap<Member, UserState>,
    conns: HashMap<ConnKey, Conn>,
}

/// A person in a workspace: what presence is kept for.
type Member = (WorkspaceId, UserId);

/// A connection: one of this node's, or another node's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    pub node: Uuid,
    pub id: u64,
}

/// A change to one connection's presence: what happens on this node, and what nodes tell each
/// other about theirs. `conn` is the connection's number on its own node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    Open {
        conn: u64,
        ws: WorkspaceId,
        user: UserId,
    },
    Away {
        conn: u64,
        away: bool,
    },
    Doing {
        conn: u64,
        conversation_id: Option<ConversationId>,
        activity: Activity,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    },
    Close {
        conn: u64,
    },
}

impl Change {
    pub fn conn(&self) -> u64 {
        match self {
            Change::Open { conn, .. }
            | Change::Away { conn, .. }
            | Change::Doing { conn, .. }
            | Change::Close { conn } => *conn,
        }
    }
}

/// Another node's connection as a node that starts finds it ([`Presence::resync`]).
pub struct RemoteConn {
    pub key: ConnKey,
    pub ws: WorkspaceId,
    pub user: UserId,
    pub away: bool,
    pub activity: Option<ActivityEntry>,
}

struct UserState {
    conns: usize,
    status: PresenceStatus,
    since: DateTime<Utc>,
    /// Set while the user has no connection: when the grace period ends.
    offline_at: Option<DateTime<Utc>>,
}

struct Conn {
    ws: WorkspaceId,
    user: UserId,
    away: bool,
    activity: Option<ActivityEntry>,
}

/// One connection's presence; dropping it is the connection closing.
pub struct ConnGuard {
    presence: Presence,
    id: u64,
}

impl Presence {
    /// Presence on node `node` (one node: any id), with a grace period of `grace`.
    pub fn new(hub: Hub, clock: Clock, node: Uuid, grace: std::time::Duration) -> Presence {
        Presence {
            inner: Arc::new(Inner {
                node,
                peers: OnceLock::new(),
                state: Mutex::new(State::default()),
                generation: watch::Sender::new(0),
                alarm: Notify::new(),
                boot: Uuid::new_v4(),
                hub,
                clock,
                grace: Duration::from_std(grace).unwrap_or(Duration::seconds(OFFLINE_GRACE_SECS)),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Identifies this server process: a restart gives a new one.
    pub fn boot(&self) -> Uuid {
        self.inner.boot
    }

    /// Sets a user's status, telling everyone when it changed. Returns whether it changed.
    fn set(&self, state: &mut State, (ws, user): Member, status: PresenceStatus) -> bool {
        let now = self.inner.clock.now();
        let entry = state.users.entry((ws, user)).or_insert(UserState {
            conns: 0,
            status: PresenceStatus::Offline,
            since: now,
            offline_at: None,
        });
        if entry.status == status {
            return false;
        }
        entry.status = status;
        entry.since = now;
        self.inner.hub.publish_presence(ws, &ServerFrame::Status { user_id: user, status, at: now });
        self.inner.generation.send_modify(|g| *g += 1);
        true
    }

    /// The status a connected user has: away only when every connection is.
    fn connected_status(state: &State, (ws, user): Member) -> PresenceStatus {
        let mut conns = state.conns.values().filter(|c| c.ws == ws && c.user == user);
        if conns.all(|c| c.away) {
            PresenceStatus::Away
        } else {
            PresenceStatus::Online
        }
    }

    /// From now on this node's own changes also go to `peers`, for the other nodes.
    pub fn tell_peers(&self, peers: mpsc::UnboundedSender<Change>) {
        let _ = self.inner.peers.set(peers);
    }

    /// Applies a change of this node's and passes it on to the other nodes. Returns whether the
    /// connection's user just became online.
    fn local(&self, change: Change) -> bool {
        let key = ConnKey { node: self.inner.node, id: change.conn() };
        let came = self.apply(&mut self.lock(), key, &change, self.inner.clock.now());
        if let Some(peers) = self.inner.peers.get() {
            let _ = peers.send(change);
        }
        came
    }

    /// Applies another node's change. Returns whether its user just became online.
    pub fn remote(&self, node: Uuid, change: &Change) -> bool {
        if node == self.inner.node {
            return false; // this node's own, told back
        }
        self.apply(&mut self.lock(), ConnKey { node, id: change.conn() }, change, self.inner.clock.now())
    }

    /// A change to one connection, fanned out to this node's clients. `now` starts the grace
    /// period of a user whose last connection closes.
    fn apply(&self, state: &mut State, key: ConnKey, change: &Change, now: DateTime<Utc>) -> bool {
        match change {
            Change::Open { ws, user, .. } => {
                if state.conns.contains_key(&key) {
                    return false;
                }
                state.conns.insert(key, Conn { ws: *ws, user: *user, away: false, activity: None });
                let came = self.set(state, (*ws, *user), PresenceStatus::Online);
                let entry = state.users.get_mut(&(*ws, *user)).expect("set above");
                entry.conns += 1;
                entry.offline_at = None;
                self.inner.generation.send_modify(|g| *g += 1);
                came
            }
            Change::Away { away, .. } => {
                let Some(c) = state.conns.get_mut(&key) else { return false };
                c.away = *away;
                let member = (c.ws, c.user);
                let status = Self::connected_status(state, member);
                self.set(state, member, status) && status == PresenceStatus::Online
            }
            Change::Doing { conversation_id, activity, at, expires_at, .. } => {
                let Some(c) = state.conns.get_mut(&key) else { return false };
                // Leaving a conversation for another clears what this connection did in the first.
                if let Some(previous) = c.activity.take() {
                    if Some(previous.conversation_id) != *conversation_id {
                        self.inner.hub.publish_presence(
                            c.ws,
                            &ServerFrame::Presence {
                                user_id: c.user,
                                conversation_id: Some(previous.conversation_id),
                                activity: Activity::Idle,
                                at: *at,
                                expires_at: None,
                            },
                        );
                    }
                }
                if let (Some(id), false) = (conversation_id, *activity == Activity::Idle) {
                    c.activity = Some(ActivityEntry {
                        user_id: c.user,
                        conversation_id: *id,
                        activity: *activity,
                        at: *at,
                        expires_at: *expires_at,
                    });
                }
                let frame = ServerFrame::Presence {
                    user_id: c.user,
                    conversation_id: *conversation_id,
                    activity: *activity,
                    at: *at,
                    expires_at: *expires_at,
                };
                self.inner.hub.publish_presence(c.ws, &frame);
                false
            }
            Change::Close { .. } => {
                self.close(state, key, now);
                false
            }
        }
    }

    /// A connection ends; its user, with no other, is offline `grace_from` + the grace period.
    fn close(&self, state: &mut State, key: ConnKey, grace_from: DateTime<Utc>) {
        let Some(conn) = state.conns.remove(&key) else { return };
        if let Some(a) = conn.activity {
            self.inner.hub.publish_presence(
                conn.ws,
                &ServerFrame::Presence {
                    user_id: conn.user,
                    conversation_id: Some(a.conversation_id),
                    activity: Activity::Idle,
                    at: self.inner.clock.now(),
                    expires_at: None,
                },
            );
        }
        let member = (conn.ws, conn.user);
        let Some(user) = state.users.get_mut(&member) else { return };
        user.conns -= 1;
        self.inner.generation.send_modify(|g| *g += 1);
        if user.conns == 0 {
            // Offline only when the grace period passes without a new connection.
            user.offline_at = Some(grace_from + self.inner.grace);
            self.inner.alarm.notify_one();
        } else {
            let status = Self::connected_status(state, member);
            self.set(state, member, status);
        }
    }

    /// Counts a new connection of `user` in workspace `ws`. The second value says whether the
    /// user just became online there.
    pub fn connect(&self, ws: WorkspaceId, user: UserId) -> (ConnGuard, bool) {
        let id = {
            let mut state = self.lock();
            state.next_conn += 1;
            state.next_conn
        };
        let came = self.local(Change::Open { conn: id, ws, user });
        (ConnGuard { presence: self.clone(), id }, came)
    }

    /// A connection says it is away or back. Returns whether its user just became online.
    pub fn set_status(&self, conn: &ConnGuard, status: PresenceStatus) -> bool {
        self.local(Change::Away { conn: conn.id, away: status != PresenceStatus::Online })
    }

    /// What a connection is doing now; fanned out to everyone.
    pub fn activity(&self, conn: &ConnGuard, conversation_id: Option<ConversationId>, activity: Activity) {
        let at = self.inner.clock.now();
        let expires_at = matches!(activity, Activity::ComposingReply | Activity::ComposingNote)
            .then(|| at + Duration::seconds(TYPING_TTL_SECS));
        self.local(Change::Doing { conn: conn.id, conversation_id, activity, at, expires_at });
    }

    fn disconnect(&self, id: u64) {
        self.local(Change::Close { conn: id });
    }

    /// Another node is gone (stopped, or not heard of since `last_seen`): its connections close,
    /// and their users with no other connection are offline a grace period after `last_seen`.
    pub fn node_gone(&self, node: Uuid, last_seen: DateTime<Utc>) {
        let mut state = self.lock();
        let keys: Vec<ConnKey> = state.conns.keys().filter(|k| k.node == node).copied().collect();
        for key in keys {
            self.close(&mut state, key, last_seen);
        }
    }

    /// Sets the other nodes' connections to `conns` (a node that starts, or that may have missed
    /// some of their changes): what is gone closes, what is new opens, the rest is brought up
    /// to date.
    pub fn resync(&self, conns: Vec<RemoteConn>) -> bool {
        let now = self.inner.clock.now();
        let mut state = self.lock();
        let wanted: HashSet<ConnKey> = conns.iter().map(|c| c.key).collect();
        let gone: Vec<ConnKey> =
            state.conns.keys().filter(|k| k.node != self.inner.node && !wanted.contains(k)).copied().collect();
        for key in gone {
            self.close(&mut state, key, now);
        }
        let mut came = false;
        for c in conns {
            if c.key.node == self.inner.node {
                continue;
            }
            let id = c.key.id;
            came |= self.apply(&mut state, c.key, &Change::Open { conn: id, ws: c.ws, user: c.user }, now);
            if state.conns.get(&c.key).is_some_and(|have| have.away != c.away) {
                came |= self.apply(&mut state, c.key, &Change::Away { conn: id, away: c.away }, now);
            }
            let have = state.conns.get(&c.key).and_then(|have| have.activity.clone());
            if have != c.activity {
                let change = match c.activity {
                    Some(a) => Change::Doing {
                        conn: id,
                        conversation_id: Some(a.conversation_id),
                        activity: a.activity,
                        at: a.at,
                        expires_at: a.expires_at,
                    },
                    None => Change::Doing {
                        conn: id,
                        conversation_id: None,
                        activity: Activity::Idle,
                        at: now,
                        expires_at: None,
                    },
                };
                self.apply(&mut state, c.key, &change, now);
            }
        }
        came
    }

    /// Everyone's status in the workspace (offline users are left out) and every live activity
    /// there.
    pub fn roster(&self, ws: WorkspaceId) -> (Vec<UserStatus>, Vec<ActivityEntry>) {
        let now = self.inner.clock.now();
        let state = self.lock();
        let statuses = state
            .users
            .iter()
            .filter(|((w, _), u)| *w == ws && u.status != PresenceStatus::Offline)
            .map(|((_, id), u)| UserStatus { user_id: *id, status: u.status, since: u.since })
            .collect();
        let activities = state
            .conns
            .values()
            .filter(|c| c.ws == ws)
            .filter_map(|c| c.activity.clone())
            .filter(|a| a.expires_at.is_none_or(|t| t > now))
            .collect();
        (statuses, activities)
    }

    /// A user's status in the workspace now.
    pub fn status(&self, ws: WorkspaceId, user: UserId) -> PresenceStatus {
        self.lock().users.get(&(ws, user)).map(|u| u.status).unwrap_or(PresenceStatus::Offline)
    }

    /// The workspace's users routing may give work to: online (including those in the grace
    /// period).
    pub fn users(&self, ws: WorkspaceId) -> HashSet<UserId> {
        let state = self.lock();
        state
            .users
            .iter()
            .filter(|((w, _), u)| *w == ws && u.status == PresenceStatus::Online)
            .map(|((_, id), _)| *id)
            .collect()
    }

    /// How many live connections a user has in the workspace.
    pub fn connections(&self, ws: WorkspaceId, user: UserId) -> usize {
        self.lock().users.get(&(ws, user)).map(|u| u.conns).unwrap_or(0)
    }

    pub fn is_online(&self, ws: WorkspaceId, user: UserId) -> bool {
        self.status(ws, user) == PresenceStatus::Online
    }

    /// Changes whenever a status or a connection count changes. Read presence after
    /// `changed()`, never inside `wait_for`'s closure: that closure runs under the channel's lock,
    /// which presence takes while it holds its own, so the two locks would be taken in opposite
    /// orders (a deadlock that stops the calling thread).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    /// Marks offline everyone whose grace period has passed; returns the next deadline.
    fn expire(&self) -> Option<DateTime<Utc>> {
        let now = self.inner.clock.now();
        let mut state = self.lock();
        let due: Vec<Member> = state
            .users
            .iter()
            .filter(|(_, u)| u.conns == 0 && u.offline_at.is_some_and(|t| t <= now))
            .map(|(member, _)| *member)
            .collect();
        for member in due {
            state.users.get_mut(&member).expect("listed").offline_at = None;
            self.set(&mut state, member, PresenceStatus::Offline);
        }
        state.users.values().filter_map(|u| u.offline_at).min()
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.presence.disconnect(self.id);
    }
}

/// The background task that ends grace periods.
pub async fn run(state: AppState) {
    let presence = state.presence.clone();
    loop {
        let notified = presence.inner.alarm.notified();
        match presence.expire() {
            Some(next) => {
                tokio::select! {
                    _ = presence.inner.clock.sleep_until(next) => {}
                    _ = notified => {}
                }
            }
            None => notified.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const WS: WorkspaceId = WorkspaceId::nil();

    fn presence() -> (Presence, ManualClock) {
        let clock = ManualClock::new(Utc::now());
        let grace = std::time::Duration::from_secs(OFFLINE_GRACE_SECS as u64);
        (Presence::new(Hub::new(64), Clock::Manual(clock.clone()), Uuid::new_v4(), grace), clock)
    }

    #[test]
    fn online_while_any_connection_is_not_away_then_offline_after_the_grace_period() {
        let (p, clock) = presence();
        let ana = UserId::new();
        let (phone, came) = p.connect(WS, ana);
        assert!(came);
        let (laptop, came) = p.connect(WS, ana);
        assert!(!came);
        assert!(!p.set_status(&laptop, PresenceStatus::Away));
        assert_eq!(p.status(WS, ana), PresenceStatus::Online, "the phone is still active");
        assert!(!p.set_status(&phone, PresenceStatus::Away));
        assert_eq!(p.status(WS, ana), PresenceStatus::Away);
        assert!(p.set_status(&phone, PresenceStatus::Online), "back: online again");
        drop(laptop);
        assert_eq!(p.status(WS, ana), PresenceStatus::Online, "the phone is still active");
        drop(phone);
        assert_eq!(p.status(WS, ana), PresenceStatus::Online, "within the grace period");
        clock.advance(Duration::seconds(OFFLINE_GRACE_SECS - 1));
        assert!(p.expire().is_some());
        assert_eq!(p.status(WS, ana), PresenceStatus::Online);
        clock.advance(Duration::seconds(1));
        assert_eq!(p.expire(), None);
        assert_eq!(p.status(WS, ana), PresenceStatus::Offline);
        assert!(p.users(WS).is_empty());
    }

    #[test]
    fn a_reconnect_within_the_grace_period_never_goes_offline() {
        let (p, clock) = presence();
        let ana = UserId::new();
        let mut changes = p.watch();
        drop(p.connect(WS, ana).0);
        clock.advance(Duration::seconds(10));
        let (_again, came) = p.connect(WS, ana);
        assert!(!came);
        clock.advance(Duration::seconds(OFFLINE_GRACE_SECS));
        p.expire();
        assert_eq!(p.status(WS, ana), PresenceStatus::Online);
        assert_eq!(p.status(WS, ana), PresenceStatus::Online);
        assert_eq!(*changes.borrow_and_update(), 4, "online, two connects and a disconnect: no offline flap");
    }

    #[test]
    fn composing_lapses_and_a_closed_connection_clears_its_activity() {
        let (p, clock) = presence();
        let ben = UserId::new();
        let conversation = ConversationId::new();
        let (conn, _) = p.connect(WS, ben);
        p.activity(&conn, Some(conversation), Activity::ComposingReply);
        assert_eq!(p.roster(WS).1.len(), 1);
        clock.advance(Duration::seconds(TYPING_TTL_SECS));
        assert!(p.roster(WS).1.is_empty(), "typing lapsed without a renewal");
        p.activity(&conn, Some(conversation), Activity::Viewing);
        clock.advance(Duration::hours(1));
        assert_eq!(p.roster(WS).1[0].activity, Activity::Viewing, "viewing lasts");
        drop(conn);
        assert!(p.roster(WS).1.is_empty());
    }
}
