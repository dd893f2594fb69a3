//! API keys: bearer tokens an Admin creates for scripts and integrations. Each key acts as its own
//! user row (kind `api_key`, with the key's role) so that what it does has an author, and stops
//! working the moment it is revoked. Only the key's SHA-256 is stored; the key is shown once.

use handoff_proto::{ApiKey, CreateApiKeyRequest, CreatedApiKey, EventBody, Role};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use crate::audit;
use crate::auth::{new_token, token_hash, Actor};
use crate::error::{ApiError, ApiResult};
use crate::store::{self, parse_ts, user_by_id, uuid_col, DbResult};
use crate::AppState;

const COLUMNS: &str = "id, name, role, user_id, created_at, revoked_at";

fn from_row(row: &SqliteRow) -> DbResult<ApiKey> {
    let role: String = row.try_get("role")?;
    let revoked: Option<String> = row.try_get("revoked_at")?;
    Ok(ApiKey {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| sqlx::Error::Decode(format!("bad role {role:?}").into()))?,
        user_id: uuid_col(row, "user_id")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        revoked_at: revoked.as_deref().map(parse_ts).transpose()?,
    })
}

async fn by_id(conn: &mut SqliteConnection, id: Uuid) -> DbResult<Option<ApiKey>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?")))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(state: &AppState) -> ApiResult<Vec<ApiKey>> {
    let mut conn = state.store.reader().await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at")))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<DbResult<_>>()?)
}

pub async fn create(state: &AppState, actor: &Actor, req: CreateApiKeyRequest) -> ApiResult<CreatedApiKey> {
    let name =
        crate::error::check_name("name", &req.name, 100, "Name the key (at most 100 characters): say what uses it.")?;
    let id = Uuid::now_v7();
    let user_id = Uuid::now_v7();
    let key = format!("hnd_key_{}", new_token().trim_start_matches("hnd_"));
    let now = store::ts(store::now());
    let mut w = state.store.begin().await?;
    // Nobody can sign in as the key's user: its password hash is not a hash.
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, active, created_at, kind) \
         VALUES (?, ?, ?, ?, '!', 1, ?, 'api_key')",
    )
    .bind(user_id.to_string())
    .bind(format!("api-key-{id}@keys.invalid"))
    .bind(format!("{name} (API key)"))
    .bind(req.role.as_str())
    .bind(&now)
    .execute(w.conn())
    .await?;
    sqlx::query(
        "INSERT INTO api_keys (id, name, role, user_id, key_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(&name)
    .bind(req.role.as_str())
    .bind(user_id.to_string())
    .bind(token_hash(&key))
    .bind(actor.id().to_string())
    .bind(&now)
    .execute(w.conn())
    .await?;
    let user = user_by_id(w.conn(), user_id).await?.expect("inserted above");
    let seq = w.append(EventBody::UserUpdated { user }).await?;
    let summary = format!("Created API key '{name}' ({})", req.role.as_str());
    audit::record(w.conn(), actor.into(), "api_key.create", None, &summary, Some(seq)).await?;
    let api_key = by_id(w.conn(), id).await?.expect("inserted above");
    w.commit().await?;
    Ok(CreatedApiKey { id, key, api_key })
}

/// Revokes a key at once: its user is deactivated, so live connections using it close too.
pub async fn revoke(state: &AppState, actor: &Actor, id: Uuid) -> ApiResult<ApiKey> {
    let mut w = state.store.begin().await?;
    let key = by_id(w.conn(), id).await?.ok_or_else(|| ApiError::not_found("API key"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ?")
        .bind(store::ts(store::now()))
        .bind(id.to_string())
        .execute(w.conn())
        .await?;
    sqlx::query("UPDATE users SET active = 0 WHERE id = ?").bind(key.user_id.to_string()).execute(w.conn()).await?;
    let user = user_by_id(w.conn(), key.user_id).await?.expect("the key's user exists");
    let seq = w.append(EventBody::UserUpdated { user }).await?;
    let summary = format!("Revoked API key '{}'", key.name);
    audit::record(w.conn(), actor.into(), "api_key.revoke", None, &summary, Some(seq)).await?;
    let key = by_id(w.conn(), id).await?.expect("exists");
    w.commit().await?;
    Ok(key)
}
