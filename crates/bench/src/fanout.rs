//! `handoff-bench fanout`: how fast a customer message (or a "typing") reaches every agent's
//! screen, compared in the same run with nats-server on the same machine, the same number of
//! WebSocket subscribers, the same rate and the same payload size.
//!
//! Handoff: the real server binary (`handoff-server serve`, next to this one) in its own process on
//! loopback; N agents, each a WebSocket client with its own API key speaking handoff-proto;
//! customer messages injected at a fixed rate through the device path (the simulator's inbound
//! endpoint), each committed to the event log before it is fanned out.
//!
//! nats-server: the Debian package, with a WebSocket listener on loopback; N WebSocket subscribers
//! speaking the NATS protocol; one publisher at the same rate with payloads of the same size.
//!
//! For both, a delivery's latency is the time from the bench's tick for that message (before the
//! request or the publish goes out) to its arrival at a subscriber, on one clock. The subscribers
//! stand in for 200 machines but share this one's cores with the server under test, so both kinds
//! do the same kind of small work per frame: find the message's number in the bytes (no decoding
//! of the whole frame; a Handoff frame, text, is also checked as UTF-8 by tungstenite, and scanned
//! for up to three keys), note the time in a list of their own (no lock shared by every
//! subscriber). The load (customer messages, or nats' publisher) runs on a thread of its own.
//! With `--typing`, the typing agents receive everyone's typing too but are not counted as
//! receivers: the server CPU per delivered frame is then somewhat pessimistic for Handoff.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use handoff_proto::{
    Activity, ClientFrame, CreateApiKeyRequest, CreatedApiKey, Role, ServerFrame, SimulatorInbound, PROTOCOL_VERSION,
};
use std::sync::atomic::Ordering::Relaxed;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header::AUTHORIZATION, HeaderValue};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::disk::DiskProbe;
use crate::figures;
use crate::servers::{customer_message, line_with, messages_per_commit, post, stages, usage, Backend, Line, Servers};
use crate::tally::{number_after, on_own_thread, Log, Tally};

pub const PASSWORD: &str = "bench-password-123";

/// What one run measured, for either system.
struct Outcome {
    /// Agents that should receive every message (the typing agents do not).
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
    /// From each customer message's tick to the answer to its request (Handoff's customer
    /// messages only: stored and committed by then).
    answered: Vec<Duration>,
    /// The disk probe's longest sync in each second of the load ([`DiskProbe`]).
    disk_sync_ms: Vec<f64>,
}

impl Outcome {
    /// The figures; `rate` (messages a second) splits the run into its seconds.
    fn json(&self, rate: u32) -> serde_json::Value {
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
            "request_answered": (!self.answered.is_empty()).then(|| figures(self.answered.clone())),
            "p99_ms_each_second": self.each_second(rate),
            "disk_sync_ms_each_second": self.disk_sync_ms,
        })
    }

    /// The p99 of the deliveries of the messages sent in each second of the run: a stall shows
    /// as one high second, a system that falls behind as a rising line.
    fn each_second(&self, rate: u32) -> Vec<f64> {
        self.per_message
            .chunks(rate.max(1) as usize)
            .map(|second| {
                let mut all: Vec<Duration> = second.iter().flatten().copied().collect();
                all.sort();
                (crate::quantile_ms(&all, 0.99) * 10.0).round() / 10.0
            })
            .collect()
    }
}

