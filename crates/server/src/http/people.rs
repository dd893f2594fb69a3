//! Sign-in and users.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json as AxumJson;
use handoff_proto::{
    AddMemberRequest, AddedMember, ChangePasswordRequest, CreateUserRequest, CreateWorkspaceRequest, LoginRequest,
    LoginResponse, PatchUserRequest, ResetPasswordResponse, SessionEntry, SessionId, User, UserId, Workspace,
    WorkspaceEntry, WorkspaceId,
};

use crate::auth::{self, Actor};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::http::login_limit::{MAX_EMAIL_LEN, MAX_PASSWORD_LEN};
use crate::store;
use crate::{users, AppState};

#[utoipa::path(post, path = "/api/v1/auth/login", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = handoff_proto::ErrorBody),
        (status = 401, body = handoff_proto::ErrorBody), (status = 403, body = handoff_proto::ErrorBody),
        (status = 429, body = handoff_proto::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> ApiResult<AxumJson<LoginResponse>> {
    let email = req.email.trim();
    // Bounded before any work: nothing is looked up, hashed or remembered for these.
    if email.len() > MAX_EMAIL_LEN {
        return Err(ApiError::invalid("email", format!("An email address has at most {MAX_EMAIL_LEN} characters.")));
    }
    if req.password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid("password", format!("A password has at most {MAX_PASSWORD_LEN} bytes.")));
    }
    let client = client_address(peer, &headers);
    if let Some(wait) = state.limiter.wait(client, email, Instant::now()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many failed sign-ins for this email from here: try again in {} s.", wait.as_secs().max(1)),
        ));
    }
    let Some(turn) = state.limiter.hashing() else {
        let mut busy = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "The server is busy signing people in: try again in a moment.",
        );
        busy.detail.transient = Some(true);
        return Err(busy);
    };
    let row = {
        let mut conn = state.store.reader().await?;
        store::people::login_credentials(&mut conn, email).await?
    };
    // An unknown email costs the same hashing work as a wrong password, and gets the same answer.
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let (id, hash) = match row {
        Some((id, hash)) => (Some(id), hash),
        None => (None, DUMMY.get_or_init(|| auth::hash_password("not a password".into())).await.clone()),
    };
    let verified = auth::verify_password(req.password, hash, Some(turn)).await;
    // Someone deactivated in every workspace they had is refused as a wrong password is.
    let workspaces = match id.filter(|_| verified) {
        Some(id) => store::workspaces::of_user(&mut *state.store.reader().await?, id).await?,
        None => Vec::new(),
    };
    let Some(id) = id.filter(|_| verified && !workspaces.is_empty()) else {
        state.limiter.failed(client, email, Instant::now());
        state.metrics.login_failed();
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Wrong email or password."));
    };
    state.limiter.succeeded(client, email);
    let origin = auth::Origin {
        client: headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
        address: Some(client.to_string()),
    };
    let mut w = state.store.begin().await?;
    // The workspace asked for, or the caller's oldest. The password was right: saying that this
    // account is not in that workspace tells nothing the caller does not know.
    let chosen = match req.workspace_id {
        Some(asked) => workspaces.iter().find(|ws| ws.id == asked).ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "not_a_member", "This account does not belong to that workspace.")
        })?,
        None => workspaces.first().ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "not_a_member", "This account does not belong to any workspace.")
        })?,
    };
    let workspace = Workspace { id: chosen.id, name: chosen.name.clone() };
    let token = auth::create_session(w.conn(), id, workspace.id, state.clock.now(), &origin).await?;
    let user = crate::store::people::user(w.conn(), workspace.id, id).await?.ok_or_else(ApiError::internal)?;
    w.commit().await?;
    Ok(AxumJson(LoginResponse { token, user, workspace, workspaces }))
}

/// Who is signing in: the peer, or, for a request from a reverse proxy on this computer (Caddy
/// in front, docs/deploy.md), the address the proxy appended to `X-Forwarded-For` last.
fn client_address(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    // `::ffff:127.0.0.1` (a server listening on `[::]`) is loopback too.
    let peer = peer.ip().to_canonical();
    if !peer.is_loopback() {
        return peer;
    }
    // Strictly the last entry: the ones before it are whatever the client sent.
    let last = headers.get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok());
    let last = last.and_then(|v| v.rsplit(',').next()).map(str::trim);
    last.and_then(|a| a.parse::<IpAddr>().ok()).map_or(peer, |ip| ip.to_canonical())
}

