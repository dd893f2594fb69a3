//! Conversations: the shared queue, threads, and the mutations agents make.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json as AxumJson;
use base64::Engine;
use handoff_proto::{
    AssignRequest, Conversation, ConversationId, ConversationStatus, ErrorBody, EscalateRequest, LabelsRequest,
    Message, NoteRequest, Op, Page, ReplyRequest, StatusRequest, TeamId,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{idempotency_key, page_limit, respond};
use crate::auth::Actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::store;
use crate::store::conversations::Owner;
use crate::{ops, AppState};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// open, pending, snoozed or resolved.
    pub status: Option<String>,
    /// `me`, `none`, or a user id.
    pub assignee: Option<String>,
    pub team: Option<TeamId>,
    /// Only conversations carrying this label.
    pub label: Option<String>,
    /// Words in the contact's name or phone or the last message.
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Cursors are opaque to callers: base64url of "time|id" of the last item of the previous page.
fn encode_cursor(at: &str, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{at}|{id}"))
}

fn decode_cursor(cursor: &str) -> ApiResult<(String, String)> {
    let bad = || ApiError::invalid("cursor", "The cursor is not one this server handed out.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((at.to_string(), id.to_string()))
}

/// The shared queue, newest activity first.
#[utoipa::path(get, path = "/api/v1/conversations", params(ListParams),
    responses((status = 200, body = Page<Conversation>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<ListParams>,
) -> ApiResult<AxumJson<Page<Conversation>>> {
    let limit = page_limit(p.limit)?;
    let mut filter = store::conversations::Filter::default();
    if let Some(status) = p.status.as_deref().filter(|s| !s.is_empty()) {
        filter.status = Some(
            ConversationStatus::parse(status)
                .ok_or_else(|| ApiError::invalid("status", "status must be open, pending, snoozed or resolved."))?,
        );
    }
    filter.owner = match p.assignee.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("none") => Some(Owner::Nobody),
        Some("me") => Some(Owner::User(actor.id())),
        Some(other) => Some(Owner::User(
            other.parse().map_err(|_| ApiError::invalid("assignee", "assignee must be me, none or a user id."))?,
        )),
    };
    filter.team = p.team;
    if let Some(label) = p.label.as_deref().filter(|l| !l.trim().is_empty()) {
        filter.label =
            Some(ops::normalize_label(label).map_err(|e| ApiError::invalid("label", e.into_detail().message))?);
    }
    filter.text = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_string);
    let cursor = p.cursor.as_deref().map(decode_cursor).transpose()?;
    let before = cursor.as_ref().map(|(at, id)| (at.as_str(), id.as_str()));
    let mut conn = state.store.reader().await?;
    let mut items = store::conversations::list(&mut conn, actor.ws(), actor.id(), &filter, before, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|c| encode_cursor(&crate::store::ts(c.last_message_at), &c.id.to_string()))
    } else {
        None
    };
    Ok(AxumJson(Page { items, next_cursor }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<ConversationId>,
) -> ApiResult<AxumJson<Conversation>> {
    let mut conn = state.store.reader().await?;
    let c = store::conversations::get(&mut conn, actor.ws(), id, Some(actor.id()))
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    Ok(AxumJson(c))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageParams {
    /// The `next_cursor` of the previous page: older messages.
    pub before: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A conversation's messages, newest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", params(("id" = Uuid, Path), MessageParams),
    responses((status = 200, body = Page<Message>), (status = 404, body = ErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<ConversationId>,
    Query(p): Query<MessageParams>,
) -> ApiResult<AxumJson<Page<Message>>> {
    let limit = page_limit(p.limit)?;
    let mut conn = state.store.reader().await?;
    if !store::conversations::exists(&mut conn, actor.ws(), id).await? {
        return Err(ApiError::not_found("conversation"));
    }
    drop(conn);
    if p.before.is_none() {
        crate::audit::viewed(&state, &actor, id).await?; // the first page: someone opened it
    }
    let mut conn = state.store.reader().await?;
    let before = p.before.as_deref().map(decode_cursor).transpose()?;
    let mut items = store::messages::page(&mut conn, actor.ws(), id, before, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|m| encode_cursor(&crate::store::ts(m.created_at), &m.id.to_string()))
    } else {
        None
    };
    Ok(AxumJson(Page { items, next_cursor }))
}

/// Reply to the customer through the conversation's device. Refused with 409
/// `conversation_changed` when something happened after `seen_version` (unless `force`).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", params(("id" = Uuid, Path)), request_body = ReplyRequest,
    responses((status = 201, body = Message), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reply(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Json(req): Json<ReplyRequest>,
) -> ApiResult<Response> {
    let op = Op::Reply { conversation_id: id, body: req.body, seen_version: req.seen_version, force: req.force };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}

/// An internal note: only the team sees it; it never reaches WhatsApp.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/notes", params(("id" = Uuid, Path)), request_body = NoteRequest,
    responses((status = 201, body = Message), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn note(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Json(req): Json<NoteRequest>,
) -> ApiResult<Response> {
    let op = Op::Note { conversation_id: id, body: req.body };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}

/// Take an unowned conversation. A compare-and-set: 409 `already_claimed` names who holds it.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/claim", params(("id" = Uuid, Path)),
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
) -> ApiResult<Response> {
    let op = Op::Claim { conversation_id: id };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/assign", params(("id" = Uuid, Path)), request_body = AssignRequest,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Json(req): Json<AssignRequest>,
) -> ApiResult<Response> {
    let op = Op::Assign { conversation_id: id, assignee_id: req.assignee_id, team_id: req.team_id };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}

/// Into a team's queue with a required internal note (which may @mention teammates).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/escalate", params(("id" = Uuid, Path)), request_body = EscalateRequest,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn escalate(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Json(req): Json<EscalateRequest>,
) -> ApiResult<Response> {
    let op = Op::Escalate { conversation_id: id, team_id: req.team_id, note: req.note };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/labels", params(("id" = Uuid, Path)), request_body = LabelsRequest,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn labels(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Json(req): Json<LabelsRequest>,
) -> ApiResult<Response> {
    let op = Op::Label { conversation_id: id, add: req.add, remove: req.remove };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/status", params(("id" = Uuid, Path)), request_body = StatusRequest,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Json(req): Json<StatusRequest>,
) -> ApiResult<Response> {
    let op = Op::SetStatus { conversation_id: id, status: req.status, snooze_until: req.snooze_until };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}

/// Marks the conversation read for the caller only.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
) -> ApiResult<Response> {
    let op = Op::MarkRead { conversation_id: id };
    Ok(respond(ops::apply(&state, &actor, op, idempotency_key(&headers)).await?))
}
