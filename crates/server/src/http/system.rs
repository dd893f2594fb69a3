//! Health, metrics and the sync feed.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use handoff_proto::{DeviceDown, Health, Readiness, SyncResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Query;
use crate::{store, AppState};

#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Prometheus text. Open by default (the server listens on loopback); with a metrics token set
/// (`--metrics-token`, `HANDOFF_METRICS_TOKEN`) a scraper sends it as a Bearer token.
/// Readiness for a load balancer or an orchestrator: 200 while the database answers (503 when it
/// does not), with the linked numbers that are down. `/healthz` stays a liveness probe.
#[utoipa::path(get, path = "/readyz", security(()), responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    // The installation's: every workspace's numbers (the operator's probe).
    let devices = async { crate::store::devices::everywhere(&mut *state.store.reader().await?).await }.await;
    match devices {
        Ok(devices) => {
            let devices_down = devices
                .into_iter()
                .map(|(_, d)| d)
                .filter(|d| d.status.is_down())
                .map(|d| DeviceDown { id: d.id, name: d.name, status: d.status })
                .collect();
            (StatusCode::OK, Json(Readiness { status: "ready".into(), database: "ok".into(), devices_down }))
        }
        Err(e) => {
            // The detail goes to the log, not to whoever asks (this answer needs no sign-in).
            tracing::warn!(error = %e, "not ready: the database does not answer");
            let database = "the database does not answer (the server's log says why)".to_string();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness { status: "unavailable".into(), database, devices_down: vec![] }),
            )
        }
    }
}

#[utoipa::path(get, path = "/metrics", security(()), responses((status = 200, description = "Prometheus text", content_type = "text/plain"),
    (status = 401, body = handoff_proto::ErrorBody)))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    if let Some(expected) = &state.config.metrics_token {
        let given = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        // Compared in constant time: the token is a secret.
        let matches = given.is_some_and(|g| {
            g.len() == expected.len() && g.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        });
        if !matches {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "This server's metrics need its metrics token as a Bearer token.",
            ));
        }
    }
    let events = state.store.heads().await?.values().sum();
    let body = state.metrics.render(events, state.store.hub().connections());
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncParams {
    /// Return events after this seq (0 for everything).
    #[param(minimum = 0)]
    pub since: Option<i64>,
    /// At most this many events (default 500, max 5000).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<i64>,
}

/// Every durable change after `since`, in order, with nothing skipped. 410 `resync_required`
/// when `since` is older than the oldest erasure record the log still holds: start again from 0.
#[utoipa::path(get, path = "/api/v1/sync", params(SyncParams),
    responses((status = 200, body = SyncResponse), (status = 410, body = handoff_proto::ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    actor: Actor,
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
    let floor = store::privacy::floor(&mut *state.store.reader().await?, actor.ws()).await?;
    if since > 0 && since < floor {
        return Err(ApiError::new(
            StatusCode::GONE,
            "resync_required",
            format!(
                "The log no longer holds every change after {since} (an erasure's record was retired at {floor}): \
                 drop what you kept and sync again from 0."
            ),
        ));
    }
    let head_seq = state.store.head_seq(actor.ws()).await?;
    let events = state.store.events_after(actor.ws(), since, limit).await?;
    Ok(Json(SyncResponse { events, head_seq }))
}