/// The typing variant: agents' presence frames, in turns, instead of customer messages.
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
    let n = nats.json(rate);
    let nats_p99 = n["per_delivery"]["p99_ms"].as_f64().unwrap_or(0.0);
    let ratio = |a: f64, b: f64| if b > 0.0 { (a / b * 100.0).round() / 100.0 } else { 0.0 };
    let mut backends = serde_json::Map::new();
    let mut one_node_p99 = None;
    for (backend, outcome) in &runs {
        let h = outcome.json(rate);
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
    let sqlite = runs[0].1.json(rate);
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
    let post_as_admin = |path: String, body: serde_json::Value| post(&http, &admin, path, body);
    // A conversation for the typing agents to type in.
    let first: handoff_proto::Message = post_as_admin(
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
        let created: CreatedApiKey = post_as_admin(format!("{url}/api/v1/api-keys"), body).await?.json().await?;
        keys.push((created.key, created.api_key.user_id.to_string()));
    }

    // Connect everyone, each caught up to the head, then listen; on several nodes the agents
    // take turns among them.
    let ws_urls: Vec<String> =
        servers.urls.iter().map(|u| format!("{}/api/v1/ws", u.replacen("http://", "ws://", 1))).collect();
    // The server folds a connection's presence frames beyond `PRESENCE_PER_SEC` into the latest:
    // typing at a higher rate takes turns among enough typing agents for each to send one frame a
    // second fewer than that (the tick may bunch frames together), each of which sends and does
    // not listen. They are connected by the load's thread.
    let typers = match load {
        Load::Typing => (rate as f64 / (handoff_server::http::ws::PRESENCE_PER_SEC - 1.0)).ceil() as usize,
        Load::Messages => 0,
    };
    anyhow::ensure!(typers < agents, "typing at {rate}/s takes {typers} typing agents: more agents are needed");
    let tally = Arc::new(Tally::new(count, agents - typers));
    let (done_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut listeners = Vec::new();
    let (typing_keys, listening_keys) = keys.split_at(typers);
    let typer_ids: Vec<String> = typing_keys.iter().map(|(_, user)| user.clone()).collect();
    let node_of = |i: usize| ws_urls[i % ws_urls.len()].clone();
    for (i, (key, _)) in listening_keys.iter().enumerate() {
        let ws_url = node_of(typers + i);
        let (ws, head, _) = connect_agent(&ws_url, key, i64::MAX).await?;
        let agent = Agent { ws_url, key: key.clone(), tally: tally.clone(), typers: typer_ids.clone() };
        listeners.push(tokio::spawn(agent.listen((ws, head), done_tx.subscribe())));
    }
    let typing_keys: Vec<(String, String)> =
        typing_keys.iter().enumerate().map(|(i, (key, _))| (node_of(i), key.clone())).collect();
    let receivers = listeners.len();
    let (cpu_before, _) = servers.usage()?;

    // The load, at a fixed rate, from a thread of its own (`on_own_thread`). Each customer
    // message is sent on its own task, so a slow answer does not slow the rate, but at most 64
    // at once (beyond that the server is not keeping up, and the injection time printed at the
    // end says so).
    let started = Instant::now();
    let disk = DiskProbe::start()?;
    let (load_tally, conversation_id) = (tally.clone(), first.conversation_id);
    let (inbound, admin) = (format!("{url}/api/v1/devices/{}/simulator/inbound", device.id), admin.clone());
    let answered = on_own_thread(move || async move {
        let mut typing = Vec::with_capacity(typing_keys.len());
        for (ws_url, key) in &typing_keys {
            typing.push(connect_agent(ws_url, key, i64::MAX).await?.0);
        }
        let http = reqwest::Client::new();
        let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut sends = Vec::with_capacity(count);
        for n in 0..count {
            tick.tick().await;
            load_tally.sent(n);
            let ticked = Instant::now();
            match load {
                Load::Messages => {
                    let body = serde_json::to_value(customer_message(n))?;
                    let req = post(&http, &admin, inbound.clone(), body);
                    let permit = in_flight.clone().acquire_owned().await?;
                    sends.push(tokio::spawn(async move {
                        let sent = req.await;
                        drop(permit);
                        sent.map(|_| ticked.elapsed())
                    }));
                }
                Load::Typing => {
                    // Round n is typing agent n % typers's (n / typers)-th frame.
                    let ws = &mut typing[n % typers];
                    let activity =
                        if (n / typers) % 2 == 0 { Activity::ComposingReply } else { Activity::ComposingNote };
                    let frame = ClientFrame::Presence { conversation_id: Some(conversation_id), activity };
                    ws.send(WsMessage::Text(serde_json::to_string(&frame)?.into())).await?;
                    // What the server sends a typing agent (everyone's typing, its own too) is
                    // read and dropped, so that its socket never fills.
                    while let Some(Some(Ok(_))) = futures_util::FutureExt::now_or_never(ws.next()) {}
                }
            }
        }
        let mut answered = Vec::with_capacity(sends.len());
        for s in sends {
            answered.push(s.await??);
        }
        anyhow::Ok(answered)
    })
    .await?;
    let injected = started.elapsed();

    tally.all_in().await;
    let disk_sync_ms = disk.stop()?;
    let (cpu_after, peak) = servers.usage()?;
    let messages_per_commit = messages_per_commit(&http, &url).await?;
    let mut per_node = Vec::new();
    for node in &servers.urls {
        per_node.push(stages(&http, node).await?);
    }
    let _ = done_tx.send(());
    let mut logs = Vec::with_capacity(listeners.len());
    for l in listeners {
        logs.push(l.await?);
    }
    servers.stop().await?;
    eprintln!("handoff ({}): {count} injected in {:.2} s", backend.name, injected.as_secs_f64());
    Ok(Outcome {
        receivers,
        per_message: tally.per_message(logs),
        duplicated: tally.duplicated.load(Relaxed),
        reconnects: tally.reconnects.load(Relaxed),
        cpu_s: cpu_after - cpu_before,
        peak_rss_kb: peak,
        frame_bytes: tally.frame_bytes.load(Relaxed),
        messages_per_commit,
        stages: per_node,
        answered,
        disk_sync_ms,
    })
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An agent's connection, past the welcome and the roster, replaying from `last_seq`; with the
/// server's head at that moment and the agent's user id.
async fn connect_agent(ws_url: &str, key: &str, last_seq: i64) -> anyhow::Result<(Ws, i64, String)> {
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
            if let Ok(ServerFrame::Welcome { head_seq, user, .. }) = serde_json::from_str(&text) {
                head = Some((head_seq, user.id.to_string()));
            }
        }
    }
    let (head, user) = head.ok_or_else(|| anyhow::anyhow!("no welcome"))?;
    Ok((ws, head, user))
}

