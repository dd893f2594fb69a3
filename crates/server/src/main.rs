//! `handoff-server serve`: the coordination server binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "handoff-server", version, about = "Handoff coordination server: a shared WhatsApp inbox for teams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Where the database lives (default: the OS data folder, e.g. ~/.local/share/handoff).
        #[arg(long, env = "HANDOFF_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, env = "HANDOFF_LISTEN", default_value = "127.0.0.1:8750")]
        listen: SocketAddr,
        /// Seed demo users, a simulated WhatsApp number and a trickle of customer messages.
        #[arg(long)]
        demo: bool,
        /// With --admin-password: the first Admin, created on an empty database.
        #[arg(long, env = "HANDOFF_ADMIN_EMAIL")]
        admin_email: Option<String>,
        #[arg(long, env = "HANDOFF_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
        /// full: an acknowledged change survives power loss; normal: it survives a crash of the
        /// server, faster commits (see docs/durability.md).
        #[arg(long, env = "HANDOFF_DURABILITY", default_value = "full")]
        durability: handoff_server::Durability,
        /// Require this token (as a Bearer token) for GET /metrics; open without one.
        #[arg(long, env = "HANDOFF_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .init();
    let Command::Serve { data_dir, listen, demo, admin_email, admin_password, durability, metrics_token } =
        Cli::parse().command;
    let data_dir = match data_dir {
        Some(d) => d,
        None => dirs::data_dir().ok_or_else(|| anyhow::anyhow!("no OS data folder: pass --data-dir"))?.join("handoff"),
    };
    let bootstrap_admin = match (admin_email, admin_password) {
        (Some(e), Some(p)) => Some((e, p)),
        (None, None) => None,
        _ => anyhow::bail!("set both HANDOFF_ADMIN_EMAIL and HANDOFF_ADMIN_PASSWORD, or neither"),
    };
    let config = handoff_server::Config {
        data_dir,
        listen,
        demo,
        bootstrap_admin,
        simulator_receipts: true,
        clock: handoff_server::Clock::System,
        durability,
        ws_send_timeout: handoff_server::WS_SEND_TIMEOUT,
        hub_capacity: handoff_server::HUB_CAPACITY,
        busy_timeout: handoff_server::BUSY_TIMEOUT,
        ws_ping_every: handoff_server::WS_PING_EVERY,
        ws_read_deadline: handoff_server::WS_READ_DEADLINE,
        metrics_token: metrics_token.filter(|t| !t.is_empty()),
        ws_per_user: handoff_server::WS_PER_USER,
        login_hashing_at_once: handoff_server::default_login_hashing(),
    };
    let server = handoff_server::start(config).await?;
    println!("handoff-server listening on {}", server.url());
    let signal = stop_signal().await?;
    let started = std::time::Instant::now();
    println!("{signal}: shutting down");
    server.stop().await;
    println!("stopped in {} ms", started.elapsed().as_millis());
    Ok(())
}

/// Waits for SIGTERM (systemd, containers, every deploy) or SIGINT (Ctrl-C); returns its name.
async fn stop_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        })
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}
