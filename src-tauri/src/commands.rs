//! The commands the UI calls. Each is a line or two into handoff-core.

use chrono::{DateTime, Utc};
use handoff_core::notifications::NotificationSettings;
use handoff_core::presence::PresenceView;
use handoff_core::{Attention, ConnectionState, CoreError, InboxView, SearchResults, SessionInfo, Thread, ViewCounts};
use handoff_proto::{
    Activity, Conversation, ConversationId, ConversationStatus, Device, MessageId, MutationId, SessionId, Team, TeamId,
    User, UserId, WorkspaceId,
};
use serde::Serialize;
use tauri::State;

use crate::workspaces::keyring_account;
use crate::{secrets, AppCore};

/// What a failed command tells the UI: a stable code and a sentence for people.
#[derive(Debug, Serialize, specta::Type)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl From<CoreError> for CommandError {
    fn from(e: CoreError) -> Self {
        let message = match &e {
            CoreError::WrongCredentials => "Wrong email or password.".to_string(),
            CoreError::Unreachable(server) => {
                format!("Server not reachable at {server}. Check the address and your network.")
            }
            CoreError::Tls { server, detail } => format!(
                "No secure connection to {server}: {detail}. If the server's certificate comes from your \
                 company's own authority, ask IT to install it on this computer."
            ),
            CoreError::NotSignedIn => "You are signed out: sign in again.".to_string(),
            other => {
                let text = other.to_string();
                let mut chars = text.chars();
                chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or(text)
            }
        };
        CommandError { code: e.code().to_string(), message }
    }
}

type Result<T> = std::result::Result<T, CommandError>;

/// A workspace in the app: its key (named in every command) and who is signed in there.
#[derive(Serialize, specta::Type)]
pub struct WorkspaceSession {
    pub key: String,
    pub session: SessionInfo,
}

/// The workspaces that open at start, in order, and the one last on screen.
#[derive(Serialize, specta::Type)]
pub struct Restored {
    pub workspaces: Vec<WorkspaceSession>,
    pub active: Option<String>,
    /// Why a workspace that was signed in waits for the password (the sign-in form says it):
    /// an Admin removed the access (its copy deleted), it was offline past its grace, or it did
    /// not open (its cache's key in a keyring that is locked).
    pub notices: Vec<String>,
}

/// Opens every workspace signed in when the app last ran, with its token from the OS keyring.
#[tauri::command]
#[specta::specta]
pub async fn restore_session(app: tauri::AppHandle, core: State<'_, AppCore>) -> Result<Restored> {
    let _one_at_a_time = core.workspaces.changing().await;
    let saved = core.prefs.load();
    let mut workspaces = Vec::new();
    let mut notices = Vec::new();
    for w in saved.workspaces.iter().filter(|w| w.signed_in) {
        match restore(&app, &core, w).await {
            Ok(Restore::Opened(session)) => workspaces.push(WorkspaceSession { key: w.key.clone(), session }),
            Ok(Restore::Refused { why, removed }) => {
                core.workspaces.close(&w.key).await;
                if removed {
                    remove_copy(&core, &w.key);
                }
                core.prefs.signed_out(&w.key, removed);
                notices.push(format!("{}: {why}", w.server));
            }
            // No token kept, or no cached copy of its account: it waits, signed out.
            Ok(Restore::SignedOut) => {
                core.workspaces.close(&w.key).await;
                core.prefs.signed_out(&w.key, false);
            }
            // The keyring did not answer (an unlock prompt nobody answered): the tokens are
            // likely there, so the workspaces stay signed in for the next start, and the
            // others are not asked for (each would wait as long again).
            Ok(Restore::NoKeyring) => break,
            // Still signed in for the next start (a locked keyring, say); the sign-in form says why.
            Err(e) => {
                tracing::warn!(workspace = %w.key, error = %e.message, "a workspace did not open");
                core.workspaces.close(&w.key).await;
                notices.push(format!("{}: {}", w.server, e.message));
            }
        }
    }
    let active = saved.active.filter(|a| workspaces.iter().any(|w| &w.key == a));
    let active = active.or_else(|| workspaces.first().map(|w| w.key.clone()));
    core.workspaces.set_active(active.as_deref());
    crate::tray::update_count(&app).await;
    crate::tray::show_dnd(&app);
    encrypt_kept(app.clone());
    Ok(Restored { workspaces, active, notices })
}