/// The session's token stops working at once. An API key is not a session: it answers 400 and
/// keeps working until an Admin revokes it (`DELETE /api/v1/api-keys/{id}`).
#[utoipa::path(post, path = "/api/v1/auth/logout",
    responses((status = 204), (status = 400, body = handoff_proto::ErrorBody), (status = 401, body = handoff_proto::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, actor: Actor) -> ApiResult<StatusCode> {
    if actor.session.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_a_session",
            "This token is an API key: signing out does not end it. An Admin revokes it under API keys.",
        ));
    }
    let mut w = state.store.begin().await?;
    store::people::delete_session_by_hash(&mut w, &actor.token_hash).await?;
    w.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the caller's own password (checked like a sign-in, with the same limits); every
/// other session of theirs ends, this one stays.
#[utoipa::path(post, path = "/api/v1/me/password", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = handoff_proto::ErrorBody), (status = 401, body = handoff_proto::ErrorBody),
        (status = 429, body = handoff_proto::ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    actor: Actor,
    Json(req): Json<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    if actor.session.is_none() {
        return Err(ApiError::bad_request("An API key has no password."));
    }
    if req.current_password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid("current_password", "That is not your current password."));
    }
    users::check_new_password("new_password", &req.new_password)?;
    if req.new_password == req.current_password {
        return Err(ApiError::invalid("new_password", "Choose a password other than the current one."));
    }
    // A stolen token must not become a way to guess the password: the sign-in limits apply.
    let client = client_address(peer, &headers);
    let email = actor.user.email.as_str();
    if let Some(wait) = state.limiter.wait(client, email, Instant::now()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many wrong passwords: try again in {} s.", wait.as_secs().max(1)),
        ));
    }
    let hash = {
        let mut conn = state.store.reader().await?;
        store::people::password_hash(&mut conn, actor.id()).await?.ok_or_else(ApiError::internal)?
    };
    let turn = state.limiter.hashing();
    if !auth::verify_password(req.current_password, hash, turn).await {
        state.limiter.failed(client, email, Instant::now());
        return Err(ApiError::invalid("current_password", "That is not your current password."));
    }
    state.limiter.succeeded(client, email);
    users::set_password(&state.store, (&actor).into(), actor.id(), req.new_password, false, Some(&actor.token_hash))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An Admin gives someone a temporary password (shown once): every session of theirs ends, and
/// their next sign-in may only choose a new one.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", params(("id" = Uuid, Path)),
    responses((status = 200, body = ResetPasswordResponse), (status = 400, body = handoff_proto::ErrorBody),
        (status = 403, body = handoff_proto::ErrorBody), (status = 404, body = handoff_proto::ErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<UserId>,
) -> ApiResult<AxumJson<ResetPasswordResponse>> {
    actor.require_admin("reset passwords")?;
    let temporary_password = users::temporary_password();
    users::set_password(&state.store, (&actor).into(), id, temporary_password.clone(), true, None).await?;
    Ok(AxumJson(ResetPasswordResponse { temporary_password }))
}

/// The caller's sessions, the newest use first.
#[utoipa::path(get, path = "/api/v1/me/sessions",
    responses((status = 200, body = handoff_proto::Page<SessionEntry>), (status = 401, body = handoff_proto::ErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    actor: Actor,
) -> ApiResult<AxumJson<handoff_proto::Page<SessionEntry>>> {
    let lifetime = auth::Lifetime::of(&state.config);
    let now = state.clock.now();
    let sessions = {
        let mut conn = state.store.reader().await?;
        store::people::sessions_of(&mut conn, actor.id()).await?
    };
    let mut items = Vec::new();
    for s in sessions {
        let expires_at = lifetime.ends(s.created_at, s.last_used_at);
        if expires_at <= now {
            continue; // expired: it no longer signs anyone in
        }
        items.push(SessionEntry {
            id: s.id.ok_or_else(ApiError::internal)?,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at,
            client: s.client,
            address: s.address,
            current: s.token_hash == actor.token_hash,
        });
    }
    Ok(AxumJson(handoff_proto::Page { items, next_cursor: None }))
}

/// Ends one of the caller's sessions (the app on a lost laptop); its live connection closes
/// within seconds.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = handoff_proto::ErrorBody)))]
pub async fn end_session(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<SessionId>,
) -> ApiResult<StatusCode> {
    let mut w = state.store.begin().await?;
    if !store::people::delete_session(&mut w, id, actor.id()).await? {
        return Err(ApiError::not_found("session"));
    }
    let summary = format!("{} ended one of their sessions", actor.user.name);
    crate::audit::record(w.conn(), (&actor).into(), "session.end", None, &summary, None).await?;
    w.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = User), (status = 401, body = handoff_proto::ErrorBody)))]
