//! `handoff-bench fanout`: how fast a customer message (or a "typing") reaches every agent's
//! screen, compared in the same run with nats-server on the same machine, the same number of
//! WebSocket subscribers, the same rate and the same payload size.
//!
//! Handoff: the real server binary (`handoff-server serve`, next to this one) in its own process on
//! loopback; N agents, each a WebSocket client with its own API key speaking handoff-proto;
//! customer messages injected at a fixed rate through the device path (the simulator's inbound
//! endpoint), each committed to the event log before it is fanned out. A delivery's latency is
//! the time from the event's commit timestamp (taken in the committing transaction) to its
//! arrival at a client, on the same clock.
//!
//! nats-server: the Debian package, with a WebSocket listener on loopback; N WebSocket subscribers
//! speaking the NATS protocol; one publisher at the same rate with payloads of the same size
//! carrying their publish time.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use handoff_proto::{
    Activity, ClientFrame, CreateApiKeyRequest, CreatedApiKey, Role, ServerFrame, SimulatorInbound, PROTOCOL_VERSION,
};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header::AUTHORIZATION, HeaderValue};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::figures;
use crate::servers::{customer_message, line_with, messages_per_commit, post, stages, usage, Backend, Line, Servers};

pub const PASSWORD: &str = "bench-password-123";

/// What one run measured, for either system.
struct Outcome {
    /// Agents that should receive every message (the typing agent does not).
    receivers: usize,
    /// Latency of every delivery, per message: `per_message[m][i]` is the i-th arrival of message m.
    per_message: Vec<Vec<Duration>>,
    duplicated: usize,
    /// Connections the server closed as too slow ("lagged"), each followed by a catch-up from the log.
    reconnects: usize,
    cpu_s: f64,
    peak_rss_kb: u64,
    frame_bytes: usize,
    /// Customer messages stored per transaction (group commit), Handoff only.
    messages_per_commit: Option<f64>,
    /// Where the messages waited, per node (Handoff only).
    stages: Vec<serde_json::Value>,
}

impl Outcome {
    fn json(&self) -> serde_json::Value {
        let all: Vec<Duration> = self.per_message.iter().flatten().copied().collect();
        let deliveries = all.len();
        let expected = self.per_message.len() * self.receivers;
        let last: Vec<Duration> = self.per_message.iter().filter_map(|d| d.iter().max().copied()).collect();
        serde_json::json!({
            "messages": self.per_message.len(),
            "receivers": self.receivers,
            "deliveries": deliveries,
            "lost": expected.saturating_sub(deliveries),
            "duplicated": self.duplicated,
            "slow_consumer_reconnects": self.reconnects,
            "per_delivery": figures(all),
            "last_agent": figures(last),
            "server_cpu_s": (self.cpu_s * 1000.0).round() / 1000.0,
            "server_cpu_us_per_frame": if deliveries == 0 { 0.0 } else {
                (self.cpu_s * 1e6 / deliveries as f64 * 100.0).round() / 100.0
            },
            "server_peak_rss_mb": (self.peak_rss_kb as f64 / 1024.0 * 10.0).round() / 10.0,
            "frame_bytes": self.frame_bytes,
            "messages_per_commit": self.messages_per_commit.map(|m| (m * 100.0).round() / 100.0),
            "stages_per_node": self.stages,
        })
    }
}

/// The typing variant: one agent's presence frames instead of customer messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Load {
    Messages,
    Typing,
}