/// Encrypts, in the background, the plain caches of workspaces that did not open at start
/// (signed out with their copy kept, or waiting for a password): an app from before encryption
/// left them plain, and they may not be opened again for a long time.
fn encrypt_kept(app: tauri::AppHandle) {
    use tauri::Manager;
    tauri::async_runtime::spawn(async move {
        let core = app.state::<AppCore>();
        for w in core.prefs.load().workspaces {
            // One at a time, each between sign-ins and sign-outs (which may open it meanwhile).
            let _one_at_a_time = core.workspaces.changing().await;
            let path = core.workspaces.cache_path(&w.key);
            if core.workspaces.get(&w.key).is_ok() || !handoff_core::cache::file::is_plain(&path) {
                continue;
            }
            // No keyring now: at a later start.
            if let Ok(Some(key)) = secrets::cache_key(&path, false).await {
                match handoff_core::Cache::open(&path, Some(&key)).await {
                    Ok(cache) => cache.pool().close().await,
                    Err(e) => tracing::warn!(error = %e, workspace = %w.key, "a kept cache was not encrypted"),
                }
            }
        }
    });
}

enum Restore {
    Opened(SessionInfo),
    SignedOut,
    /// The server removed the access (`removed`: the core deleted the copy's rows, its files
    /// and key go too), or the cache may not open offline any more: the password first, and
    /// this is why.
    Refused {
        why: String,
        removed: bool,
    },
    NoKeyring,
}

async fn restore(app: &tauri::AppHandle, core: &AppCore, w: &crate::prefs::SavedWorkspace) -> Result<Restore> {
    let account = keyring_account(&w.server, &w.key);
    let token = match secrets::load_token(&account, secrets::LOAD_WAIT).await {
        secrets::Loaded::Token(token) => token,
        secrets::Loaded::Missing => return Ok(Restore::SignedOut),
        secrets::Loaded::NoAnswer => return Ok(Restore::NoKeyring),
    };
    let open = core.workspaces.open(app, &w.key, w.notifications.clone(), false).await?;
    match open.client.resume(&w.server, &token).await {
        // A session the server no longer takes opens too, signed out (the UI asks for the password).
        Ok(info) => {
            if let (None, Some(ws)) = (w.workspace_id, &info.workspace) {
                core.prefs.learn_workspace(&w.key, ws.id);
            }
            Ok(Restore::Opened(info))
        }
        Err(CoreError::NotSignedIn | CoreError::SessionExpired) => {
            secrets::delete_token(&account);
            Ok(Restore::SignedOut)
        }
        // The core has deleted the copy (access removed) or kept it closed (offline too long).
        Err(e @ (CoreError::AccessRemoved | CoreError::OfflineTooLong { .. })) => {
            secrets::delete_token(&account);
            let removed = matches!(e, CoreError::AccessRemoved);
            Ok(Restore::Refused { why: format!("{}.", CommandError::from(e).message), removed })
        }
        Err(e) => Err(e.into()),
    }
}

/// A sign-in: the workspace's key, who is signed in, and the account's other workspaces on that
/// server not in the app yet (the UI offers to add them).
#[derive(Serialize, specta::Type)]
pub struct SignedIn {
    pub key: String,
    pub session: SessionInfo,
    pub others: Vec<handoff_proto::WorkspaceEntry>,
}

