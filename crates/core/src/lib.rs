//! handoff-core: the desktop engine, with no UI dependency.
//!
//! * [`cache`]: the local SQLite copy of the server's state, and the queries the UI needs.
//! * [`outbox`]: changes made here, applied optimistically and sent in order, exactly once.
//! * [`sync`]: the WebSocket session: catch up from `last_seq`, stream live, reconnect with backoff.
//!
//! The shell (src-tauri) calls [`Client`] methods and forwards [`Change`]s to the UI.

pub mod account;
pub mod address;
pub mod admin;
pub mod cache;
pub mod dashboard;
pub mod drafts;
pub mod media;
pub mod notifications;
pub mod notifier;
pub mod outbox;
pub mod presence;
pub mod privacy;
mod rest;
pub mod saved_replies;
pub mod search;
pub mod sync;
pub mod tls;
pub mod types;

/// Deletes everything this cache holds of its workspace: what the server sent, the outbox,
/// refused changes, drafts, the list of saved files, and who was signed in (a sign-out that
/// forgets this computer's copy, or an Admin's removal of the access).
pub(crate) async fn wipe_all(cache: &cache::Cache) -> CoreResult<()> {
    for key in ["server", "user_id", "user", "workspace_id", "workspace", "last_contact", "offline_grace_days"] {
        sqlx::query("DELETE FROM meta WHERE key = ?").bind(key).execute(cache.pool()).await?;
    }
    cache.wipe(true).await?;
    Ok(())
}

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use handoff_proto::{
    Activity, Conversation, ConversationId, ConversationStatus, Device, MessageId, MutationId, Op, TeamId, User, UserId,
};
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio::task::JoinHandle;

pub use address::ServerAddress;
pub use cache::{Cache, CacheKey};
pub use drafts::DraftMode;
pub use tls::ClientOptions;
pub use types::*;

/// What this agent tells the team about itself, on its way to the sync loop.
pub(crate) enum Outgoing {
    Activity(Option<ConversationId>, Activity),
    Status(handoff_proto::PresenceStatus),
}
pub(crate) type PresenceTx = mpsc::UnboundedSender<Outgoing>;
pub(crate) type PresenceRx = mpsc::UnboundedReceiver<Outgoing>;

#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub server: String,
    pub token: String,
    pub user: User,
    /// The workspace the token acts in (`None` from a server from before workspaces).
    pub workspace: Option<handoff_proto::Workspace>,
}

impl Session {
    fn info(&self) -> SessionInfo {
        SessionInfo {
            server: self.server.clone(),
            user: self.user.clone(),
            encrypted: self.server.starts_with("https://"),
            workspace: self.workspace.clone(),
        }
    }
}

pub(crate) struct Inner {
    pub cache: Cache,
    pub http: reqwest::Client,
    /// The TLS connector `http` uses, for the WebSocket ([`tls`]).
    pub tls: native_tls::TlsConnector,
    pub session: RwLock<Option<Session>>,
    pub changes: broadcast::Sender<Change>,
    pub state: watch::Sender<ConnectionState>,
    /// Poked when the outbox has something new to send.
    pub wake: Notify,
    pub presence: Mutex<Option<PresenceTx>>,
    /// Everyone's presence, as the server last said.
    pub board: Mutex<presence::Board>,
    /// The conversation this agent has on screen (as last told with `set_presence`).
    pub viewing: Mutex<Option<ConversationId>>,
    /// The search indexer runs (at most one at a time).
    pub indexing: std::sync::atomic::AtomicBool,
    /// A first sync at least this many events long is a bulk import ([`sync::BULK_MIN`]).
    pub bulk_min: std::sync::atomic::AtomicI64,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    pub fn emit(&self, change: Change) {
        let _ = self.changes.send(change); // nobody listening is fine
    }
    pub fn set_state(&self, state: ConnectionState) {
        self.state.send_replace(state.clone());
        self.emit(Change::Connection { state });
    }
    fn session(&self) -> CoreResult<Session> {
        self.session.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or(CoreError::NotSignedIn)
    }
}

