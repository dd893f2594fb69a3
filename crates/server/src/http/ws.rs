//! `GET /api/v1/ws`: the desktop core's live connection.
//!
//! 1. The caller authenticates with `Authorization: Bearer` on the upgrade request.
//! 2. The client sends `hello{protocol, last_seq}`; the server answers `welcome{epoch, head_seq}`.
//! 3. The server replays every event after `last_seq` from the log, then streams live events.
//!    It subscribes to the hub *before* it reads the log, and skips live events it already
//!    replayed, so nothing falls between the two.
//! 4. `mutate` frames go through the same rules as the HTTP routes and get `ack` or `reject`.
//!    `presence` frames fan out to everyone and are never stored.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use handoff_proto::{Activity, ClientFrame, ConversationId, Seq, ServerFrame, UserId, WorkspaceId, PROTOCOL_VERSION};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use crate::auth::{check_token_hash, Actor, Lifetime, TokenState};
use crate::hub::HubMsg;
use crate::presence::ConnGuard;
use crate::{audit, ops, outbound::dispatch, AppState};

/// Events per replay page.
const REPLAY_PAGE: i64 = 1000;
/// How long a client has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a live connection re-checks that its session still stands (logout, deactivation).
const RECHECK_EVERY: Duration = Duration::from_secs(5);
/// Frames from the hub sent in one write at most.
const BATCH: usize = 64;
/// Bytes read from a client at a time. tungstenite zero-fills this much before every read,
/// including the many that find nothing (each live frame sent wakes the read side too): at its
/// default of 128 KiB that zero-filling was a fifth of the server's CPU under fan-out. Client
/// frames are small; a larger one is read in several steps.
const READ_CHUNK: usize = 4 * 1024;

/// The largest WebSocket message (and frame) a client may send: a mutation carries at most a
/// reply's text; anything larger ends the connection instead of being buffered.
pub const MAX_CLIENT_MESSAGE: usize = 512 * 1024;

/// The close reason of a server that stops.
const SHUTTING_DOWN: &str = "shutting_down";
/// How long a stopping server tries to say goodbye on one connection (a client that stopped
/// reading must not hold the stop up).
const GOODBYE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What each account holds at once, counted against a limit: live WebSocket connections
/// ([`crate::Config::ws_per_user`]), attachment downloads ([`crate::http::media::DOWNLOADS_PER_USER`]).
/// One token cannot hold sockets or downloads without limit.
#[derive(Default)]
pub struct PerUser(std::sync::Mutex<std::collections::HashMap<UserId, usize>>);

/// One of an account's connections (or downloads), given back when it ends.
pub struct Slot {
    owner: std::sync::Arc<PerUser>,
    user: UserId,
}

impl PerUser {
    /// A slot for a new connection (or download) of `user`, or `None` when they hold `max` already.
    pub fn take(self: &std::sync::Arc<Self>, user: UserId, max: usize) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(user).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot { owner: std::sync::Arc::clone(self), user })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.owner.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

pub async fn upgrade(State(state): State<AppState>, actor: Actor, ws: WebSocketUpgrade) -> Response {
    let Some(slot) = state.ws_open.take(actor.id(), state.config.ws_per_user) else {
        let message = format!(
            "This account has {} live connections already: close the app on another computer or window, then try again.",
            state.config.ws_per_user
        );
        return crate::http::error::ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            .into_response();
    };
    // Counted from the upgrade until the connection ends, so a stop waits for its goodbye.
    let open = state.connections.token();
    let limited =
        ws.read_buffer_size(READ_CHUNK).max_message_size(MAX_CLIENT_MESSAGE).max_frame_size(MAX_CLIENT_MESSAGE);
    limited.on_upgrade(move |socket| async move {
        let _open = (open, slot);
        state.metrics.ws_session();
        if let Err(e) = connection(state, actor, socket).await {
            tracing::debug!(error = %e, "websocket closed");
        }
    })
}