/// Signs in to `workspace_id` of the server (the account's first when `null`). `workspace` is the
/// key of a workspace in the app whose session ended (signing in again); `null` adds one, on
/// the cache kept for that workspace if there is one. A sign-in to a workspace in the app
/// already (the same person, server and workspace) changes nothing there: its new session is
/// ended, and the one in the app is answered with the account's other workspaces; unless that
/// one's session had ended, or its workspace was not known yet (a cache from before
/// workspaces): then the sign-in carries on there.
#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    app: tauri::AppHandle,
    core: State<'_, AppCore>,
    workspace: Option<String>,
    server: String,
    email: String,
    password: String,
    workspace_id: Option<WorkspaceId>,
) -> Result<SignedIn> {
    let login = handoff_core::log_in(core.workspaces.options(), &server, &email, &password, workspace_id).await?;
    let _one_at_a_time = core.workspaces.changing().await;
    let chosen = login.workspace.as_ref().map(|w| w.id);
    let all = login.workspaces.clone();
    let others = |session: &SessionInfo| -> Vec<handoff_proto::WorkspaceEntry> {
        let open: Vec<_> = core.workspaces.all().iter().filter_map(|w| w.client.session()).collect();
        let added =
            |id| open.iter().any(|s| s.server == session.server && s.workspace.as_ref().map(|w| w.id) == Some(id));
        all.iter().filter(|w| !added(w.id)).cloned().collect()
    };
    // Signing in again after a session ended names its workspace; a new sign-in may be one in
    // the app already: the same person on the same server in the same workspace, or in one from
    // before workspaces (whose id this sign-in now tells).
    let again = workspace.is_some();
    let mut key = workspace;
    if key.is_none() {
        let same = |s: &SessionInfo| {
            let id = s.workspace.as_ref().map(|w| w.id);
            s.server == login.server && s.user.id == login.user.id && (id == chosen || id.is_none())
        };
        let known = core.workspaces.all().into_iter().find(|w| w.client.session().is_some_and(|s| same(&s)));
        if let Some((known, session)) = known.and_then(|w| w.client.session().map(|s| (w, s))) {
            let ended = matches!(known.client.connection(), ConnectionState::SignedOut { .. });
            if !ended && session.workspace.is_some() {
                // Nothing to change there: the new session is ended on the server (in the
                // background: the lock is not held for it).
                let options = core.workspaces.options().clone();
                tauri::async_runtime::spawn(async move {
                    if let Err(e) = login.discard(&options).await {
                        tracing::info!(error = %e, "an unneeded session was not ended on the server");
                    }
                });
                core.workspaces.set_active(Some(&known.key));
                core.prefs.set_active(&known.key);
                let others = others(&session);
                return Ok(SignedIn { key: known.key.clone(), session, others });
            }
            // Its session had ended, or its workspace was not known: this sign-in carries on there.
            key = Some(known.key.clone());
        }
    }
    let saved = core.prefs.load();
    let open_keys: Vec<String> = core.workspaces.all().iter().map(|w| w.key.clone()).collect();
    let key = key.unwrap_or_else(|| saved.key_for(&login.server, chosen, &open_keys));
    let settings = saved.workspace(&key).map(|w| w.notifications.clone()).unwrap_or_default();
    let token = login.token.clone();
    let open = match core.workspaces.open(&app, &key, settings, true).await {
        Ok(open) => open,
        Err(e) => {
            // Its cache did not open (a locked keyring): the new session is ended on the server.
            let options = core.workspaces.options().clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = login.discard(&options).await {
                    tracing::info!(error = %e, "an unused session was not ended on the server");
                }
            });
            return Err(e);
        }
    };
    let session = match open.client.adopt(login).await {
        Ok(session) => session,
        Err(e) => {
            if open.client.session().is_none() {
                core.workspaces.close(&key).await;
            }
            return Err(e.into());
        }
    };
    secrets::store_token(&keyring_account(&session.server, &key), &token);
    core.prefs.remember_server(&session.server);
    core.prefs.signed_in(&key, &session.server, chosen);
    // Signing in again happens where the agent was: the screen may have moved on meanwhile.
    if !again {
        core.workspaces.set_active(Some(&key));
        core.prefs.set_active(&key);
    }
    crate::tray::update_count(&app).await;
    crate::tray::show_dnd(&app);
    let others = others(&session);
    Ok(SignedIn { key, session, others })
}

