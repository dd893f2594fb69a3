//! The public HTTP API v1 (`docs/api.md`) and its generated OpenAPI document.

mod admin;
mod conversations;
pub mod devices;
mod integrations;
mod media;
mod people;
mod privacy;
mod system;

pub mod error;
pub mod extract;
pub mod login_limit;
pub mod ws;

use crate::inbound::webhook;

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
        .route("/api/v1/users/{id}/wipe", post(privacy::wipe_user))
        .route("/api/v1/users", get(people::list_users).post(people::create_user))
        .route("/api/v1/users/{id}", axum::routing::patch(people::patch_user))
        .route("/api/v1/workspaces", get(people::workspaces).post(people::create_workspace))
        .route("/api/v1/workspaces/{id}/members", post(people::add_member))
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
        .route("/api/v1/settings", get(privacy::settings).patch(privacy::patch_settings))
        .route("/api/v1/contacts/{id}", get(privacy::contact))
        .route("/api/v1/contacts/{id}/export", get(privacy::export))
        .route("/api/v1/contacts/{id}/erase", post(privacy::erase))
        .route("/api/v1/teams", get(admin::list_teams).post(admin::create_team))
        .route("/api/v1/teams/{id}", axum::routing::patch(admin::patch_team))
        .route("/api/v1/teams/{id}/members", axum::routing::put(admin::set_members))
        .route("/api/v1/routing-rules", get(admin::list_rules).post(admin::create_rule))
        .route("/api/v1/routing-rules/test", post(admin::test_rules))
        .route("/api/v1/routing-rules/{id}", axum::routing::delete(admin::delete_rule))
        .route("/api/v1/api-keys", get(admin::list_keys).post(admin::create_key))
        .route("/api/v1/api-keys/{id}", axum::routing::delete(admin::revoke_key))
        .route("/api/v1/webhooks", get(integrations::list).post(integrations::create))
        .route("/api/v1/webhooks/{id}", axum::routing::patch(integrations::patch).delete(integrations::delete))
        .route("/api/v1/webhooks/{id}/deliveries", get(integrations::deliveries))
        .route("/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", post(integrations::retry))
        .route("/api/v1/saved-replies", get(integrations::list_saved).post(integrations::create_saved))
        .route(
            "/api/v1/saved-replies/{id}",
            axum::routing::patch(integrations::patch_saved).delete(integrations::delete_saved),
        )
        .route("/api/v1/audit", get(admin::audit_log))
        .route("/api/v1/agents", get(admin::agents))
        .route("/api/v1/ws", get(crate::http::ws::upgrade))
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
        .fallback(|| async { crate::http::error::ApiError::not_found("route") })
        // On several nodes, what needs a device's adapter runs on the node that drives it.
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::cluster::forward::to_holder))
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
        people::reset_password, people::list_users, people::create_user, people::patch_user, people::workspaces,
        people::create_workspace, people::add_member,
        conversations::list, conversations::get_one, conversations::messages, conversations::reply,
        conversations::note, conversations::claim, conversations::assign, conversations::status, conversations::read,
        conversations::escalate, conversations::labels, media::download,
        privacy::settings, privacy::patch_settings, privacy::contact, privacy::export, privacy::erase,
        privacy::wipe_user,
        admin::list_teams, admin::create_team, admin::patch_team, admin::set_members,
        admin::list_rules, admin::create_rule, admin::delete_rule, admin::test_rules,
        admin::list_keys, admin::create_key, admin::revoke_key, admin::audit_log, admin::agents,
        integrations::list, integrations::create, integrations::patch, integrations::delete, integrations::deliveries,
        integrations::retry, integrations::list_saved, integrations::create_saved, integrations::patch_saved,
        integrations::delete_saved,
        devices::list, devices::create, devices::remove, devices::qr, webhook::webhook, devices::sim_inbound, devices::sim_sent,
        devices::sim_link, devices::sim_disconnect, devices::sim_receipt, devices::sim_reconnect, devices::sim_logout,
        devices::sim_ban, devices::sim_rotate_qr, devices::relink, devices::sim_phone_message, devices::sim_receipts,
        devices::sim_fail_next,
    ),
    // What each webhook delivery posts: no route answers with it, integrations read it.
    components(schemas(handoff_proto::WebhookPayload)),
    modifiers(&BearerAuth, &CommonAnswers)
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