pub async fn fanout(
    agents: usize,
    rate: u32,
    seconds: u64,
    load: Load,
    postgres: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(agents >= 2 && rate >= 1 && seconds >= 1, "need at least 2 agents, a rate and a duration");
    let count = (rate as u64 * seconds) as usize;
    let mut runs = Vec::new();
    for backend in Backend::all(postgres) {
        runs.push((backend.clone(), run_handoff(&backend, agents, rate, count, load).await?));
    }
    let nats = run_nats(runs[0].1.receivers, rate, count, runs[0].1.frame_bytes).await?;
    let n = nats.json();
    let nats_p99 = n["per_delivery"]["p99_ms"].as_f64().unwrap_or(0.0);
    let ratio = |a: f64, b: f64| if b > 0.0 { (a / b * 100.0).round() / 100.0 } else { 0.0 };
    let mut backends = serde_json::Map::new();
    let mut one_node_p99 = None;
    for (backend, outcome) in &runs {
        let h = outcome.json();
        let p99 = h["per_delivery"]["p99_ms"].as_f64().unwrap_or(0.0);
        let mut entry = serde_json::json!({
            "nodes": backend.nodes,
            "p99_ms": p99,
            "ratio_vs_nats": ratio(p99, nats_p99),
            "handoff": h,
        });
        match (backend.postgres.is_some(), backend.nodes) {
            (true, 1) => one_node_p99 = Some(p99),
            (true, _) => entry["ratio_vs_one_postgres_node"] = ratio(p99, one_node_p99.unwrap_or(0.0)).into(),
            _ => {}
        }
        backends.insert(backend.name.to_string(), entry);
    }
    let sqlite = runs[0].1.json();
    let p99 = sqlite["per_delivery"]["p99_ms"].as_f64().unwrap_or(0.0);
    Ok(serde_json::json!({
        "bench": "fanout",
        "load": if load == Load::Typing { "typing" } else { "customer messages" },
        "agents": agents,
        "rate_per_s": rate,
        "seconds": seconds,
        "p99_ms": p99,
        "nats_p99_ms": nats_p99,
        "ratio_vs_nats": ratio(p99, nats_p99),
        "handoff": sqlite,
        "backends": backends,
        "nats": n,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    }))
}

