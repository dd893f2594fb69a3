//! An integration's webhook endpoint for the webhook tests and benchmark: a real HTTP server on
//! a loopback port that records every delivery (headers, raw body, when it came), checks its
//! signature with the endpoint's secret, and answers what it is told to (200 by default, a
//! failing phase with 500).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use tokio::sync::watch;

/// One request as the receiver got it.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `Handoff-Timestamp`.
    pub timestamp: Option<String>,
    /// `Handoff-Signature`.
    pub signature: Option<String>,
    /// The raw body, as signed.
    pub raw: Vec<u8>,
    pub body: Value,
    /// The signature matched the secret the receiver was given (`false` without one).
    pub valid: bool,
    /// What the receiver answered.
    pub answered: u16,
    pub received: Instant,
}

impl Delivery {
    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or("")
    }
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or("")
    }
}

struct Inner {
    deliveries: Vec<Delivery>,
    secret: Option<String>,
    answer: u16,
}

#[derive(Clone)]
pub struct WebhookReceiver {
    inner: Arc<Mutex<Inner>>,
    count: watch::Sender<usize>,
    /// The endpoint's address (`http://127.0.0.1:<port>/hooks/handoff`).
    pub url: String,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("receiver binds");
        let url = format!("http://{}/hooks/handoff", listener.local_addr().expect("receiver address"));
        let receiver = WebhookReceiver {
            inner: Arc::new(Mutex::new(Inner { deliveries: Vec::new(), secret: None, answer: 200 })),
            count: watch::Sender::new(0),
            url,
        };
        let app = axum::Router::new().route("/hooks/handoff", post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// The secret deliveries are checked with (the one shown when the endpoint was registered).
    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = Some(secret.to_owned());
    }

    /// What the receiver answers from now on (500: a failing phase).
    pub fn answer_with(&self, status: u16) {
        self.inner.lock().unwrap().answer = status;
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.lock().unwrap().deliveries.clone()
    }

    /// Changes with every request that comes in (its value: how many came in all told).
    pub fn arrivals(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    /// Waits until `n` requests have come in all told (answered whatever way); returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        let mut rx = self.count.subscribe();
        let got = tokio::time::timeout(crate::DEADLINE, rx.wait_for(|c| *c >= n)).await;
        let all = self.deliveries();
        assert!(got.is_ok(), "{n} webhook requests expected, {} came: {:#?}", all.len(), summary(&all));
        all
    }
}

fn summary(all: &[Delivery]) -> Vec<String> {
    all.iter().map(|d| format!("{} {} -> {}", d.kind(), d.id(), d.answered)).collect()
}

/// HMAC-SHA256 of `<timestamp>.<body>`, as `sha256=<hex>`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn receive(State(r): State<WebhookReceiver>, headers: HeaderMap, raw: Bytes) -> (StatusCode, String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let timestamp = header("handoff-timestamp");
    let signature = header("handoff-signature");
    let mut inner = r.inner.lock().unwrap();
    let valid = match (&inner.secret, &timestamp, &signature) {
        (Some(secret), Some(ts), Some(sig)) => sign(secret, ts, &raw) == *sig,
        _ => false,
    };
    let answered = inner.answer;
    inner.deliveries.push(Delivery {
        timestamp,
        signature,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.to_vec(),
        valid,
        answered,
        received: Instant::now(),
    });
    let n = inner.deliveries.len();
    drop(inner);
    r.count.send_replace(n);
    let text = if answered == 200 { "ok".to_owned() } else { format!("receiver says no ({answered})") };
    (StatusCode::from_u16(answered).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), text)
}