pub async fn me(actor: Actor) -> AxumJson<User> {
    AxumJson(actor.user)
}

#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = handoff_proto::Page<User>)))]
pub async fn list_users(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<handoff_proto::Page<User>>> {
    let mut conn = state.store.reader().await?;
    let items = store::people::all_users(&mut conn, actor.ws()).await?;
    Ok(AxumJson(handoff_proto::Page { items, next_cursor: None }))
}

#[utoipa::path(post, path = "/api/v1/users", request_body = CreateUserRequest,
    responses((status = 201, body = User), (status = 400, body = handoff_proto::ErrorBody), (status = 403, body = handoff_proto::ErrorBody), (status = 409, body = handoff_proto::ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<(StatusCode, AxumJson<User>)> {
    actor.require_admin("create users")?;
    Ok((StatusCode::CREATED, AxumJson(users::create_user(&state.store, (&actor).into(), req).await?)))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", request_body = PatchUserRequest, params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 403, body = handoff_proto::ErrorBody), (status = 404, body = handoff_proto::ErrorBody)))]
pub async fn patch_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<UserId>,
    Json(req): Json<PatchUserRequest>,
) -> ApiResult<AxumJson<User>> {
    actor.require_admin("change users")?;
    Ok(AxumJson(users::patch_user(&state, &actor, id, req).await?))
}

/// A new workspace, its creator its first Admin (the installation's owner only). Sign in to it
/// (`workspace_id` at `POST /api/v1/auth/login`) to add its people.
#[utoipa::path(post, path = "/api/v1/workspaces", request_body = CreateWorkspaceRequest,
    responses((status = 201, body = Workspace), (status = 400, body = handoff_proto::ErrorBody),
        (status = 403, description = "Not the installation's owner", body = handoff_proto::ErrorBody)))]
pub async fn create_workspace(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateWorkspaceRequest>,
) -> ApiResult<(StatusCode, AxumJson<Workspace>)> {
    Ok((StatusCode::CREATED, AxumJson(crate::workspaces::create(&state, &actor, req).await?)))
}

/// Someone joins the workspace with a role (its Admin, signed in to it). An email without an
/// account gets one, and the answer carries its temporary password (shown once).
#[utoipa::path(post, path = "/api/v1/workspaces/{id}/members", params(("id" = Uuid, Path)), request_body = AddMemberRequest,
    responses((status = 201, body = AddedMember), (status = 400, body = handoff_proto::ErrorBody),
        (status = 403, description = "Not an Admin there, or signed in to another workspace of the caller's", body = handoff_proto::ErrorBody),
        (status = 404, description = "Not a workspace of the caller's", body = handoff_proto::ErrorBody),
        (status = 409, description = "Already a member", body = handoff_proto::ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<WorkspaceId>,
    Json(req): Json<AddMemberRequest>,
) -> ApiResult<(StatusCode, AxumJson<AddedMember>)> {
    Ok((StatusCode::CREATED, AxumJson(crate::workspaces::add_member(&state, &actor, id, req).await?)))
}

/// The workspaces the caller belongs to, the oldest first, with their role in each.
#[utoipa::path(get, path = "/api/v1/workspaces",
    responses((status = 200, body = Vec<WorkspaceEntry>)))]
pub async fn workspaces(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<Vec<WorkspaceEntry>>> {
    let mut conn = state.store.reader().await?;
    Ok(AxumJson(store::workspaces::of_user(&mut conn, actor.id()).await?))
}
