//! Passwords (argon2id), opaque session tokens (stored as SHA-256) and the caller extractor. The
//! sign-in endpoint's limits are in [`crate::login_limit`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use base64::Engine;
use chrono::{DateTime, Utc};
use handoff_proto::{Role, SessionId, User, UserId, WorkspaceId};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::http::error::ApiError;
use crate::store::{self, DbResult};
use crate::AppState;

/// Password hashing runs on a few threads of its own, never on tokio's blocking pool: argon2id
/// takes 19 MiB of working memory per hash, and the allocator keeps it per thread after use, so
/// the threads that ever hashed bound the memory it can hold (the blocking pool has up to 512).
/// The sign-in limits keep the queue short ([`crate::login_limit`]).
///
/// `turn` (the sign-in's place under the cap) is held until the hash is done, not until the
/// request ends: a client that hangs up cannot free its place while its hash still waits to run.
/// A job whose caller has gone is skipped.
fn hashing<T: Send + 'static>(
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
    job: impl FnOnce() -> T + Send + 'static,
) -> tokio::sync::oneshot::Receiver<T> {
    type Job = Box<dyn FnOnce() + Send>;
    static QUEUE: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        for i in 0..threads {
            let rx = std::sync::Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || loop {
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("a password hashing thread");
        }
        std::sync::Mutex::new(tx)
    });
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _turn = turn;
        if !done.is_closed() {
            let _ = done.send(job());
        }
    });
    let _ = queue.lock().unwrap_or_else(|p| p.into_inner()).send(job);
    result
}

pub async fn hash_password(password: String) -> String {
    hashing(None, move || {
        let mut salt_bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut salt_bytes);
        let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes is a valid salt");
        Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashing").to_string()
    })
    .await
    .expect("hashing thread")
}

/// Checks `password` against `hash`; `turn` is released when the check is done ([`hashing`]).
pub async fn verify_password(password: String, hash: String, turn: Option<tokio::sync::OwnedSemaphorePermit>) -> bool {
    hashing(turn, move || {
        PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A new opaque token: `hnd_` and 32 random bytes, base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("hnd_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a session was started from, shown in the session list.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The client's User-Agent.
    pub client: Option<String>,
    pub address: Option<String>,
}

/// Creates a session for a user and returns its token (shown once; only its hash is stored).
pub async fn create_session(
    conn: &mut store::Conn,
    user_id: UserId,
    workspace_id: WorkspaceId,
    now: DateTime<Utc>,
    origin: &Origin,
) -> DbResult<String> {
    let token = new_token();
    let client = origin.client.as_deref().map(|c| c.chars().take(200).collect::<String>());
    let session = store::people::NewSession {
        id: SessionId::new(),
        token_hash: &token_hash(&token),
        user_id,
        workspace_id,
        client: client.as_deref(),
        address: origin.address.as_deref(),
    };
    store::people::insert_session(conn, &session, now).await?;
    Ok(token)
}

/// How long sessions last ([`crate::Config::session_idle`], [`crate::Config::session_max_age`]).
#[derive(Clone, Copy, Debug)]
pub struct Lifetime {
    pub idle: std::time::Duration,
    pub max_age: std::time::Duration,
}

impl Lifetime {
    pub fn of(config: &crate::Config) -> Lifetime {
        Lifetime { idle: config.session_idle, max_age: config.session_max_age }
    }

    /// When a session started at `created` and last used at `used` ends.
    pub fn ends(&self, created: DateTime<Utc>, used: DateTime<Utc>) -> DateTime<Utc> {
        let span = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let idle_end = used.checked_add_signed(span(self.idle)).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let absolute_end = created.checked_add_signed(span(self.max_age)).unwrap_or(DateTime::<Utc>::MAX_UTC);
        idle_end.min(absolute_end)
    }
}

/// What a token (as its hash) is worth at a moment.
#[derive(Debug)]
pub enum TokenState {
    /// A live session (with its id and when it was last used) or an API key (no session), acting
    /// in `workspace` (`user.role` is its role there).
    Live { workspace: WorkspaceId, user: User, session: Option<(SessionId, DateTime<Utc>)> },
    /// A session that ran out (idle or absolute): 401 `session_expired`.
    Expired,
    /// An Admin removed this token's access (the person deactivated in its workspace, or signed
    /// out everywhere): 401 `access_removed`, and the app wipes its copy.
    Removed,
    /// Unknown, signed out, or revoked.
    Unknown,
}

/// The user behind a stored token hash: a live session or a live API key (API keys do not
/// expire). Live connections re-check theirs. The row may come from the store's one-second cache
/// ([`crate::store::bearers`]); whether it is still good is decided here, on the server's clock.
pub async fn check_token_hash(
    store: &crate::store::Store,
    hash: &str,
    now: DateTime<Utc>,
    lifetime: Lifetime,
) -> DbResult<TokenState> {
    let Some(store::people::Bearer { workspace, user, session }) = store.bearer(hash).await? else {
        let removed = store::people::access_removed(&mut *store.reader().await?, hash).await?;
        return Ok(if removed { TokenState::Removed } else { TokenState::Unknown });
    };
    let session = match session {
        Some((id, created, used)) => {
            if lifetime.ends(created, used) <= now {
                return Ok(TokenState::Expired);
            }
            Some((id.unwrap_or(SessionId::nil()), used))
        }
        None => None,
    };
    Ok(if user.active { TokenState::Live { workspace, user, session } } else { TokenState::Unknown })
}

/// A session's `last_used_at` is written at most this often (not on every request).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Records that a session was used now, when its record is older than [`TOUCH_EVERY`].
pub async fn touch(state: &AppState, session: SessionId, last_used: DateTime<Utc>, now: DateTime<Utc>) -> DbResult<()> {
    if now - last_used < TOUCH_EVERY {
        return Ok(());
    }
    let mut w = state.store.begin().await?;
    store::people::touch_session(&mut w, session, now).await?;
    w.commit().await
}

/// The answer to an expired session's token.
pub fn session_expired() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "session_expired",
        "Your session expired: sign in again (nothing you did offline is lost).",
    )
}

/// The answer to a token whose access an Admin removed.
pub fn access_removed() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "access_removed",
        "An Admin removed your access to this workspace: the app deletes this computer's copy of it.",
    )
}