/// One frame, within [`SEND_LIMIT`]: a client that stops reading cannot hold its connection's
/// task (and one of its account's slots) in a send for ever.
async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> anyhow::Result<()> {
    let json = serde_json::to_string(frame)?;
    match tokio::time::timeout(SEND_LIMIT, socket.send(WsMessage::Text(json.into()))).await {
        Ok(sent) => Ok(sent?),
        Err(_) => anyhow::bail!("the client read nothing for {} s", SEND_LIMIT.as_secs()),
    }
}

/// The longest one frame may take to go out (the live stream's own limit is
/// [`crate::Config::ws_send_timeout`]).
const SEND_LIMIT: std::time::Duration = crate::WS_SEND_TIMEOUT;

/// Says why the connection ends, then closes it: 1001 "going away" when the server stops (the
/// client reconnects at once and finds the server again once it is back), 1008 "policy
/// violation" for everything a client did or is.
async fn close(socket: &mut WebSocket, code: &str, message: &str) -> anyhow::Result<()> {
    send(socket, &ServerFrame::Error { code: code.into(), message: message.into() }).await?;
    let close_code = if code == SHUTTING_DOWN { 1001 } else { 1008 };
    let frame = CloseFrame { code: close_code, reason: Utf8Bytes::from(code.to_string()) };
    socket.send(WsMessage::Close(Some(frame))).await?;
    Ok(())
}

/// The client's next frame; `heard` is when anything (a pong too) last came from it.
async fn next_frame(socket: &mut WebSocket, heard: &mut tokio::time::Instant) -> Option<Result<ClientFrame, String>> {
    loop {
        let message = socket.recv().await?;
        *heard = tokio::time::Instant::now();
        match message {
            Ok(WsMessage::Text(text)) => return Some(ClientFrame::decode(&text)),
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => continue, // ping/pong/binary: nothing to do
        }
    }
}

