//! API keys: bearer tokens an Admin creates for scripts and integrations. Each key acts as its own
//! user row (kind `api_key`, with the key's role) so that what it does has an author, and stops
//! working the moment it is revoked. Only the key's SHA-256 is stored; the key is shown once.

use handoff_proto::{ApiKey, ApiKeyId, CreateApiKeyRequest, CreatedApiKey, EventBody, UserId, UserKind};

use crate::audit;
use crate::auth::{new_token, token_hash, Actor};
use crate::error::{Error, Result};
use crate::store;
use crate::AppState;

pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<ApiKey>> {
    let mut conn = state.store.reader().await?;
    Ok(store::people::api_keys(&mut conn, actor.ws()).await?)
}

pub async fn create(state: &AppState, actor: &Actor, req: CreateApiKeyRequest) -> Result<CreatedApiKey> {
    let name =
        crate::error::check_name("name", &req.name, 100, "Name the key (at most 100 characters): say what uses it.")?;
    let id = ApiKeyId::new();
    let user_id = UserId::new();
    let key = format!("hnd_key_{}", new_token().trim_start_matches("hnd_"));
    let now = store::now();
    let mut w = state.store.begin().await?;
    // Nobody can sign in as the key's user: its password hash is not a hash.
    let user = store::people::NewUser {
        id: user_id,
        email: &format!("api-key-{id}@keys.invalid"),
        name: &format!("{name} (API key)"),
        role: req.role,
        password_hash: "!",
        kind: UserKind::ApiKey,
    };
    store::people::insert_user(w.conn(), actor.ws(), &user, now).await?;
    let new = store::people::NewApiKey {
        workspace: actor.ws(),
        id,
        name: &name,
        role: req.role,
        user_id,
        key_hash: &token_hash(&key),
        created_by: actor.id(),
    };
    store::people::insert_api_key(w.conn(), &new, now).await?;
    let user = store::people::user(w.conn(), actor.ws(), user_id).await?.expect("inserted above");
    let seq = w.append(actor.ws(), EventBody::UserUpdated { user }).await?;
    let summary = format!("Created API key '{name}' ({})", req.role.as_str());
    audit::record(w.conn(), actor.into(), "api_key.create", None, &summary, Some(seq)).await?;
    let api_key = store::people::api_key(w.conn(), actor.ws(), id).await?.expect("inserted above");
    w.commit().await?;
    Ok(CreatedApiKey { id, key, api_key })
}

/// Revokes a key at once: its user is deactivated, so live connections using it close too.
pub async fn revoke(state: &AppState, actor: &Actor, id: ApiKeyId) -> Result<ApiKey> {
    let mut w = state.store.begin().await?;
    let key = store::people::api_key(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("API key"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    store::people::revoke_api_key(&mut w, &key, store::now()).await?;
    let user = store::people::user(w.conn(), actor.ws(), key.user_id).await?.expect("the key's user exists");
    let seq = w.append(actor.ws(), EventBody::UserUpdated { user }).await?;
    let summary = format!("Revoked API key '{}'", key.name);
    audit::record(w.conn(), actor.into(), "api_key.revoke", None, &summary, Some(seq)).await?;
    let key = store::people::api_key(w.conn(), actor.ws(), id).await?.expect("exists");
    w.commit().await?;
    Ok(key)
}
