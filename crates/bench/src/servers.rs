//! The Handoff side of the server benchmarks (`fanout`, `ingest`): server processes on SQLite or
//! on PostgreSQL (one or several nodes), an Admin with a linked simulated number on each, the
//! customer messages they are given, and what their `/metrics` say about where a message waited.

use std::process::Stdio;
use std::time::Duration;

use handoff_proto::{Device, LoginResponse, SimulatorInbound};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::fanout::PASSWORD;

/// CPU seconds (user + system, all threads) and peak resident memory of a process, from /proc.
pub fn usage(pid: u32) -> anyhow::Result<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    // /proc reports in USER_HZ, which is 100 on Linux.
    Ok((ticks / 100.0, hwm))
}

/// The first line of a child's output that contains `needle`. The rest of its output is read
/// on (a closed pipe would fail the child's logging) and its warnings are passed on to stderr.
pub async fn line_with(
    reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    needle: &str,
    who: &'static str,
) -> anyhow::Result<String> {
    let mut lines = BufReader::new(reader).lines();
    let wait = async {
        while let Some(line) = lines.next_line().await? {
            if line.contains(needle) {
                return Ok(line);
            }
        }
        anyhow::bail!("{who} ended before saying {needle:?}")
    };
    let found = tokio::time::timeout(Duration::from_secs(30), wait).await??;
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("WARN") || line.contains("ERROR") || line.contains("[ERR]") {
                eprintln!("{who}: {line}");
            }
        }
    });
    Ok(found)
}

/// Where the Handoff side runs: the embedded SQLite, or `nodes` nodes on one PostgreSQL database
/// (a new database on the server `url` names, for this run alone).
#[derive(Clone)]
pub struct Backend {
    pub name: &'static str,
    pub postgres: Option<String>,
    pub nodes: usize,
}

impl Backend {
    /// One SQLite node; with a PostgreSQL server, also one and two PostgreSQL nodes.
    pub fn all(postgres: Option<&str>) -> Vec<Backend> {
        let mut all = vec![Backend { name: "sqlite", postgres: None, nodes: 1 }];
        if let Some(url) = postgres {
            all.push(Backend { name: "postgres", postgres: Some(url.to_string()), nodes: 1 });
            all.push(Backend { name: "postgres_2_nodes", postgres: Some(url.to_string()), nodes: 2 });
        }
        all
    }
}

/// A server's Admin session and a linked simulator number on it.
pub struct Line {
    pub http: reqwest::Client,
    pub admin: String,
    pub device: Device,
}

