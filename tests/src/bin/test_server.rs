//! The server in a process of its own, for fault tests that kill it with SIGKILL.
//!
//! usage: test-server DATA_DIR ADMIN_EMAIL ADMIN_PASSWORD
//! Listens on a free loopback port and prints `listening <address>` once it accepts connections.

use std::io::Write;

use handoff_server::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data_dir, email, password] = args.as_slice() else {
        anyhow::bail!("usage: test-server DATA_DIR ADMIN_EMAIL ADMIN_PASSWORD");
    };
    let mut config = Config::for_tests(data_dir);
    config.bootstrap_admin = Some((email.clone(), password.clone()));
    let server = handoff_server::start(config).await?;
    println!("listening {}", server.addr);
    std::io::stdout().flush()?;
    // Runs until it is killed: the tests never stop it gracefully.
    std::future::pending::<()>().await;
    Ok(())
}
