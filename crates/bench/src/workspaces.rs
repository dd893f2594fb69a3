//! `workspaces`: the client side of several workspaces at once. An agency agent's app runs one
//! core per workspace (its own cache file, outbox and sync loop) in one process on one runtime;
//! this measures that process while idle with one core and with N (resident memory, CPU time),
//! then the first sync of one more workspace while the N stay live: how long it takes, and the
//! live cores' delivery latency meanwhile against before. The server runs in a process of its
//! own, so the figures are the cores' alone.

use std::path::Path;
use std::time::{Duration, Instant};

use handoff_core::{Client, ConnectionState, InboxView};
use handoff_proto::{Message, WorkspaceId};
use serde_json::{json, Value};

use crate::figures;

const PASSWORD: &str = "bench password 1";
const AGENT: &str = "agent@bench.local";

/// This process's resident memory (MiB) and CPU time so far (user + system, from Linux's /proc).
fn usage() -> anyhow::Result<(f64, Duration)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // The kernel reports in USER_HZ, which is 100 on Linux.
    let cpu = Duration::from_millis((ticks(11) + ticks(12)) * 10);
    Ok(((kb / 1024.0 * 10.0).round() / 10.0, cpu))
}

/// One workspace of the bench: its id, the owner's token in it, its simulated number.
struct Place {
    id: WorkspaceId,
    token: String,
    device: String,
}

struct Server {
    url: String,
    http: reqwest::Client,
}

impl Server {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn sign_in(&self, email: &str, workspace: Option<WorkspaceId>) -> anyhow::Result<(String, WorkspaceId)> {
        let body = json!({"email": email, "password": PASSWORD, "workspace_id": workspace});
        let answer = self.call(reqwest::Method::POST, "/api/v1/auth/login", None, body).await?;
        let id = answer["workspace"]["id"].as_str().unwrap_or_default().parse()?;
        Ok((answer["token"].as_str().unwrap_or_default().to_string(), id))
    }

    /// A workspace with a linked number, the agent in it, and `conversations` customers who wrote.
    async fn place(&self, n: usize, owner: &str, conversations: usize) -> anyhow::Result<Place> {
        use reqwest::Method;
        let (token, id) = if n == 0 {
            self.sign_in("admin@bench.local", None).await?
        } else {
            let created = self
                .call(Method::POST, "/api/v1/workspaces", Some(owner), json!({"name": format!("Client {n}")}))
                .await?;
            self.sign_in("admin@bench.local", Some(created["id"].as_str().unwrap_or_default().parse()?)).await?
        };
        if n == 0 {
            let agent = json!({"email": AGENT, "name": "Agent", "password": PASSWORD, "role": "agent"});
            self.call(Method::POST, "/api/v1/users", Some(&token), agent).await?;
        } else {
            let member = json!({"email": AGENT, "role": "agent"});
            self.call(Method::POST, &format!("/api/v1/workspaces/{id}/members"), Some(&token), member).await?;
        }
        let device = self
            .call(Method::POST, "/api/v1/devices", Some(&token), json!({"name": "Line", "kind": "simulator"}))
            .await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.call(Method::POST, &format!("/api/v1/devices/{device}/simulator/link"), Some(&token), json!({})).await?;
        let place = Place { id, token, device };
        for k in 0..conversations {
            self.inbound(&place, &format!("+4917{n:03}{k:06}"), &format!("Hello from customer {k}")).await?;
        }
        Ok(place)
    }

    async fn inbound(&self, place: &Place, from: &str, body: &str) -> anyhow::Result<Message> {
        let path = format!("/api/v1/devices/{}/simulator/inbound", place.device);
        let sent =
            self.call(reqwest::Method::POST, &path, Some(&place.token), json!({"from": from, "body": body})).await?;
        Ok(serde_json::from_value(sent)?)
    }

    async fn head(&self, place: &Place) -> anyhow::Result<i64> {
        let sync =
            self.call(reqwest::Method::GET, "/api/v1/sync?since=0&limit=1", Some(&place.token), Value::Null).await?;
        Ok(sync["head_seq"].as_i64().unwrap_or(0))
    }
}

/// Waits (on the core's change events) until `done` holds, at most 60 s.
async fn until(client: &Client, done: impl AsyncFn(&Client) -> bool) -> anyhow::Result<()> {
    let mut changes = client.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(client).await {
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(_) => {}
            Err(_) => anyhow::bail!("a core did not get there within 60 s"),
        }
    }
    Ok(())
}

/// The agent's core for `place`, caught up to the workspace's head.
async fn core(server: &Server, dir: &Path, place: &Place) -> anyhow::Result<Client> {
    let client = Client::open(&dir.join(format!("cache-{}.db", place.id))).await?;
    client.sign_in_to(&server.url, AGENT, PASSWORD, Some(place.id)).await?;
    let head = server.head(place).await?;
    until(&client, async |c| c.connection() == ConnectionState::Online && c.last_seq().await.unwrap_or(0) >= head)
        .await?;
    Ok(client)
}