struct Agent {
    ws_url: String,
    key: String,
    tally: Arc<Tally>,
    /// The typing agents' user ids, in turn order (typing load only).
    typers: Vec<String>,
}

impl Agent {
    /// Records every bench message (or typing frame) this agent receives, until told to stop;
    /// returns what it recorded. Told it is too slow (`lagged`), it reconnects and catches up from
    /// the log, as the app does. The app's client decodes each frame in full; this one reads the
    /// few fields it needs straight from the bytes (see the module's documentation).
    async fn listen(self, (mut ws, head): (Ws, i64), mut done: tokio::sync::broadcast::Receiver<()>) -> Log {
        let count = self.tally.sent_us.len();
        let mut seen = vec![false; count];
        let mut log = Log::with_capacity(count);
        // Typing frames heard from each typing agent so far.
        let mut typed = vec![0usize; self.typers.len()];
        let mut last_seq = head;
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                _ = done.recv() => return log,
            };
            let text = match msg {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return log,
            };
            let bytes = text.as_bytes();
            let index = if bytes.starts_with(br#"{"t":"event","#) {
                last_seq = number_after(bytes, br#""seq":"#).unwrap_or(last_seq);
                if memchr::memmem::find(bytes, br#""type":"message.created""#).is_none() {
                    continue;
                }
                match number_after(bytes, br#""body":"bench "#) {
                    Some(n) => n as usize,
                    None => continue,
                }
            } else if bytes.starts_with(br#"{"t":"presence","#) {
                // Each typing agent's frames come in order: its k-th is round k * typers + its turn.
                let key = br#""user_id":""#;
                let Some(at) = memchr::memmem::find(bytes, key).map(|i| i + key.len()) else { continue };
                let Some(turn) = self.typers.iter().position(|id| bytes[at..].starts_with(id.as_bytes())) else {
                    continue;
                };
                typed[turn] += 1;
                (typed[turn] - 1) * self.typers.len() + turn
            } else if bytes.starts_with(br#"{"t":"error","#) && memchr::memmem::find(bytes, br#""lagged""#).is_some() {
                self.tally.reconnects.fetch_add(1, Relaxed);
                match connect_agent(&self.ws_url, &self.key, last_seq).await {
                    Ok((again, ..)) => ws = again,
                    Err(e) => {
                        eprintln!("reconnect failed: {e}");
                        return log;
                    }
                }
                continue;
            } else {
                continue;
            };
            self.tally.frame_bytes.store(bytes.len(), Relaxed);
            self.tally.arrived(index, &mut seen, &mut log);
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

    let tally = Arc::new(Tally::new(count, agents));
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
        let tally = tally.clone();
        let mut done = done_tx.subscribe();
        listeners.push(tokio::spawn(async move {
            let mut seen = vec![false; count];
            let mut log = Log::with_capacity(count);
            let mut buf: Vec<u8> = Vec::new();
            loop {
                let msg = tokio::select! {
                    m = ws.next() => m,
                    _ = done.recv() => return log,
                };
                match msg {
                    Some(Ok(WsMessage::Binary(b))) => buf.extend_from_slice(&b),
                    Some(Ok(WsMessage::Text(t))) => buf.extend_from_slice(t.as_bytes()),
                    Some(Ok(_)) => continue,
                    _ => return log,
                }
                // Complete protocol lines: "MSG <subject> <sid> <len>\r\n<payload>\r\n", PING.
                let mut used = 0;
                while let Some(eol) = memchr::memmem::find(&buf[used..], b"\r\n") {
                    let line = &buf[used..used + eol];
                    if line == b"PING" {
                        let _ = ws.send(WsMessage::Binary(b"PONG\r\n".to_vec().into())).await;
                        used += eol + 2;
                        continue;
                    }
                    let len = line
                        .strip_prefix(b"MSG ")
                        .and_then(|rest| rest.rsplit(|b| *b == b' ').next())
                        .and_then(|len| std::str::from_utf8(len).ok()?.parse::<usize>().ok());
                    let Some(len) = len else {
                        used += eol + 2;
                        continue;
                    };
                    if buf.len() < used + eol + 2 + len + 2 {
                        break; // the payload is still on its way
                    }
                    // Payload: "<n> <padding>".
                    let payload = &buf[used + eol + 2..used + eol + 2 + len];
                    used += eol + 2 + len + 2;
                    if let Some(n) = number_after(payload, b"") {
                        tally.arrived(n as usize, &mut seen, &mut log);
                    }
                }
                buf.drain(..used);
            }
        }));
    }

