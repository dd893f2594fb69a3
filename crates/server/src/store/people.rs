//! People: the accounts (persons, and the users API keys act as), their sessions and the API
//! keys. An account is the installation's; what a workspace sees of it (the people listed, their
//! role) is its membership there, so every query about people in a workspace joins it.

use chrono::{DateTime, Utc};
use handoff_proto::{ApiKey, ApiKeyId, ConversationStatus, Role, SessionId, User, UserId, UserKind, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::cols::{flag_col, opt_ts_col, parse_uuid, uuid_col};
use super::{parse_ts, ts, DbResult};
use super::{Conn, Writer};

/// A member's columns: the account `u`'s, and the role from its membership `m`.
/// Active in a workspace: the membership is, and the account (which only a revoked API key's
/// user loses).
pub const USER_COLUMNS: &str =
    "u.id, u.email, u.name, m.role, (u.active AND m.active) AS active, u.kind, u.must_change_password";

/// The accounts of workspace `$1`, as `u`, with their memberships as `m`.
const MEMBERS: &str = "users u JOIN memberships m ON m.user_id = u.id AND m.workspace_id = $1";

pub fn user_from_row(row: &AnyRow) -> DbResult<User> {
    Ok(User {
        id: uuid_col(row, "id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        active: flag_col(row, "active")?,
        kind: row.try_get("kind")?,
        must_change_password: flag_col(row, "must_change_password")?,
    })
}

/// A member of the workspace, with their role there (`None` for an account outside it).
pub async fn user(conn: &mut Conn, ws: WorkspaceId, id: UserId) -> DbResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM {MEMBERS} WHERE u.id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Everyone in the workspace, API keys' users included, by name.
pub async fn all_users(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM {MEMBERS} ORDER BY lower(u.name)");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).fetch_all(conn).await?;
    rows.iter().map(user_from_row).collect()
}

/// The installation's accounts (an empty installation has none).
pub async fn count_users(conn: &mut Conn) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(conn).await.map_err(Into::into)
}

pub async fn count_active_admins(conn: &mut Conn, ws: WorkspaceId) -> DbResult<i64> {
    let sql = format!("SELECT COUNT(*) FROM {MEMBERS} WHERE m.role = $2 AND u.active = $3 AND m.active = $3");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(ws)
        .bind(Role::Admin)
        .bind(true)
        .fetch_one(conn)
        .await
        .map_err(Into::into)
}

/// The account with this email, active or not.
pub async fn id_by_email(conn: &mut Conn, email: &str) -> DbResult<Option<UserId>> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_optional(conn).await?;
    id.map(|id| parse_uuid("id", &id)).transpose()
}

/// An active account's id and password hash, by email (sign-in).
pub async fn login_credentials(conn: &mut Conn, email: &str) -> DbResult<Option<(UserId, String)>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1 AND active = TRUE")
            .bind(email)
            .fetch_optional(conn)
            .await?;
    row.map(|(id, hash)| Ok((parse_uuid("id", &id)?, hash))).transpose()
}

pub async fn password_hash(conn: &mut Conn, id: UserId) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}

/// A new account: a person, or the user an API key acts as (its password hash is `!`, which no
/// password verifies).
pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub kind: UserKind,
}

/// Creates an account, a member of workspace `ws` with its role.
pub async fn insert_user(conn: &mut Conn, ws: WorkspaceId, user: &NewUser<'_>, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, active, created_at, kind) VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7)",
    )
    .bind(user.id.to_string())
    .bind(user.email)
    .bind(user.name)
    .bind(user.role)
    .bind(user.password_hash)
    .bind(ts(now))
    .bind(user.kind)
    .execute(&mut *conn)
    .await?;
    super::workspaces::add_member(conn, ws, user.id, user.role, now).await
}

