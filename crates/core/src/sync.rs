//! The sync loop: one WebSocket session at a time, reconnecting with jittered backoff.
//!
//! Per connection: `hello{last_seq}` -> `welcome{epoch, head_seq}`. A different epoch than the
//! cache's means the server's history was replaced: the cache is wiped (the outbox kept) and the
//! client reconnects from 0; so does a `last_seq` below the welcome's `floor` (the cache was
//! offline longer than the server keeps an erasure's record). Then the outbox is sent in order, events are applied in batches (one
//! transaction each, `last_seq` moving with them), and acks/rejects settle the outbox.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::{FutureExt, SinkExt, StreamExt};
use handoff_proto::{
    Activity, ClientFrame, ConversationId, Event, MutationId, Op, PresenceStatus, ServerFrame, PROTOCOL_VERSION,
};
use rand::Rng;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, USER_AGENT};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use crate::cache::Touched;
use crate::types::{Change, ConnectionState};
use crate::{outbox, rest, Inner, Outgoing, PresenceRx, Session};

/// Most events applied in one cache transaction (the ones already received; live events usually
/// come one at a time). Large, so that a long catch-up writes each index page and each search
/// index segment once per few thousand events instead of once per few hundred.
pub const BATCH: usize = 4000;
/// More touched conversations than this in one batch are announced as one inbox change.
const MANY_CONVERSATIONS: usize = 100;
/// A catch-up this long into an empty cache (a first sync) is a bulk import: the search index
/// and the thread and queue indexes are built after the rows are in (cache/bulk.rs).
pub const BULK_MIN: i64 = 20_000;
/// Most events per cache transaction during a bulk import. Each transaction rewrites every page
/// of the conversations it touches, so fewer, larger ones write far less (docs/performance.md);
/// the price is holding this many decoded events (about 1 KB each) at a time.
pub const BULK_BATCH: usize = 50_000;
/// During a bulk import the rest of the history is streaming in: how long to wait for the next
/// event before writing what has arrived.
const READ_AHEAD: Duration = Duration::from_secs(1);
/// Messages indexed for search per transaction after a bulk import: a fraction of a second of
/// the write lock, so live events are not held up.
pub const INDEX_CHUNK: i64 = 4000;
const PING_EVERY: Duration = Duration::from_secs(20);
/// While connected, the time of the last contact with the server (the offline grace counts from
/// it) is written every this many pings: every 5 minutes.
const CONTACT_EVERY_PINGS: u64 = 15;
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// The WebSocket's settings: reads of 16 KiB (tungstenite zero-fills its whole read size before
/// every read; its default of 128 KiB is costly for a stream of 1 KB frames).
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(16 * 1024)
}