/// A sign-in's answer, before a client adopts it: the shell picks the cache by the workspace it
/// names (one cache per workspace), then hands it to [`Client::adopt`].
pub struct Login {
    /// The server's address, as [`address::parse`] writes it.
    pub server: String,
    pub token: String,
    pub user: User,
    /// The workspace the token acts in (`None` from a server from before workspaces).
    pub workspace: Option<handoff_proto::Workspace>,
    /// Every workspace of the account on this server.
    pub workspaces: Vec<handoff_proto::WorkspaceEntry>,
}

impl Login {
    async fn request(
        http: &reqwest::Client,
        server: &str,
        email: &str,
        password: &str,
        workspace: Option<handoff_proto::WorkspaceId>,
    ) -> CoreResult<Login> {
        let server = address::parse(server)?.url;
        let answer = rest::login(http, &server, email, password, workspace).await?;
        let rest::SignedIn { token, user, workspace, workspaces } = answer;
        Ok(Login { server, token, user, workspace, workspaces })
    }
}

impl Login {
    /// Ends this sign-in's session on the server: it was not needed (the workspace it names is
    /// in the app already, signed in).
    pub async fn discard(self, options: &ClientOptions) -> CoreResult<()> {
        rest::logout(&http_client(&tls::connector(options)?)?, &self.server, &self.token).await
    }
}

/// Signs in to `workspace` of `server` (the account's oldest when `None`) without a cache yet.
pub async fn log_in(
    options: &ClientOptions,
    server: &str,
    email: &str,
    password: &str,
    workspace: Option<handoff_proto::WorkspaceId>,
) -> CoreResult<Login> {
    Login::request(&http_client(&tls::connector(options)?)?, server, email, password, workspace).await
}

fn http_client(tls: &native_tls::TlsConnector) -> CoreResult<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .user_agent(rest::user_agent())
        .tls_backend_preconfigured(tls.clone())
        .build()
        .map_err(|e| CoreError::Invalid(e.to_string()))
}