async fn connection(state: AppState, actor: Actor, mut socket: WebSocket) -> anyhow::Result<()> {
    let mut heard = tokio::time::Instant::now();
    let last_seq = match tokio::time::timeout(HELLO_TIMEOUT, next_frame(&mut socket, &mut heard)).await {
        Ok(Some(Ok(ClientFrame::Hello { protocol, last_seq }))) => {
            if protocol != PROTOCOL_VERSION {
                let message = format!(
                    "This server speaks protocol {PROTOCOL_VERSION}, the app speaks {protocol}: update Handoff."
                );
                return close(&mut socket, "unsupported_protocol", &message).await;
            }
            last_seq.max(0)
        }
        Ok(Some(Ok(_))) | Ok(Some(Err(_))) => {
            return close(&mut socket, "bad_hello", "The first frame must be hello.").await
        }
        Ok(None) => return Ok(()),
        Err(_) => return close(&mut socket, "hello_timeout", "No hello within 10 s.").await,
    };

    // Online from before the welcome: once a client knows it is connected, routing knows it too.
    let (presence, came_online) = state.presence.connect(actor.ws(), actor.id());
    if came_online {
        state.routing.kick(); // a team's backlog may drain to them
    }
    let mut live = state.store.hub().subscribe(actor.ws());
    let head_seq = state.store.head_seq(actor.ws()).await?;
    let (floor, settings) = {
        let mut conn = state.store.reader().await?;
        let floor = crate::store::privacy::floor(&mut conn, actor.ws()).await?;
        (floor, crate::store::privacy::settings(&mut conn, actor.ws()).await?)
    };
    let welcome = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        epoch: state.store.epoch_of(actor.ws()),
        head_seq,
        user: actor.user.clone(),
        floor,
        offline_grace_days: Some(settings.offline_grace_days),
    };
    send(&mut socket, &welcome).await?;
    let (statuses, activities) = state.presence.roster(actor.ws());
    send(&mut socket, &ServerFrame::Roster { boot: state.presence.boot(), statuses, activities }).await?;
    let mut sent = replay(&state, actor.ws(), &mut socket, last_seq.min(head_seq), head_seq).await?;
    // The replay may have taken a while, with nothing read meanwhile: the deadline starts now.
    heard = tokio::time::Instant::now();
    let mut here = Here::default();

    let mut shutdown = state.shutdown.clone();
    // Each connection re-checks at its own moment in the period: connections that came together
    // (every app reconnecting after a restart) would otherwise all read at once, every period.
    let first_check = RECHECK_EVERY.mul_f64(rand::random::<f64>());
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + first_check, RECHECK_EVERY);
    let every = state.config.ws_ping_every;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut actor = actor;
    let served: anyhow::Result<()> = async { loop {
        tokio::select! {
            msg = live.recv() => {
                let busy = tokio::time::Instant::now();
                let forward = forward(&state, actor.ws(), &mut socket, &mut live, &mut sent, msg);
                match tokio::time::timeout(state.config.ws_send_timeout, forward).await {
                    // Time spent writing is not the client's silence: nothing was read meanwhile.
                    Ok(Ok(Forwarded::Sent)) => heard += busy.elapsed(),
                    Ok(Ok(Forwarded::Lagged)) => {
                        state.metrics.slow_client();
                        tracing::info!(user = %actor.id(), "a client fell behind: told to catch up from the log");
                        // Said within the same time limit: a client this slow may have stopped reading.
                        let message = "This connection fell behind: reconnect to catch up from the log.";
                        let told = tokio::time::timeout(state.config.ws_send_timeout, close(&mut socket, "lagged", message));
                        return told.await.unwrap_or(Ok(()));
                    }
                    Ok(Ok(Forwarded::Closed)) => return Ok(()),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {
                        // Nothing can be said on a connection nobody reads: it is dropped, and
                        // what it holds with it (one batch at most).
                        state.metrics.slow_client();
                        tracing::info!(user = %actor.id(), "a client left frames unread too long: cut off");
                        return Ok(());
                    }
                }
            }
            frame = next_frame(&mut socket, &mut heard) => match frame {
                None => return Ok(()),
                Some(Err(e)) => send(&mut socket, &ServerFrame::Error { code: "bad_frame".into(), message: e }).await?,
                Some(Ok(frame)) => {
                    // A mutation may wait on the database or a slow gateway: not the client's silence.
                    let busy = tokio::time::Instant::now();
                    handle(&state, &actor, &presence, &mut socket, &mut here, frame).await?;
                    heard += busy.elapsed();
                }
            },
            // The latest presence frame over the budget, once the budget allows.
            _ = tokio::time::sleep_until(here.budget.ready_at()), if here.deferred.is_some() => {
                if let Some((conversation_id, activity)) = here.deferred.take() {
                    here.budget.take();
                    presence_frame(&state, &actor, &presence, &mut here, conversation_id, activity).await;
                }
            }
            // Pings, with a read deadline: a client that vanished without a goodbye (a laptop
            // asleep) answers nothing, and is dropped, so presence and routing stop counting it.
            _ = ping.tick() => {
                if heard.elapsed() > state.config.ws_read_deadline {
                    tracing::info!(user = %actor.id(), "a client said nothing within the read deadline: dropped");
                    return Ok(());
                }
                let sent = tokio::time::timeout(state.config.ws_send_timeout, socket.send(WsMessage::Ping(Default::default())));
                if !matches!(sent.await, Ok(Ok(()))) {
                    return Ok(());
                }
            }
            _ = recheck.tick() => {
                let now = state.clock.now();
                let checked = check_token_hash(&state.store, &actor.token_hash, now, Lifetime::of(&state.config)).await?;
                match checked {
                    TokenState::Live { workspace, user, session } if workspace == actor.ws() && user.role == actor.user.role => {
                        actor.user = user;
                        // An open connection is use: the app that stays connected stays signed in.
                        if let Some((id, last_used)) = session {
                            crate::auth::touch(&state, id, last_used, now).await?;
                        }
                    }
                    TokenState::Live { .. } => return close(&mut socket, "role_changed", "Your role changed: reconnect.").await,
                    TokenState::Expired => return close(&mut socket, "session_expired", "Your session expired: sign in again.").await,
                    TokenState::Removed => {
                        let message = "An Admin removed your access to this workspace.";
                        return close(&mut socket, "access_removed", message).await;
                    }
                    TokenState::Unknown => return close(&mut socket, "unauthenticated", "This session was signed out.").await,
                }
            }
            // `wait_for` sees a stop that began before this connection got here, too.
            _ = async { drop(shutdown.wait_for(|stopping| *stopping).await) } => {
                let goodbye = close(&mut socket, SHUTTING_DOWN, "The server is restarting: reconnect shortly.");
                return tokio::time::timeout(GOODBYE_TIMEOUT, goodbye).await.unwrap_or(Ok(()));
            }
        }
    } }
    .await;
    // However the connection ended, the customer no longer sees "typing…" from this agent.
    if let Some(conversation_id) = here.typing_to {
        dispatch::typing(&state, actor.ws(), conversation_id, false);
    }
    served
}

