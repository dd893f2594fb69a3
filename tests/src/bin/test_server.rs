//! The server in a process of its own, for fault tests that kill it with SIGKILL, and for the
//! nodes of the cluster scenario.
//!
//! usage: test-server DATA_DIR ADMIN_EMAIL ADMIN_PASSWORD [--database URL] [--offline-grace-ms N]
//! Listens on a free loopback port and prints `listening <address>` once it accepts connections.
//! Without `--database` it uses the tests' database for DATA_DIR (`Config::for_tests`).

use std::io::Write;

use handoff_server::{Config, Database};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: test-server DATA_DIR ADMIN_EMAIL ADMIN_PASSWORD [--database URL] [--offline-grace-ms N]";
    let [_, data_dir, email, password, options @ ..] = args.as_slice() else {
        anyhow::bail!(usage);
    };
    let mut config = Config::for_tests(data_dir);
    config.bootstrap_admin = Some((email.clone(), password.clone()));
    for pair in options.chunks(2) {
        match pair {
            [flag, url] if flag == "--database" => {
                config.database =
                    Database::from_setting(Some(url), config.data_dir.as_path()).map_err(anyhow::Error::msg)?
            }
            [flag, ms] if flag == "--offline-grace-ms" => {
                config.offline_grace = std::time::Duration::from_millis(ms.parse()?)
            }
            _ => anyhow::bail!(usage),
        }
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let server = handoff_server::start(config).await?;
    println!("listening {}", server.addr);
    std::io::stdout().flush()?;
    // Runs until it is killed: the tests never stop it gracefully.
    std::future::pending::<()>().await;
    Ok(())
}
