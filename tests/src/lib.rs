//! The scenario harness: a real `handoff-server` on a loopback port, a linked simulator device,
//! and real `handoff-core` clients with their own SQLite caches, all in one process.
//!
//! Nothing here sleeps to wait: every wait is for a condition, woken by the client's change
//! stream (or the server's answer), under an overall deadline.
//!
//! Fault tests run the server in a process of its own ([`World::start_process`]) so that they
//! can kill it, and put a [`proxy::FaultProxy`] between the clients and the server.

pub mod nodes;
pub mod proxy;
pub mod tls_proxy;
pub mod waha_stub;
pub mod webhook_receiver;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use handoff_core::{Client, InboxView};
use handoff_proto::{
    AuditEntry, Conversation, ConversationId, Device, DeviceId, LoginResponse, Message, Page, Role, RoutingRule,
    SimulatorInbound, SimulatorSent, Team, User, UserId,
};
use handoff_server::{Clock, Config, ManualClock, ServerHandle};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub const PASSWORD: &str = "correct horse battery";

pub struct World {
    pub dir: tempfile::TempDir,
    /// The server in this process (most tests) ...
    pub server: Option<ServerHandle>,
    /// ... or in a process of its own (fault tests), started from this binary.
    process: Option<ServerProcess>,
    process_bin: Option<String>,
    pub url: String,
    pub admin_token: String,
    pub device: Device,
    /// The server's clock for timers (snooze): tests move it instead of waiting.
    pub clock: ManualClock,
    http: reqwest::Client,
}

impl World {
    /// A server with an Admin and one linked simulator number.
    pub async fn start() -> World {
        World::start_with(|_| {}).await
    }