/// One signed-in desktop client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Opens (or creates) the cache at `cache_path`. Nothing is sent until [`Client::sign_in`] or [`Client::resume`].
    pub async fn open(cache_path: &Path) -> CoreResult<Client> {
        Client::open_with(cache_path, &ClientOptions::default()).await
    }

    /// [`Client::open`], trusting what `options` adds to the OS's certificate store, the cache
    /// encrypted with its `cache_key` when it has one.
    pub async fn open_with(cache_path: &Path, options: &ClientOptions) -> CoreResult<Client> {
        let tls = tls::connector(options)?;
        let cache = Cache::open(cache_path, options.cache_key.as_ref()).await?;
        let http = http_client(&tls)?;
        let inner = Arc::new(Inner {
            cache,
            http,
            tls,
            session: RwLock::new(None),
            changes: broadcast::channel(1024).0,
            state: watch::channel(ConnectionState::Idle).0,
            wake: Notify::new(),
            presence: Mutex::new(None),
            board: Mutex::new(presence::Board::default()),
            viewing: Mutex::new(None),
            indexing: std::sync::atomic::AtomicBool::new(false),
            bulk_min: std::sync::atomic::AtomicI64::new(sync::BULK_MIN),
            task: Mutex::new(None),
        });
        Ok(Client { inner })
    }

    /// Signs in with email and password, to the account's first workspace. Returns the session
    /// and its token (for the OS keyring).
    pub async fn sign_in(&self, server: &str, email: &str, password: &str) -> CoreResult<(SessionInfo, String)> {
        self.sign_in_to(server, email, password, None).await
    }

    /// Signs in to `workspace` of the server (the account's first when `None`). One client is
    /// one workspace: its cache holds that workspace's data only (another workspace's sign-in on
    /// this cache starts it again).
    pub async fn sign_in_to(
        &self,
        server: &str,
        email: &str,
        password: &str,
        workspace: Option<handoff_proto::WorkspaceId>,
    ) -> CoreResult<(SessionInfo, String)> {
        let login = Login::request(&self.inner.http, server, email, password, workspace).await?;
        let token = login.token.clone();
        Ok((self.adopt(login).await?, token))
    }

    /// Makes a sign-in made with [`log_in`] this client's session (its workspace's data on
    /// this cache, as [`Client::sign_in_to`]).
    pub async fn adopt(&self, login: Login) -> CoreResult<SessionInfo> {
        let session =
            Session { server: login.server, token: login.token, user: login.user, workspace: login.workspace };
        self.activate(session, true).await
    }

    /// Resumes with a stored token. When the server cannot be reached, the cached session opens
    /// offline and sync keeps trying. When the server no longer takes the token (it expired, or
    /// was signed out elsewhere), the cached session opens [`ConnectionState::SignedOut`]: the
    /// agent sees their queue and outbox and signs in again to carry on. Either only within the
    /// workspace's offline grace of the last contact; past it, [`CoreError::OfflineTooLong`]
    /// (the password first, the cache kept closed). A token whose access an Admin removed wipes
    /// the cache ([`CoreError::AccessRemoved`]).
    pub async fn resume(&self, server: &str, token: &str) -> CoreResult<SessionInfo> {
        let server = address::parse(server)?.url;
        // The token's workspace is the one it signed in to, as this cache keeps it.
        let workspace = self.cached_workspace(&server).await?;
        let (user, ended) = match rest::me(&self.inner.http, &server, token).await {
            Ok(user) => (user, None),
            // Unreachable, or no secure connection now (a captive portal, a hotspot that
            // intercepts TLS): the cached session opens offline, and sync keeps trying.
            Err(e @ (CoreError::Unreachable(_) | CoreError::Tls { .. })) => {
                self.within_offline_grace().await?;
                (self.cached_user(&server).await?.ok_or(e)?, None)
            }
            // Deactivated, or signed out everywhere by an Admin: this copy goes.
            Err(CoreError::AccessRemoved) => {
                wipe_all(&self.inner.cache).await?;
                return Err(CoreError::AccessRemoved);
            }
            Err(e @ (CoreError::SessionExpired | CoreError::NotSignedIn)) => {
                // Signed out, the queue shows behind the password: not past the grace either.
                self.within_offline_grace().await?;
                let expired = matches!(e, CoreError::SessionExpired);
                (self.cached_user(&server).await?.ok_or(e)?, Some(ConnectionState::SignedOut { expired }))
            }
            Err(e) => return Err(e),
        };
        let session = Session { server, token: token.to_string(), user, workspace };
        let info = self.activate(session, ended.is_none()).await?;
        if let Some(state) = ended {
            self.inner.set_state(state);
        }
        Ok(info)
    }

    /// Whether the cache may open without the server: not when it last reached the server
    /// longer ago than the workspace's offline grace (as the server last told it).
    async fn within_offline_grace(&self) -> CoreResult<()> {
        let cache = &self.inner.cache;
        let last = cache.meta("last_contact").await?.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
        let days: Option<u32> = cache.meta("offline_grace_days").await?.and_then(|d| d.parse().ok());
        match (last, days) {
            (Some(last), Some(days)) if chrono::Utc::now() - last.to_utc() > chrono::Duration::days(days.into()) => {
                Err(CoreError::OfflineTooLong { days })
            }
            _ => Ok(()),
        }
    }

    async fn cached_workspace(&self, server: &str) -> CoreResult<Option<handoff_proto::Workspace>> {
        let cache = &self.inner.cache;
        if cache.meta("server").await?.as_deref() != Some(server) {
            return Ok(None);
        }
        let workspace: Option<handoff_proto::Workspace> =
            cache.meta("workspace").await?.and_then(|w| serde_json::from_str(&w).ok());
        // Only the workspace this cache is of (its id kept beside it).
        let id = cache.meta("workspace_id").await?;
        Ok(workspace.filter(|w| id.as_deref() == Some(w.id.to_string().as_str())))
    }

    async fn cached_user(&self, server: &str) -> CoreResult<Option<User>> {
        if self.inner.cache.meta("server").await?.as_deref() != Some(server) {
            return Ok(None);
        }
        Ok(self.inner.cache.meta("user").await?.and_then(|u| serde_json::from_str(&u).ok()))
    }

    /// Makes `session` the current one (a different person, server or workspace than the
    /// cache's wipes the cache; the same one keeps cache and outbox) and, if `sync`, starts
    /// syncing. A user who must change their password first does not sync until
    /// [`Client::change_password`].
    async fn activate(&self, session: Session, sync: bool) -> CoreResult<SessionInfo> {
        self.stop().await;
        let cache = &self.inner.cache;
        // The workspace, when known on both sides, must be the cache's. It is unknown in a cache
        // from before workspaces, and for a session from a server from before them or resumed
        // from such a cache: then the welcome's epoch (per workspace) tells a different one,
        // and [`sync`] starts the cached rows again.
        let asked = session.workspace.as_ref().map(|w| w.id.to_string());
        let cached = cache.meta("workspace_id").await?.filter(|id| !id.is_empty());
        let same_workspace = match (&cached, &asked) {
            (Some(cached), Some(asked)) => cached == asked,
            _ => true,
        };
        let same_account = cache.meta("server").await?.as_deref() == Some(session.server.as_str())
            && cache.meta("user_id").await?.as_deref() == Some(session.user.id.to_string().as_str())
            && same_workspace;
        if !same_account {
            cache.wipe(true).await?;
            for key in ["workspace_id", "workspace"] {
                sqlx::query("DELETE FROM meta WHERE key = ?").bind(key).execute(cache.pool()).await?;
            }
        }
        cache.set_meta("server", &session.server).await?;
        cache.set_meta("user_id", &session.user.id.to_string()).await?;
        if let Some(workspace) = &session.workspace {
            cache.set_meta("workspace_id", &workspace.id.to_string()).await?;
            cache.set_meta("workspace", &serde_json::to_string(workspace).unwrap_or_default()).await?;
        }
        cache.set_meta("user", &serde_json::to_string(&session.user).unwrap_or_default()).await?;
        let info = session.info();
        let sync = sync && !session.user.must_change_password;
        *self.inner.session.write().unwrap_or_else(|p| p.into_inner()) = Some(session);
        if sync {
            self.start();
        }
        Ok(info)
    }

    /// Starts (or restarts) the sync loop for the current session.
    pub fn start(&self) {
        let Ok(session) = self.inner.session() else { return };
        let (tx, rx) = mpsc::unbounded_channel();
        *self.inner.presence.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        let handle = tokio::spawn(sync::run(Arc::clone(&self.inner), session, rx));
        if let Some(old) = self.inner.task.lock().unwrap_or_else(|p| p.into_inner()).replace(handle) {
            old.abort();
        }
    }

    /// Stops syncing (the connection closes); the cache and outbox stay.
    pub async fn stop(&self) {
        let task = self.inner.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        self.inner.set_state(ConnectionState::Idle);
    }

    /// Signs out on the server (when reachable) and stops. `wipe` also forgets the local cache.
    pub async fn sign_out(&self, wipe: bool) -> CoreResult<()> {
        self.stop().await;
        let session = self.inner.session.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(s) = session {
            if let Err(e) = rest::logout(&self.inner.http, &s.server, &s.token).await {
                tracing::info!(error = %e, "server-side logout failed; the token stays valid until it is revoked");
            }
        }
        if wipe {
            wipe_all(&self.inner.cache).await?;
        }
        Ok(())
    }

    /// Stops syncing and closes the cache file: the shell removes a workspace from the app.
    /// The session stays valid on the server (see [`Client::sign_out`]).
    pub async fn close(&self) {
        self.stop().await;
        self.inner.cache.pool().close().await;
    }

    pub fn session(&self) -> Option<SessionInfo> {
        let s = self.inner.session.read().unwrap_or_else(|p| p.into_inner());
        s.as_ref().map(Session::info)
    }

    /// First syncs at least `events` long become bulk imports (default [`sync::BULK_MIN`]; the
    /// tests use a short history).
    pub fn set_bulk_import_threshold(&self, events: i64) {
        self.inner.bulk_min.store(events, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    pub fn connection(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    /// Waits until the connection is in a state `pred` accepts.
    pub async fn wait_connection(&self, pred: impl Fn(&ConnectionState) -> bool) {
        let mut rx = self.inner.state.subscribe();
        let _ = rx.wait_for(|s| pred(s)).await;
    }

    pub fn cache(&self) -> &Cache {
        &self.inner.cache
    }

    fn me(&self) -> CoreResult<UserId> {
        Ok(self.inner.session()?.user.id)
    }

    pub async fn inbox(&self, view: InboxView, limit: i64) -> CoreResult<Vec<Conversation>> {
        self.inbox_filtered(view, None, None, limit).await
    }

    /// A view of the queue narrowed to a team (for [`InboxView::Team`]) and/or a label.
    pub async fn inbox_filtered(
        &self,
        view: InboxView,
        team: Option<TeamId>,
        label: Option<&str>,
        limit: i64,
    ) -> CoreResult<Vec<Conversation>> {
        let label = label.map(str::trim).filter(|l| !l.is_empty());
        Ok(self.inner.cache.inbox(view, self.me()?, team, label, limit.max(1)).await?)
    }

    /// The manager's dashboard from the cache, as of now.
    pub async fn dashboard(&self) -> CoreResult<dashboard::Dashboard> {
        let all = self.inner.cache.inbox(InboxView::All, self.me()?, None, None, i64::MAX).await?;
        let teams = self.inner.cache.teams().await?;
        Ok(dashboard::compute(&all, &teams, chrono::Utc::now()))
    }

    /// How many conversations each view of the rail holds.
    pub async fn counts(&self) -> CoreResult<ViewCounts> {
        Ok(self.inner.cache.counts(self.me()?).await?)
    }

    /// Every label in use, for the label filter and the label picker.
    pub async fn labels(&self) -> CoreResult<Vec<String>> {
        Ok(self.inner.cache.labels().await?)
    }

    /// A conversation's whole thread, from the cache.
    pub async fn thread(&self, conversation_id: ConversationId) -> CoreResult<Option<Thread>> {
        Ok(self.inner.cache.thread(conversation_id).await?)
    }

    /// The newest part of a thread, from the cache: its newest `newest` messages, or every
    /// message from `from` on when they are more (a view passes the oldest message it shows, so
    /// that nothing it shows drops out as new messages arrive). `earlier` counts the rest.
    pub async fn thread_page(
        &self,
        conversation_id: ConversationId,
        newest: u32,
        from: Option<MessageId>,
    ) -> CoreResult<Option<Thread>> {
        Ok(self.inner.cache.thread_page(conversation_id, i64::from(newest), from).await?)
    }

    pub async fn users(&self) -> CoreResult<Vec<User>> {
        Ok(self.inner.cache.users().await?)
    }

    pub async fn devices(&self) -> CoreResult<Vec<Device>> {
        Ok(self.inner.cache.devices().await?)
    }

    /// Refused changes with text, waiting for the agent (oldest first). Kept across restarts.
    pub async fn attention(&self) -> CoreResult<Vec<Attention>> {
        Ok(outbox::attention(&self.inner.cache).await?)
    }

    /// Takes an entry off the "Needs attention" list. Whoever calls it has dealt with the text:
    /// sent it again (see [`Client::reply`] with `force`), put it in the composer, or discarded it.
    pub async fn dismiss_attention(&self, mutation_id: MutationId) -> CoreResult<()> {
        if outbox::dismiss(&self.inner.cache, mutation_id).await? {
            self.inner.emit(Change::Attention);
        }
        Ok(())
    }

    /// What the agent was writing in `mode` in a conversation (kept across restarts).
    pub async fn draft(&self, conversation_id: ConversationId, mode: DraftMode) -> CoreResult<Option<String>> {
        Ok(drafts::get(&self.inner.cache, conversation_id, mode).await?)
    }

    /// Keeps a draft; an empty body clears it. Drafts go with the cache when it is wiped.
    pub async fn set_draft(&self, conversation_id: ConversationId, mode: DraftMode, body: &str) -> CoreResult<()> {
        Ok(drafts::set(&self.inner.cache, conversation_id, mode, body).await?)
    }

    /// Sends a refused change from "Needs attention" again, with `body` (the agent may have
    /// edited it), and takes it off the list. It goes as the kind it was: a note as a note, an
    /// escalation as an escalation ([`outbox::resend`]); `force` matters for a reply only.
    pub async fn resend_attention(&self, mutation_id: MutationId, body: &str, force: bool) -> CoreResult<MutationId> {
        check_body(body)?;
        let Some(refused) = outbox::refused(&self.inner.cache, mutation_id).await? else {
            return Err(CoreError::Invalid("this change is no longer waiting: it was sent or discarded".into()));
        };
        let conversation_id = refused.conversation_id();
        let seen_version = self.inner.cache.conversation(conversation_id).await?.map(|c| c.version).unwrap_or(0);
        let op = outbox::resend(refused, body.to_string(), seen_version, force)
            .ok_or_else(|| CoreError::Invalid("only a reply, a note or an escalation can be sent again".into()))?;
        let id = self.enqueue(op).await?;
        self.dismiss_attention(mutation_id).await?;
        Ok(id)
    }

    /// Searches the cached contacts and messages (works offline): at most `limit` messages, newest first.
    pub async fn search(&self, query: &str, limit: i64) -> CoreResult<SearchResults> {
        Ok(self.inner.cache.search(query, limit.clamp(1, 200)).await?)
    }

    pub async fn teams(&self) -> CoreResult<Vec<handoff_proto::Team>> {
        Ok(self.inner.cache.teams().await?)
    }

    pub async fn last_seq(&self) -> CoreResult<i64> {
        Ok(self.inner.cache.last_seq().await?)
    }

    pub async fn outbox_len(&self) -> CoreResult<i64> {
        Ok(outbox::len(&self.inner.cache).await?)
    }

    async fn enqueue(&self, op: Op) -> CoreResult<MutationId> {
        let me = self.me()?;
        let conversation_id = op.conversation_id();
        if self.inner.cache.conversation(conversation_id).await?.is_none() {
            return Err(CoreError::Invalid("no such conversation".into()));
        }
        let id = outbox::enqueue(&self.inner.cache, me, op).await?;
        self.inner.emit(Change::Conversation { conversation_id });
        self.inner.emit(Change::Inbox);
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Replies to the customer. `seen_version` is the version the agent was looking at (the
    /// cached one when `None`); the server refuses the reply if something changed since, unless `force`.
    pub async fn reply(
        &self,
        conversation_id: ConversationId,
        body: &str,
        seen_version: Option<i64>,
        force: bool,
    ) -> CoreResult<MutationId> {
        check_body(body)?;
        let seen_version = match seen_version {
            Some(v) => v,
            None => self.inner.cache.conversation(conversation_id).await?.map(|c| c.version).unwrap_or(0),
        };
        let id = self.enqueue(Op::Reply { conversation_id, body: body.to_string(), seen_version, force }).await?;
        self.set_presence(Some(conversation_id), Activity::Viewing); // sent: no longer typing
        Ok(id)
    }

    /// An internal note: only the team sees it.
    pub async fn note(&self, conversation_id: ConversationId, body: &str) -> CoreResult<MutationId> {
        check_body(body)?;
        let id = self.enqueue(Op::Note { conversation_id, body: body.to_string() }).await?;
        self.set_presence(Some(conversation_id), Activity::Viewing); // sent: no longer writing
        Ok(id)
    }

    /// Sends a failed reply again.
    pub async fn retry(&self, conversation_id: ConversationId, message_id: MessageId) -> CoreResult<MutationId> {
        self.enqueue(Op::Retry { conversation_id, message_id }).await
    }

    pub async fn claim(&self, conversation_id: ConversationId) -> CoreResult<MutationId> {
        self.enqueue(Op::Claim { conversation_id }).await
    }

    /// Gives the conversation to someone (or no one); `team_id` moves it to a team as well.
    pub async fn assign(
        &self,
        conversation_id: ConversationId,
        assignee_id: Option<UserId>,
        team_id: Option<TeamId>,
    ) -> CoreResult<MutationId> {
        self.enqueue(Op::Assign { conversation_id, assignee_id, team_id }).await
    }

    /// Hands the conversation to a team's queue with a note for whoever picks it up.
    pub async fn escalate(
        &self,
        conversation_id: ConversationId,
        team_id: TeamId,
        note: &str,
    ) -> CoreResult<MutationId> {
        if note.trim().is_empty() {
            return Err(CoreError::Invalid("an escalation needs a note: tell the team what they need to know".into()));
        }
        check_body(note)?;
        self.enqueue(Op::Escalate { conversation_id, team_id, note: note.to_string() }).await
    }

    pub async fn label(
        &self,
        conversation_id: ConversationId,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> CoreResult<MutationId> {
        self.enqueue(Op::Label { conversation_id, add, remove }).await
    }

    pub async fn set_status(
        &self,
        conversation_id: ConversationId,
        status: ConversationStatus,
    ) -> CoreResult<MutationId> {
        if status == ConversationStatus::Snoozed {
            return Err(CoreError::Invalid("snoozing needs a wake-up time".into()));
        }
        self.enqueue(Op::SetStatus { conversation_id, status, snooze_until: None }).await
    }

    /// Snoozes until `until`; the conversation opens again by itself then, or when the customer writes.
    pub async fn snooze(
        &self,
        conversation_id: ConversationId,
        until: chrono::DateTime<chrono::Utc>,
    ) -> CoreResult<MutationId> {
        if until <= chrono::Utc::now() {
            return Err(CoreError::Invalid("pick a wake-up time in the future".into()));
        }
        let status = ConversationStatus::Snoozed;
        self.enqueue(Op::SetStatus { conversation_id, status, snooze_until: Some(until) }).await
    }

    pub async fn mark_read(&self, conversation_id: ConversationId) -> CoreResult<MutationId> {
        self.enqueue(Op::MarkRead { conversation_id }).await
    }

    /// Tells the team what I am doing (viewing, typing). Ephemeral: told again after a reconnect.
    pub fn set_presence(&self, conversation_id: Option<ConversationId>, activity: Activity) {
        *self.inner.viewing.lock().unwrap_or_else(|p| p.into_inner()) =
            conversation_id.filter(|_| activity != Activity::Idle);
        self.tell(Outgoing::Activity(conversation_id, activity));
    }

    /// The conversation on screen, if any.
    pub fn viewing(&self) -> Option<ConversationId> {
        *self.inner.viewing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// I am away (idle, or the app is in the background), or back.
    pub fn set_away(&self, away: bool) {
        let status = if away { handoff_proto::PresenceStatus::Away } else { handoff_proto::PresenceStatus::Online };
        self.tell(Outgoing::Status(status));
    }

    fn tell(&self, out: Outgoing) {
        if let Some(tx) = self.inner.presence.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send(out);
        }
    }

    /// Everyone's presence as known now (nothing while offline).
    pub fn presence(&self) -> presence::PresenceView {
        self.inner.board.lock().unwrap_or_else(|p| p.into_inner()).view(chrono::Utc::now())
    }
}

fn check_body(body: &str) -> CoreResult<()> {
    if body.trim().is_empty() {
        return Err(CoreError::Invalid("the message is empty".into()));
    }
    Ok(())
}
