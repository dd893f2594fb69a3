//! A stand-in WAHA gateway for the gateway tests: a real HTTP server on a loopback port that
//! answers the REST calls Handoff makes (`sendText`, `sendSeen`, `startTyping`, `stopTyping`,
//! session logout, the QR code, files under `/api/files/`) as WAHA documents them, records every
//! request, and can be told to fail the next few calls, to stall or hold `sendText`, and to post
//! the echo of a sent message (`message.any`, `fromMe`) to the server before it answers.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::watch;

/// One request as the stub received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    /// `X-Api-Key`, if sent.
    pub api_key: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// Answers for the next calls, in order, before normal service resumes.
    failures: Vec<StatusCode>,
    /// How long the next `sendText` takes to answer (a gateway that hangs once).
    stall: Option<std::time::Duration>,
    /// Where and with which secret `sendText` posts its echo before it answers.
    echo: Option<(String, String)>,
}

#[derive(Clone)]
pub struct StubWaha {
    inner: Arc<Mutex<Inner>>,
    count: watch::Sender<usize>,
    /// While true, every `sendText` waits (recorded, unanswered) until it is released.
    held: watch::Sender<bool>,
    /// While true, a file is answered with its first half and the rest only once released.
    held_files: watch::Sender<bool>,
    pub url: String,
    /// What `GET /api/{session}/auth/qr?format=raw` answers.
    pub qr: String,
    /// The phone number behind each LID WAHA knows (`GET /api/{session}/lids/{lid}`).
    lids: Arc<Mutex<std::collections::HashMap<String, String>>>,
    /// Files WAHA keeps (media of received messages), by path.
    files: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
}

impl StubWaha {
    pub async fn start() -> StubWaha {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("stub binds");
        let url = format!("http://{}", listener.local_addr().expect("stub address"));
        let stub = StubWaha {
            inner: Arc::default(),
            count: watch::Sender::new(0),
            held: watch::Sender::new(false),
            held_files: watch::Sender::new(false),
            url,
            qr: "2@stub-qr-value,AbCdEf==,GhIjKl==,MnOpQr==".into(),
            lids: Arc::default(),
            files: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/api/sendText", post(send_text))
            .route("/api/sendSeen", post(ok))
            .route("/api/startTyping", post(ok))
            .route("/api/stopTyping", post(ok))
            .route("/api/sessions/{session}/logout", post(ok))
            .route("/api/{session}/auth/qr", get(qr))
            .route("/api/{session}/lids/{lid}", get(lid))
            .route("/api/files/{*name}", get(file))
            .route("/elsewhere", axum::routing::any(elsewhere))
            .with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        stub
    }

    /// The next calls are answered with these statuses, one each, before calls succeed again.
    pub fn fail_next(&self, statuses: &[StatusCode]) {
        self.lock().failures.extend_from_slice(statuses);
    }

    /// The next `sendText` is recorded at once and answered only after `hold`.
    pub fn stall_next_send(&self, hold: std::time::Duration) {
        self.lock().stall = Some(hold);
    }

    /// From now on (`true`) every `sendText` is recorded and left unanswered until released.
    pub fn hold_sends(&self, held: bool) {
        self.held.send_replace(held);
    }

    /// From now on (`true`) a file's first half goes at once and the rest waits until released:
    /// a download in progress, for as long as the test likes.
    pub fn hold_files(&self, held: bool) {
        self.held_files.send_replace(held);
    }

    /// Before answering a `sendText`, post its echo (WAHA's `message.any` with `fromMe`) to
    /// `webhook_url`, signed with `secret`, and wait for the server's answer: the echo beats the
    /// send's outcome.
    pub fn echo_sends(&self, webhook_url: &str, secret: &str) {
        self.lock().echo = Some((webhook_url.into(), secret.into()));
    }

    /// The `sendText` requests so far.
    pub fn sends(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == "/api/sendText").collect()
    }

    /// Waits until at least `n` `sendText` requests have arrived (answered or not), then returns them.
    pub async fn wait_sends(&self, n: usize) -> Vec<Recorded> {
        let mut rx = self.count.subscribe();
        let arrived = rx.wait_for(|_| self.sends().len() >= n);
        tokio::time::timeout(crate::DEADLINE, arrived)
            .await
            .unwrap_or_else(|_| panic!("the gateway got {} of {n} sends in time", self.sends().len()))
            .expect("stub running");
        self.sends()
    }

    /// WAHA knows that `lid` (`123@lid`) is `pn` (`4915112345678@c.us`).
    pub fn know_lid(&self, lid: &str, pn: &str) {
        self.lids.lock().unwrap_or_else(|p| p.into_inner()).insert(lid.into(), pn.into());
    }

