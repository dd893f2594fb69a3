//! `handoff-server`: the coordination server binary and its operator's subcommands
//! (docs/deploy.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use handoff_server::maintenance;
use handoff_server::settings::{LogFormat, Settings};
use serde::Serialize;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "handoff-server", version, about = "Handoff coordination server: a shared WhatsApp inbox for teams")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Where the settings come from: every subcommand reads the same file and variables.
#[derive(Args)]
struct Common {
    /// A TOML settings file (deploy/handoff-server.toml lists every setting).
    #[arg(long, env = "HANDOFF_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// This node's folder: the database unless --database says otherwise, WhatsApp Web
    /// sessions (default: the OS data folder, e.g. ~/.local/share/handoff).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// The database: an SQLite file's path or a postgres:// URL (default: handoff.db in the
    /// data folder).
    #[arg(long, global = true)]
    database: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        flags: ServeFlags,
        /// Print the settings the server would run with (secrets hidden) and exit.
        #[arg(long)]
        print_config: bool,
    },
    /// Create an Admin (the server must be stopped). Without HANDOFF_ADMIN_PASSWORD a temporary
    /// password is printed, to be changed at the first sign-in.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Admin")]
        name: String,
    },
    /// Give someone a temporary password, printed, that must be changed at their next sign-in;
    /// every session of theirs ends (the server must be stopped; an Admin can do the same in
    /// the app while it runs).
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// Write a consistent copy of the database to FILE while the server runs.
    Backup {
        /// A new file (never overwritten).
        file: PathBuf,
    },
    /// Replace the database with a backup (the server must be stopped). Every app resyncs from
    /// scratch at its next connection; the replaced database is kept beside it.
    Restore { file: PathBuf },
    /// Give the database a new epoch, so every app resyncs from scratch (after restoring a
    /// PostgreSQL database with pg_restore).
    NewEpoch,
}

/// `serve`'s flags: each overrides the file and the variables. Unset ones are left out.
#[derive(Args, Serialize)]
struct ServeFlags {
    /// Address to listen on (default 127.0.0.1:8750).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// Seed demo users, a simulated WhatsApp number and a trickle of customer messages.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    demo: bool,
    /// With --admin-password: the first Admin, created on an empty database.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_email: Option<String>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_password: Option<String>,
    /// full (the default) or normal (docs/durability.md).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    durability: Option<String>,
    /// Require this token (as a Bearer token) for GET /metrics.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_token: Option<String>,
    /// text (the default) or json.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<String>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("handoff-server: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let Cli { common, command } = Cli::parse();
    // The flags given, as one more layer of settings (over the file and the variables).
    let load = |flags: serde_json::Value| -> anyhow::Result<Settings> {
        let mut flags = match flags {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        if let Some(dir) = &common.data_dir {
            flags.insert("data_dir".into(), serde_json::json!(dir));
        }
        if let Some(database) = &common.database {
            flags.insert("database".into(), serde_json::json!(database));
        }
        Settings::load(common.config.as_deref(), flags).map_err(anyhow::Error::msg)
    };
    let no_flags = || serde_json::json!({});
    match command {
        Command::Serve { flags, print_config } => {
            let settings = load(serde_json::to_value(&flags)?)?;
            if print_config {
                print!("{}", settings.to_toml());
                return Ok(());
            }
            init_logging(&settings);
            serve(settings).await
        }
        Command::CreateAdmin { email, name } => {
            let settings = load(no_flags())?;
            let (data_dir, database) = where_data(&settings)?;
            let password = settings.admin_password.clone();
            match maintenance::create_admin(&data_dir, &database, &email, &name, password).await? {
                Some(temporary) => println!(
                    "Admin {email} created. Temporary password (to be changed at the first sign-in):\n{temporary}"
                ),
                None => println!("Admin {email} created with the password from HANDOFF_ADMIN_PASSWORD."),
            }
            Ok(())
        }
        Command::ResetPassword { email } => {
            let (data_dir, database) = where_data(&load(no_flags())?)?;
            let temporary = maintenance::reset_password(&data_dir, &database, &email).await?;
            println!(
                "Signed {email} out everywhere. Temporary password (to be changed at the next sign-in):\n{temporary}"
            );
            Ok(())
        }
        Command::Backup { file } => {
            let (_, database) = where_data(&load(no_flags())?)?;
            let copied = maintenance::backup(&database, &file).await?;
            println!(
                "Backed up to {} ({} bytes, events up to {}) in {} ms; integrity checked.",
                file.display(),
                copied.bytes,
                copied.head_seq,
                copied.millis
            );
            Ok(())
        }
        Command::Restore { file } => {
            let (data_dir, database) = where_data(&load(no_flags())?)?;
            let (epoch, kept, copied) = maintenance::restore(&data_dir, &database, &file).await?;
            println!(
                "Restored {} ({} bytes, events up to {}) in {} ms. New epoch {epoch}: every app resyncs from scratch when it reconnects.",
                file.display(),
                copied.bytes,
                copied.head_seq,
                copied.millis
            );
            if let Some(kept) = kept {
                println!("The replaced database is kept at {}.", kept.display());
            }
            Ok(())
        }
        Command::NewEpoch => {
            let (data_dir, database) = where_data(&load(no_flags())?)?;
            let epoch = maintenance::new_epoch(&data_dir, &database).await?;
            println!("New epoch {epoch}: every app resyncs from scratch when it reconnects.");
            Ok(())
        }
    }
}

/// The data folder and the database the settings name.
fn where_data(settings: &Settings) -> anyhow::Result<(PathBuf, handoff_server::Database)> {
    let data_dir = settings.data_dir().map_err(anyhow::Error::msg)?;
    Ok((data_dir, settings.database().map_err(anyhow::Error::msg)?))
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_level));
    match settings.log_format {
        // The log goes to stderr; stdout says only "listening on", "shutting down", "stopped".
        LogFormat::Text => tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_writer(std::io::stderr).with_env_filter(filter).init(),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let config = settings.config().map_err(anyhow::Error::msg)?;
    let server = handoff_server::start(config).await?;
    say(&format!("handoff-server listening on {}", server.url()));
    let signal = stop_signal().await?;
    let started = std::time::Instant::now();
    say(&format!("{signal}: shutting down"));
    server.stop().await;
    say(&format!("stopped in {} ms", started.elapsed().as_millis()));
    Ok(())
}

/// A line on stdout; a closed stdout (nobody reads it any more) must not stop a graceful stop.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
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