pub async fn set_password(w: &mut Writer<'_>, id: UserId, hash: &str, must_change: bool) -> DbResult<()> {
    let conn = w.credentials_changed();
    sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
        .bind(hash)
        .bind(must_change)
        .bind(id.to_string())
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

pub async fn set_must_change_password(w: &mut Writer<'_>, id: UserId) -> DbResult<()> {
    let conn = w.credentials_changed();
    sqlx::query("UPDATE users SET must_change_password = TRUE WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// A member's name, and their role in the workspace and whether they are active there (someone
/// who is not a member is left alone; their other workspaces keep their own role).
pub async fn update_user(
    w: &mut Writer<'_>,
    ws: WorkspaceId,
    id: UserId,
    name: &str,
    role: Role,
    active: bool,
) -> DbResult<()> {
    let conn = w.credentials_changed();
    let member = "SELECT user_id FROM memberships WHERE workspace_id = $2 AND user_id = $3";
    sqlx::query("UPDATE memberships SET role = $1, active = $4 WHERE workspace_id = $2 AND user_id = $3")
        .bind(role)
        .bind(ws)
        .bind(id)
        .bind(active)
        .execute(&mut *conn)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE users SET name = $1 WHERE id IN ({member})")))
        .bind(name)
        .bind(ws)
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// The workspace's active persons (not API keys): id, email and name, for resolving `@mentions`.
pub async fn active_people(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<(UserId, String, String)>> {
    let sql =
        format!("SELECT u.id, u.email, u.name FROM {MEMBERS} WHERE u.active = $2 AND m.active = $2 AND u.kind = $3");
    let rows: Vec<(String, String, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws).bind(true).bind(UserKind::Person).fetch_all(conn).await?;
    rows.into_iter().map(|(id, email, name)| Ok((parse_uuid("id", &id)?, email, name))).collect()
}

/// Who in the workspace can be given conversations (active persons who are not Viewers), by
/// name, each with the open and pending conversations they hold there.
pub async fn agent_loads(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<(UserId, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT u.id, (SELECT COUNT(*) FROM conversations c WHERE c.workspace_id = $6 AND c.assignee_id = u.id \
           AND c.status IN ($1, $2)) \
         FROM users u JOIN memberships m ON m.user_id = u.id AND m.workspace_id = $6 \
         WHERE u.active = $3 AND m.active = $3 AND u.kind = $4 AND m.role != $5 ORDER BY lower(u.name)",
    )
    .bind(ConversationStatus::Open)
    .bind(ConversationStatus::Pending)
    .bind(true)
    .bind(UserKind::Person)
    .bind(Role::Viewer)
    .bind(ws)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|(id, open)| Ok((parse_uuid("id", &id)?, open))).collect()
}

// Sessions: only a token's SHA-256 is stored.

/// A new session of `user_id`, known by its token's hash.
pub struct NewSession<'a> {
    pub id: SessionId,
    pub token_hash: &'a str,
    pub user_id: UserId,
    /// The workspace the session acts in.
    pub workspace_id: WorkspaceId,
    pub client: Option<&'a str>,
    pub address: Option<&'a str>,
}

pub async fn insert_session(conn: &mut Conn, s: &NewSession<'_>, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, id, last_used_at, client, address, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.token_hash)
    .bind(s.user_id.to_string())
    .bind(ts(now))
    .bind(s.id.to_string())
    .bind(ts(now))
    .bind(s.client)
    .bind(s.address)
    .bind(s.workspace_id.to_string())
    .execute(conn)
    .await
    .map(drop)
    .map_err(Into::into)
}

/// A stored session.
pub struct Session {
    /// `None` for a session from before sessions had ids.
    pub id: Option<SessionId>,
    pub token_hash: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    /// When it was last used (its start when never).
    pub last_used_at: DateTime<Utc>,
    pub client: Option<String>,
    pub address: Option<String>,
}

const SESSION_COLUMNS: &str = "id, token_hash, user_id, created_at, last_used_at, client, address";

fn session_from_row(row: &AnyRow) -> DbResult<Session> {
    let created_at = parse_ts(&row.try_get::<String, _>("created_at")?)?;
    Ok(Session {
        // A missing or unreadable id is an old session's: it still signs in.
        id: row.try_get::<Option<String>, _>("id")?.and_then(|id| id.parse().ok()),
        token_hash: row.try_get("token_hash")?,
        user_id: uuid_col(row, "user_id")?,
        created_at,
        last_used_at: opt_ts_col(row, "last_used_at")?.unwrap_or(created_at),
        client: row.try_get("client")?,
        address: row.try_get("address")?,
    })
}

/// The account behind a bearer token (its hash), in one query: a session's (with the session's
/// id, start and last use) or a live API key's (no session), in the workspace the session or
/// key acts in, with its role there.
#[derive(Clone, Debug)]
pub struct Bearer {
    pub workspace: WorkspaceId,
    pub user: User,
    /// `(id, created_at, last_used_at)`; the id is `None` for a session from before sessions
    /// had ids.
    pub session: Option<(Option<SessionId>, DateTime<Utc>, DateTime<Utc>)>,
}

pub async fn bearer(conn: &mut Conn, hash: &str) -> DbResult<Option<Bearer>> {
    let row = sqlx::query(
        "SELECT u.id, u.email, u.name, m.role, (u.active AND m.active) AS active, u.kind, u.must_change_password, \
           m.workspace_id, s.id AS session_id, s.created_at AS session_created_at, s.last_used_at AS session_used_at, CAST(1 AS BIGINT) AS is_session \
         FROM sessions s JOIN users u ON u.id = s.user_id \
           JOIN memberships m ON m.user_id = u.id AND m.workspace_id = s.workspace_id WHERE s.token_hash = $1 \
         UNION ALL \
         SELECT u.id, u.email, u.name, m.role, (u.active AND m.active), u.kind, u.must_change_password, \
           m.workspace_id, NULL, NULL, NULL, CAST(0 AS BIGINT) \
         FROM api_keys k JOIN users u ON u.id = k.user_id \
           JOIN memberships m ON m.user_id = u.id AND m.workspace_id = k.workspace_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let session = if row.try_get::<i64, _>("is_session")? == 1 {
        let created = parse_ts(&row.try_get::<String, _>("session_created_at")?)?;
        let id = row.try_get::<Option<String>, _>("session_id")?.and_then(|id| id.parse().ok());
        Some((id, created, opt_ts_col(&row, "session_used_at")?.unwrap_or(created)))
    } else {
        None
    };
    Ok(Some(Bearer { workspace: uuid_col(&row, "workspace_id")?, user: user_from_row(&row)?, session }))
}

/// A user's sessions, the most recently used first.
pub async fn sessions_of(conn: &mut Conn, user: UserId) -> DbResult<Vec<Session>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY last_used_at DESC"
    )))
    .bind(user.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(session_from_row).collect()
}