/// Exponential backoff with full jitter: 0.5 s doubling up to 30 s.
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff { attempt: 0 }
    }
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
    pub fn next_delay(&mut self) -> Duration {
        let cap = (500u64 << self.attempt.min(6)).min(30_000);
        self.attempt += 1;
        Duration::from_millis(rand::rng().random_range(cap / 2..=cap))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

enum Exit {
    /// Reconnect at once (new epoch, or told to catch up).
    Again,
    /// The connection ended; wait, then reconnect.
    Lost(String),
    /// The token no longer works (`expired`, or ended): stop until the agent signs in again.
    SignedOut { expired: bool },
    /// An Admin removed this person's access: wipe this copy of the workspace and stop.
    AccessRemoved,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What this client last told the server about itself; told again on every new connection.
#[derive(Default)]
struct Mine {
    away: bool,
    activity: Option<(Option<ConversationId>, Activity)>,
}

pub(crate) async fn run(inner: Arc<Inner>, session: Session, mut presence: PresenceRx) {
    let mut backoff = Backoff::new();
    let mut offline_since = None;
    let mut mine = Mine::default();
    loop {
        if offline_since.is_none() {
            inner.set_state(ConnectionState::Connecting);
        }
        let exit = match connect(&inner, &session, &mut backoff, &mut presence, &mut mine).await {
            Ok(exit) => exit,
            Err(e) => Exit::Lost(e),
        };
        // Without a connection nobody's presence is known: show none rather than a stale one.
        inner.board.lock().unwrap_or_else(|p| p.into_inner()).clear();
        inner.emit(Change::Roster);
        match exit {
            Exit::Again => continue,
            Exit::SignedOut { expired } => {
                tracing::info!(expired, "the server no longer takes this session: waiting for a new sign-in");
                inner.set_state(ConnectionState::SignedOut { expired });
                return;
            }
            Exit::AccessRemoved => {
                tracing::warn!("an Admin removed this access: deleting this computer's copy of the workspace");
                if let Err(e) = crate::wipe_all(&inner.cache).await {
                    tracing::error!(error = %e, "the copy was not deleted; it is at the next start");
                }
                inner.emit(Change::Inbox);
                inner.emit(Change::Attention);
                inner.set_state(ConnectionState::AccessRemoved);
                return;
            }
            Exit::Lost(reason) => {
                let since = *offline_since.get_or_insert_with(Utc::now);
                tracing::info!(reason, "offline");
                inner.set_state(ConnectionState::Offline { since, reason });
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
        // Stays "offline since" the first failure until a welcome arrives.
        if matches!(*inner.state.borrow(), ConnectionState::Online | ConnectionState::CatchingUp { .. }) {
            offline_since = None;
        }
    }
}

fn ws_url(server: &str) -> String {
    let rest = server.strip_prefix("https://").map(|r| format!("wss://{r}"));
    let url = rest.unwrap_or_else(|| format!("ws://{}", server.trim_start_matches("http://")));
    format!("{url}/api/v1/ws")
}

async fn send(ws: &mut Ws, frame: &ClientFrame) -> Result<(), String> {
    let json = serde_json::to_string(frame).map_err(|e| e.to_string())?;
    ws.send(WsMessage::Text(json.into())).await.map_err(|e| e.to_string())
}

async fn next_frame(ws: &mut Ws) -> Result<ServerFrame, String> {
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Text(t))) => return serde_json::from_str(&t).map_err(|e| format!("bad frame: {e}")),
            Some(Ok(WsMessage::Close(_))) | None => return Err("the server closed the connection".into()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
}

async fn connect(
    inner: &Arc<Inner>,
    session: &Session,
    backoff: &mut Backoff,
    presence: &mut PresenceRx,
    mine: &mut Mine,
) -> Result<Exit, String> {
    let mut request = ws_url(&session.server).into_client_request().map_err(|e| e.to_string())?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", session.token)).map_err(|e| e.to_string())?;
    request.headers_mut().insert(AUTHORIZATION, bearer);
    if let Ok(agent) = HeaderValue::from_str(&rest::user_agent()) {
        request.headers_mut().insert(USER_AGENT, agent);
    }
    // No Nagle: small frames (typing, acks) go out at once instead of waiting for a delayed ACK.
    // The same TLS connector as the HTTP client's: both trust the same servers (tls.rs).
    let tls = Some(tokio_tungstenite::Connector::NativeTls(inner.tls.clone()));
    let mut ws = match tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config()), true, tls).await {
        Ok((ws, _)) => ws,
        Err(WsError::Http(resp)) if resp.status() == StatusCode::UNAUTHORIZED => {
            let body = resp.body().as_deref().and_then(|b| serde_json::from_slice::<handoff_proto::ErrorBody>(b).ok());
            let code = match body {
                Some(b) => b.error.code,
                // The upgrade's answer came without its body (tungstenite keeps only what arrived
                // with the headers; a proxy may send it apart): ask over HTTP why.
                None => match rest::me(&inner.http, &session.server, &session.token).await {
                    Err(e) => e.code().to_string(),
                    Ok(_) => "unauthenticated".to_string(),
                },
            };
            return Ok(match code.as_str() {
                "access_removed" => Exit::AccessRemoved,
                code => Exit::SignedOut { expired: code == "session_expired" },
            });
        }
        Err(WsError::Tls(e)) => return Err(format!("no secure connection: {e}")),
        Err(e) => return Err(format!("server not reachable: {e}")),
    };
    let cache = &inner.cache;
    let last_seq = cache.last_seq().await.map_err(|e| e.to_string())?;
    send(&mut ws, &ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq }).await?;
    let welcome =
        tokio::time::timeout(WELCOME_TIMEOUT, next_frame(&mut ws)).await.map_err(|_| "no welcome".to_string())??;
    let (epoch, head_seq, floor, grace) = match welcome {
        ServerFrame::Welcome { epoch, head_seq, floor, offline_grace_days, .. } => {
            (epoch, head_seq, floor, offline_grace_days)
        }
        ServerFrame::Error { code, message } if code == "unsupported_protocol" => return Err(message),
        other => return Err(format!("expected welcome, got {other:?}")),
    };
    let cached_epoch = cache.meta("epoch").await.map_err(|e| e.to_string())?;
    // Below the floor: offline longer than the server keeps an erasure's record, so this cache
    // may hold someone erased since.
    let missed_erasure = last_seq > 0 && last_seq < floor;
    if cached_epoch.as_deref().is_some_and(|e| e != epoch.to_string()) || head_seq < last_seq || missed_erasure {
        tracing::warn!(%epoch, missed_erasure, "the server's history changed: resyncing from scratch");
        // Past an erasure it cannot learn of, what this cache wrote itself (drafts, queued and
        // refused changes) may be about the erased person too: it goes with the rest.
        cache.wipe(missed_erasure).await.map_err(|e| e.to_string())?;
        cache.set_meta("epoch", &epoch.to_string()).await.map_err(|e| e.to_string())?;
        inner.emit(Change::Inbox);
        inner.emit(Change::Attention);
        return Ok(Exit::Again);
    }
    cache.set_meta("epoch", &epoch.to_string()).await.map_err(|e| e.to_string())?;
    // Reached the server: the offline grace counts from here.
    cache.set_meta("last_contact", &Utc::now().to_rfc3339()).await.map_err(|e| e.to_string())?;
    if let Some(days) = grace {
        cache.set_meta("offline_grace_days", &days.to_string()).await.map_err(|e| e.to_string())?;
    }
    backoff.reset();
    tracing::debug!(last_seq, head_seq, %epoch, "welcome");

    let total = head_seq - last_seq;
    let bulk_min = inner.bulk_min.load(std::sync::atomic::Ordering::Relaxed);
    let bulk = total >= bulk_min && cache.begin_bulk().await.map_err(|e| e.to_string())?;
    if bulk {
        tracing::info!(total, "first sync of a long history: bulk import, search indexed afterwards");
    }
    spawn_indexer(inner);
    // Saved replies are not in the log: read at each connection (they may have changed while
    // this app was away).
    crate::saved_replies::spawn_refresh(inner);
    if total > 0 {
        inner.set_state(ConnectionState::CatchingUp { done: 0, total });
    } else {
        inner.set_state(ConnectionState::Online);
    }
    let mut sent = Sent::default();
    flush(inner, &mut ws, &mut sent).await?;
    // The server keeps presence per connection: tell this one where I am.
    if mine.away {
        send(&mut ws, &ClientFrame::Status { status: PresenceStatus::Away }).await?;
    }
    if let Some((conversation_id, activity)) = mine.activity {
        send(&mut ws, &ClientFrame::Presence { conversation_id, activity }).await?;
    }

    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut nonce = 0u64;
    loop {
        tokio::select! {
            frame = next_frame(&mut ws) => {
                let frame = frame?;
                if let Some(exit) = handle(inner, session, &mut ws, &mut sent, frame, last_seq, head_seq, bulk).await? {
                    return Ok(exit);
                }
            }
            _ = inner.wake.notified() => flush(inner, &mut ws, &mut sent).await?,
            // What the server could not apply for now goes again once its backoff has passed.
            _ = sent.retry_due() => {
                sent.retry_at = None;
                flush(inner, &mut ws, &mut sent).await?;
            }
            Some(out) = presence.recv() => {
                let frame = match out {
                    Outgoing::Activity(conversation_id, activity) => {
                        mine.activity = Some((conversation_id, activity));
                        ClientFrame::Presence { conversation_id, activity }
                    }
                    Outgoing::Status(status) => {
                        mine.away = status != PresenceStatus::Online;
                        ClientFrame::Status { status }
                    }
                };
                send(&mut ws, &frame).await?;
            }
            _ = ping.tick() => {
                nonce += 1;
                send(&mut ws, &ClientFrame::Ping { nonce }).await?;
                // Still in touch with the server: the offline grace counts from the last of these.
                if nonce.is_multiple_of(CONTACT_EVERY_PINGS) {
                    if let Err(e) = inner.cache.set_meta("last_contact", &Utc::now().to_rfc3339()).await {
                        tracing::warn!(error = %e, "the time of the last contact was not kept");
                    }
                }
            }
        }
    }
}