/// The authenticated caller of a request, in the workspace its token acts in: every store
/// query it leads to is keyed by [`Actor::workspace`].
#[derive(Clone, Debug)]
pub struct Actor {
    pub workspace: WorkspaceId,
    /// The account, with its role in `workspace`.
    pub user: User,
    pub token_hash: String,
    /// The session the request came with; `None` for an API key.
    pub session: Option<SessionId>,
}

impl Actor {
    pub fn id(&self) -> UserId {
        self.user.id
    }
    pub fn ws(&self) -> WorkspaceId {
        self.workspace
    }
    /// Refuses Viewers (and anyone else without write rights) with a 403 naming the action.
    pub fn require_write(&self, what: &str) -> crate::error::Result<()> {
        if self.user.role.can_write() {
            Ok(())
        } else {
            Err(crate::error::Error::forbidden(what))
        }
    }
    pub fn require_admin(&self, what: &str) -> crate::error::Result<()> {
        if self.user.role == Role::Admin {
            Ok(())
        } else {
            Err(crate::error::Error::forbidden(what))
        }
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

/// What a session signed in with a temporary password may still do: change it, see who it is,
/// sign out.
const WHILE_PASSWORD_MUST_CHANGE: &[&str] = &["/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout"];

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Actor, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthenticated)?;
        let hash = token_hash(token);
        let now = state.clock.now();
        let started = std::time::Instant::now();
        let checked = check_token_hash(&state.store, &hash, now, Lifetime::of(&state.config)).await?;
        state.metrics.auth.observe(started.elapsed());
        let (workspace, user, session) = match checked {
            TokenState::Live { workspace, user, session } => (workspace, user, session),
            TokenState::Expired => return Err(session_expired()),
            TokenState::Removed => return Err(access_removed()),
            TokenState::Unknown => return Err(ApiError::unauthenticated()),
        };
        if user.must_change_password && !WHILE_PASSWORD_MUST_CHANGE.contains(&parts.uri.path()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "Your password was reset: choose a new one first (POST /api/v1/me/password).",
            ));
        }
        if let Some((id, last_used)) = session {
            touch(state, id, last_used, now).await?;
        }
        Ok(Actor { workspace, user, token_hash: hash, session: session.map(|(id, _)| id) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse".into()).await;
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), hash.clone(), None).await);
        assert!(!verify_password("wrong".into(), hash, None).await);
    }

    #[test]
    fn tokens_are_unique_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
