//! People: creating users, changing roles, deactivating (which revokes their sessions at once).

use handoff_proto::{CreateUserRequest, EventBody, PatchUserRequest, Role, User, UserId, UserKind};

use crate::audit::{self, Who};
use crate::auth::{hash_password, Actor};
use crate::error::{Error, Result};
use crate::store::{self, Store};
use crate::AppState;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest new password, in characters ([`crate::http::login_limit::MAX_PASSWORD_LEN`] bytes / 4).
pub const MAX_PASSWORD_CHARS: usize = crate::http::login_limit::MAX_PASSWORD_LEN / 4;

/// A new password is at least [`MIN_PASSWORD_CHARS`] characters and at most the sign-in's limit.
pub fn check_new_password(field: &str, password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(field, format!("The password needs at least {MIN_PASSWORD_CHARS} characters.")));
    }
    // Counted in characters (as the OpenAPI document's maxLength is); four bytes at most each,
    // so a new password always fits the sign-in's byte limit.
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(Error::invalid(field, format!("A password has at most {MAX_PASSWORD_CHARS} characters.")));
    }
    Ok(())
}

/// An address as the OpenAPI document describes it (`CreateUserRequest.email`'s pattern, at
/// most 254 characters): one `@` with something on each side, no spaces inside; spaces around are
/// forgiven (trimmed).
pub fn is_email(input: &str) -> bool {
    let email = input.trim();
    let Some((local, domain)) = email.split_once('@') else { return false };
    input.chars().count() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.contains(char::is_whitespace)
}

/// A temporary password: 16 letters and digits that are easy to read out (no 0/O, 1/l/I).
pub fn temporary_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// Sets a person's password. `temporary`: they must change it at their next sign-in, and every
/// session of theirs ends; otherwise every session but `keep` ends. Appends the user's update in
/// each of their workspaces, and an audit entry in the one it was done from.
pub async fn set_password(
    store: &Store,
    who: Who<'_>,
    id: UserId,
    password: String,
    temporary: bool,
    keep: Option<&str>,
) -> Result<User> {
    let ws = who.workspace();
    let hash = hash_password(password).await;
    let mut w = store.begin().await?;
    let user = store::people::user(w.conn(), ws, id).await?.ok_or_else(|| Error::not_found("user"))?;
    if user.kind == UserKind::ApiKey {
        return Err(Error::bad_request("That user is an API key: it has no password."));
    }
    // An account is the person's in every workspace they belong to: one workspace's Admin may
    // not take it over for another (its owner resets it: `handoff-server reset-password`).
    // Nor may an Admin take over the installation's owner, who alone creates workspaces.
    let someone_else = matches!(who, Who::Actor(a) if a.id() != id);
    if someone_else && store::people::other_workspaces(w.conn(), ws, id).await? > 0 {
        return Err(in_other_workspaces(&user.name));
    }
    if someone_else && store::workspaces::is_owner(w.conn(), id).await? {
        return Err(Error::conflict(
            "owner",
            "This is the installation's owner: they change their own password (or reset it on the server).",
        ));
    }
    store::people::set_password(&mut w, id, &hash, temporary).await?;
    store::people::delete_sessions_of(&mut w, id, keep).await?;
    let after = store::people::user(w.conn(), ws, id).await?.expect("exists");
    let mut seq = None;
    if after != user {
        // Every workspace of theirs shows the account as it is now.
        for entry in store::workspaces::of_user(w.conn(), id).await? {
            if let Some(there) = store::people::user(w.conn(), entry.id, id).await? {
                let appended = w.append(entry.id, EventBody::UserUpdated { user: there }).await?;
                if entry.id == ws {
                    seq = Some(appended);
                }
            }
        }
    }
    let (action, summary) = if temporary {
        (
            "user.reset_password",
            format!("Reset the password of {} (a temporary one; signed out everywhere)", after.name),
        )
    } else {
        ("user.change_password", format!("{} changed their password (other sessions signed out)", after.name))
    };
    audit::record(w.conn(), who, action, None, &summary, seq).await?;
    w.commit().await?;
    Ok(after)
}