    /// WAHA now keeps this file at `path` (`/api/files/...`).
    pub fn put_file(&self, path: &str, bytes: &[u8]) {
        self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(path.into(), bytes.to_vec());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Waits until at least `n` requests have arrived (any answer), then returns them all.
    pub async fn wait_requests(&self, n: usize) -> Vec<Recorded> {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(crate::DEADLINE, rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| panic!("the gateway got {} of {n} requests in time", self.requests().len()))
            .expect("stub running");
        self.requests()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the request; returns the failure to answer with, if one is queued.
    fn record(&self, path: String, headers: &HeaderMap, body: Value) -> Option<StatusCode> {
        let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string);
        let failure = {
            let mut inner = self.lock();
            inner.requests.push(Recorded { path, api_key, body });
            (!inner.failures.is_empty()).then(|| inner.failures.remove(0))
        };
        self.count.send_modify(|c| *c += 1);
        failure
    }
}

/// A queued failure's answer. A redirect points at `/elsewhere` on the stub, which records
/// whatever follows it (a client that follows would hand it the API key).
fn failed(status: StatusCode) -> Response {
    let body = Json(json!({"statusCode": status.as_u16(), "message": "stub failure"}));
    if status.is_redirection() {
        return (status, [(axum::http::header::LOCATION, "/elsewhere")], body).into_response();
    }
    (status, body).into_response()
}

/// WAHA answers `sendText` with the message it sent; its id is `true_<chat>_<message id>`.
async fn send_text(State(stub): State<StubWaha>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(status) = stub.record("/api/sendText".into(), &headers, body.clone()) {
        return failed(status);
    }
    let stall = stub.lock().stall.take();
    if let Some(hold) = stall {
        tokio::time::sleep(hold).await; // the fault itself: a gateway that hangs
    }
    let _ = stub.held.subscribe().wait_for(|held| !held).await;
    let chat = body["chatId"].as_str().unwrap_or_default();
    let id = body["id"].as_str().unwrap_or("3EB0STUB");
    let echo = stub.lock().echo.clone();
    if let Some((url, secret)) = echo {
        let event = json!({
            "id": format!("evt_echo_{id}"), "timestamp": chrono::Utc::now().timestamp_millis(),
            "event": "message.any", "session": body["session"], "engine": "WEBJS",
            "payload": {"id": format!("true_{chat}_{id}"), "timestamp": chrono::Utc::now().timestamp(),
                        "from": "4930123456@c.us", "fromMe": true, "source": "api", "to": chat,
                        "body": body["text"], "hasMedia": false, "ack": 1},
        })
        .to_string();
        let signature = handoff_channels::waha::sign(secret.as_bytes(), event.as_bytes());
        let posted = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("X-Webhook-Hmac", signature)
            .body(event)
            .send()
            .await;
        assert!(posted.is_ok_and(|r| r.status().is_success()), "the server took the echo");
    }
    let message = json!({
        "id": format!("true_{chat}_{id}"),
        "timestamp": chrono::Utc::now().timestamp(),
        "from": "4930123456@c.us",
        "fromMe": true,
        "to": chat,
        "body": body["text"],
        "hasMedia": false,
        "ack": 0,
    });
    (StatusCode::CREATED, Json(message)).into_response()
}

/// Where the stub's redirects point: recorded, so a test can tell that nothing followed one.
async fn elsewhere(State(stub): State<StubWaha>, headers: HeaderMap) -> StatusCode {
    stub.record("/elsewhere".into(), &headers, Value::Null);
    StatusCode::OK
}

async fn ok(
    State(stub): State<StubWaha>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or(Value::Null);
    if let Some(status) = stub.record(uri.path().to_string(), &headers, body) {
        return failed(status);
    }
    (StatusCode::CREATED, Json(json!({}))).into_response()
}

async fn qr(State(stub): State<StubWaha>, Path(session): Path<String>, headers: HeaderMap) -> Response {
    if let Some(status) = stub.record(format!("/api/{session}/auth/qr"), &headers, Value::Null) {
        return failed(status);
    }
    (StatusCode::OK, Json(json!({"value": stub.qr}))).into_response()
}

async fn lid(
    State(stub): State<StubWaha>,
    Path((session, lid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(status) = stub.record(format!("/api/{session}/lids/{lid}"), &headers, Value::Null) {
        return failed(status);
    }
    let pn = stub.lids.lock().unwrap_or_else(|p| p.into_inner()).get(&lid).cloned();
    (StatusCode::OK, Json(json!({"lid": lid, "pn": pn}))).into_response()
}

async fn file(State(stub): State<StubWaha>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    if let Some(status) = stub.record(uri.path().to_string(), &headers, Value::Null) {
        return status.into_response();
    }
    let Some(bytes) = stub.files.lock().unwrap_or_else(|p| p.into_inner()).get(uri.path()).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !*stub.held_files.borrow() {
        return (StatusCode::OK, bytes).into_response();
    }
    // The first half now, the rest once released.
    let rest = bytes[bytes.len() / 2..].to_vec();
    let first = bytes[..bytes.len() / 2].to_vec();
    let held = stub.held_files.subscribe();
    let halves = futures_util::stream::iter([Some(first), None]).then(move |half| {
        let (rest, mut held) = (rest.clone(), held.clone());
        async move {
            match half {
                Some(first) => Ok::<_, std::io::Error>(first),
                None => {
                    let _ = held.wait_for(|h| !h).await;
                    Ok(rest)
                }
            }
        }
    });
    (StatusCode::OK, axum::body::Body::from_stream(halves)).into_response()
}