    /// [`World::start`], with the server's configuration adjusted by `configure` first.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::new(chrono::Utc::now());
        let mut config = Config::for_tests(dir.path().join("server"));
        config.bootstrap_admin = Some(("admin@test.local".into(), PASSWORD.into()));
        config.clock = Clock::Manual(clock.clone());
        configure(&mut config);
        let server = handoff_server::start(config).await.expect("server starts");
        let url = server.url();
        World::setup(dir, Some(server), None, url, clock).await
    }

    /// A server in a process of its own (the `test-server` binary at `bin`), which
    /// [`World::kill_server`] can kill with SIGKILL. Its timers run on the system clock.
    pub async fn start_process(bin: &str) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let process = ServerProcess::spawn(bin, &dir.path().join("server")).await;
        let url = format!("http://{}", process.addr);
        let mut world = World::setup(dir, None, Some(process), url, ManualClock::new(chrono::Utc::now())).await;
        world.process_bin = Some(bin.to_string());
        world
    }

    /// A world on a server someone else runs at `url` (the cluster scenario's nodes, behind a
    /// load balancer): signs in as its Admin and links a simulator number there.
    pub async fn attach(dir: tempfile::TempDir, url: String) -> World {
        World::setup(dir, None, None, url, ManualClock::new(chrono::Utc::now())).await
    }

    async fn setup(
        dir: tempfile::TempDir,
        server: Option<ServerHandle>,
        process: Option<ServerProcess>,
        url: String,
        clock: ManualClock,
    ) -> World {
        let http = reqwest::Client::new();
        let device = placeholder_device();
        let mut world =
            World { dir, server, process, process_bin: None, url, admin_token: String::new(), device, clock, http };
        world.admin_token = world.login("admin@test.local").await.token;
        let device: Device = world
            .call(
                Method::POST,
                "/api/v1/devices",
                Some(&serde_json::json!({"name": "Support line", "kind": "simulator"})),
            )
            .await;
        world.device =
            world.call(Method::POST, &format!("/api/v1/devices/{}/simulator/link", device.id), None::<&()>).await;
        world
    }

    /// Takes the write lock of the server's database from outside the server, as an operator's
    /// tool can: SQLite's write lock on its file, or an exclusive lock on PostgreSQL's event log.
    /// Every write of the server waits for it (and fails after its busy timeout) until
    /// [`DatabaseLock::release`].
    pub async fn lock_database(&self) -> DatabaseLock {
        use sqlx::Connection;
        match self.database() {
            handoff_server::Database::Sqlite(file) => {
                let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                    .await
                    .expect("open the database file");
                sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.expect("take the write lock");
                DatabaseLock::Sqlite(conn)
            }
            handoff_server::Database::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect to the database");
                sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
                sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE").execute(&mut conn).await.expect("lock the log");
                DatabaseLock::Postgres(conn)
            }
        }
    }

    /// Stops the server and starts it again on the same address and data folder.
    pub async fn restart(&mut self) {
        let addr = self.stop_server().await;
        self.start_server(addr).await;
    }

    /// The server's data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("server")
    }

    /// The server's database: `handoff.db` in its data folder, or its own PostgreSQL database
    /// in the test command's PostgreSQL run ([`Config::for_tests`]).
    pub fn database(&self) -> handoff_server::Database {
        Config::for_tests(self.data_dir()).database
    }

    /// Stops the server gracefully (as SIGTERM does); returns the address it listened on.
    pub async fn stop_server(&mut self) -> SocketAddr {
        let old = self.server.take().expect("running");
        let addr = old.addr;
        old.stop().await;
        addr
    }

    /// Starts the server again on `addr` and the same data folder.
    pub async fn start_server(&mut self, addr: SocketAddr) {
        let mut config = Config::for_tests(self.data_dir());
        config.listen = addr;
        config.clock = Clock::Manual(self.clock.clone());
        self.server = Some(handoff_server::start(config).await.expect("server restarts"));
    }

    /// Kills the server process with SIGKILL: no shutdown, no flush, as in a crash.
    pub async fn kill_server(&mut self) {
        let mut process = self.process.take().expect("a server process");
        process.child.start_kill().expect("kill");
        process.child.wait().await.expect("reaped");
    }

    /// Starts the server process again on the same data folder (on a new port). Returns its address.
    pub async fn restart_process(&mut self) -> SocketAddr {
        assert!(self.process.is_none(), "kill it first");
        let bin = self.process_bin.clone().expect("started with start_process");
        let process = ServerProcess::spawn(&bin, &self.dir.path().join("server")).await;
        let addr = process.addr;
        self.url = format!("http://{addr}");
        self.process = Some(process);
        addr
    }

    /// The server's address (for a proxy in front of it).
    pub fn addr(&self) -> SocketAddr {
        match (&self.server, &self.process) {
            (Some(s), _) => s.addr,
            (None, Some(p)) => p.addr,
            (None, None) => panic!("no server running"),
        }
    }

    pub async fn login(&self, email: &str) -> LoginResponse {
        let resp = self
            .http
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login request");
        assert_eq!(resp.status(), 200, "login as {email}");
        resp.json().await.expect("login body")
    }

    /// An Admin call that must succeed; returns the decoded body.
    pub async fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&impl Serialize>) -> T {
        let resp = self.raw(method.clone(), path, &self.admin_token, body).await;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path} -> {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&impl Serialize>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("request")
    }

    pub async fn create_user(&self, email: &str, name: &str, role: Role) -> User {
        let body = serde_json::json!({"email": email, "name": name, "password": PASSWORD, "role": role});
        self.call(Method::POST, "/api/v1/users", Some(&body)).await
    }

    /// A signed-in client core with its own cache file, connected and caught up.
    pub async fn client(&self, email: &str) -> Client {
        self.client_at(email, &self.url).await
    }

    /// The cache file of `email`'s client.
    pub fn cache_path(&self, email: &str) -> PathBuf {
        self.dir.path().join(format!("cache-{email}.db"))
    }

    /// A client that reaches the server at `server` (a fault proxy), connected and caught up.
    pub async fn client_at(&self, email: &str, server: &str) -> Client {
        self.client_with(email, server, &handoff_core::ClientOptions::default()).await
    }

    /// [`World::client_at`] with `options` (an encrypted cache, say).
    pub async fn client_with(&self, email: &str, server: &str, options: &handoff_core::ClientOptions) -> Client {
        let client = Client::open_with(&self.cache_path(email), options).await.expect("cache opens");
        client.sign_in(server, email, PASSWORD).await.expect("sign in");
        wait_for("online", &client, |c| async move { c.connection() == handoff_core::ConnectionState::Online }).await;
        client
    }

    /// A customer writes to the simulator number.
    pub async fn inbound(&self, from: &str, body: &str, wa_message_id: Option<&str>) -> Message {
        let req = SimulatorInbound {
            from: from.into(),
            name: None,
            body: body.into(),
            wa_message_id: wa_message_id.map(str::to_string),
            media: None,
            media_content: None,
            alt: None,
            group: None,
        };
        self.call(Method::POST, &format!("/api/v1/devices/{}/simulator/inbound", self.device.id), Some(&req)).await
    }

    /// What the simulator was asked to send to WhatsApp.
    pub async fn sent(&self) -> Vec<SimulatorSent> {
        let page: Page<SimulatorSent> =
            self.call(Method::GET, &format!("/api/v1/devices/{}/simulator/sent", self.device.id), None::<&()>).await;
        page.items
    }

    pub async fn head_seq(&self) -> i64 {
        let sync: handoff_proto::SyncResponse =
            self.call(Method::GET, "/api/v1/sync?since=0&limit=1", None::<&()>).await;
        sync.head_seq
    }

    /// The first `n` events of the server's log.
    pub async fn events(&self, n: i64) -> Vec<handoff_proto::Event> {
        let sync: handoff_proto::SyncResponse =
            self.call(Method::GET, &format!("/api/v1/sync?since=0&limit={n}"), None::<&()>).await;
        sync.events
    }

    /// Every conversation on the server, newest first (all pages).
    pub async fn conversations(&self) -> Vec<Conversation> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/conversations?limit=500&cursor={c}"),
                None => "/api/v1/conversations?limit=500".to_string(),
            };
            let page: Page<Conversation> = self.call(Method::GET, &path, None::<&()>).await;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return all,
            }
        }
    }

    /// Every message of a conversation on the server, oldest first.
    pub async fn messages(&self, conversation_id: ConversationId) -> Vec<Message> {
        let page: Page<Message> = self
            .call(Method::GET, &format!("/api/v1/conversations/{conversation_id}/messages?limit=500"), None::<&()>)
            .await;
        let mut items = page.items;
        items.reverse();
        items
    }

    /// Asserts that the client's cache holds exactly the server's state, table by table: users,
    /// devices, teams, conversations, every conversation's messages, and the log position; and
    /// that nothing is left in its outbox.
    pub async fn assert_converged(&self, client: &Client) {
        let who = client.session().map(|s| s.user.email).unwrap_or_default();
        let by_id = |mut users: Vec<User>| {
            users.sort_by_key(|u| u.id);
            users
        };
        let server_users: Page<User> = self.call(Method::GET, "/api/v1/users", None::<&()>).await;
        assert_eq!(by_id(client.users().await.expect("users")), by_id(server_users.items), "users differ for {who}");
        let mut devices = client.devices().await.expect("devices");
        devices.sort_by_key(|d| d.id);
        let mut server_devices: Page<Device> = self.call(Method::GET, "/api/v1/devices", None::<&()>).await;
        server_devices.items.sort_by_key(|d| d.id);
        assert_eq!(devices, server_devices.items, "devices differ for {who}");
        let mut teams = client.teams().await.expect("teams");
        teams.sort_by_key(|t| t.id);
        let mut server_teams: Page<Team> = self.call(Method::GET, "/api/v1/teams", None::<&()>).await;
        server_teams.items.sort_by_key(|t| t.id);
        assert_eq!(teams, server_teams.items, "teams differ for {who}");
        assert_eq!(client.outbox_len().await.expect("outbox"), 0, "{who} still has queued changes");
        let server = self.conversations().await;
        let cached = client.inbox(InboxView::All, 5000).await.expect("inbox");
        let strip = |mut c: Conversation| {
            c.unread_count = 0;
            c
        };
        assert_eq!(
            cached.into_iter().map(strip).collect::<Vec<_>>(),
            server.iter().cloned().map(strip).collect::<Vec<_>>(),
            "conversations differ for {who}"
        );
        for c in &server {
            let thread = client.thread(c.id).await.expect("thread").expect("cached");
            let cached: Vec<Message> = thread.messages.into_iter().map(|m| m.message).collect();
            assert_eq!(cached, self.messages(c.id).await, "messages of {} differ for {who}", c.id);
        }
        assert_eq!(client.last_seq().await.expect("seq"), self.head_seq().await, "last_seq differs");
    }

    /// The HTTP client, for requests the helpers do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn conversation(&self, id: ConversationId) -> Conversation {
        self.call(Method::GET, &format!("/api/v1/conversations/{id}"), None::<&()>).await
    }

    /// A team with a routing cap and members.
    pub async fn create_team(&self, name: &str, cap: i64, members: &[UserId]) -> Team {
        let team: Team =
            self.call(Method::POST, "/api/v1/teams", Some(&serde_json::json!({"name": name, "agent_cap": cap}))).await;
        let body = serde_json::json!({ "user_ids": members });
        self.call(Method::PUT, &format!("/api/v1/teams/{}/members", team.id), Some(&body)).await
    }

    /// A routing rule, last in order.
    pub async fn create_rule(&self, name: &str, matches: serde_json::Value, assign: serde_json::Value) -> RoutingRule {
        let body = serde_json::json!({"name": name, "match": matches, "assign": assign});
        self.call(Method::POST, "/api/v1/routing-rules", Some(&body)).await
    }

    /// The whole audit log, oldest first.
    pub async fn audit(&self) -> Vec<AuditEntry> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/audit?limit=500&cursor={c}"),
                None => "/api/v1/audit?limit=500".to_string(),
            };
            let page: Page<AuditEntry> = self.call(Method::GET, &path, None::<&()>).await;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        all.reverse();
        all
    }

    /// Waits until the server has seen every connection of `user` close.
    pub async fn wait_disconnected(&self, user: UserId) {
        let ws = self.first_workspace().await;
        let presence = &self.server.as_ref().expect("running").state.presence;
        presence_until(presence, "disconnected", || presence.connections(ws, user) == 0).await;
    }

    /// The installation's first workspace (where the harness's accounts are).
    pub async fn first_workspace(&self) -> handoff_proto::WorkspaceId {
        let store = &self.server.as_ref().expect("running").state.store;
        let mut conn = store.reader().await.expect("a reader");
        handoff_server::store::workspaces::first(&mut conn).await.expect("a first workspace").id
    }

    /// WebSocket sessions the server has opened so far (its `/metrics`).
    pub async fn ws_sessions(&self) -> u64 {
        let text = self.http.get(format!("{}/metrics", self.url)).send().await.expect("metrics").text().await.unwrap();
        let line = text.lines().find(|l| l.starts_with("handoff_ws_sessions_total ")).expect("the counter");
        line.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a number")
    }

    /// Waits until the server counts `user` as online (or offline).
    pub async fn wait_online(&self, user: UserId, online: bool) {
        let ws = self.first_workspace().await;
        let presence = &self.server.as_ref().expect("running").state.presence;
        presence_until(presence, "presence", || presence.is_online(ws, user) == online).await;
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        if self.process.is_some() {
            self.kill_server().await;
        }
    }
}