impl Line {
    pub async fn link(url: &str) -> anyhow::Result<Line> {
        let http = reqwest::Client::new();
        let login: LoginResponse = http
            .post(format!("{url}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "admin@bench.local", "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let admin = login.token;
        let body = serde_json::json!({"name": "Bench line", "kind": "simulator"});
        let device: Device = post(&http, &admin, format!("{url}/api/v1/devices"), body).await?.json().await?;
        let link = format!("{url}/api/v1/devices/{}/simulator/link", device.id);
        post(&http, &admin, link, serde_json::json!({})).await?;
        Ok(Line { http, admin, device })
    }
}

/// An Admin's POST that must succeed.
pub fn post(
    http: &reqwest::Client,
    admin: &str,
    path: String,
    body: serde_json::Value,
) -> impl std::future::Future<Output = anyhow::Result<reqwest::Response>> + Send + 'static {
    let (http, admin) = (http.clone(), admin.to_string());
    async move { Ok(http.post(path).bearer_auth(admin).json(&body).send().await?.error_for_status()?) }
}

/// Customer messages stored per transaction on the server at `url` so far (group commit), from
/// its `/metrics`.
pub async fn messages_per_commit(http: &reqwest::Client, url: &str) -> anyhow::Result<Option<f64>> {
    let metrics = http.get(format!("{url}/metrics")).send().await?.error_for_status()?.text().await?;
    let counter = |name: &str| {
        let line = metrics.lines().find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '));
        line.and_then(|l| l[name.len()..].trim().parse::<f64>().ok()).unwrap_or(0.0)
    };
    let commits = counter("handoff_message_commits_total");
    Ok((commits > 0.0).then(|| counter("handoff_inbound_messages_total") / commits))
}

/// Where customer messages spent their time on the server at `url`, from its histograms: for
/// each stage the mean, and the bucket bounds the median, the 99th and 99.9th percentiles and the
/// longest fall in.
pub async fn stages(http: &reqwest::Client, url: &str) -> anyhow::Result<serde_json::Value> {
    let metrics = http.get(format!("{url}/metrics")).send().await?.error_for_status()?.text().await?;
    let mut out = serde_json::Map::new();
    for stage in ["auth", "ingest_wait", "ingest_write", "ingest_commit", "fanout_wait"] {
        let name = format!("handoff_{stage}_seconds");
        let value = |suffix: &str| {
            metrics.lines().find_map(|l| l.strip_prefix(&format!("{name}{suffix} "))?.trim().parse::<f64>().ok())
        };
        let (Some(sum), Some(count)) = (value("_sum"), value("_count")) else { continue };
        let buckets: Vec<(f64, f64)> = metrics
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(&format!("{name}_bucket{{le=\""))?;
                let (le, n) = rest.split_once("\"} ")?;
                Some((le.parse::<f64>().unwrap_or(f64::INFINITY), n.trim().parse::<f64>().ok()?))
            })
            .collect();
        let at = |q: f64| buckets.iter().find(|(_, n)| *n >= q * count).map(|(le, _)| le * 1000.0);
        let ms = |v: Option<f64>| v.filter(|v| v.is_finite()).map(|v| (v * 1000.0).round() / 1000.0);
        out.insert(
            stage.to_string(),
            serde_json::json!({
                "count": count,
                "mean_ms": if count > 0.0 { ms(Some(sum / count * 1000.0)) } else { None },
                "p50_under_ms": ms(at(0.5)),
                "p99_under_ms": ms(at(0.99)),
                "p999_under_ms": ms(at(0.999)),
                "max_under_ms": ms(at(1.0)),
            }),
        );
    }
    Ok(serde_json::Value::Object(out))
}

/// A customer message `n` of a run, from one of 50 customers.
pub fn customer_message(n: usize) -> SimulatorInbound {
    SimulatorInbound {
        from: format!("+49151{:08}", n % 50),
        name: None,
        body: format!("bench {n}"),
        wa_message_id: Some(format!("bench-{n}")),
        media: None,
        media_content: None,
        alt: None,
        group: None,
    }
}

/// The Handoff nodes of one run: server processes on one database, each printing where it
/// listens; their CPU and memory are read from /proc.
pub struct Servers {
    children: Vec<tokio::process::Child>,
    pub urls: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Servers {
    pub async fn start(backend: &Backend) -> anyhow::Result<Servers> {
        let bin = std::env::current_exe()?.with_file_name("handoff-server");
        anyhow::ensure!(bin.exists(), "{} is missing: cargo build -p handoff-server (same profile)", bin.display());
        let dir = tempfile::tempdir()?;
        // A new database for this run: the first node makes its schema, the others join it.
        let database = match &backend.postgres {
            Some(base) => match handoff_server::store::test_database(base, dir.path()) {
                handoff_server::Database::Postgres(url) => Some(url),
                handoff_server::Database::Sqlite(_) => None,
            },
            None => None,
        };
        let (mut children, mut urls) = (Vec::new(), Vec::new());
        for i in 0..backend.nodes {
            let mut command = tokio::process::Command::new(&bin);
            command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(dir.path().join(format!("node-{i}")));
            if let Some(url) = &database {
                command.args(["--database", url]);
            }
            let mut server = command
                .env("HANDOFF_ADMIN_EMAIL", "admin@bench.local")
                .env("HANDOFF_ADMIN_PASSWORD", PASSWORD)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let line = line_with(server.stdout.take().expect("piped"), "listening on", "handoff-server").await?;
            urls.push(line.rsplit(' ').next().unwrap_or_default().to_string());
            children.push(server);
        }
        Ok(Servers { children, urls, _dir: dir })
    }

    /// CPU seconds of every node together, and the largest node's peak memory.
    pub fn usage(&self) -> anyhow::Result<(f64, u64)> {
        let mut total = (0.0, 0);
        for child in &self.children {
            let (cpu, rss) = usage(child.id().unwrap_or(0))?;
            total = (total.0 + cpu, total.1.max(rss));
        }
        Ok(total)
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        for child in &mut self.children {
            child.kill().await?;
        }
        Ok(())
    }
}
