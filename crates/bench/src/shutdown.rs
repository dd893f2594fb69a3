//! `shutdown`: how long a real `handoff-server` process takes to stop gracefully under load, as
//! systemd stops it: SIGTERM while senders pour customer messages in and agents' WebSockets are
//! open. Prints, per round, the time from the signal to the process's exit, how many agents got
//! the "going away" close (1001), and how many acknowledged messages the restarted server holds.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use handoff_proto::{ClientFrame, PROTOCOL_VERSION};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const ADMIN: &str = "admin@bench.local";
const PASSWORD: &str = "correct horse battery";

async fn start(server_bin: &Path, dir: &Path) -> anyhow::Result<(tokio::process::Child, String)> {
    let env = [
        ("HANDOFF_ADMIN_EMAIL", ADMIN),
        ("HANDOFF_ADMIN_PASSWORD", PASSWORD),
        // Every agent connection signs in as the one Admin: lift the per-account cap (20).
        ("HANDOFF_WS_PER_USER", "100000"),
    ];
    crate::process::start(server_bin, dir, &env).await
}

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request.send().await?.error_for_status()?;
    Ok(resp.json().await.unwrap_or(Value::Null))
}

async fn login(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let path = format!("{url}/api/v1/auth/login");
    let answer = post(http, &path, None, json!({"email": ADMIN, "password": PASSWORD})).await?;
    answer["token"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no token"))
}

/// One round: a fresh server, `agents` connections, `senders` posting messages for `load`, then
/// SIGTERM.
async fn round(server_bin: &Path, agents: usize, senders: usize, load: Duration) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::new();
    let (mut child, url) = start(server_bin, dir.path()).await?;
    let token = login(&http, &url).await?;
    let path = format!("{url}/api/v1/devices");
    let device = post(&http, &path, Some(&token), json!({"name": "Line", "kind": "simulator"})).await?;
    let device = device["id"].as_str().unwrap_or_default().to_string();
    post(&http, &format!("{url}/api/v1/devices/{device}/simulator/link"), Some(&token), Value::Null).await?;

    // The agents' live connections; each counts as told when it gets the 1001 close.
    let told = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..agents {
        let mut request = format!("{}/api/v1/ws", url.replace("http://", "ws://")).into_client_request()?;
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
        let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq: 0 };
        ws.send(WsMessage::text(serde_json::to_string(&hello)?)).await?;
        let told = Arc::clone(&told);
        readers.push(tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                if let WsMessage::Close(Some(frame)) = message {
                    if u16::from(frame.code) == 1001 {
                        told.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
            }
        }));
    }

    // Senders post customer messages one after another until the server stops answering.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..senders)
        .map(|sender| {
            let (http, url, device, token) = (http.clone(), url.clone(), device.clone(), token.clone());
            let acknowledged = Arc::clone(&acknowledged);
            tokio::spawn(async move {
                for n in 0.. {
                    let body = json!({"from": format!("+49151000{sender:04}"), "body": format!("message {n}"), "wa_message_id": format!("wa-{sender}-{n}")});
                    let path = format!("{url}/api/v1/devices/{device}/simulator/inbound");
                    match http.post(path).bearer_auth(&token).json(&body).send().await {
                        Ok(resp) if resp.status() == 201 => acknowledged.fetch_add(1, Ordering::Relaxed),
                        _ => return,
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(load).await; // the load runs for this long: it is the figure's setting, not a wait

    let pid = child.id().ok_or_else(|| anyhow::anyhow!("the server exited early"))?;
    let at_signal = acknowledged.load(Ordering::Relaxed);
    let signalled = Instant::now();
    let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
    anyhow::ensure!(status.success(), "kill failed");
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait()).await??;
    let stop_ms = signalled.elapsed().as_secs_f64() * 1000.0;
    for w in workers {
        w.await?;
    }
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    let acked = acknowledged.load(Ordering::Relaxed);

    // Started again on the same data: every acknowledged message must be there.
    let (_again, url) = start(server_bin, dir.path()).await?;
    let token = login(&http, &url).await?;
    let resp = http.get(format!("{url}/api/v1/conversations?limit=500")).bearer_auth(&token).send().await?;
    let conversations: Value = resp.error_for_status()?.json().await?;
    let mut stored = 0;
    for c in conversations["items"].as_array().cloned().unwrap_or_default() {
        let id = c["id"].as_str().unwrap_or_default();
        // Newest first, a page at a time: `before` is the previous page's `next_cursor`.
        let mut before: Option<String> = None;
        loop {
            let mut path = format!("{url}/api/v1/conversations/{id}/messages?limit=500");
            if let Some(c) = &before {
                path.push_str(&format!("&before={c}"));
            }
            let page: Value = http.get(path).bearer_auth(&token).send().await?.error_for_status()?.json().await?;
            stored += page["items"].as_array().map(|m| m.len()).unwrap_or(0);
            let next = page["next_cursor"].as_str().map(str::to_string);
            anyhow::ensure!(next.is_none() || next != before, "the messages' pages do not move on: {next:?}");
            before = next;
            if before.is_none() {
                break;
            }
        }
    }
    Ok(json!({
        "stop_ms": (stop_ms * 10.0).round() / 10.0,
        "exit_code": exit.code(),
        "agents_told_going_away": told.load(Ordering::Relaxed),
        "acknowledged_before_signal": at_signal,
        "acknowledged": acked,
        "stored_after_restart": stored,
    }))
}

pub async fn shutdown(
    server_bin: &Path,
    agents: usize,
    senders: usize,
    load_secs: u64,
    rounds: usize,
) -> anyhow::Result<serde_json::Value> {
    let mut out = Vec::new();
    for _ in 0..rounds.max(1) {
        out.push(round(server_bin, agents, senders, Duration::from_secs(load_secs)).await?);
    }
    Ok(json!({
        "bench": "shutdown",
        "server_bin": server_bin.display().to_string(),
        "agents": agents,
        "senders": senders,
        "load_secs": load_secs,
        "rounds": out,
    }))
}