/// Waits until `cond` (which reads the server's presence) holds, re-checking at every presence
/// change. `cond` runs outside the change channel's lock: presence takes that lock while holding
/// its own, so reading presence inside `watch::Receiver::wait_for` could deadlock the test thread.
async fn presence_until(presence: &handoff_server::presence::Presence, what: &str, cond: impl Fn() -> bool) {
    let mut changes = presence.watch();
    let wait = async {
        loop {
            changes.borrow_and_update();
            if cond() {
                return;
            }
            changes.changed().await.expect("server running");
        }
    };
    tokio::time::timeout(DEADLINE, wait).await.unwrap_or_else(|_| panic!("{what} in time"));
}

/// A `test-server` process.
pub(crate) struct ServerProcess {
    child: tokio::process::Child,
    addr: SocketAddr,
}

impl ServerProcess {
    async fn spawn(bin: &str, data_dir: &Path) -> ServerProcess {
        ServerProcess::spawn_with(bin, data_dir, &[]).await
    }

    /// The `test-server` at `bin` on `data_dir`, with its options (`--database URL`, …).
    async fn spawn_with(bin: &str, data_dir: &Path, options: &[&str]) -> ServerProcess {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(bin)
            .arg(data_dir)
            .args(["admin@test.local", PASSWORD])
            .args(options)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} starts: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("the server says where it listens in time")
            .expect("server output")
            .expect("the server exited before listening");
        let addr = line.strip_prefix("listening ").and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("{line}"));
        ServerProcess { child, addr }
    }
}

