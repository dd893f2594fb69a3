//! handoff-server: the coordination server.
//!
//! Data flows one way per direction, and the folders follow it. Inbound: device adapter or
//! gateway webhook -> [`inbound`] (dedup, contacts, routing) -> [`store`] (tables and event log)
//! -> [`hub`] -> WebSocket clients ([`http::ws`]). Outbound: HTTP route ([`http`]) or WebSocket
//! `mutate` -> [`ops`] (roles, send guard) -> store -> [`outbound`] (one worker per device,
//! typing and read receipts) -> device adapter. [`presence`] holds who is online, viewing and
//! typing. Every query is in [`store`], one module per domain.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod cluster;
pub mod demo;
pub mod devices;
pub mod error;
pub mod http;
pub mod hub;
pub mod inbound;
pub mod maintenance;
pub mod mentions;
pub mod metrics;
pub mod ops;
pub mod outbound;
pub mod presence;
pub mod privacy;
pub mod prune;
pub mod routing;
pub mod saved_replies;
pub mod send_guard;
pub mod settings;
pub mod snooze;
pub mod store;
pub mod teams;
pub mod users;
pub mod webhooks;
pub mod workspaces;

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::clock::{Clock, ManualClock};
use crate::devices::Devices;
use crate::http::login_limit::LoginLimiter;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::store::Store;
pub use crate::store::{Database, Durability};

/// How many frames a WebSocket connection may fall behind before it is told to catch up from the log.
pub const HUB_CAPACITY: usize = 4096;

#[derive(Clone, Debug)]
pub struct Config {
    /// This node's own files: the lock that keeps a second server off them, and the WhatsApp Web
    /// numbers' sessions.
    pub data_dir: PathBuf,
    /// The database: `handoff.db` in the data folder unless set.
    pub database: Database,
    pub listen: SocketAddr,
    /// Seed demo users, a simulated device and a trickle of customer messages.
    pub demo: bool,
    /// Creates the first Admin on an empty database: (email, password).
    pub bootstrap_admin: Option<(String, String)>,
    /// Simulator devices report delivery receipts by themselves after short random delays.
    /// Tests turn this off and drive receipts through the control endpoint.
    pub simulator_receipts: bool,
    /// What timers (snooze wake-up) go by; tests use a manual clock.
    pub clock: Clock,
    /// How far a commit is pushed to disk before it is acknowledged (docs/durability.md).
    pub durability: Durability,
    /// How long a WebSocket client may leave the server's frames unread before it is cut off
    /// (it catches up from the log when it reconnects).
    pub ws_send_timeout: std::time::Duration,
    /// How many frames a WebSocket connection may fall behind before it is told to catch up
    /// from the log ([`HUB_CAPACITY`]).
    pub hub_capacity: usize,
    /// How long a write waits for a database lock held by someone else (a backup, an operator's
    /// `sqlite3`) before it fails as a transient error ([`BUSY_TIMEOUT`]).
    pub busy_timeout: std::time::Duration,
    /// How often the server pings each WebSocket ([`WS_PING_EVERY`]) ...
    pub ws_ping_every: std::time::Duration,
    /// ... and how long it waits to hear anything from the client before it drops the
    /// connection as gone ([`WS_READ_DEADLINE`]).
    pub ws_read_deadline: std::time::Duration,
    /// Live WebSocket connections one account may hold ([`WS_PER_USER`]).
    pub ws_per_user: usize,
    /// With a token, `GET /metrics` needs it as a Bearer token; without, it is open.
    pub metrics_token: Option<String>,
    /// Passwords hashed at once at sign-in; more sign-ins at the same moment get a transient
    /// 429 instead of queueing ([`login_limit`]).
    pub login_hashing_at_once: usize,
    /// One log line per HTTP request (method, path, status, latency).
    pub access_log: bool,
    /// A session unused this long ends: its token gets 401 `session_expired`.
    pub session_idle: std::time::Duration,
    /// A session ends this long after its sign-in, however much it is used.
    pub session_max_age: std::time::Duration,
    /// How long a user with no connection still counts as online (a laptop changing networks
    /// does not flap; a node that died takes its connections' users offline this long after it
    /// was last heard of).
    pub offline_grace: std::time::Duration,
    /// On a shared database: where the other nodes reach this one (`http://<listen>` unless
    /// set).
    pub node_url: Option<String>,
    /// Outbound webhooks may go to loopback, private and link-local addresses
    /// ([`settings::Settings::webhooks_to_private_addresses`]). Tests turn it on: their receiver
    /// is on loopback.
    pub webhooks_to_private_addresses: bool,
}

/// The default [`Config::login_hashing_at_once`]: two per core.
pub fn default_login_hashing() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