/// The outbox as this connection has sent it.
#[derive(Default)]
struct Sent {
    /// Sent and not yet answered, or answered.
    ids: HashSet<MutationId>,
    /// The server answered some transiently: they wait for their backoff to pass ...
    retry_at: Option<tokio::time::Instant>,
    /// ... which grows with each transient answer and resets once every change that got one
    /// has been acknowledged (not by others' acknowledgements: a change that keeps failing
    /// settles at the longest wait).
    backoff: Backoff,
    /// The changes that got a transient answer and have not been acknowledged since.
    retrying: HashSet<MutationId>,
}

impl Sent {
    /// The server could not apply `mutation_id` now: send it again after the backoff.
    fn transient(&mut self, mutation_id: MutationId) {
        self.ids.remove(&mutation_id);
        self.retrying.insert(mutation_id);
        if self.retry_at.is_none() {
            self.retry_at = Some(tokio::time::Instant::now() + self.backoff.next_delay());
        }
    }

    /// Resolves when transient failures are due to be sent again (never while there are none).
    async fn retry_due(&self) {
        match self.retry_at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }
}

/// Sends every queued mutation not yet sent on this connection, oldest first. Those waiting out
/// a transient failure's backoff wait for it.
async fn flush(inner: &Inner, ws: &mut Ws, sent: &mut Sent) -> Result<(), String> {
    if sent.retry_at.is_some() {
        return Ok(()); // the retry sends them, in order, when it is due
    }
    for p in outbox::pending(&inner.cache).await.map_err(|e| e.to_string())? {
        if sent.ids.insert(p.mutation_id) {
            send(ws, &ClientFrame::Mutate { mutation_id: p.mutation_id, op: p.op }).await?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    inner: &Arc<Inner>,
    session: &Session,
    ws: &mut Ws,
    sent: &mut Sent,
    frame: ServerFrame,
    start_seq: i64,
    head_seq: i64,
    bulk: bool,
) -> Result<Option<Exit>, String> {
    match frame {
        ServerFrame::Event(first) => {
            // Take whatever else has already arrived, and apply it in one transaction. During a
            // bulk import, wait for more of the history as it streams in (large transactions).
            let mut batch = vec![*first];
            let mut other = Vec::new();
            let max = if bulk { BULK_BATCH } else { BATCH };
            while batch.len() < max {
                let behind = bulk && batch.last().is_some_and(|e| e.seq < head_seq);
                let next = if behind {
                    tokio::time::timeout(READ_AHEAD, ws.next()).await.ok()
                } else {
                    ws.next().now_or_never()
                };
                match next {
                    Some(Some(Ok(WsMessage::Text(t)))) => match serde_json::from_str::<ServerFrame>(&t) {
                        Ok(ServerFrame::Event(e)) => batch.push(*e),
                        Ok(f) => {
                            other.push(f);
                            break;
                        }
                        Err(e) => return Err(format!("bad frame: {e}")),
                    },
                    Some(Some(Ok(WsMessage::Close(_)))) | Some(None) => {
                        return Err("the server closed the connection".into())
                    }
                    Some(Some(Err(e))) => return Err(e.to_string()),
                    Some(Some(Ok(_))) => continue,
                    None => break,
                }
            }
            tracing::debug!(from = batch[0].seq, to = batch[batch.len() - 1].seq, "applying events");
            apply(inner, session, &batch, start_seq, head_seq).await?;
            for f in other {
                if let Some(exit) = Box::pin(handle(inner, session, ws, sent, f, start_seq, head_seq, bulk)).await? {
                    return Ok(Some(exit));
                }
            }
        }
        ServerFrame::Ack { mutation_id, .. } => {
            if sent.retrying.remove(&mutation_id) && sent.retrying.is_empty() {
                sent.backoff.reset();
            }
            let op = outbox::acknowledged(&inner.cache, mutation_id).await.map_err(|e| e.to_string())?;
            if let Some(op) = op {
                inner.emit(Change::Conversation { conversation_id: op.conversation_id() });
            }
        }
        // Not applied, for now (the server's own failure): it stays in the outbox and goes again.
        ServerFrame::Reject { mutation_id, error } if error.is_transient() => {
            tracing::info!(%mutation_id, code = error.code, "the server could not apply a change now: retrying");
            sent.transient(mutation_id);
            let conversation_id = outbox::pending(&inner.cache)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|p| p.mutation_id == mutation_id)
                .map(|p| p.op.conversation_id());
            if let Some(conversation_id) = conversation_id {
                inner.emit(Change::Retrying { mutation_id, conversation_id, message: error.message });
            }
        }
        // Refused for good (role, send guard, validation): rolled back, its text kept.
        ServerFrame::Reject { mutation_id, error } => {
            let refused = outbox::rejected(&inner.cache, mutation_id, &error).await.map_err(|e| e.to_string())?;
            if let Some((op, attention)) = refused {
                rolled_back(inner, session, mutation_id, op, error).await;
                if attention {
                    inner.emit(Change::Attention);
                }
            }
        }
        ServerFrame::Presence { user_id, conversation_id, activity, at, expires_at } => {
            inner.board.lock().unwrap_or_else(|p| p.into_inner()).activity(
                user_id,
                conversation_id,
                activity,
                at,
                expires_at,
            );
            inner.emit(Change::Presence { user_id, conversation_id, activity });
        }
        ServerFrame::Status { user_id, status, at } => {
            inner.board.lock().unwrap_or_else(|p| p.into_inner()).status(user_id, status, at);
            inner.emit(Change::Status { user_id, status });
        }
        ServerFrame::Roster { boot, statuses, activities } => {
            let restarted = inner.board.lock().unwrap_or_else(|p| p.into_inner()).roster(boot, statuses, activities);
            if restarted {
                tracing::info!(%boot, "the server restarted: presence starts afresh");
            }
            inner.emit(Change::Roster);
        }
        ServerFrame::Error { code, message } => {
            return Ok(Some(if code == "lagged" || code == "role_changed" {
                Exit::Again
            } else if code == "access_removed" {
                Exit::AccessRemoved
            } else if code == "unauthenticated" || code == "session_expired" {
                Exit::SignedOut { expired: code == "session_expired" }
            } else {
                Exit::Lost(message)
            }));
        }
        ServerFrame::Pong { .. } | ServerFrame::Welcome { .. } => {}
    }
    Ok(None)
}

async fn apply(
    inner: &Arc<Inner>,
    session: &Session,
    batch: &[Event],
    start_seq: i64,
    head_seq: i64,
) -> Result<(), String> {
    // Events up to the head at connection time were replayed: news only after it.
    let touched: Touched =
        inner.cache.apply_events_since(batch, session.user.id, head_seq).await.map_err(|e| e.to_string())?;
    let last = batch.last().map(|e| e.seq).unwrap_or(start_seq);
    let catching_up = matches!(*inner.state.borrow(), ConnectionState::CatchingUp { .. });
    if catching_up {
        if last >= head_seq {
            // Caught up: a bulk import ends here, and its messages go into the search index.
            inner.cache.end_bulk().await.map_err(|e| e.to_string())?;
            spawn_indexer(inner);
            inner.set_state(ConnectionState::Online);
        } else {
            inner.set_state(ConnectionState::CatchingUp { done: last - start_seq, total: head_seq - start_seq });
        }
    }
    if touched.inbox {
        inner.emit(Change::Inbox);
    }
    if touched.directory {
        inner.emit(Change::Directory);
    }
    for (conversation_id, message_id) in touched.mentions {
        inner.emit(Change::Mentioned { conversation_id, message_id });
    }
    for (conversation_id, by) in touched.assigned_to_me {
        inner.emit(Change::AssignedToMe { conversation_id, by });
    }
    for (conversation_id, message_id) in touched.customer_messages {
        inner.emit(Change::CustomerMessage { conversation_id, message_id });
    }
    for device_id in touched.devices_down {
        inner.emit(Change::DeviceDown { device_id });
    }
    for (webhook_id, host) in touched.webhooks_paused {
        inner.emit(Change::WebhookPaused { webhook_id, host });
    }
    if touched.saved_replies {
        crate::saved_replies::spawn_refresh(inner);
    }
    if touched.conversations.len() <= MANY_CONVERSATIONS {
        for conversation_id in touched.conversations {
            inner.emit(Change::Conversation { conversation_id });
        }
    } else {
        // A batch of a long catch-up: the inbox is re-read anyway; of the threads only the one
        // on screen needs it, and thousands of events would flood the UI.
        let viewing = *inner.viewing.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conversation_id) = viewing.filter(|v| touched.conversations.contains(v)) {
            inner.emit(Change::Conversation { conversation_id });
        }
    }
    Ok(())
}