/// A database lock taken by [`World::lock_database`].
pub enum DatabaseLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl DatabaseLock {
    pub async fn release(self) {
        use sqlx::Connection;
        match self {
            DatabaseLock::Sqlite(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.expect("release the lock");
                c.close().await.expect("closed");
            }
            DatabaseLock::Postgres(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.expect("release the lock");
                c.close().await.expect("closed");
            }
        }
    }
}

fn placeholder_device() -> Device {
    Device {
        id: DeviceId::nil(),
        name: String::new(),
        kind: handoff_proto::DeviceKind::Simulator,
        status: handoff_proto::DeviceStatus::PendingLink,
        phone: None,
        last_seen_at: None,
    }
}

/// Waits until `cond` holds for `client`, re-checking after each change the client reports.
pub async fn wait_for<F, Fut>(what: &str, client: &Client, cond: F)
where
    F: Fn(Client) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut changes = client.subscribe();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if cond(client.clone()).await {
            return;
        }
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => panic!("change stream ended while waiting for {what}: {e}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Waits until the reply with `body` shows `state` in `client`'s cache; returns that message.
pub async fn wait_delivery(
    client: &Client,
    conversation_id: ConversationId,
    body: &str,
    state: handoff_proto::Delivery,
) -> Message {
    let what = format!("{body:?} {state:?}");
    wait_for(&what, client, |c| async move {
        c.thread(conversation_id)
            .await
            .ok()
            .flatten()
            .is_some_and(|t| t.messages.iter().any(|m| m.message.body == body && m.message.delivery == Some(state)))
    })
    .await;
    let thread = client.thread(conversation_id).await.ok().flatten().expect("the conversation");
    thread.messages.into_iter().map(|m| m.message).find(|m| m.body == body).expect("the reply")
}

/// Waits until the client has caught up to the server's head and sent its whole outbox.
pub async fn settled(world: &World, client: &Client) {
    loop {
        let head = world.head_seq().await;
        wait_for("caught up", client, |c| async move {
            c.last_seq().await.unwrap_or(0) >= head && c.outbox_len().await.unwrap_or(1) == 0
        })
        .await;
        // Acks arrive before the events they caused: settled means nothing new since.
        if world.head_seq().await == head {
            return;
        }
    }
}
