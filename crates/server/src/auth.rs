//! Passwords (argon2id), opaque session tokens (stored as SHA-256) and the caller extractor. The
//! sign-in endpoint's limits are in [`crate::login_limit`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use handoff_proto::{Role, User};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::error::ApiError;
use crate::store::{self, user_from_row, DbResult, USER_COLUMNS};
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

/// Creates a session for a user and returns its token (shown once; only its hash is stored).
pub async fn create_session(conn: &mut SqliteConnection, user_id: Uuid) -> DbResult<String> {
    let token = new_token();
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at) VALUES (?, ?, ?)")
        .bind(token_hash(&token))
        .bind(user_id.to_string())
        .bind(store::ts(store::now()))
        .execute(conn)
        .await?;
    Ok(token)
}

/// The user behind a token, if the token is live and the user active.
pub async fn user_for_token(conn: &mut SqliteConnection, token: &str) -> DbResult<Option<User>> {
    user_for_token_hash(conn, &token_hash(token)).await
}

/// The user behind a stored token hash: a session token or a live API key (live connections
/// re-check theirs).
pub async fn user_for_token_hash(conn: &mut SqliteConnection, hash: &str) -> DbResult<Option<User>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE active = 1 AND id IN \
           (SELECT user_id FROM sessions WHERE token_hash = ? \
            UNION ALL SELECT user_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL)"
    )))
    .bind(hash)
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user: User,
    pub token_hash: String,
}

impl Actor {
    pub fn id(&self) -> Uuid {
        self.user.id
    }
    /// Refuses Viewers (and anyone else without write rights) with a 403 naming the action.
    pub fn require_write(&self, what: &str) -> Result<(), ApiError> {
        if self.user.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::forbidden(what))
        }
    }
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.user.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(what))
        }
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Actor, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthenticated)?;
        let mut conn = state.store.reader().await?;
        let user = user_for_token(&mut conn, token).await?.ok_or_else(ApiError::unauthenticated)?;
        Ok(Actor { user, token_hash: token_hash(token) })
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
