//! A real TLS-terminating reverse proxy in front of the server: Caddy (Debian's `caddy`), as a
//! deployment puts it, with a test certificate made by `openssl` for `localhost` and 127.0.0.1.
//! Clients are told to trust that certificate ([`TlsProxy::cert_pem`]); nothing touches the
//! system's trust store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use crate::DEADLINE;

pub struct TlsProxy {
    dir: PathBuf,
    /// The port Caddy listens on (kept across restarts, as a real proxy's is).
    pub port: u16,
    child: Option<Child>,
}

impl TlsProxy {
    /// Makes a certificate in `dir` and starts Caddy on a free port, proxying to `upstream`.
    pub async fn start(dir: &Path, upstream: SocketAddr) -> TlsProxy {
        std::fs::create_dir_all(dir).expect("proxy dir");
        let status = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs (apt-get install openssl; tests/run-all.sh installs it)");
        assert!(status.success(), "openssl made no certificate");
        // A free port: Caddy is given a fixed one, and keeps it across a restart.
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let caddyfile = format!(
            "{{\n  auto_https disable_redirects\n  admin off\n}}\n\
             https://localhost:{port}, https://127.0.0.1:{port} {{\n  tls cert.pem key.pem\n  \
             reverse_proxy {upstream}\n}}\n"
        );
        std::fs::write(dir.join("Caddyfile"), caddyfile).expect("Caddyfile");
        let mut proxy = TlsProxy { dir: dir.to_path_buf(), port, child: None };
        proxy.start_again().await;
        proxy
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The certificate clients must trust (PEM).
    pub fn cert_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("cert.pem")).expect("cert.pem")
    }

    /// Kills Caddy (every connection through it drops, as in a proxy restart or crash).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("kill caddy");
            child.wait().await.expect("caddy reaped");
        }
    }

    /// Starts Caddy (again) on the same port; returns once it serves its configuration.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        let mut child = Command::new("caddy")
            .args(["run", "--config", "Caddyfile", "--adapter", "caddyfile"])
            .current_dir(&self.dir)
            // Caddy keeps its state under HOME (and XDG folders): the test's own folder.
            .env("HOME", &self.dir)
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
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
        let lines = ready.unwrap_or_else(|log| panic!("caddy exited before serving:\n{log}"));
        // Keep reading its log, so that Caddy never blocks on a full pipe.
        tokio::spawn(async move {
            let mut lines = lines;
            while let Ok(Some(_)) = lines.next_line().await {}
        });
        self.child = Some(child);
    }
}
