//! A request about a device reaches whichever node the load balancer picked; what needs the
//! device's adapter (its QR code, a gateway's webhook, the simulator's controls, relinking,
//! removing it, an attachment's download) runs on the node that drives the device. Another node
//! passes the request on to it, as it came (the same token: the holder checks it again), and
//! passes its answer back, streamed. A device whose node just died is moving: 503, transient,
//! until another node has taken it over (within seconds).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use handoff_proto::{DeviceId, MessageId};

use crate::http::error::ApiError;
use crate::store;
use crate::AppState;

/// Set on a request one node passes to another (which never passes it on again).
const FORWARDED: HeaderName = HeaderName::from_static("handoff-forwarded-by");
/// The largest request body passed on (the API's own limit is smaller).
const MAX_FORWARDED_BODY: usize = 16 * 1024 * 1024;

/// The middleware: requests about a device this node does not drive go to the node that does.
pub async fn to_holder(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(shared) = state.cluster.shared() else { return next.run(req).await };
    let device = match device_of(&state, req.method(), req.uri().path()).await {
        Ok(Some(device)) => device,
        Ok(None) => return next.run(req).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if state.cluster.holds(device) {
        return next.run(req).await;
    }
    let holder = async { store::cluster::holder(&mut *state.store.unlogged().await?, device).await };
    let holder = match holder.await {
        Ok(h) => h,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let me = state.cluster.node_text();
    match holder {
        // No lease: a device being added (or gone, which the handler says), or ours in a
        // moment: the handler answers.
        None => next.run(req).await,
        Some(h) if h.node == me => next.run(req).await,
        Some(h) if h.until < store::now() || req.headers().contains_key(&FORWARDED) => moving(),
        Some(h) => match h.url {
            Some(url) => pass_on(shared, &me, &url, req).await,
            None => moving(),
        },
    }
}

/// The device a request is about, when it needs the device's adapter.
async fn device_of(state: &AppState, method: &axum::http::Method, path: &str) -> store::DbResult<Option<DeviceId>> {
    let mut parts = path.trim_start_matches('/').split('/');
    let (Some("api"), Some("v1"), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let rest = parts.next();
    match (kind, rest) {
        // Every route under a device, and removing it (listing and reading need no adapter).
        ("devices", Some(_)) => Ok(id.parse().ok()),
        ("devices", None) if method == axum::http::Method::DELETE => Ok(id.parse().ok()),
        ("messages", Some("media")) => {
            let Ok(message) = id.parse::<MessageId>() else { return Ok(None) };
            Ok(store::messages::device_of(&mut *state.store.reader().await?, message).await?)
        }
        _ => Ok(None),
    }
}

/// The refusal of a request about a number no node drives at this moment (its node died, or it
/// was just added): transient, so a client or a gateway tries again.
pub(crate) fn moving_error() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "device_moving",
        "This number is moving to another server node: try again in a few seconds.",
    );
    e.detail.transient = Some(true);
    e
}

fn moving() -> Response {
    let mut response = moving_error().into_response();
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

/// Passes `req` on to the node at `base` and its answer back.
async fn pass_on(shared: &super::Shared, me: &str, base: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let body = match axum::body::to_bytes(body, MAX_FORWARDED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The body is too large.")
                .into_response()
        }
    };
    let mut out = shared.http.request(parts.method.clone(), format!("{}{path}", base.trim_end_matches('/')));
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    out = out.header(FORWARDED, me).body(body);
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(node = base, error = %e, "a request for a device's node was not passed on");
            return moving();
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !is_hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    let stream = futures_util::stream::unfold(answer, |mut answer| async move {
        match answer.chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, reqwest::Error>(chunk), answer)),
            Ok(None) => None,
            Err(e) => Some((Err(e), answer)),
        }
    });
    response.body(Body::from_stream(stream)).unwrap_or_else(|_| moving())
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade" | "te" | "trailer"
    )
}
