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

/// Signs in again with the token kept in the OS keyring, if there is one.
#[tauri::command]
#[specta::specta]
pub async fn restore_session(core: State<'_, AppCore>) -> Result<Option<SessionInfo>> {
    let Some(server) = core.prefs.load().last_server else { return Ok(None) };
    let Some(token) = secrets::load_token(&server, secrets::LOAD_WAIT).await else { return Ok(None) };
    match core.client.resume(&server, &token).await {
        // A session the server no longer takes opens too, signed out (the UI asks for the password).
        Ok(info) => Ok(Some(info)),
        // No cached copy of that account: the sign-in form.
        Err(CoreError::NotSignedIn | CoreError::SessionExpired) => {
            secrets::delete_token(&server);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Signs in to `workspace_id` of the server (the account's first when `null`): signing in again
/// after a session ended names the workspace this computer's copy is of.
#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    core: State<'_, AppCore>,
    server: String,
    email: String,
    password: String,
    workspace_id: Option<WorkspaceId>,
) -> Result<SessionInfo> {
    let (info, token) = core.client.sign_in_to(&server, &email, &password, workspace_id).await?;
    secrets::store_token(&info.server, &token);
    core.prefs.remember_server(&info.server);
    Ok(info)
}

/// Signs out; `wipe` also deletes the local cache.
#[tauri::command]
#[specta::specta]
pub async fn sign_out(core: State<'_, AppCore>, wipe: bool) -> Result<()> {
    if let Some(info) = core.client.session() {
        secrets::delete_token(&info.server);
    }
    core.prefs.forget_session();
    Ok(core.client.sign_out(wipe).await?)
}

/// Changes my password (my other sessions end). After a temporary password this starts syncing.
#[tauri::command]
#[specta::specta]
pub async fn change_password(
    core: State<'_, AppCore>,
    current_password: String,
    new_password: String,
) -> Result<SessionInfo> {
    Ok(core.client.change_password(&current_password, &new_password).await?)
}

/// My sessions on the server (needs the server).
#[tauri::command]
#[specta::specta]
pub async fn sessions(core: State<'_, AppCore>) -> Result<Vec<handoff_proto::SessionEntry>> {
    Ok(core.client.sessions().await?)
}

/// Ends one of my other sessions (a lost laptop's).
#[tauri::command]
#[specta::specta]
pub async fn end_session(core: State<'_, AppCore>, id: SessionId) -> Result<()> {
    Ok(core.client.end_session(id).await?)
}

/// Changes made here that the server has not acknowledged yet.
#[tauri::command]
#[specta::specta]
pub async fn outbox_len(core: State<'_, AppCore>) -> Result<u32> {
    Ok(u32::try_from(core.client.outbox_len().await?).unwrap_or(u32::MAX))
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
pub fn connection(core: State<'_, AppCore>) -> ConnectionState {
    core.client.connection()
}

/// Rows of a view the queue asks for at once; it asks for more as the agent scrolls to the end.
pub const INBOX_PAGE: u32 = 2000;

/// A view of the queue, newest first: its first `limit` rows (default [`INBOX_PAGE`]). `team_id`
/// for the Team view, `label` narrows any view.
#[tauri::command]
#[specta::specta]
pub async fn inbox(
    core: State<'_, AppCore>,
    view: InboxView,
    team_id: Option<TeamId>,
    label: Option<String>,
    limit: Option<u32>,
) -> Result<Vec<Conversation>> {
    let limit = limit.unwrap_or(INBOX_PAGE);
    Ok(core.client.inbox_filtered(view, team_id, label.as_deref(), i64::from(limit)).await?)
}

/// Messages a thread shows at first, and adds each time the agent asks for earlier ones.
pub const THREAD_PAGE: u32 = 200;

/// A conversation's newest `newest` messages (default [`THREAD_PAGE`]), or all from `from` on
/// when they are more.
#[tauri::command]
#[specta::specta]
pub async fn thread(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    newest: Option<u32>,
    from: Option<MessageId>,
) -> Result<Option<Thread>> {
    Ok(core.client.thread_page(conversation_id, newest.unwrap_or(THREAD_PAGE), from).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn users(core: State<'_, AppCore>) -> Result<Vec<User>> {
    Ok(core.client.users().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn teams(core: State<'_, AppCore>) -> Result<Vec<Team>> {
    Ok(core.client.teams().await?)
}

/// How many conversations each view holds.
#[tauri::command]
#[specta::specta]
pub async fn counts(core: State<'_, AppCore>) -> Result<ViewCounts> {
    Ok(core.client.counts().await?)
}

/// Replies, notes and escalations the server refused after they were queued, oldest first.
#[tauri::command]
#[specta::specta]
pub async fn attention(core: State<'_, AppCore>) -> Result<Vec<Attention>> {
    Ok(core.client.attention().await?)
}

/// The agent dealt with a refused change (sent it anyway, took it into the composer, or discarded it).
#[tauri::command]
#[specta::specta]
pub async fn dismiss_attention(core: State<'_, AppCore>, mutation_id: MutationId) -> Result<()> {
    Ok(core.client.dismiss_attention(mutation_id).await?)
}

/// The draft of a conversation's reply or note composer.
#[tauri::command]
#[specta::specta]
pub async fn draft(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    mode: handoff_core::DraftMode,
) -> Result<Option<String>> {
    Ok(core.client.draft(conversation_id, mode).await?)
}

/// Keeps a draft in the cache (an empty body clears it).
#[tauri::command]
#[specta::specta]
pub async fn set_draft(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    mode: handoff_core::DraftMode,
    body: String,
) -> Result<()> {
    Ok(core.client.set_draft(conversation_id, mode, &body).await?)
}

/// Sends a refused change again as the kind it was (a note stays a note), with `body` as edited.
#[tauri::command]
#[specta::specta]
pub async fn resend_attention(
    core: State<'_, AppCore>,
    mutation_id: MutationId,
    body: String,
    force: bool,
) -> Result<MutationId> {
    Ok(core.client.resend_attention(mutation_id, &body, force).await?)
}

/// Searches cached contacts and messages; works offline.
#[tauri::command]
#[specta::specta]
pub async fn search(core: State<'_, AppCore>, query: String, limit: u32) -> Result<SearchResults> {
    Ok(core.client.search(&query, i64::from(limit)).await?)
}

/// Every label in use.
#[tauri::command]
#[specta::specta]
pub async fn labels(core: State<'_, AppCore>) -> Result<Vec<String>> {
    Ok(core.client.labels().await?)
}

/// The linked WhatsApp numbers.
#[tauri::command]
#[specta::specta]
pub async fn devices(core: State<'_, AppCore>) -> Result<Vec<Device>> {
    Ok(core.client.devices().await?)
}

/// Replies to the customer; `seen_version` is the version the agent was looking at.
#[tauri::command]
#[specta::specta]
pub async fn reply(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    body: String,
    seen_version: Option<i32>,
    force: bool,
) -> Result<MutationId> {
    Ok(core.client.reply(conversation_id, &body, seen_version.map(i64::from), force).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn note(core: State<'_, AppCore>, conversation_id: ConversationId, body: String) -> Result<MutationId> {
    Ok(core.client.note(conversation_id, &body).await?)
}

/// Downloads a message's attachment into the Downloads folder and returns where it is. Once
/// saved, asking again returns the same file without fetching it again.
#[tauri::command]
#[specta::specta]
pub async fn save_attachment(app: tauri::AppHandle, core: State<'_, AppCore>, message_id: MessageId) -> Result<String> {
    let dir = downloads_dir(&app)?;
    Ok(core.client.save_attachment(message_id, &dir).await?.display().to_string())
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
    conversation_id: ConversationId,
    message_id: MessageId,
) -> Result<MutationId> {
    Ok(core.client.retry(conversation_id, message_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn claim(core: State<'_, AppCore>, conversation_id: ConversationId) -> Result<MutationId> {
    Ok(core.client.claim(conversation_id).await?)
}

/// Gives the conversation to someone (or no one), optionally in a team.
#[tauri::command]
#[specta::specta]
pub async fn assign(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    assignee_id: Option<UserId>,
    team_id: Option<TeamId>,
) -> Result<MutationId> {
    Ok(core.client.assign(conversation_id, assignee_id, team_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn escalate(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    team_id: TeamId,
    note: String,
) -> Result<MutationId> {
    Ok(core.client.escalate(conversation_id, team_id, &note).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn label(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<MutationId> {
    Ok(core.client.label(conversation_id, add, remove).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn snooze(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    until: DateTime<Utc>,
) -> Result<MutationId> {
    Ok(core.client.snooze(conversation_id, until).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_status(
    core: State<'_, AppCore>,
    conversation_id: ConversationId,
    status: ConversationStatus,
) -> Result<MutationId> {
    Ok(core.client.set_status(conversation_id, status).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn mark_read(core: State<'_, AppCore>, conversation_id: ConversationId) -> Result<MutationId> {
    Ok(core.client.mark_read(conversation_id).await?)
}

#[tauri::command]
#[specta::specta]
pub fn set_presence(core: State<'_, AppCore>, conversation_id: Option<ConversationId>, activity: Activity) {
    core.client.set_presence(conversation_id, activity);
}

/// I am away (idle, or the app in the background), or back.
#[tauri::command]
#[specta::specta]
pub fn set_away(core: State<'_, AppCore>, away: bool) {
    core.client.set_away(away);
}

/// Everyone's status and who is viewing or writing where (nothing while offline).
#[tauri::command]
#[specta::specta]
pub fn presence(core: State<'_, AppCore>) -> PresenceView {
    core.client.presence()
}

#[tauri::command]
#[specta::specta]
pub fn notification_settings(core: State<'_, AppCore>) -> NotificationSettings {
    core.notifier.settings()
}

/// Saves the notification settings and applies them at once (the tray's Do not disturb too).
#[tauri::command]
#[specta::specta]
pub fn set_notification_settings(app: tauri::AppHandle, core: State<'_, AppCore>, settings: NotificationSettings) {
    core.prefs.set_notifications(settings.clone());
    crate::tray::set_dnd(&app, settings.dnd);
    core.notifier.set_settings(settings);
}
