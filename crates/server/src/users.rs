//! People: creating users, changing roles, deactivating (which revokes their sessions at once).

use handoff_proto::{CreateUserRequest, EventBody, PatchUserRequest, Role, User, UserKind};
use uuid::Uuid;

use crate::audit::{self, Who};
use crate::auth::{hash_password, Actor};
use crate::error::{ApiError, ApiResult};
use crate::store::{self, user_by_id};
use crate::AppState;

pub const MIN_PASSWORD_CHARS: usize = 8;

pub async fn create_user(state: &AppState, who: Who<'_>, req: CreateUserRequest) -> ApiResult<User> {
    let email = req.email.trim().to_string();
    let name = req.name.trim().to_string();
    if !email.contains('@') || email.len() > 254 || email.contains(char::is_whitespace) {
        return Err(ApiError::invalid("email", "That is not an email address."));
    }
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "A name is required (at most 100 characters)."));
    }
    if req.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("The password needs at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    let hash = hash_password(req.password).await;
    let id = Uuid::now_v7();
    let mut w = state.store.begin().await?;
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM users WHERE email = ?").bind(&email).fetch_optional(w.conn()).await?;
    if taken.is_some() {
        return Err(ApiError::conflict("email_taken", format!("{email} already has an account.")));
    }
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
    )
    .bind(id.to_string())
    .bind(&email)
    .bind(&name)
    .bind(req.role.as_str())
    .bind(hash)
    .bind(store::ts(store::now()))
    .execute(w.conn())
    .await?;
    let user = user_by_id(w.conn(), id).await?.expect("inserted above");
    let seq = w.append(EventBody::UserUpdated { user: user.clone() }).await?;
    let summary = format!("Created user {} <{}> ({})", user.name, user.email, user.role.as_str());
    audit::record(w.conn(), who, "user.create", None, &summary, Some(seq)).await?;
    w.commit().await?;
    Ok(user)
}

pub async fn patch_user(state: &AppState, actor: &Actor, id: Uuid, req: PatchUserRequest) -> ApiResult<User> {
    if let Some(name) = &req.name {
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(ApiError::invalid("name", "A name is required (at most 100 characters)."));
        }
    }
    let mut w = state.store.begin().await?;
    let user = user_by_id(w.conn(), id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    if user.kind == UserKind::ApiKey {
        return Err(ApiError::bad_request("That user is an API key: revoke it or create another under API keys."));
    }
    let role = req.role.unwrap_or(user.role);
    let active = req.active.unwrap_or(user.active);
    let stays_admin = role == Role::Admin && active;
    if user.role == Role::Admin && user.active && !stays_admin {
        let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1")
            .fetch_one(w.conn())
            .await?;
        if admins <= 1 {
            return Err(ApiError::conflict(
                "last_admin",
                "This is the last active Admin: make someone else Admin first.",
            ));
        }
    }
    sqlx::query("UPDATE users SET name = ?, role = ?, active = ? WHERE id = ?")
        .bind(req.name.as_deref().map(str::trim).unwrap_or(&user.name))
        .bind(role.as_str())
        .bind(active)
        .bind(id.to_string())
        .execute(w.conn())
        .await?;
    if !active {
        // Deactivation revokes every session at once.
        sqlx::query("DELETE FROM sessions WHERE user_id = ?").bind(id.to_string()).execute(w.conn()).await?;
    }
    let before = user;
    let user = user_by_id(w.conn(), id).await?.expect("exists");
    let seq = w.append(EventBody::UserUpdated { user: user.clone() }).await?;
    let mut changes = Vec::new();
    if before.name != user.name {
        changes.push(format!("renamed from {}", before.name));
    }
    if before.role != user.role {
        changes.push(format!("role {} -> {}", before.role.as_str(), user.role.as_str()));
    }
    if before.active != user.active {
        changes.push(if user.active { "reactivated".to_string() } else { "deactivated".to_string() });
    }
    let summary = format!(
        "Changed user {}: {}",
        user.name,
        if changes.is_empty() { "nothing".into() } else { changes.join(", ") }
    );
    audit::record(w.conn(), actor.into(), "user.update", None, &summary, Some(seq)).await?;
    w.commit().await?;
    Ok(user)
}

/// On an empty database, creates the first Admin from `HANDOFF_ADMIN_EMAIL` / `HANDOFF_ADMIN_PASSWORD`.
pub async fn bootstrap_admin(state: &AppState, email: &str, password: &str) -> anyhow::Result<()> {
    let users: i64 = {
        let mut conn = state.store.reader().await?;
        sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *conn).await?
    };
    if users > 0 {
        return Ok(());
    }
    let req = CreateUserRequest {
        email: email.to_string(),
        name: "Admin".to_string(),
        password: password.to_string(),
        role: Role::Admin,
    };
    create_user(state, Who::Server, req)
        .await
        .map_err(|e| anyhow::anyhow!("first admin not created: {}", e.detail.message))?;
    tracing::info!(email, "first Admin created");
    Ok(())
}
