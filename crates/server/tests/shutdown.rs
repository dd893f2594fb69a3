//! The real `handoff-server` binary stopped as systemd and containers stop it: SIGTERM (and
//! SIGINT) while customer messages pour in and an agent's WebSocket is open. It says "going
//! away" on the WebSocket, exits 0 within 10 s, leaves the database checkpointed (an empty WAL),
//! and every message it acknowledged is there when it starts again.
#![cfg(unix)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use handoff_proto::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const ADMIN: &str = "admin@shutdown.local";
const PASSWORD: &str = "correct horse battery";
const DEADLINE: Duration = Duration::from_secs(20);

struct Server {
    child: Child,
    url: String,
}

async fn start(data_dir: &Path) -> Server {
    // The database the tests' servers use in this run (the data folder's, or PostgreSQL's).
    let database = match handoff_server::Config::for_tests(data_dir).database {
        handoff_server::Database::Sqlite(file) => file.display().to_string(),
        handoff_server::Database::Postgres(url) => url,
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_handoff-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--database", &database])
        .env("HANDOFF_ADMIN_EMAIL", ADMIN)
        .env("HANDOFF_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("handoff-server starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(DEADLINE, lines.next_line()).await.expect("listening in time").unwrap().unwrap();
    let url = line.strip_prefix("handoff-server listening on ").unwrap_or_else(|| panic!("{line}")).to_string();
    // The rest of its output ("SIGTERM: shutting down", "stopped in N ms") goes to the test's log.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("server: {line}");
        }
    });
    Server { child, url }
}

/// A POST that must succeed; its JSON answer (`null` for none).
async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request.send().await.unwrap().error_for_status().unwrap();
    resp.json().await.unwrap_or(Value::Null)
}

async fn login(http: &reqwest::Client, url: &str) -> String {
    let answer =
        post(http, &format!("{url}/api/v1/auth/login"), None, json!({"email": ADMIN, "password": PASSWORD})).await;
    answer["token"].as_str().expect("a token").to_string()
}

/// Sends `signal` while customer messages are being stored; returns how long the server took to
/// exit, and the messages it acknowledged.
async fn stop_under_load(signal: &str) -> (Duration, usize) {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let mut server = start(dir.path()).await;
    let token = login(&http, &server.url).await;
    let device_body = json!({"name": "Support line", "kind": "simulator"});
    let device = post(&http, &format!("{}/api/v1/devices", server.url), Some(&token), device_body).await;
    let device = device["id"].as_str().unwrap().to_string();
    let link = format!("{}/api/v1/devices/{device}/simulator/link", server.url);
    post(&http, &link, Some(&token), Value::Null).await;

    // An agent's live connection.
    let ws_url = format!("{}/api/v1/ws", server.url.replace("http://", "ws://"));
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq: 0 };
    ws.send(WsMessage::text(serde_json::to_string(&hello).unwrap())).await.unwrap();

    // Customer messages, one after another, from four senders at once, until the server stops
    // answering. Each returns the WhatsApp ids the server acknowledged.
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let (http, url, device, token) = (http.clone(), server.url.clone(), device.clone(), token.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..100_000 {
                    let id = format!("wa-{sender}-{n}");
                    let body = json!({"from": format!("+49151000{sender:04}"), "body": format!("message {n}"), "wa_message_id": id});
                    let path = format!("{url}/api/v1/devices/{device}/simulator/inbound");
                    match http.post(path).bearer_auth(&token).json(&body).send().await {
                        Ok(resp) if resp.status() == 201 => acked.push(id),
                        _ => return acked,
                    }
                }
                acked
            })
        })
        .collect();

    // Under load: wait until the agent's connection has seen some of them live.
    let mut live = 0;
    while live < 50 {
        match tokio::time::timeout(DEADLINE, ws.next()).await.expect("live events in time") {
            Some(Ok(WsMessage::Text(text))) => {
                if let Ok(ServerFrame::Event(_)) = serde_json::from_str(&text) {
                    live += 1;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("the connection ended early: {other:?}"),
        }
    }

    let pid = server.child.id().expect("running").to_string();
    let started = Instant::now();
    let status = std::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
    assert!(status.success());

    // The agent is told: an error frame saying why, then a close with 1001 "going away".
    let mut told = None;
    let close = loop {
        match tokio::time::timeout(DEADLINE, ws.next()).await.expect("the goodbye in time") {
            Some(Ok(WsMessage::Text(text))) => {
                if let Ok(ServerFrame::Error { code, .. }) = serde_json::from_str(&text) {
                    told = Some(code);
                }
            }
            Some(Ok(WsMessage::Close(frame))) => break frame,
            Some(Ok(_)) => {}
            other => panic!("the connection ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(told.as_deref(), Some("shutting_down"));
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away), "going away, so the client reconnects at once");

    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("the server exits within 10 s")
        .unwrap();
    let took = started.elapsed();
    assert!(exit.success(), "exit status {exit:?}");
    let mut acked = Vec::new();
    for sender in senders {
        acked.extend(sender.await.unwrap());
    }
    assert!(!acked.is_empty());

    // SQLite: checkpointed, the WAL is empty (or gone), the database file holds everything.
    if let Some(file) = handoff_server::Config::for_tests(dir.path()).database.sqlite_file() {
        let wal = file.with_extension("db-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal_len, 0, "the WAL was checkpointed into the database");
    }

    // Everything acknowledged is there after a start.
    let server = start(dir.path()).await;
    let token = login(&http, &server.url).await;
    let mut stored = std::collections::HashSet::new();
    let mut since = 0;
    loop {
        let sync: Value = http
            .get(format!("{}/api/v1/sync?since={since}&limit=500", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = sync["events"].as_array().unwrap();
        for e in events {
            if let Some(id) = e.pointer("/message/wa_message_id").and_then(Value::as_str) {
                stored.insert(id.to_string());
            }
            since = e["seq"].as_i64().unwrap();
        }
        if events.is_empty() {
            break;
        }
    }
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
    (took, acked.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully_under_load() {
    let (took, acked) = stop_under_load("TERM").await;
    println!("SIGTERM under load: exited 0 in {} ms after {acked} acknowledged messages", took.as_millis());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_gracefully_under_load() {
    let (took, acked) = stop_under_load("INT").await;
    println!("SIGINT under load: exited 0 in {} ms after {acked} acknowledged messages", took.as_millis());
}