/// How [`forward`] ended.
enum Forwarded {
    Sent,
    /// The connection fell more than the hub's capacity behind.
    Lagged,
    /// The hub is gone: the server is stopping.
    Closed,
}

/// Sends a frame from the hub, and those already waiting after it, in one write: at most
/// [`BATCH`], so that what a connection holds in its write buffer stays small.
async fn forward(
    state: &AppState,
    ws: WorkspaceId,
    socket: &mut WebSocket,
    live: &mut broadcast::Receiver<HubMsg>,
    sent: &mut Seq,
    first: Result<HubMsg, RecvError>,
) -> anyhow::Result<Forwarded> {
    let mut next = Some(first);
    let mut fed = 0;
    // When each event of this write was handed to the hub (the fan-out's own wait, measured).
    let mut published = [None; BATCH];
    while let Some(msg) = next.take() {
        match msg {
            Ok(HubMsg::Event { seq, json, published: at }) => {
                if seq > *sent {
                    if seq > *sent + 1 {
                        *sent = replay(state, ws, socket, *sent, seq - 1).await?;
                    }
                    socket.feed(WsMessage::Text(json)).await?;
                    *sent = seq;
                    published[fed] = Some(at);
                } // else: already replayed
            }
            Ok(HubMsg::Presence { json }) => socket.feed(WsMessage::Text(json)).await?,
            Err(RecvError::Lagged(_)) => return Ok(Forwarded::Lagged),
            Err(RecvError::Closed) => return Ok(Forwarded::Closed),
        }
        fed += 1;
        if fed == BATCH {
            break; // the rest follows with the next write
        }
        next = match live.try_recv() {
            Ok(m) => Some(Ok(m)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
            Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
        };
    }
    socket.flush().await?;
    let now = std::time::Instant::now();
    for at in published.iter().flatten() {
        state.metrics.fanout_wait.observe(now - *at);
    }
    Ok(Forwarded::Sent)
}

/// Sends every event in `(after, up_to]` from the log; returns the last seq sent.
async fn replay(
    state: &AppState,
    ws: WorkspaceId,
    socket: &mut WebSocket,
    after: Seq,
    up_to: Seq,
) -> anyhow::Result<Seq> {
    let mut sent = after;
    while sent < up_to {
        let page = state.store.events_after(ws, sent, REPLAY_PAGE.min(up_to - sent)).await?;
        if page.is_empty() {
            break;
        }
        for event in page {
            sent = event.seq;
            send(socket, &ServerFrame::Event(Box::new(event))).await?;
        }
    }
    Ok(sent)
}

/// Where this connection's agent is: the conversation it last said it shows, and the one it is
/// typing a reply in (the customer sees "typing…" on WhatsApp).
#[derive(Default)]
struct Here {
    viewing: Option<ConversationId>,
    typing_to: Option<ConversationId>,
    /// Presence frames this connection may send now ([`PRESENCE_BURST`], [`PRESENCE_PER_SEC`]) ...
    budget: PresenceBudget,
    /// ... and the latest one it sent over that budget: applied when the budget allows, in place
    /// of every one before it (the last word is never lost, only the ones in between).
    deferred: Option<(Option<ConversationId>, Activity)>,
}

/// A connection may send this many presence frames at once ...
pub const PRESENCE_BURST: f64 = 10.0;
/// ... and this many a second after that; more are folded into the latest ([`Here::deferred`]).
pub const PRESENCE_PER_SEC: f64 = 5.0;

/// A token bucket for one connection's presence frames.
struct PresenceBudget {
    tokens: f64,
    at: tokio::time::Instant,
}

impl Default for PresenceBudget {
    fn default() -> Self {
        PresenceBudget { tokens: PRESENCE_BURST, at: tokio::time::Instant::now() }
    }
}

impl PresenceBudget {
    fn refill(&mut self) {
        let now = tokio::time::Instant::now();
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * PRESENCE_PER_SEC).min(PRESENCE_BURST);
        self.at = now;
    }

    /// Takes one frame's worth, if there is one.
    fn take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        false
    }

    /// When the next frame's worth is there.
    fn ready_at(&self) -> tokio::time::Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.at + Duration::from_secs_f64(missing / PRESENCE_PER_SEC)
    }
}

