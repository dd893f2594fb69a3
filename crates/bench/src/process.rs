//! A `handoff-server` process for the benchmarks that measure one (its memory, its stop): started
//! on a free port with a data folder, its address read from the line it prints first.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncBufReadExt;

/// Starts `bin serve` on 127.0.0.1:0 over `data_dir`, with `env` added; returns the child and
/// its base URL. The rest of what it prints is read and dropped, so it never blocks on a pipe.
pub async fn start(
    bin: &Path,
    data_dir: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<(tokio::process::Child, String)> {
    let mut command = tokio::process::Command::new(bin);
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).env("RUST_LOG", "error");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.stdout(Stdio::piped()).kill_on_drop(true).spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = lines.next_line().await?.ok_or_else(|| anyhow::anyhow!("the server said nothing"))?;
    let url = line
        .strip_prefix("handoff-server listening on ")
        .ok_or_else(|| anyhow::anyhow!("unexpected first line: {line}"))?
        .to_string();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}