/// Signs out of a workspace, which leaves the app; `wipe` also deletes its data on this
/// computer (else its cache waits for a sign-in to the same workspace).
#[tauri::command]
#[specta::specta]
pub async fn sign_out(app: tauri::AppHandle, core: State<'_, AppCore>, workspace: String, wipe: bool) -> Result<()> {
    let _one_at_a_time = core.workspaces.changing().await;
    let client = core.client(&workspace)?;
    if let Some(info) = client.session() {
        secrets::delete_token(&keyring_account(&info.server, &workspace));
    }
    let signed_out = client.sign_out(wipe).await;
    core.workspaces.close(&workspace).await;
    core.prefs.signed_out(&workspace, wipe);
    if wipe {
        remove_copy(&core, &workspace);
    }
    crate::tray::update_count(&app).await;
    crate::tray::show_dnd(&app);
    Ok(signed_out?)
}

/// Removes a closed workspace's cache from this computer. Its rows were deleted securely; the
/// files go too, and the key with them, so that whatever the disk still holds of them cannot be
/// read.
fn remove_copy(core: &AppCore, workspace: &str) {
    let path = core.workspaces.cache_path(workspace);
    if let Err(e) = handoff_core::cache::file::remove(&path) {
        tracing::warn!(error = %e, file = %path.display(), "a workspace's cache file was not removed");
    }
    secrets::forget_cache_key(&path);
}

/// The workspace on screen: notifications about it wait while the window has focus, the
/// others' come.
#[tauri::command]
#[specta::specta]
pub fn set_active_workspace(core: State<'_, AppCore>, workspace: String) {
    core.workspaces.set_active(Some(&workspace));
    core.prefs.set_active(&workspace);
}

/// Changes my password (my other sessions end). After a temporary password this starts syncing.
#[tauri::command]
#[specta::specta]
pub async fn change_password(
    core: State<'_, AppCore>,
    workspace: String,
    current_password: String,
    new_password: String,
) -> Result<SessionInfo> {
    Ok(core.client(&workspace)?.change_password(&current_password, &new_password).await?)
}

/// My sessions on the server (needs the server).
#[tauri::command]
#[specta::specta]
pub async fn sessions(core: State<'_, AppCore>, workspace: String) -> Result<Vec<handoff_proto::SessionEntry>> {
    Ok(core.client(&workspace)?.sessions().await?)
}

/// Ends one of my other sessions (a lost laptop's).
#[tauri::command]
#[specta::specta]
pub async fn end_session(core: State<'_, AppCore>, workspace: String, id: SessionId) -> Result<()> {
    Ok(core.client(&workspace)?.end_session(id).await?)
}

/// Changes made here that the server has not acknowledged yet.
#[tauri::command]
#[specta::specta]
pub async fn outbox_len(core: State<'_, AppCore>, workspace: String) -> Result<u32> {
    Ok(u32::try_from(core.client(&workspace)?.outbox_len().await?).unwrap_or(u32::MAX))
}

/// What a typed server address means (the sign-in form shows it as the agent types).
#[tauri::command]
#[specta::specta]
pub fn server_address(input: String) -> Result<handoff_core::ServerAddress> {
    Ok(handoff_core::address::parse(&input)?)
}

#[tauri::command]
#[specta::specta]
pub fn recent_servers(core: State<'_, AppCore>) -> Vec<String> {
    core.prefs.load().servers
}

#[tauri::command]
#[specta::specta]
pub fn connection(core: State<'_, AppCore>, workspace: String) -> Result<ConnectionState> {
    Ok(core.client(&workspace)?.connection())
}

/// Rows of a view the queue asks for at once; it asks for more as the agent scrolls to the end.
pub const INBOX_PAGE: u32 = 2000;

