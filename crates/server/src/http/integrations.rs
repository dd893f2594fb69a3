//! Integrations: outbound webhooks (endpoints, their delivery log, "send again"; docs/api.md,
//! "Webhooks") and saved replies.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as AxumJson;
use handoff_proto::{
    CreateSavedReplyRequest, CreateWebhookRequest, CreatedWebhook, DeliveryId, ErrorBody, Page, PatchSavedReplyRequest,
    PatchWebhookRequest, SavedReply, SavedReplyId, Webhook, WebhookDelivery, WebhookId,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_limit;
use crate::auth::Actor;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::{saved_replies, webhooks, AppState};

/// The workspace's webhook endpoints (never their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", responses((status = 200, body = Page<Webhook>), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<Page<Webhook>>> {
    actor.require_admin("see webhooks")?;
    Ok(AxumJson(Page { items: webhooks::list(&state, &actor).await?, next_cursor: None }))
}

/// Registers an endpoint for the event types given; it receives what happens from now on. The
/// answer holds the signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", request_body = CreateWebhookRequest,
    responses((status = 201, body = CreatedWebhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The workspace has 20 endpoints already (`too_many_webhooks`)", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, AxumJson<CreatedWebhook>)> {
    actor.require_admin("register webhooks")?;
    Ok((StatusCode::CREATED, AxumJson(webhooks::create(&state, &actor, req).await?)))
}

/// Changes the address, the event types, or the status: `"paused"` stops deliveries,
/// `"active"` resumes them (also after the server paused the endpoint for failing a day).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", params(("id" = Uuid, Path)), request_body = PatchWebhookRequest,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<WebhookId>,
    Json(req): Json<PatchWebhookRequest>,
) -> ApiResult<AxumJson<Webhook>> {
    actor.require_admin("change webhooks")?;
    Ok(AxumJson(webhooks::patch(&state, &actor, id, req).await?))
}

/// Deletes the endpoint and its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, actor: Actor, Path(id): Path<WebhookId>) -> ApiResult<StatusCode> {
    actor.require_admin("delete webhooks")?;
    webhooks::delete(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesParams {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The endpoint's delivery log, newest first: each delivery with its latest attempt (status,
/// latency, the answer's first bytes). Kept 14 days.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", params(("id" = Uuid, Path), DeliveriesParams),
    responses((status = 200, body = Page<WebhookDelivery>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<WebhookId>,
    Query(p): Query<DeliveriesParams>,
) -> ApiResult<AxumJson<Page<WebhookDelivery>>> {
    actor.require_admin("see webhook deliveries")?;
    let limit = page_limit(p.limit)?;
    Ok(AxumJson(webhooks::deliveries(&state, &actor, id, p.cursor.as_deref(), limit).await?))
}

/// "Send again": the delivery goes out at once with the same id and body (in its
/// conversation's order).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 200, body = WebhookDelivery), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The endpoint is paused (`webhook_paused`): resume it first", body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, delivery)): Path<(WebhookId, DeliveryId)>,
) -> ApiResult<AxumJson<WebhookDelivery>> {
    actor.require_admin("send webhook deliveries again")?;
    Ok(AxumJson(webhooks::send_again(&state, &actor, id, delivery).await?))
}

/// The saved replies the caller sees: the workspace's library, then their own.
#[utoipa::path(get, path = "/api/v1/saved-replies", responses((status = 200, body = Page<SavedReply>), (status = 401, body = ErrorBody)))]
pub async fn list_saved(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<Page<SavedReply>>> {
    Ok(AxumJson(Page { items: saved_replies::list(&state, &actor).await?, next_cursor: None }))
}

/// Adds a saved reply: to the caller's own (anyone who replies), or to the workspace's library
/// (Admins; `team_id` labels it for a team).
#[utoipa::path(post, path = "/api/v1/saved-replies", request_body = CreateSavedReplyRequest,
    responses((status = 201, body = SavedReply), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The shortcut names another reply of that library (`shortcut_taken`), or it holds 500 (`too_many_saved_replies`)", body = ErrorBody)))]
pub async fn create_saved(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateSavedReplyRequest>,
) -> ApiResult<(StatusCode, AxumJson<SavedReply>)> {
    Ok((StatusCode::CREATED, AxumJson(saved_replies::create(&state, &actor, req).await?)))
}

/// Changes a saved reply's shortcut or text: one's own, or (Admins) the library's.
#[utoipa::path(patch, path = "/api/v1/saved-replies/{id}", params(("id" = Uuid, Path)), request_body = PatchSavedReplyRequest,
    responses((status = 200, body = SavedReply), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The shortcut names another reply of that library (`shortcut_taken`)", body = ErrorBody)))]
pub async fn patch_saved(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<SavedReplyId>,
    Json(req): Json<PatchSavedReplyRequest>,
) -> ApiResult<AxumJson<SavedReply>> {
    Ok(AxumJson(saved_replies::patch(&state, &actor, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/saved-replies/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_saved(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<SavedReplyId>,
) -> ApiResult<StatusCode> {
    saved_replies::delete(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