/// Idle for `secs`: this process's CPU use over it (percent of one core) and its memory after.
async fn idle(secs: u64) -> anyhow::Result<(f64, f64)> {
    let (_, before) = usage()?;
    tokio::time::sleep(Duration::from_secs(secs)).await; // the measured idle time itself
    let (rss, after) = usage()?;
    Ok((((after - before).as_secs_f64() / secs as f64 * 1000.0).round() / 10.0, rss))
}

/// A customer writes in each live workspace in turn; the time until that workspace's core holds
/// the message. Runs until `stop` says so (and at least `min` messages).
async fn live_traffic(
    server: &Server,
    live: &[(Place, Client)],
    min: usize,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<Duration>> {
    let mut took = Vec::new();
    let mut i = 0;
    while took.len() < min || !*stop.borrow() {
        let (place, client) = &live[i % live.len()];
        let started = Instant::now();
        let message = server.inbound(place, "+4915900000001", &format!("live {i}")).await?;
        until(client, async |c| {
            c.thread(message.conversation_id)
                .await
                .ok()
                .flatten()
                .is_some_and(|t| t.messages.iter().any(|m| m.message.id == message.id))
        })
        .await?;
        took.push(started.elapsed());
        i += 1;
    }
    Ok(took)
}

pub async fn workspaces(
    server_bin: &Path,
    count: usize,
    conversations: usize,
    idle_secs: u64,
    first_sync: usize,
) -> anyhow::Result<Value> {
    anyhow::ensure!(count >= 1, "at least one workspace");
    let dir = tempfile::tempdir()?;
    let env = [("HANDOFF_ADMIN_EMAIL", "admin@bench.local"), ("HANDOFF_ADMIN_PASSWORD", PASSWORD)];
    let (_child, url) = crate::process::start(server_bin, &dir.path().join("server"), &env).await?;
    let server = Server { url, http: reqwest::Client::new() };
    let (owner, _) = server.sign_in("admin@bench.local", None).await?;
    let mut places = Vec::new();
    for n in 0..count {
        places.push(server.place(n, &owner, conversations).await?);
    }
    // The workspace whose first sync is measured: `first_sync` customers wrote there.
    let newcomer = server.place(count, &owner, first_sync).await?;

    let (rss_none, _) = usage()?;
    let mut live = Vec::new();
    let first = places.remove(0);
    let client = core(&server, dir.path(), &first).await?;
    live.push((first, client));
    let (cpu_one, rss_one) = idle(idle_secs).await?;
    for place in places {
        let client = core(&server, dir.path(), &place).await?;
        live.push((place, client));
    }
    let (cpu_all, rss_all) = idle(idle_secs).await?;
    for (_, client) in &live {
        anyhow::ensure!(
            client.inbox(InboxView::All, 10).await?.len() == conversations.min(10),
            "a core is not caught up"
        );
    }

    // Live delivery alone, then while the newcomer's first sync runs.
    let (_never, not_yet) = tokio::sync::watch::channel(true);
    let alone = live_traffic(&server, &live, 60, &not_yet).await?;
    let (done, stop) = tokio::sync::watch::channel(false);
    let traffic = live_traffic(&server, &live, 1, &stop);
    let syncing = async {
        let started = Instant::now();
        let client = core(&server, dir.path(), &newcomer).await?;
        let took = started.elapsed();
        let _ = done.send(true);
        anyhow::Ok((client, took))
    };
    let (during, synced) = tokio::join!(traffic, syncing);
    let (newcomer_client, first_sync_took) = synced?;
    let during = during?;
    let events = server.head(&newcomer).await?;

    newcomer_client.stop().await;
    for (_, client) in &live {
        client.stop().await;
    }
    Ok(json!({
        "bench": "workspaces",
        "workspaces": count,
        "conversations_each": conversations,
        "idle_secs": idle_secs,
        "rss_mib": {"before_any_core": rss_none, "one_core": rss_one, "all_cores": rss_all},
        "rss_mib_per_extra_core": if count > 1 { ((rss_all - rss_one) / (count - 1) as f64 * 10.0).round() / 10.0 } else { 0.0 },
        "idle_cpu_percent": {"one_core": cpu_one, "all_cores": cpu_all},
        "first_sync": {
            "events": events,
            "customers": first_sync,
            "seconds": (first_sync_took.as_secs_f64() * 100.0).round() / 100.0,
            "events_per_second": (events as f64 / first_sync_took.as_secs_f64()).round(),
        },
        "live_delivery_alone": figures(alone),
        "live_deliveries_during_first_sync": during.len(),
        "live_delivery_during_first_sync": figures(during),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    }))
}