/// Indexes for search what a bulk import left out, newest first, a chunk per transaction, until
/// nothing is left; announces progress. At most one runs; a bulk import still open stops it
/// (its end starts it again).
fn spawn_indexer(inner: &Arc<Inner>) {
    use std::sync::atomic::Ordering;
    if inner.indexing.swap(true, Ordering::AcqRel) {
        return;
    }
    let inner = inner.clone();
    tokio::spawn(async move {
        loop {
            match inner.cache.index_search_backlog(INDEX_CHUNK).await {
                Ok(Some(b)) => {
                    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
                    inner.emit(Change::SearchIndex { left: count(b.left), total: count(b.total) });
                    if b.left > 0 {
                        continue;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "search indexing stopped; it resumes with the next connection");
                    inner.indexing.store(false, Ordering::Release);
                    return;
                }
            }
            inner.indexing.store(false, Ordering::Release);
            // A bulk import that ended while this one was finishing must not be left behind.
            let backlog = inner.cache.search_backlog().await.map(|b| b.left > 0).unwrap_or(false);
            let more = backlog && !inner.cache.in_bulk().await.unwrap_or(true);
            if !more || inner.indexing.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    });
}

/// A refused change was dropped from the outbox: put the server's truth back and tell the UI.
async fn rolled_back(
    inner: &Inner,
    session: &Session,
    mutation_id: MutationId,
    op: Op,
    error: handoff_proto::ErrorDetail,
) {
    let conversation_id = op.conversation_id();
    if !matches!(op, Op::Reply { .. } | Op::Note { .. }) {
        match rest::conversation(&inner.http, &session.server, &session.token, conversation_id).await {
            Ok(c) => {
                if let Err(e) = inner.cache.put_conversation(&c).await {
                    tracing::warn!(error = %e, "could not restore the conversation");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not re-read the conversation after a refusal"),
        }
    }
    let (name, body) = match &op {
        Op::Reply { body, .. } => ("reply", Some(body.clone())),
        Op::Note { body, .. } => ("note", Some(body.clone())),
        Op::Claim { .. } => ("claim", None),
        Op::Assign { .. } => ("assign", None),
        Op::Escalate { note, .. } => ("escalate", Some(note.clone())),
        Op::Label { .. } => ("labels", None),
        Op::SetStatus { .. } => ("status", None),
        Op::MarkRead { .. } => ("read", None),
        Op::Retry { .. } => ("retry", None),
    };
    inner.emit(Change::Rejected { mutation_id, conversation_id, op: name.into(), error, body });
    inner.emit(Change::Conversation { conversation_id });
    inner.emit(Change::Inbox);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let mut b = Backoff::new();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(500));
    }

    #[test]
    fn websocket_urls_follow_the_scheme() {
        assert_eq!(ws_url("http://localhost:8750"), "ws://localhost:8750/api/v1/ws");
        assert_eq!(ws_url("https://inbox.example.com"), "wss://inbox.example.com/api/v1/ws");
    }
}