/// A view of the queue, newest first: its first `limit` rows (default [`INBOX_PAGE`]). `team_id`
/// for the Team view, `label` narrows any view.
#[tauri::command]
#[specta::specta]
pub async fn inbox(
    core: State<'_, AppCore>,
    workspace: String,
    view: InboxView,
    team_id: Option<TeamId>,
    label: Option<String>,
    limit: Option<u32>,
) -> Result<Vec<Conversation>> {
    let limit = limit.unwrap_or(INBOX_PAGE);
    Ok(core.client(&workspace)?.inbox_filtered(view, team_id, label.as_deref(), i64::from(limit)).await?)
}

/// Messages a thread shows at first, and adds each time the agent asks for earlier ones.
pub const THREAD_PAGE: u32 = 200;

/// A conversation's newest `newest` messages (default [`THREAD_PAGE`]), or all from `from` on
/// when they are more.
#[tauri::command]
#[specta::specta]
pub async fn thread(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    newest: Option<u32>,
    from: Option<MessageId>,
) -> Result<Option<Thread>> {
    Ok(core.client(&workspace)?.thread_page(conversation_id, newest.unwrap_or(THREAD_PAGE), from).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn users(core: State<'_, AppCore>, workspace: String) -> Result<Vec<User>> {
    Ok(core.client(&workspace)?.users().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn teams(core: State<'_, AppCore>, workspace: String) -> Result<Vec<Team>> {
    Ok(core.client(&workspace)?.teams().await?)
}

/// How many conversations each view holds.
#[tauri::command]
#[specta::specta]
pub async fn counts(core: State<'_, AppCore>, workspace: String) -> Result<ViewCounts> {
    Ok(core.client(&workspace)?.counts().await?)
}

/// Replies, notes and escalations the server refused after they were queued, oldest first.
#[tauri::command]
#[specta::specta]
pub async fn attention(core: State<'_, AppCore>, workspace: String) -> Result<Vec<Attention>> {
    Ok(core.client(&workspace)?.attention().await?)
}

/// The agent dealt with a refused change (sent it anyway, took it into the composer, or discarded it).
#[tauri::command]
#[specta::specta]
pub async fn dismiss_attention(core: State<'_, AppCore>, workspace: String, mutation_id: MutationId) -> Result<()> {
    Ok(core.client(&workspace)?.dismiss_attention(mutation_id).await?)
}

/// The draft of a conversation's reply or note composer.
#[tauri::command]
#[specta::specta]
pub async fn draft(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    mode: handoff_core::DraftMode,
) -> Result<Option<String>> {
    Ok(core.client(&workspace)?.draft(conversation_id, mode).await?)
}

/// Keeps a draft in the cache (an empty body clears it).
#[tauri::command]
#[specta::specta]
pub async fn set_draft(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    mode: handoff_core::DraftMode,
    body: String,
) -> Result<()> {
    Ok(core.client(&workspace)?.set_draft(conversation_id, mode, &body).await?)
}

/// Sends a refused change again as the kind it was (a note stays a note), with `body` as edited.
#[tauri::command]
#[specta::specta]
pub async fn resend_attention(
    core: State<'_, AppCore>,
    workspace: String,
    mutation_id: MutationId,
    body: String,
    force: bool,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.resend_attention(mutation_id, &body, force).await?)
}

/// Searches cached contacts and messages; works offline.
#[tauri::command]
#[specta::specta]
pub async fn search(core: State<'_, AppCore>, workspace: String, query: String, limit: u32) -> Result<SearchResults> {
    Ok(core.client(&workspace)?.search(&query, i64::from(limit)).await?)
}

/// Every label in use.
#[tauri::command]
#[specta::specta]
pub async fn labels(core: State<'_, AppCore>, workspace: String) -> Result<Vec<String>> {
    Ok(core.client(&workspace)?.labels().await?)
}

/// The linked WhatsApp numbers.
#[tauri::command]
#[specta::specta]
pub async fn devices(core: State<'_, AppCore>, workspace: String) -> Result<Vec<Device>> {
    Ok(core.client(&workspace)?.devices().await?)
}

/// Replies to the customer; `seen_version` is the version the agent was looking at.
#[tauri::command]
#[specta::specta]
pub async fn reply(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    body: String,
    seen_version: Option<i32>,
    force: bool,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.reply(conversation_id, &body, seen_version.map(i64::from), force).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn note(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    body: String,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.note(conversation_id, &body).await?)
}

/// Downloads a message's attachment into the Downloads folder and returns where it is. Once
/// saved, asking again returns the same file without fetching it again.
#[tauri::command]
#[specta::specta]
pub async fn save_attachment(
    app: tauri::AppHandle,
    core: State<'_, AppCore>,
    workspace: String,
    message_id: MessageId,
) -> Result<String> {
    let dir = downloads_dir(&app)?;
    Ok(core.client(&workspace)?.save_attachment(message_id, &dir).await?.display().to_string())
}

/// Where files the agent asks for go: the Downloads folder, else the home folder.
pub fn downloads_dir(app: &tauri::AppHandle) -> Result<std::path::PathBuf> {
    use tauri::Manager;
    app.path()
        .download_dir()
        .or_else(|_| app.path().home_dir())
        .map_err(|e| CommandError { code: "no_folder".into(), message: format!("No folder to save into: {e}") })
}

/// Sends a failed reply again.
#[tauri::command]
#[specta::specta]
pub async fn retry(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.retry(conversation_id, message_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn claim(core: State<'_, AppCore>, workspace: String, conversation_id: ConversationId) -> Result<MutationId> {
    Ok(core.client(&workspace)?.claim(conversation_id).await?)
}

/// Gives the conversation to someone (or no one), optionally in a team.
#[tauri::command]
#[specta::specta]
pub async fn assign(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    assignee_id: Option<UserId>,
    team_id: Option<TeamId>,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.assign(conversation_id, assignee_id, team_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn escalate(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    team_id: TeamId,
    note: String,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.escalate(conversation_id, team_id, &note).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn label(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.label(conversation_id, add, remove).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn snooze(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    until: DateTime<Utc>,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.snooze(conversation_id, until).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_status(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
    status: ConversationStatus,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.set_status(conversation_id, status).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn mark_read(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: ConversationId,
) -> Result<MutationId> {
    Ok(core.client(&workspace)?.mark_read(conversation_id).await?)
}

#[tauri::command]
#[specta::specta]
pub fn set_presence(
    core: State<'_, AppCore>,
    workspace: String,
    conversation_id: Option<ConversationId>,
    activity: Activity,
) -> Result<()> {
    core.client(&workspace)?.set_presence(conversation_id, activity);
    Ok(())
}

/// I am away (idle, or the app in the background), or back: in every workspace.
#[tauri::command]
#[specta::specta]
pub fn set_away(core: State<'_, AppCore>, away: bool) {
    for w in core.workspaces.all() {
        w.client.set_away(away);
    }
}

/// Everyone's status and who is viewing or writing where (nothing while offline).
#[tauri::command]
#[specta::specta]
pub fn presence(core: State<'_, AppCore>, workspace: String) -> Result<PresenceView> {
    Ok(core.client(&workspace)?.presence())
}

#[tauri::command]
#[specta::specta]
pub fn notification_settings(core: State<'_, AppCore>, workspace: String) -> Result<NotificationSettings> {
    Ok(core.workspaces.get(&workspace)?.notifier.settings())
}

/// Saves a workspace's notification settings and applies them at once (the tray's Do not
/// disturb shows whether it is on everywhere).
#[tauri::command]
#[specta::specta]
pub fn set_notification_settings(
    app: tauri::AppHandle,
    core: State<'_, AppCore>,
    workspace: String,
    settings: NotificationSettings,
) -> Result<()> {
    let open = core.workspaces.get(&workspace)?;
    core.prefs.set_notifications(&workspace, settings.clone());
    open.notifier.set_settings(settings);
    crate::tray::show_dnd(&app);
    Ok(())
}
