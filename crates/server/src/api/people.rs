//! Sign-in and users.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json as AxumJson;
use handoff_proto::{CreateUserRequest, LoginRequest, LoginResponse, PatchUserRequest, User};
use uuid::Uuid;

use crate::auth::{self, Actor};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::login_limit::{MAX_EMAIL_LEN, MAX_PASSWORD_LEN};
use crate::store::{user_from_row, USER_COLUMNS};
use crate::{users, AppState};

#[utoipa::path(post, path = "/api/v1/auth/login", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, body = handoff_proto::ErrorBody),
        (status = 401, body = handoff_proto::ErrorBody), (status = 429, body = handoff_proto::ErrorBody)))]
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
    let row: Option<(String, String)> = {
        let mut conn = state.store.reader().await?;
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = ? AND active = 1")
            .bind(email)
            .fetch_optional(&mut *conn)
            .await?
    };
    // An unknown email costs the same hashing work as a wrong password, and gets the same answer.
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let (id, hash) = match row {
        Some(found) => found,
        None => (String::new(), DUMMY.get_or_init(|| auth::hash_password("not a password".into())).await.clone()),
    };
    if !auth::verify_password(req.password, hash, Some(turn)).await || id.is_empty() {
        state.limiter.failed(client, email, Instant::now());
        state.metrics.login_failed();
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Wrong email or password."));
    }
    state.limiter.succeeded(client, email);
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::internal())?;
    let mut w = state.store.begin().await?;
    let token = auth::create_session(w.conn(), id).await?;
    let user = crate::store::user_by_id(w.conn(), id).await?.ok_or_else(ApiError::internal)?;
    w.commit().await?;
    Ok(AxumJson(LoginResponse { token, user }))
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

/// The token stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204), (status = 401, body = handoff_proto::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, actor: Actor) -> ApiResult<StatusCode> {
    let mut w = state.store.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(&actor.token_hash).execute(w.conn()).await?;
    w.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = User), (status = 401, body = handoff_proto::ErrorBody)))]
pub async fn me(actor: Actor) -> AxumJson<User> {
    AxumJson(actor.user)
}

#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = handoff_proto::Page<User>)))]
pub async fn list_users(
    State(state): State<AppState>,
    _actor: Actor,
) -> ApiResult<AxumJson<handoff_proto::Page<User>>> {
    let mut conn = state.store.reader().await?;
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users ORDER BY name COLLATE NOCASE")))
            .fetch_all(&mut *conn)
            .await?;
    let items = rows.iter().map(user_from_row).collect::<Result<Vec<_>, _>>()?;
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
    Ok((StatusCode::CREATED, AxumJson(users::create_user(&state, (&actor).into(), req).await?)))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", request_body = PatchUserRequest, params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 403, body = handoff_proto::ErrorBody), (status = 404, body = handoff_proto::ErrorBody)))]
pub async fn patch_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<PatchUserRequest>,
) -> ApiResult<AxumJson<User>> {
    actor.require_admin("change users")?;
    Ok(AxumJson(users::patch_user(&state, &actor, id, req).await?))
}