pub async fn create_user(store: &Store, who: Who<'_>, req: CreateUserRequest) -> Result<User> {
    let email = req.email.trim().to_string();
    if !is_email(&req.email) {
        return Err(Error::invalid("email", "That is not an email address."));
    }
    let name = crate::error::check_name("name", &req.name, 100, "A name is required (at most 100 characters).")?;
    check_new_password("password", &req.password)?;
    let hash = hash_password(req.password).await;
    let ws = who.workspace();
    let id = UserId::new();
    let mut w = store.begin().await?;
    if store::people::id_by_email(w.conn(), &email).await?.is_some() {
        return Err(Error::conflict("email_taken", format!("{email} already has an account.")));
    }
    let new = store::people::NewUser {
        id,
        email: &email,
        name: &name,
        role: req.role,
        password_hash: &hash,
        kind: UserKind::Person,
    };
    store::people::insert_user(w.conn(), ws, &new, store::now()).await?;
    if req.role == Role::Admin {
        // The first Admin of an empty installation owns it.
        store::workspaces::claim_ownership(w.conn(), id).await?;
    }
    let user = store::people::user(w.conn(), ws, id).await?.expect("inserted above");
    let seq = w.append(ws, EventBody::UserUpdated { user: user.clone() }).await?;
    let summary = format!("Created user {} <{}> ({})", user.name, user.email, user.role.as_str());
    audit::record(w.conn(), who, "user.create", None, &summary, Some(seq)).await?;
    w.commit().await?;
    Ok(user)
}

/// The refusal of a change to an account that other workspaces share (its name, its password).
fn in_other_workspaces(name: &str) -> Error {
    Error::conflict(
        "in_other_workspaces",
        format!("{name} also works in other workspaces: only they (or the installation's owner) can change that."),
    )
}

pub async fn patch_user(state: &AppState, actor: &Actor, id: UserId, req: PatchUserRequest) -> Result<User> {
    if let Some(name) = &req.name {
        crate::error::check_name("name", name, 100, "A name is required (at most 100 characters).")?;
    }
    let mut w = state.store.begin().await?;
    let user = store::people::user(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("user"))?;
    if user.kind == UserKind::ApiKey {
        return Err(Error::bad_request("That user is an API key: revoke it or create another under API keys."));
    }
    let role = req.role.unwrap_or(user.role);
    let active = req.active.unwrap_or(user.active);
    let stays_admin = role == Role::Admin && active;
    if user.role == Role::Admin
        && user.active
        && !stays_admin
        && store::people::count_active_admins(w.conn(), actor.ws()).await? <= 1
    {
        return Err(Error::conflict("last_admin", "This is the last active Admin: make someone else Admin first."));
    }
    let name = req.name.as_deref().map(str::trim).unwrap_or(&user.name);
    if name != user.name && store::people::other_workspaces(w.conn(), actor.ws(), id).await? > 0 {
        return Err(in_other_workspaces(&user.name));
    }
    store::people::update_user(&mut w, actor.ws(), id, name, role, active).await?;
    if !active {
        // Deactivation revokes every session in this workspace at once (the person's other
        // workspaces keep them), and each app wipes its copy of this workspace.
        store::people::remove_access_in(&mut w, actor.ws(), id, state.clock.now()).await?;
    }
    let before = user;
    let user = store::people::user(w.conn(), actor.ws(), id).await?.expect("exists");
    let seq = w.append(actor.ws(), EventBody::UserUpdated { user: user.clone() }).await?;
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
        store::people::count_users(&mut conn).await?
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
    let first = {
        let mut conn = state.store.reader().await?;
        store::workspaces::first(&mut conn).await?
    };
    create_user(&state.store, Who::Server(first.id), req)
        .await
        .map_err(|e| anyhow::anyhow!("first admin not created: {e}"))?;
    tracing::info!(email, "first Admin created");
    Ok(())
}