async fn run_handoff(backend: &Backend, agents: usize, rate: u32, count: usize, load: Load) -> anyhow::Result<Outcome> {
    let servers = Servers::start(backend).await?;
    // Node 0 takes the number it links (and so drives it): customer messages come in there.
    let url = servers.urls[0].clone();
    let Line { http, admin, device } = Line::link(&url).await?;
    let post = |path: String, body: serde_json::Value| post(&http, &admin, path, body);
    // A conversation for the typing agent to type in.
    let first: handoff_proto::Message = post(
        format!("{url}/api/v1/devices/{}/simulator/inbound", device.id),
        serde_json::to_value(SimulatorInbound {
            from: "+4915100000000".into(),
            name: None,
            body: "warm-up".into(),
            wa_message_id: None,
            media: None,
            media_content: None,
            alt: None,
            group: None,
        })?,
    )
    .await?
    .json()
    .await?;

    // Every agent is an API key of its own (a user row with the Agent role): no password hashing.
    let mut keys = Vec::with_capacity(agents);
    for i in 0..agents {
        let body = serde_json::to_value(CreateApiKeyRequest { name: format!("agent {i}"), role: Role::Agent })?;
        let created: CreatedApiKey = post(format!("{url}/api/v1/api-keys"), body).await?.json().await?;
        keys.push(created.key);
    }

    // Connect everyone, each caught up to the head, then listen; on several nodes the agents
    // take turns among them.
    let ws_urls: Vec<String> =
        servers.urls.iter().map(|u| format!("{}/api/v1/ws", u.replacen("http://", "ws://", 1))).collect();
    let shared = Arc::new(Shared { arrivals: Mutex::new(vec![Vec::new(); count]), ..Shared::default() });
    let (done_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut listeners = Vec::new();
    let mut typer = None;
    for (i, key) in keys.iter().enumerate() {
        let ws_url = &ws_urls[i % ws_urls.len()];
        let ws = connect_agent(ws_url, key, i64::MAX).await?;
        if load == Load::Typing && i == 0 {
            typer = Some(ws.0);
            continue;
        }
        let agent = Agent { ws_url: ws_url.clone(), key: key.clone(), count, shared: shared.clone() };
        listeners.push(tokio::spawn(agent.listen(ws, done_tx.subscribe())));
    }
    let receivers = listeners.len();
    let (cpu_before, _) = servers.usage()?;

    // The load, at a fixed rate: each send on its own task, so a slow answer does not slow the
    // rate, but at most 64 at once (beyond that the server is not keeping up, and the injection
    // time printed at the end says so).
    let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sends = Vec::with_capacity(count);
    for n in 0..count {
        tick.tick().await;
        match load {
            Load::Messages => {
                let body = serde_json::to_value(customer_message(n))?;
                let req = post(format!("{url}/api/v1/devices/{}/simulator/inbound", device.id), body);
                let permit = in_flight.clone().acquire_owned().await?;
                sends.push(tokio::spawn(async move {
                    let sent = req.await;
                    drop(permit);
                    sent
                }));
            }
            Load::Typing => {
                let ws = typer.as_mut().expect("a typing agent");
                let activity = if n % 2 == 0 { Activity::ComposingReply } else { Activity::ComposingNote };
                let frame = ClientFrame::Presence { conversation_id: Some(first.conversation_id), activity };
                ws.send(WsMessage::Text(serde_json::to_string(&frame)?.into())).await?;
            }
        }
    }
    for s in sends {
        s.await??;
    }
    let injected = started.elapsed();

    all_arrived(&shared.arrivals, &shared.arrived, receivers).await;
    let (cpu_after, peak) = servers.usage()?;
    let messages_per_commit = messages_per_commit(&http, &url).await?;
    let mut per_node = Vec::new();
    for node in &servers.urls {
        per_node.push(stages(&http, node).await?);
    }
    let _ = done_tx.send(());
    for l in listeners {
        let _ = l.await;
    }
    servers.stop().await?;
    eprintln!("handoff ({}): {count} injected in {:.2} s", backend.name, injected.as_secs_f64());
    let per_message = std::mem::take(&mut *shared.arrivals.lock().await);
    Ok(Outcome {
        receivers,
        per_message,
        duplicated: shared.duplicated.load(Relaxed),
        reconnects: shared.reconnects.load(Relaxed),
        cpu_s: cpu_after - cpu_before,
        peak_rss_kb: peak,
        frame_bytes: shared.frame_bytes.load(Relaxed),
        messages_per_commit,
        stages: per_node,
    })
}

/// Waits until every message reached `receivers` agents, or 10 s have passed without it (the rest
/// count as lost). Woken by the listeners, never polled.
async fn all_arrived(arrivals: &Mutex<Vec<Vec<Duration>>>, arrived: &tokio::sync::Notify, receivers: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !arrivals.lock().await.iter().all(|a| a.len() >= receivers) {
        if tokio::time::timeout_at(deadline, arrived.notified()).await.is_err() {
            return;
        }
    }
}

/// What every agent's listener records into.
#[derive(Default)]
struct Shared {
    arrivals: Mutex<Vec<Vec<Duration>>>,
    arrived: tokio::sync::Notify,
    duplicated: AtomicUsize,
    reconnects: AtomicUsize,
    frame_bytes: AtomicUsize,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An agent's connection, past the welcome and the roster, replaying from `last_seq`; with the
/// server's head at that moment.
async fn connect_agent(ws_url: &str, key: &str, last_seq: i64) -> anyhow::Result<(Ws, i64)> {
    let mut request = ws_url.into_client_request()?;
    request.headers_mut().insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {key}"))?);
    let config = Some(handoff_core::sync::ws_config());
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, config, true).await?;
    let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq };
    ws.send(WsMessage::Text(serde_json::to_string(&hello)?.into())).await?;
    let mut head = None;
    for _ in 0..2 {
        let frame = ws.next().await.ok_or_else(|| anyhow::anyhow!("closed before the welcome"))??;
        if let WsMessage::Text(text) = frame {
            if let Ok(ServerFrame::Welcome { head_seq, .. }) = serde_json::from_str(&text) {
                head = Some(head_seq);
            }
        }
    }
    Ok((ws, head.ok_or_else(|| anyhow::anyhow!("no welcome"))?))
}

/// The few fields of a server frame the bench needs, borrowed from the text: the agents stand in
/// for 200 machines but share this one's two cores with the server, so they read frames as
/// cheaply as the nats subscribers do (the app's client decodes each frame in full).
#[derive(serde::Deserialize)]
struct Lean<'a> {
    t: &'a str,
    seq: Option<i64>,
    at: Option<chrono::DateTime<Utc>>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    #[serde(borrow)]
    message: Option<LeanMessage<'a>>,
    code: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct LeanMessage<'a> {
    #[serde(borrow)]
    body: std::borrow::Cow<'a, str>,
}