/// Answers one client frame.
async fn handle(
    state: &AppState,
    actor: &Actor,
    presence: &ConnGuard,
    socket: &mut WebSocket,
    here: &mut Here,
    frame: ClientFrame,
) -> anyhow::Result<()> {
    match frame {
        ClientFrame::Hello { .. } => {
            send(socket, &ServerFrame::Error { code: "bad_frame".into(), message: "hello was already said".into() })
                .await
        }
        ClientFrame::Ping { nonce } => send(socket, &ServerFrame::Pong { nonce }).await,
        ClientFrame::Presence { conversation_id, activity } => {
            if here.budget.take() {
                here.deferred = None;
                presence_frame(state, actor, presence, here, conversation_id, activity).await;
            } else {
                here.deferred = Some((conversation_id, activity));
            }
            Ok(())
        }
        ClientFrame::Status { status } => {
            if state.presence.set_status(presence, status) {
                state.routing.kick();
            }
            Ok(())
        }
        ClientFrame::Mutate { mutation_id, op } => {
            let reply = match ops::apply(state, actor, op, Some(mutation_id.to_string())).await {
                Ok(applied) => ServerFrame::Ack { mutation_id, seq: applied.seq },
                Err(e) => ServerFrame::Reject { mutation_id, error: e.into_detail() },
            };
            send(socket, &reply).await
        }
    }
}

/// Applies a presence frame: audits an opening, relays "typing…" to the customer, fans it out.
async fn presence_frame(
    state: &AppState,
    actor: &Actor,
    presence: &ConnGuard,
    here: &mut Here,
    conversation_id: Option<ConversationId>,
    activity: Activity,
) {
    if conversation_id.is_some() && conversation_id != here.viewing {
        here.viewing = conversation_id;
        if let Some(id) = conversation_id {
            // Best effort: a database that cannot write now must not end the connection
            // (the app says "viewing" again at every reconnect).
            if let Err(e) = audit::viewed(state, actor, id).await {
                tracing::warn!(error = %e, conversation = %id, "the opening was not audited");
            }
        }
    }
    // "typing…" reaches the customer only from someone who may reply.
    let may_reply = actor.user.role != handoff_proto::Role::Viewer;
    let typing_to = conversation_id.filter(|_| activity == Activity::ComposingReply && may_reply);
    if typing_to != here.typing_to {
        if let Some(stopped) = here.typing_to {
            dispatch::typing(state, actor.ws(), stopped, false);
        }
        if let Some(started) = typing_to {
            dispatch::typing(state, actor.ws(), started, true);
        }
        here.typing_to = typing_to;
    }
    state.presence.activity(presence, conversation_id, activity);
}