/// The default [`Config::ws_ping_every`].
pub const WS_PING_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// The default [`Config::ws_read_deadline`]: a client that vanished without a goodbye (a laptop
/// put to sleep) is dropped 20 to 30 s after its last word, and shown offline after the 30 s
/// grace period: within a minute ([presence-and-notifications.md]).
pub const WS_READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// The default [`Config::ws_per_user`]: an agent's app on a few computers, or an integration's
/// handful of workers, fit; a leaked token cannot open thousands.
pub const WS_PER_USER: usize = 20;

/// The default [`Config::busy_timeout`].
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest a graceful [`ServerHandle::stop`] takes (SIGTERM: systemd waits 90 s, Docker and
/// Kubernetes 10 s before they kill).
pub const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);

/// The default [`Config::ws_send_timeout`].
pub const WS_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Config {
    /// A server for tests: loopback, port 0, no demo, receipts driven by the test. Its database
    /// is `handoff.db` in the data folder, or, where `HANDOFF_TEST_POSTGRES` names a PostgreSQL
    /// server (the test command sets it for its second run), a database of its own there, named
    /// after the data folder: a test that restarts its server on the same folder finds its data.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Config {
        let mut config = Config::new(data_dir, SocketAddr::from(([127, 0, 0, 1], 0)));
        if let Some(url) = std::env::var("HANDOFF_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) {
            config.database = store::test_database(&url, &config.data_dir);
        }
        config.webhooks_to_private_addresses = true;
        config
    }

    /// Every default ([`settings::Settings`] sets what an operator chose).
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Config {
        let data_dir = data_dir.into();
        Config {
            database: Database::Sqlite(maintenance::database_file(&data_dir)),
            data_dir,
            listen,
            demo: false,
            bootstrap_admin: None,
            simulator_receipts: false,
            clock: Clock::System,
            durability: Durability::Full,
            ws_send_timeout: WS_SEND_TIMEOUT,
            hub_capacity: HUB_CAPACITY,
            busy_timeout: BUSY_TIMEOUT,
            ws_ping_every: WS_PING_EVERY,
            ws_read_deadline: WS_READ_DEADLINE,
            metrics_token: None,
            ws_per_user: WS_PER_USER,
            login_hashing_at_once: default_login_hashing(),
            access_log: false,
            session_idle: settings::SESSION_IDLE_TIMEOUT,
            session_max_age: settings::SESSION_MAX_AGE,
            node_url: None,
            webhooks_to_private_addresses: false,
            offline_grace: std::time::Duration::from_secs(presence::OFFLINE_GRACE_SECS as u64),
        }
    }
}

pub struct AppInner {
    pub config: Config,
    pub store: Store,
    pub devices: Devices,
    pub limiter: LoginLimiter,
    pub metrics: Metrics,
    pub shutdown: watch::Receiver<bool>,
    pub clock: Clock,
    /// Who is online, away or offline, and doing what where.
    pub presence: Presence,
    /// Wakes the task that hands out queued conversations.
    pub routing: routing::Kick,
    /// Wakes the task that ends snoozes.
    pub snooze: snooze::Alarm,
    /// Customer messages on their way to the store, committed in groups.
    pub ingest: inbound::Queue,
    /// Open WebSocket connections: a stop waits until each has said goodbye.
    pub connections: tokio_util::task::TaskTracker,
    /// Open WebSocket connections per account, at most [`Config::ws_per_user`].
    pub ws_open: Arc<http::ws::PerUser>,
    /// Attachment downloads running per account, at most [`http::media::DOWNLOADS_PER_USER`].
    pub downloads: Arc<http::ws::PerUser>,
    /// The workers that send committed replies, one per device.
    pub outbound: outbound::Outbound,
    /// "typing…" towards customers, one relay per conversation someone types in.
    pub typing: outbound::dispatch::TypingRelay,
    /// This node among the others on a shared database.
    pub cluster: cluster::Cluster,
    /// Wakes the outbound webhook worker (an endpoint registered, resumed, a delivery to send again).
    pub webhooks: webhooks::Kick,
}

/// Shared state of one running server.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// A running server. Dropping it leaves the server running; call [`ServerHandle::stop`].
pub struct ServerHandle {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
    /// The data folder is this server's while it runs ([`maintenance::DataLock`]).
    lock: maintenance::DataLock,
}

