//! Saved replies: read from the cache, so the composer's `/shortcut` completion works offline;
//! kept there from the server at every connection and whenever the server says they changed
//! (`saved_replies.changed`); added, changed and deleted through the server (they need it).

use std::sync::Arc;

use handoff_proto::sortable_time as ts;
use handoff_proto::{CreateSavedReplyRequest, Page, PatchSavedReplyRequest, SavedReply, SavedReplyId};
use reqwest::Method;
use sqlx::Row;

use crate::cache::{opt_uuid, uuid, Cache, DbResult};
use crate::{rest, Change, Client, CoreResult, Inner};

impl Client {
    /// What this person sees: the workspace's library, then their own, each by shortcut.
    pub async fn saved_replies(&self) -> CoreResult<Vec<SavedReply>> {
        Ok(all(&self.inner.cache).await?)
    }

    pub async fn create_saved_reply(&self, req: CreateSavedReplyRequest) -> CoreResult<SavedReply> {
        let reply = self.call(Method::POST, "/api/v1/saved-replies", Some(&req)).await?;
        refresh(&self.inner).await?;
        Ok(reply)
    }

    pub async fn patch_saved_reply(&self, id: SavedReplyId, req: PatchSavedReplyRequest) -> CoreResult<SavedReply> {
        let reply = self.call(Method::PATCH, &format!("/api/v1/saved-replies/{id}"), Some(&req)).await?;
        refresh(&self.inner).await?;
        Ok(reply)
    }

    pub async fn delete_saved_reply(&self, id: SavedReplyId) -> CoreResult<()> {
        self.call::<(), ()>(Method::DELETE, &format!("/api/v1/saved-replies/{id}"), None).await?;
        refresh(&self.inner).await
    }
}

/// Reads them again from the server in the background (a connection, a change).
pub(crate) fn spawn_refresh(inner: &Arc<Inner>) {
    let inner = inner.clone();
    tokio::spawn(async move {
        if let Err(e) = refresh(&inner).await {
            tracing::warn!(error = %e, "saved replies not read again; the cached ones stay");
        }
    });
}

/// Reads them from the server into the cache, and tells the UI.
pub(crate) async fn refresh(inner: &Inner) -> CoreResult<()> {
    let s = inner.session()?;
    let page: Page<SavedReply> =
        rest::json(&inner.http, &s.server, &s.token, Method::GET, "/api/v1/saved-replies", None::<&()>).await?;
    replace(&inner.cache, &page.items).await?;
    inner.emit(Change::SavedReplies);
    Ok(())
}

/// Replaces the cached ones with `replies`.
pub async fn replace(cache: &Cache, replies: &[SavedReply]) -> DbResult<()> {
    let mut tx = cache.write().await?;
    sqlx::query("DELETE FROM saved_replies").execute(&mut *tx).await?;
    for r in replies {
        sqlx::query(
            "INSERT INTO saved_replies (id, shortcut, body, team_id, owner_id, created_by, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.to_string())
        .bind(&r.shortcut)
        .bind(&r.body)
        .bind(r.team_id.map(|t| t.to_string()))
        .bind(r.owner_id.map(|o| o.to_string()))
        .bind(r.created_by.to_string())
        .bind(ts(r.updated_at))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// The cached ones: the library first, then this person's own, each by shortcut.
pub async fn all(cache: &Cache) -> DbResult<Vec<SavedReply>> {
    let rows = sqlx::query(
        "SELECT id, shortcut, body, team_id, owner_id, created_by, updated_at FROM saved_replies \
         ORDER BY owner_id IS NOT NULL, shortcut",
    )
    .fetch_all(cache.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let updated: String = row.try_get("updated_at")?;
            Ok(SavedReply {
                id: uuid(row, "id")?,
                shortcut: row.try_get("shortcut")?,
                body: row.try_get("body")?,
                team_id: opt_uuid(row, "team_id")?,
                owner_id: opt_uuid(row, "owner_id")?,
                created_by: uuid(row, "created_by")?,
                updated_at: chrono::DateTime::parse_from_rfc3339(&updated)
                    .map_err(|e| sqlx::Error::Decode(e.into()))?
                    .with_timezone(&chrono::Utc),
            })
        })
        .collect()
}
