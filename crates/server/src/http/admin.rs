//! Teams, routing rules, API keys and the audit log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as AxumJson;
use handoff_proto::{
    AgentLoad, ApiKey, ApiKeyId, AuditEntry, ConversationId, CreateApiKeyRequest, CreateRoutingRuleRequest,
    CreateTeamRequest, CreatedApiKey, DeviceId, ErrorBody, Page, PatchTeamRequest, PresenceStatus, RoutingRule,
    RoutingTestRequest, RoutingTestResponse, RuleId, Team, TeamId, TeamMembersRequest, UserId,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_limit;
use crate::auth::Actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::{api_keys, audit, routing, store, teams, AppState};

#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = Page<Team>), (status = 401, body = ErrorBody)))]
pub async fn list_teams(State(state): State<AppState>, _actor: Actor) -> ApiResult<AxumJson<Page<Team>>> {
    let mut conn = state.store.reader().await?;
    Ok(AxumJson(Page { items: store::teams::all(&mut conn, _actor.ws()).await?, next_cursor: None }))
}

#[utoipa::path(post, path = "/api/v1/teams", request_body = CreateTeamRequest,
    responses((status = 201, body = Team), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_team(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateTeamRequest>,
) -> ApiResult<(StatusCode, AxumJson<Team>)> {
    actor.require_admin("manage teams")?;
    Ok((StatusCode::CREATED, AxumJson(teams::create(&state, &actor, req).await?)))
}

/// Rename a team, change its routing cap or its SLA targets (0 removes a target).
#[utoipa::path(patch, path = "/api/v1/teams/{id}", params(("id" = Uuid, Path)), request_body = PatchTeamRequest,
    responses((status = 200, body = Team), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Another team has that name", body = ErrorBody)))]
pub async fn patch_team(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<TeamId>,
    Json(req): Json<PatchTeamRequest>,
) -> ApiResult<AxumJson<Team>> {
    actor.require_admin("manage teams")?;
    Ok(AxumJson(teams::patch(&state, &actor, id, req).await?))
}

#[utoipa::path(put, path = "/api/v1/teams/{id}/members", params(("id" = Uuid, Path)), request_body = TeamMembersRequest,
    responses((status = 200, body = Team), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_members(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<TeamId>,
    Json(req): Json<TeamMembersRequest>,
) -> ApiResult<AxumJson<Team>> {
    actor.require_admin("manage teams")?;
    Ok(AxumJson(teams::set_members(&state, &actor, id, req.user_ids).await?))
}

#[utoipa::path(get, path = "/api/v1/routing-rules",
    responses((status = 200, body = Page<RoutingRule>), (status = 403, body = ErrorBody)))]
pub async fn list_rules(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<Page<RoutingRule>>> {
    actor.require_admin("see routing rules")?;
    let mut conn = state.store.reader().await?;
    Ok(AxumJson(Page { items: store::routing::rules(&mut conn, actor.ws()).await?, next_cursor: None }))
}

#[utoipa::path(post, path = "/api/v1/routing-rules", request_body = CreateRoutingRuleRequest,
    responses((status = 201, body = RoutingRule), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_rule(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateRoutingRuleRequest>,
) -> ApiResult<(StatusCode, AxumJson<RoutingRule>)> {
    actor.require_admin("manage routing rules")?;
    Ok((StatusCode::CREATED, AxumJson(teams::create_rule(&state, &actor, req).await?)))
}

#[utoipa::path(delete, path = "/api/v1/routing-rules/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_rule(State(state): State<AppState>, actor: Actor, Path(id): Path<RuleId>) -> ApiResult<StatusCode> {
    actor.require_admin("manage routing rules")?;
    teams::delete_rule(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "Try the rules on a message": which rule would route it. Changes nothing.
#[utoipa::path(post, path = "/api/v1/routing-rules/test", request_body = RoutingTestRequest,
    responses((status = 200, body = RoutingTestResponse), (status = 403, body = ErrorBody)))]
pub async fn test_rules(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<RoutingTestRequest>,
) -> ApiResult<AxumJson<RoutingTestResponse>> {
    actor.require_admin("see routing rules")?;
    let mut conn = state.store.reader().await?;
    let rules = store::routing::rules(&mut conn, actor.ws()).await?;
    let input = routing::Input {
        body: &req.body,
        phone: req.phone.as_deref().unwrap_or(""),
        device_id: req.device_id.unwrap_or(DeviceId::nil()),
        labels: &req.labels,
    };
    Ok(AxumJson(RoutingTestResponse { rule: routing::first_match(&rules, &input).cloned() }))
}

#[utoipa::path(get, path = "/api/v1/api-keys", responses((status = 200, body = Page<ApiKey>), (status = 403, body = ErrorBody)))]
pub async fn list_keys(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<Page<ApiKey>>> {
    actor.require_admin("see API keys")?;
    Ok(AxumJson(Page { items: api_keys::list(&state, &actor).await?, next_cursor: None }))
}

/// The answer holds the key itself, shown this once.
#[utoipa::path(post, path = "/api/v1/api-keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, AxumJson<CreatedApiKey>)> {
    actor.require_admin("create API keys")?;
    Ok((StatusCode::CREATED, AxumJson(api_keys::create(&state, &actor, req).await?)))
}

/// The key stops working at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<ApiKeyId>,
) -> ApiResult<AxumJson<ApiKey>> {
    actor.require_admin("revoke API keys")?;
    Ok(AxumJson(api_keys::revoke(&state, &actor, id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only what this user (or API key's user) did.
    pub actor: Option<UserId>,
    pub conversation: Option<ConversationId>,
    /// `reply`, `claim`, `view`, `route`, `team.create`, ...
    pub action: Option<String>,
    /// RFC 3339: entries at or after.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// RFC 3339: entries before.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who did what, when, to which conversation: newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditParams),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit_log(
    State(state): State<AppState>,
    actor: Actor,
    Query(p): Query<AuditParams>,
) -> ApiResult<AxumJson<Page<AuditEntry>>> {
    actor.require_admin("read the audit log")?;
    let limit = page_limit(p.limit)?;
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>().map_err(|_| ApiError::invalid("cursor", "The cursor is not one this server handed out."))
        })
        .transpose()?;
    let filter = audit::Filter {
        actor_id: p.actor,
        conversation_id: p.conversation,
        action: p.action.filter(|a| !a.is_empty()),
        since: p.since,
        until: p.until,
        before,
    };
    let mut conn = state.store.reader().await?;
    let mut items = audit::list(&mut conn, actor.ws(), &filter, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(AxumJson(Page { items, next_cursor }))
}

/// Every active person who can own conversations: online now, and how many open ones they own.
#[utoipa::path(get, path = "/api/v1/agents", responses((status = 200, body = Page<AgentLoad>), (status = 401, body = ErrorBody)))]
pub async fn agents(State(state): State<AppState>, actor: Actor) -> ApiResult<AxumJson<Page<AgentLoad>>> {
    let mut conn = state.store.reader().await?;
    let items = crate::store::people::agent_loads(&mut conn, actor.ws())
        .await?
        .into_iter()
        .map(|(user_id, open)| {
            let status = state.presence.status(actor.ws(), user_id);
            AgentLoad { user_id, online: status == PresenceStatus::Online, status, open }
        })
        .collect();
    Ok(AxumJson(Page { items, next_cursor: None }))
}