impl ServerHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A graceful stop, within [`STOP_TIMEOUT`]: stops accepting, lets the requests in flight
    /// and the device sends in hand finish ([`outbound::Outbound::drain`]), closes every
    /// WebSocket with "going away"
    /// (clients reconnect at once), then checkpoints and closes the database. What is still
    /// running at the deadline is cut; nothing acknowledged is lost either way, since every
    /// change is committed before it is acknowledged.
    pub async fn stop(self) {
        let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
        let _ = self.shutdown.send(true);
        let mut serve = self.serve;
        match tokio::time::timeout_at(deadline, &mut serve).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server task ended badly"),
            Ok(Err(e)) => tracing::warn!(error = %e, "server task ended badly"),
            Err(_) => {
                tracing::warn!("requests still running at the stop's deadline: cut off");
                serve.abort();
            }
        }
        self.state.outbound.drain(deadline).await;
        // The devices go to other nodes at once, and this node's connections with it.
        cluster::leave(&self.state).await;
        self.state.connections.close();
        if tokio::time::timeout_at(deadline, self.state.connections.wait()).await.is_err() {
            tracing::warn!(open = self.state.connections.len(), "WebSocket connections still open at the deadline");
        }
        for task in &self.background {
            task.abort();
        }
        if let Err(e) = self.state.store.checkpoint().await {
            tracing::warn!(error = %e, "the database was not checkpointed");
        }
        self.state.store.close().await;
        drop(self.lock);
    }

    /// Resolves when the server stops (Ctrl-C for the binary).
    pub async fn wait(self) {
        let ServerHandle { serve, .. } = self;
        let _ = serve.await;
    }
}

/// Where the other nodes reach this one: the setting, or the address it listens on.
fn node_url(config: &Config, addr: SocketAddr) -> anyhow::Result<String> {
    if let Some(url) = &config.node_url {
        return Ok(url.clone());
    }
    if addr.ip().is_unspecified() && matches!(config.database, Database::Postgres(_)) {
        anyhow::bail!(
            "this node listens on {addr}: set node_url to the address the other nodes reach it at (http://10.0.0.5:8750)"
        );
    }
    Ok(format!("http://{addr}"))
}

pub async fn start(config: Config) -> anyhow::Result<ServerHandle> {
    let lock = maintenance::DataLock::take(&config.data_dir)?;
    let hub = Hub::new(config.hub_capacity);
    let store = Store::open(&config.database, hub.clone(), config.durability, config.busy_timeout).await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (ingest, ingest_rx) = inbound::Queue::new();
    // Bound now: the other nodes are told this node's address before it serves.
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let node = cluster::Cluster::new(&config.data_dir, &config.database, node_url(&config, addr)?)?;
    let state = AppState(Arc::new(AppInner {
        config: config.clone(),
        store,
        devices: Devices::default(),
        limiter: LoginLimiter::new(config.login_hashing_at_once),
        metrics: Metrics::default(),
        shutdown: shutdown_rx.clone(),
        clock: config.clock.clone(),
        presence: Presence::new(hub.clone(), config.clock.clone(), node.node(), config.offline_grace),
        routing: routing::Kick::default(),
        snooze: snooze::Alarm::default(),
        ingest,
        connections: tokio_util::task::TaskTracker::new(),
        ws_open: Arc::default(),
        downloads: Arc::default(),
        outbound: outbound::Outbound::default(),
        typing: outbound::dispatch::TypingRelay::default(),
        cluster: node,
        webhooks: webhooks::Kick::default(),
    }));

    if let Some((email, password)) = &config.bootstrap_admin {
        users::bootstrap_admin(&state, email, password).await?;
    }
    let mut background = vec![
        inbound::group_commit::spawn(state.clone(), ingest_rx).await?,
        tokio::spawn(routing::run(state.clone())),
        tokio::spawn(snooze::run(state.clone())),
        tokio::spawn(prune::run(state.clone())),
        tokio::spawn(privacy::run(state.clone())),
        tokio::spawn(presence::run(state.clone())),
        tokio::spawn(webhooks::worker::run(state.clone())),
    ];
    if config.demo {
        background.push(demo::seed(&state).await?);
    }
    if state.cluster.shared().is_some() {
        // The devices this node takes a lease on start now; the others run on their nodes.
        background.extend(cluster::start(&state).await?);
    } else {
        for (ws, device) in store::devices::everywhere(&mut *state.store.reader().await?).await? {
            if let Err(e) = state.devices.start(&state, ws, &device).await {
                tracing::warn!(device = %device.id, error = %e, "device adapter not started");
            }
        }
    }

    let app = http::router(state.clone());
    let mut stop = shutdown_rx;
    let serve = tokio::spawn(async move {
        // No Nagle: presence and event frames are small and must not wait for a delayed ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
            // TCP keepalive as well: the kernel notices a peer that is gone even on a
            // connection where neither side has anything to say.
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(std::time::Duration::from_secs(30))
                .with_interval(std::time::Duration::from_secs(10));
            if let Err(e) = socket2::SockRef::from(&*tcp).set_tcp_keepalive(&keepalive) {
                tracing::debug!(error = %e, "TCP keepalive not set");
            }
        });
        // Each request knows its peer's address (the sign-in limits count per client address).
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, data_dir = %config.data_dir.display(), database = %config.database.describe(), "handoff-server listening");
    Ok(ServerHandle { addr, state, shutdown: shutdown_tx, serve, background, lock })
}
