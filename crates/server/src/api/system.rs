//! Health, metrics and the sync feed.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use handoff_proto::{Health, SyncResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::AppState;

#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

#[utoipa::path(get, path = "/metrics", security(()), responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let head = state.store.head_seq().await?;
    let body = state.metrics.render(head, state.store.hub().connections());
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}

#[derive(Deserialize, IntoParams)]
pub struct SyncParams {
    /// Return events after this seq (0 for everything).
    pub since: Option<i64>,
    /// At most this many events (default 500, max 5000).
    pub limit: Option<i64>,
}

/// Every durable change after `since`, in order, with nothing skipped.
#[utoipa::path(get, path = "/api/v1/sync", params(SyncParams), responses((status = 200, body = SyncResponse)))]
pub async fn sync(
    State(state): State<AppState>,
    _actor: Actor,
    Query(p): Query<SyncParams>,
) -> ApiResult<Json<SyncResponse>> {
    let since = p.since.unwrap_or(0);
    if since < 0 {
        return Err(ApiError::invalid("since", "since must be 0 or more."));
    }
    let limit = match p.limit {
        None => 500,
        Some(n) if (1..=5000).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit", "limit must be between 1 and 5000.")),
    };
    let head_seq = state.store.head_seq().await?;
    let events = state.store.events_after(since, limit).await?;
    Ok(Json(SyncResponse { events, head_seq }))
}