    let (cpu_before, _) = usage(pid)?;
    let disk = DiskProbe::start()?;
    // The publisher, from a thread of its own, as Handoff's load (`on_own_thread`).
    let load_tally = tally.clone();
    on_own_thread(move || async move {
        let (mut publisher, _) =
            tokio_tungstenite::connect_async_with_config(format!("ws://127.0.0.1:{ws_port}"), None, true).await?;
        let connect = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
        publisher.send(WsMessage::Binary(connect.to_vec().into())).await?;
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for n in 0..count {
            tick.tick().await;
            load_tally.sent(n);
            let head = format!("{n} ");
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
        anyhow::Ok(())
    })
    .await?;
    tally.all_in().await;
    let disk_sync_ms = disk.stop()?;
    let (cpu_after, peak) = usage(pid)?;
    let _ = done_tx.send(());
    let mut logs = Vec::with_capacity(listeners.len());
    for l in listeners {
        logs.push(l.await?);
    }
    server.kill().await?;
    Ok(Outcome {
        receivers: agents,
        per_message: tally.per_message(logs),
        reconnects: 0,
        duplicated: tally.duplicated.load(Relaxed),
        cpu_s: cpu_after - cpu_before,
        peak_rss_kb: peak,
        frame_bytes,
        messages_per_commit: None,
        stages: Vec::new(),
        answered: Vec::new(),
        disk_sync_ms,
    })
}