struct Agent {
    ws_url: String,
    key: String,
    count: usize,
    shared: Arc<Shared>,
}

impl Agent {
    /// Records every bench message (or typing frame) this agent receives. Told it is too slow
    /// (`lagged`), it reconnects and catches up from the log, as the app does.
    async fn listen(self, (mut ws, head): (Ws, i64), mut done: tokio::sync::broadcast::Receiver<()>) {
        let mut seen = vec![false; self.count];
        let mut typing_rounds = 0usize;
        let mut last_seq = head;
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                _ = done.recv() => return,
            };
            let text = match msg {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return,
            };
            let now = Utc::now();
            let Ok(frame) = serde_json::from_str::<Lean>(&text) else { continue };
            let (index, sent_at) = match (frame.t, frame.at) {
                ("event", Some(at)) => {
                    last_seq = frame.seq.unwrap_or(last_seq);
                    let bench = frame.message.as_ref().and_then(|m| m.body.strip_prefix("bench "));
                    match bench.and_then(|n| n.parse::<usize>().ok()) {
                        Some(n) if frame.kind == Some("message.created") => (n, at),
                        _ => continue,
                    }
                }
                // Typing frames come from the one typing agent, in order: the k-th is round k.
                ("presence", Some(at)) => {
                    typing_rounds += 1;
                    (typing_rounds - 1, at)
                }
                ("error", _) if frame.code == Some("lagged") => {
                    self.shared.reconnects.fetch_add(1, Relaxed);
                    match connect_agent(&self.ws_url, &self.key, last_seq).await {
                        Ok((again, _)) => ws = again,
                        Err(e) => {
                            eprintln!("reconnect failed: {e}");
                            return;
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            if index >= self.count {
                continue;
            }
            self.shared.frame_bytes.store(text.len(), Relaxed);
            let latency = (now - sent_at).to_std().unwrap_or_default();
            if std::mem::replace(&mut seen[index], true) {
                self.shared.duplicated.fetch_add(1, Relaxed);
            } else {
                self.shared.arrivals.lock().await[index].push(latency);
                self.shared.arrived.notify_one();
            }
        }
    }
}

async fn run_nats(agents: usize, rate: u32, count: usize, frame_bytes: usize) -> anyhow::Result<Outcome> {
    let free = || -> anyhow::Result<u16> { Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()) };
    let (port, ws_port) = (free()?, free()?);
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!("listen: 127.0.0.1:{port}\nwebsocket {{\n  listen: \"127.0.0.1:{ws_port}\"\n  no_tls: true\n}}\n"),
    )?;
    // Debian installs it in /usr/sbin, which is not on every user's PATH.
    let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server");
    let mut server = tokio::process::Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("nats-server (apt install nats-server): {e}"))?;
    let pid = server.id().unwrap_or(0);
    line_with(server.stderr.take().expect("piped"), "Server is ready", "nats-server").await?;

    let arrivals: Arc<Mutex<Vec<Vec<Duration>>>> = Arc::new(Mutex::new(vec![Vec::new(); count]));
    let duplicated = Arc::new(AtomicUsize::new(0));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (done_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut listeners = Vec::new();
    for _ in 0..agents {
        let config = Some(handoff_core::sync::ws_config());
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(format!("ws://127.0.0.1:{ws_port}"), config, true).await?;
        let proto = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB bench 1\r\nPING\r\n";
        ws.send(WsMessage::Binary(proto.as_bytes().to_vec().into())).await?;
        // INFO first, then PONG once the subscription is in place.
        let mut buf = Vec::new();
        while !String::from_utf8_lossy(&buf).contains("PONG\r\n") {
            match ws.next().await {
                Some(Ok(WsMessage::Binary(b))) => buf.extend_from_slice(&b),
                Some(Ok(WsMessage::Text(t))) => buf.extend_from_slice(t.as_bytes()),
                Some(Ok(_)) => {}
                other => anyhow::bail!("nats websocket closed while subscribing: {other:?}"),
            }
        }
        let (arrivals, duplicated, arrived) = (arrivals.clone(), duplicated.clone(), arrived.clone());
        let mut done = done_tx.subscribe();
        listeners.push(tokio::spawn(async move {
            let mut seen = vec![false; count];
            let mut buf: Vec<u8> = Vec::new();
            loop {
                let msg = tokio::select! {
                    m = ws.next() => m,
                    _ = done.recv() => return,
                };
                match msg {
                    Some(Ok(WsMessage::Binary(b))) => buf.extend_from_slice(&b),
                    Some(Ok(WsMessage::Text(t))) => buf.extend_from_slice(t.as_bytes()),
                    Some(Ok(_)) => continue,
                    _ => return,
                }
                let now = Utc::now();
                // Complete protocol lines: "MSG <subject> <sid> <len>\r\n<payload>\r\n", PING.
                while let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") {
                    let line = String::from_utf8_lossy(&buf[..eol]).to_string();
                    if line == "PING" {
                        let _ = ws.send(WsMessage::Binary(b"PONG\r\n".to_vec().into())).await;
                        buf.drain(..eol + 2);
                        continue;
                    }
                    let Some(len) = line.strip_prefix("MSG ").and_then(|r| r.rsplit(' ').next()?.parse::<usize>().ok())
                    else {
                        buf.drain(..eol + 2);
                        continue;
                    };
                    if buf.len() < eol + 2 + len + 2 {
                        break; // the payload is still on its way
                    }
                    let payload = String::from_utf8_lossy(&buf[eol + 2..eol + 2 + len]).to_string();
                    buf.drain(..eol + 2 + len + 2);
                    // Payload: "<n> <unix micros> <padding>".
                    let mut parts = payload.splitn(3, ' ');
                    let (Some(n), Some(us)) = (parts.next(), parts.next()) else { continue };
                    let (Ok(n), Ok(us)) = (n.parse::<usize>(), us.parse::<i64>()) else { continue };
                    if n >= count {
                        continue;
                    }
                    let latency = Duration::from_micros((now.timestamp_micros() - us).max(0) as u64);
                    if std::mem::replace(&mut seen[n], true) {
                        duplicated.fetch_add(1, Relaxed);
                    } else {
                        arrivals.lock().await[n].push(latency);
                        arrived.notify_one();
                    }
                }
            }
        }));
    }

    let (cpu_before, _) = usage(pid)?;
    let (mut publisher, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://127.0.0.1:{ws_port}"), None, true).await?;
    publisher.send(WsMessage::Binary(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n".to_vec().into())).await?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..count {
        tick.tick().await;
        let head = format!("{n} {} ", Utc::now().timestamp_micros());
        let payload = format!("{head}{}", "x".repeat(frame_bytes.saturating_sub(head.len()).max(1)));
        let frame = format!("PUB bench {}\r\n{payload}\r\n", payload.len());
        publisher.send(WsMessage::Binary(frame.into_bytes().into())).await?;
        // What the server says to the publisher (INFO, PINGs): answered, so it never stalls.
        while let Some(Some(Ok(WsMessage::Binary(b)))) = futures_util::FutureExt::now_or_never(publisher.next()) {
            if b.windows(4).any(|w| w == b"PING") {
                publisher.send(WsMessage::Binary(b"PONG\r\n".to_vec().into())).await?;
            }
        }
    }
    all_arrived(&arrivals, &arrived, agents).await;
    let (cpu_after, peak) = usage(pid)?;
    let _ = done_tx.send(());
    for l in listeners {
        let _ = l.await;
    }
    server.kill().await?;
    let per_message = std::mem::take(&mut *arrivals.lock().await);
    Ok(Outcome {
        receivers: agents,
        per_message,
        reconnects: 0,
        duplicated: duplicated.load(Relaxed),
        cpu_s: cpu_after - cpu_before,
        peak_rss_kb: peak,
        frame_bytes,
        messages_per_commit: None,
        stages: Vec::new(),
    })
}
