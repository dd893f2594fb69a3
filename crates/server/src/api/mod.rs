//! The public HTTP API v1 (`docs/api.md`) and its generated OpenAPI document.

mod admin;
mod conversations;
pub mod devices;
mod media;
mod people;
mod system;
mod webhook;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;

use crate::ops::{Applied, Outcome};
use crate::AppState;

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    let access_log = state.config.access_log;
    let router = Router::new()
        .route("/healthz", get(system::health))
        .route("/readyz", get(system::ready))
        .route("/metrics", get(system::metrics))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/auth/login", post(people::login))
        .route("/api/v1/auth/logout", post(people::logout))
        .route("/api/v1/me", get(people::me))
        .route("/api/v1/me/password", post(people::change_password))
        .route("/api/v1/me/sessions", get(people::sessions))
        .route("/api/v1/me/sessions/{id}", axum::routing::delete(people::end_session))
        .route("/api/v1/users/{id}/reset-password", post(people::reset_password))
        .route("/api/v1/users", get(people::list_users).post(people::create_user))
        .route("/api/v1/users/{id}", axum::routing::patch(people::patch_user))
        .route("/api/v1/conversations", get(conversations::list))
        .route("/api/v1/conversations/{id}", get(conversations::get_one))
        .route("/api/v1/conversations/{id}/messages", get(conversations::messages).post(conversations::reply))
        .route("/api/v1/conversations/{id}/notes", post(conversations::note))
        .route("/api/v1/conversations/{id}/claim", post(conversations::claim))
        .route("/api/v1/conversations/{id}/assign", post(conversations::assign))
        .route("/api/v1/conversations/{id}/status", post(conversations::status))
        .route("/api/v1/conversations/{id}/escalate", post(conversations::escalate))
        .route("/api/v1/conversations/{id}/labels", post(conversations::labels))
        .route("/api/v1/conversations/{id}/read", post(conversations::read))
        .route("/api/v1/messages/{id}/media", get(media::download))
        .route("/api/v1/sync", get(system::sync))
        .route("/api/v1/teams", get(admin::list_teams).post(admin::create_team))
        .route("/api/v1/teams/{id}", axum::routing::patch(admin::patch_team))
        .route("/api/v1/teams/{id}/members", axum::routing::put(admin::set_members))
        .route("/api/v1/routing-rules", get(admin::list_rules).post(admin::create_rule))
        .route("/api/v1/routing-rules/test", post(admin::test_rules))
        .route("/api/v1/routing-rules/{id}", axum::routing::delete(admin::delete_rule))
        .route("/api/v1/api-keys", get(admin::list_keys).post(admin::create_key))
        .route("/api/v1/api-keys/{id}", axum::routing::delete(admin::revoke_key))
        .route("/api/v1/audit", get(admin::audit_log))
        .route("/api/v1/agents", get(admin::agents))
        .route("/api/v1/ws", get(crate::ws::upgrade))
        .route("/api/v1/devices", get(devices::list).post(devices::create))
        .route("/api/v1/devices/{id}", axum::routing::delete(devices::remove))
        .route("/api/v1/devices/{id}/qr", get(devices::qr))
        .route("/api/v1/devices/{id}/webhook", post(webhook::webhook))
        .route("/api/v1/devices/{id}/simulator/inbound", post(devices::sim_inbound))
        .route("/api/v1/devices/{id}/simulator/sent", get(devices::sim_sent))
        .route("/api/v1/devices/{id}/simulator/link", post(devices::sim_link))
        .route("/api/v1/devices/{id}/simulator/disconnect", post(devices::sim_disconnect))
        .route("/api/v1/devices/{id}/simulator/receipt", post(devices::sim_receipt))
        .route("/api/v1/devices/{id}/simulator/reconnect", post(devices::sim_reconnect))
        .route("/api/v1/devices/{id}/simulator/logout", post(devices::sim_logout))
        .route("/api/v1/devices/{id}/simulator/ban", post(devices::sim_ban))
        .route("/api/v1/devices/{id}/simulator/rotate-qr", post(devices::sim_rotate_qr))
        .route("/api/v1/devices/{id}/simulator/phone-message", post(devices::sim_phone_message))
        .route("/api/v1/devices/{id}/simulator/receipts", post(devices::sim_receipts))
        .route("/api/v1/devices/{id}/simulator/fail-next", post(devices::sim_fail_next))
        .route("/api/v1/devices/{id}/relink", post(devices::relink))
        .fallback(|| async { crate::error::ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    if access_log {
        with_access_log(router)
    } else {
        router
    }
}

/// The access log: one line per request under the target `handoff_server::access`, with the
/// method, the path (never the query string, which may carry a media token), the status and
/// the latency.
fn with_access_log(router: Router) -> Router {
    router.layer(
        tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        })
        .on_request(())
        .on_response(|res: &Response, latency: std::time::Duration, _: &tracing::Span| {
            tracing::info!(
                target: "handoff_server::access",
                status = res.status().as_u16(),
                latency_ms = latency.as_secs_f64() * 1000.0,
                "served"
            );
        })
        .on_body_chunk(())
        .on_eos(())
        .on_failure(()),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Handoff API", version = "1", description = "The public HTTP API of the Handoff coordination server."),
    paths(
        system::health, system::ready, system::metrics, system::sync,
        people::login, people::logout, people::me, people::change_password, people::sessions, people::end_session,
        people::reset_password, people::list_users, people::create_user, people::patch_user,
        conversations::list, conversations::get_one, conversations::messages, conversations::reply,
        conversations::note, conversations::claim, conversations::assign, conversations::status, conversations::read,
        conversations::escalate, conversations::labels, media::download,
        admin::list_teams, admin::create_team, admin::patch_team, admin::set_members,
        admin::list_rules, admin::create_rule, admin::delete_rule, admin::test_rules,
        admin::list_keys, admin::create_key, admin::revoke_key, admin::audit_log, admin::agents,
        devices::list, devices::create, devices::remove, devices::qr, webhook::webhook, devices::sim_inbound, devices::sim_sent,
        devices::sim_link, devices::sim_disconnect, devices::sim_receipt, devices::sim_reconnect, devices::sim_logout,
        devices::sim_ban, devices::sim_rotate_qr, devices::relink, devices::sim_phone_message, devices::sim_receipts,
        devices::sim_fail_next,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// The `Idempotency-Key` header of a write, if any.
pub fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string).filter(|k| !k.is_empty())
}

/// Renders a mutation's outcome as the HTTP answer.
pub fn respond(applied: Applied) -> Response {
    match applied.outcome {
        Outcome::Message(m) => (applied.status, axum::Json(m)).into_response(),
        Outcome::Conversation(c) => (applied.status, axum::Json(c)).into_response(),
        Outcome::Done => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `?limit=`: default 50, at most 500.
pub fn page_limit(limit: Option<i64>) -> Result<i64, crate::error::ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(crate::error::ApiError::invalid("limit", "limit must be between 1 and 500.")),
    }
}