/// The answers any operation of a kind can give, written once here instead of on every route:
/// 401 on every operation that needs a token (none, expired, revoked or signed out); 400 where a
/// path id, a query parameter or a body can be malformed; 413 where there is a body (over
/// 256 KiB); 404 where the path names something by id; 403 on writes a role may be refused. Each is the API's error body. Checked against the running server by schemathesis
/// (docs/testing.md).
struct CommonAnswers;

impl utoipa::Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
            ResponseBuilder::new().description(description).content("application/json", content).build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let writes = [&mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            let operations = std::iter::once((false, &mut item.get)).chain(writes.into_iter().map(|o| (true, o)));
            for (write, operation) in operations.filter_map(|(w, o)| o.as_mut().map(|o| (w, o))) {
                let answers = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    answers.entry(status.to_string()).or_insert_with(|| error(description).into());
                };
                // `security(())` on a route makes it public; the rest inherit the bearer token.
                if operation.security.is_none() {
                    add("401", "No valid token: none, or one that expired, was revoked or signed out");
                }
                let query = operation.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query);
                if path.contains('{') || query || operation.request_body.is_some() {
                    add("400", "A malformed id in the path, query parameter or body (the error names it)");
                }
                if operation.request_body.is_some() {
                    add("413", "The request body is over 256 KiB");
                }
                if path.contains('{') {
                    add("404", "Nothing has this id (or it is not yours to see)");
                }
                // A change a role may not make: every authenticated write but one's own account
                // and reading (which even a Viewer does).
                let personal =
                    path.starts_with("/api/v1/me") || path.starts_with("/api/v1/auth") || path.ends_with("/read");
                if write && operation.security.is_none() && !personal {
                    add("403", "Your role may not do this (the error says which role may)");
                }
            }
        }
    }
}

async fn openapi_json() -> axum::Json<serde_json::Value> {
    axum::Json(document())
}

/// The OpenAPI document as served. Every `format: uuid` or `format: date-time` string also
/// carries the pattern of its shape, and a label its rules, so a generator that does not know
/// the formats (schemathesis) makes well-formed values.
pub fn document() -> serde_json::Value {
    fn with_patterns(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                let pattern = match map.get("format").and_then(|f| f.as_str()) {
                    Some("uuid") => Some("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
                    Some("date-time") => {
                        Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$")
                    }
                    _ => None,
                };
                if let Some(pattern) = pattern.filter(|_| !map.contains_key("pattern")) {
                    map.insert("pattern".into(), pattern.into());
                }
                map.values_mut().for_each(with_patterns);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(with_patterns),
            _ => {}
        }
    }
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    with_patterns(&mut doc);
    // A label: 1 to 40 characters, not blank, no commas or control characters (`normalize_label`).
    let label = serde_json::json!({"type": "string", "minLength": 1, "maxLength": 40,
        "pattern": "^[^,\\u0000-\\u001f\\u007f-\\u009f]*[^\\s,\\u0000-\\u001f\\u007f-\\u009f][^,\\u0000-\\u001f\\u007f-\\u009f]*$"});
    for list in ["add", "remove"] {
        if let Some(items) = doc.pointer_mut(&format!("/components/schemas/LabelsRequest/properties/{list}/items")) {
            *items = label.clone();
        }
    }
    doc
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
pub fn page_limit(limit: Option<i64>) -> Result<i64, crate::http::error::ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(crate::http::error::ApiError::invalid("limit", "limit must be between 1 and 500.")),
    }
}