pub async fn touch_session(w: &mut Writer<'_>, id: SessionId, now: DateTime<Utc>) -> DbResult<()> {
    let conn = w.credentials_changed();
    sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2")
        .bind(ts(now))
        .bind(id.to_string())
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

pub async fn delete_session_by_hash(w: &mut Writer<'_>, hash: &str) -> DbResult<()> {
    let conn = w.credentials_changed();
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash)
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// Ends one of `user`'s sessions; `false` when they have none with that id.
pub async fn delete_session(w: &mut Writer<'_>, id: SessionId, user: UserId) -> DbResult<bool> {
    let conn = w.credentials_changed();
    let gone = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(gone.rows_affected() > 0)
}

/// How many workspaces besides `ws` the account `user` belongs to.
pub async fn other_workspaces(conn: &mut Conn, ws: WorkspaceId, user: UserId) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1 AND workspace_id != $2")
        .bind(user)
        .bind(ws)
        .fetch_one(conn)
        .await
        .map_err(Into::into)
}

/// Ends every session of `user` that acts in workspace `ws` (deactivated there, or signed out
/// everywhere by an Admin) and remembers their tokens as removed ([`access_removed`]): each app
/// holding one wipes its copy at its next contact. Returns how many sessions ended.
pub async fn remove_access_in(w: &mut Writer<'_>, ws: WorkspaceId, user: UserId, now: DateTime<Utc>) -> DbResult<u64> {
    let conn = w.credentials_changed();
    sqlx::query(
        "INSERT INTO access_removed (token_hash, workspace_id, user_id, removed_at) \
         SELECT token_hash, workspace_id, user_id, $3 FROM sessions WHERE user_id = $1 AND workspace_id = $2 \
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(user)
    .bind(ws)
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND workspace_id = $2")
        .bind(user)
        .bind(ws)
        .execute(conn)
        .await?;
    Ok(ended.rows_affected())
}

/// Whether an Admin removed the access of the token with this hash ([`remove_access_in`]).
pub async fn access_removed(conn: &mut Conn, hash: &str) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM access_removed WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Forgets the removed tokens recorded before `before` (no session lives that long).
pub async fn prune_access_removed(conn: &mut Conn, before: DateTime<Utc>) -> DbResult<u64> {
    Ok(sqlx::query("DELETE FROM access_removed WHERE removed_at < $1")
        .bind(ts(before))
        .execute(conn)
        .await?
        .rows_affected())
}

/// Ends every session of `user`, except the one with the token hash `keep`.
pub async fn delete_sessions_of(w: &mut Writer<'_>, user: UserId, keep: Option<&str>) -> DbResult<()> {
    let conn = w.credentials_changed();
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2")
        .bind(user.to_string())
        .bind(keep)
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// Deletes the sessions last used before `used_before` or started before `created_before`
/// (long expired); returns how many went.
pub async fn prune_sessions(
    w: &mut Writer<'_>,
    used_before: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
) -> DbResult<u64> {
    let conn = w.credentials_changed();
    let gone = sqlx::query("DELETE FROM sessions WHERE COALESCE(last_used_at, created_at) < $1 OR created_at < $2")
        .bind(used_before.map(ts))
        .bind(created_before.map(ts))
        .execute(conn)
        .await?;
    Ok(gone.rows_affected())
}

// API keys: each acts as a user of its own (kind `api_key`); only the key's SHA-256 is stored.

const API_KEY_COLUMNS: &str = "id, name, role, user_id, created_at, revoked_at";

fn api_key_from_row(row: &AnyRow) -> DbResult<ApiKey> {
    Ok(ApiKey {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        user_id: uuid_col(row, "user_id")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        revoked_at: opt_ts_col(row, "revoked_at")?,
    })
}

pub async fn api_key(conn: &mut Conn, ws: WorkspaceId, id: ApiKeyId) -> DbResult<Option<ApiKey>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(api_key_from_row).transpose()
}

/// Every API key of the workspace, revoked ones too, oldest first.
pub async fn api_keys(conn: &mut Conn, ws: WorkspaceId) -> DbResult<Vec<ApiKey>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY created_at");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).fetch_all(conn).await?;
    rows.iter().map(api_key_from_row).collect()
}

