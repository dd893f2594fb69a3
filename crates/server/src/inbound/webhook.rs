//! A WAHA gateway's webhooks: signed, checked against replays, then stored through ingest.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use handoff_channels::waha::{self, WahaAdapter, Webhook};
use handoff_channels::{DeviceEvent, LinkState};
use handoff_proto::{DeviceId, ErrorBody, WorkspaceId};

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Path;
use crate::store;
use crate::{inbound, AppState};

/// Events from a WAHA gateway, signed with the device's secret (`X-Webhook-Hmac`: hex
/// HMAC-SHA512 of the raw body). Each event is stored before the answer, so WAHA's retry of an
/// unanswered webhook loses nothing, and a repeated message is stored once.
///
/// Replays: the signed envelope's `timestamp` must be within [`WEBHOOK_WINDOW`] of the server's
/// clock (400 `stale_webhook` otherwise), and an event id already processed is not processed
/// again (200, so that WAHA's retry of an answer it lost stops).
#[utoipa::path(post, path = "/api/v1/devices/{id}/webhook", params(("id" = Uuid, Path)),
    request_body(content = String, description = "A WAHA webhook envelope", content_type = "application/json"),
    responses((status = 200, description = "Stored, or an event kind Handoff does not use (ignored)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "Several nodes: no node drives this number at this moment (`device_moving`); retry")),
    security(()))]
pub async fn webhook(
    State(state): State<AppState>,
    Path(id): Path<DeviceId>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let Some(handle) = state.devices.get(id) else {
        // On several nodes, a number that no node drives yet (added a moment ago) is not gone:
        // WAHA tries a 503 again, by when a node has taken it and the request is passed on.
        // (Asked of the database only then: on one node, an unsigned request for a device that
        // does not run costs nothing but this answer.)
        if state.cluster.shared().is_some() {
            let known = async { store::devices::driven(&mut *state.store.reader().await?, id).await }.await?;
            if known.is_some() {
                return Err(crate::cluster::forward::moving_error());
            }
        }
        return Err(ApiError::not_found("device"));
    };
    let Some((adapter, secret)) = handle.gateway.clone() else {
        return Err(ApiError::not_found("gateway device"));
    };
    let signature = headers.get("x-webhook-hmac").and_then(|v| v.to_str().ok());
    if !waha::verify_signature(secret.as_bytes(), &body, signature) {
        tracing::warn!(device = %id, signed = signature.is_some(), "webhook refused: bad signature");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "X-Webhook-Hmac must be the hex HMAC-SHA512 of the body with this device's webhook secret.",
        ));
    }
    let stamp = waha::webhook_stamp(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let skew = state.clock.now() - stamp.sent_at;
    if skew.abs() > WEBHOOK_WINDOW {
        tracing::warn!(device = %id, event_id = stamp.id, sent_at = %stamp.sent_at, "webhook refused: outside the time window");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "stale_webhook",
            format!(
                "This webhook was sent at {}, more than {} minutes from the server's clock: a replay, or a clock that is wrong.",
                stamp.sent_at.to_rfc3339(),
                WEBHOOK_WINDOW.num_minutes()
            ),
        ));
    }
    let events = match waha::parse_webhook(&body) {
        Err(e) => return Err(ApiError::bad_request(e.to_string())),
        Ok(Webhook::Ignored { event, .. }) => {
            tracing::info!(device = %id, event, "webhook event ignored: not used by Handoff");
            return Ok(StatusCode::OK);
        }
        Ok(Webhook::Events { session, events }) => {
            if session != adapter.config().session {
                return Err(ApiError::bad_request(format!(
                    "this webhook is for WAHA session {session:?}; this device is session {:?}",
                    adapter.config().session
                )));
            }
            events
        }
    };
    if !store::gateway_seen::first_seen(&state.store, id, &stamp.id, state.clock.now()).await? {
        tracing::info!(device = %id, event_id = stamp.id, "webhook already processed: not processed again");
        return Ok(StatusCode::OK);
    }
    let processed = process_webhook(&state, handle.workspace, id, &adapter, events).await;
    if processed.is_err() {
        // Not taken: WAHA's retry of this event must be processed, not skipped as seen.
        if let Err(e) = store::gateway_seen::forget(&state.store, id, &stamp.id).await {
            tracing::warn!(device = %id, error = %e, "a failed webhook stays marked as seen");
        }
    }
    processed.map(|()| StatusCode::OK)
}

/// How far a webhook's signed timestamp may be from the server's clock (either way).
pub const WEBHOOK_WINDOW: chrono::Duration = chrono::Duration::minutes(5);

async fn process_webhook(
    state: &AppState,
    ws: WorkspaceId,
    id: DeviceId,
    adapter: &Arc<WahaAdapter>,
    events: Vec<DeviceEvent>,
) -> ApiResult<()> {
    for mut event in events {
        // A chat known by its LID only: WAHA may know the number behind it (one customer, one contact).
        if let DeviceEvent::Message { chat, alt: alt @ None, .. } = &mut event {
            if chat.as_str().ends_with("@lid") {
                *alt = adapter.phone_of(chat).await.unwrap_or_else(|e| {
                    tracing::info!(device = %id, error = %e, "the phone number of a LID was not found out");
                    None
                });
            }
        }
        let wants_qr = matches!(event, DeviceEvent::Connection { state: LinkState::PendingLink, .. });
        inbound::device_event(state, ws, id, event).await?;
        if wants_qr {
            fetch_qr(state, ws, id, adapter);
        }
    }
    Ok(())
}

/// While a gateway session waits to be linked, its QR code comes from WAHA's REST API.
fn fetch_qr(state: &AppState, ws: WorkspaceId, id: DeviceId, adapter: &Arc<WahaAdapter>) {
    let (state, adapter) = (state.clone(), adapter.clone());
    tokio::spawn(async move {
        match adapter.qr().await {
            Ok(qr) => {
                // WhatsApp rotates the code about every 20 s; WAHA reports the next one as asked.
                let expires_at = chrono::Utc::now() + chrono::Duration::seconds(20);
                if let Err(e) = inbound::device_event(&state, ws, id, DeviceEvent::Pairing { qr, expires_at }).await {
                    tracing::warn!(device = %id, error = %e, "QR code not kept");
                }
            }
            Err(e) => tracing::warn!(device = %id, error = %e, "QR code not fetched from the gateway"),
        }
    });
}
