//! Several `handoff-server` nodes on one PostgreSQL database, each in a process of its own (so
//! that one can be killed with SIGKILL), behind a real load balancer: Debian's Caddy, set up as
//! docs/deploy.md sets it up, with one entrance per node that prefers that node and falls back
//! to the next ones (`lb_policy first`). A client that comes in through node A's entrance is on
//! node A while it lives, and on the next node once it is gone, as behind any load balancer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use crate::{ServerProcess, DEADLINE};

pub struct Nodes {
    /// The shared database's URL.
    pub database: String,
    nodes: Vec<Option<ServerProcess>>,
    /// One entrance port per node.
    entrances: Vec<u16>,
    _balancer: Child,
}

impl Nodes {
    /// `n` nodes of the `test-server` at `bin`, in folders under `dir`, on a new database on the
    /// PostgreSQL server `base` names; a user with no connection stays online `grace_ms`.
    pub async fn start(bin: &str, dir: &Path, base: &str, n: usize, grace_ms: u64) -> Nodes {
        let handoff_server::Database::Postgres(database) = handoff_server::store::test_database(base, dir) else {
            unreachable!("a PostgreSQL URL")
        };
        let grace = grace_ms.to_string();
        let mut nodes = Vec::new();
        // One after another: the first makes the schema and the Admin.
        for i in 0..n {
            let folder = dir.join(format!("node-{i}"));
            let options = ["--database", database.as_str(), "--offline-grace-ms", grace.as_str()];
            nodes.push(Some(ServerProcess::spawn_with(bin, &folder, &options).await));
        }
        let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.as_ref().expect("started").addr).collect();
        let (balancer, entrances) = balancer(&dir.join("balancer"), &addrs).await;
        Nodes { database, nodes, entrances, _balancer: balancer }
    }

    /// Node `i`'s own address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].as_ref().expect("running").addr
    }

    /// The load balancer's entrance that prefers node `i` (then the next ones).
    pub fn via(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.entrances[i])
    }

    /// Kills node `i` with SIGKILL: no goodbye, no lease given up, as in a crash.
    pub async fn kill(&mut self, i: usize) {
        let mut node = self.nodes[i].take().expect("running");
        node.child.start_kill().expect("kill");
        node.child.wait().await.expect("reaped");
    }
}

/// Caddy with one entrance per node: entrance `i` sends everything to node `i` while it answers,
/// else to the next node in turn.
async fn balancer(dir: &Path, nodes: &[SocketAddr]) -> (Child, Vec<u16>) {
    std::fs::create_dir_all(dir).expect("balancer dir");
    let mut entrances = Vec::new();
    let mut sites = String::new();
    for i in 0..nodes.len() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        entrances.push(port);
        let order: Vec<String> = (0..nodes.len()).map(|k| nodes[(i + k) % nodes.len()].to_string()).collect();
        sites.push_str(&format!(
            "http://127.0.0.1:{port} {{\n  reverse_proxy {} {{\n    lb_policy first\n    lb_try_duration 10s\n    \
             lb_try_interval 100ms\n    fail_duration 60s\n  }}\n}}\n",
            order.join(" ")
        ));
    }
    let caddyfile = format!("{{\n  admin off\n  auto_https off\n}}\n{sites}");
    std::fs::write(dir.join("Caddyfile"), caddyfile).expect("Caddyfile");
    let data: PathBuf = dir.join("data");
    let mut child = Command::new("caddy")
        .args(["run", "--config", "Caddyfile", "--adapter", "caddyfile"])
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("caddy runs (apt-get install caddy; tests/run-all.sh installs it)");
    // Caddy logs "serving initial configuration" once its listeners are open.
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("piped")).lines();
    let ready = tokio::time::timeout(DEADLINE, async {
        let mut seen = Vec::new();
        while let Some(line) = lines.next_line().await.expect("caddy's log") {
            if line.contains("serving initial configuration") {
                return Ok(lines);
            }
            seen.push(line);
        }
        Err(seen.join("\n"))
    })
    .await
    .expect("caddy starts in time");
    let mut lines = ready.unwrap_or_else(|log| panic!("caddy exited before serving:\n{log}"));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, entrances)
}