/// A new API key of the workspace (its user is a member there already: [`insert_user`]).
pub struct NewApiKey<'a> {
    pub workspace: WorkspaceId,
    pub id: ApiKeyId,
    pub name: &'a str,
    pub role: Role,
    pub user_id: UserId,
    pub key_hash: &'a str,
    pub created_by: UserId,
}

pub async fn insert_api_key(conn: &mut Conn, key: &NewApiKey<'_>, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, role, user_id, key_hash, created_by, created_at, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key.id.to_string())
    .bind(key.name)
    .bind(key.role)
    .bind(key.user_id.to_string())
    .bind(key.key_hash)
    .bind(key.created_by.to_string())
    .bind(ts(now))
    .bind(key.workspace)
    .execute(conn)
    .await
    .map(drop)
    .map_err(Into::into)
}

/// Revokes a key and deactivates the user it acts as.
pub async fn revoke_api_key(w: &mut Writer<'_>, key: &ApiKey, now: DateTime<Utc>) -> DbResult<()> {
    let conn = w.credentials_changed();
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
        .bind(ts(now))
        .bind(key.id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE users SET active = FALSE WHERE id = $1")
        .bind(key.user_id.to_string())
        .execute(conn)
        .await
        .map(drop)
        .map_err(Into::into)
}

/// The name of a member who may own conversations in the workspace (active, a person, not a
/// Viewer there), if `id` is one.
pub async fn assignable_name(conn: &mut Conn, ws: WorkspaceId, id: UserId) -> DbResult<Option<String>> {
    let sql =
        format!("SELECT u.name FROM {MEMBERS} WHERE u.id = $2 AND u.active = $3 AND m.active = $3 AND u.kind = $4 AND m.role != $5");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(ws)
        .bind(id)
        .bind(true)
        .bind(UserKind::Person)
        .bind(Role::Viewer)
        .fetch_optional(conn)
        .await
        .map_err(Into::into)
}
