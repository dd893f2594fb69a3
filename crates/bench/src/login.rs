//! `login-flood`: what a flood of sign-ins with huge email addresses costs a real server
//! process: its resident memory before and after, and the answers it gave. Run it against any
//! `handoff-server` binary (an older build gives the figure to compare with).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Resident memory of a process, in MiB (Linux's /proc).
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    Ok((kb / 1024.0 * 10.0).round() / 10.0)
}

pub async fn login_flood(
    server_bin: &Path,
    attempts: usize,
    email_bytes: usize,
    concurrency: usize,
    many_addresses: bool,
) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let (mut child, url) = crate::process::start(server_bin, dir.path(), &[]).await?;
    let pid = child.id().ok_or_else(|| anyhow::anyhow!("the server exited"))?;
    let http = reqwest::Client::new();
    // One warm-up sign-in, so that the figure before is of a server that has answered one.
    http.post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "a@b.c", "password": "x"}))
        .send()
        .await?;
    let before = rss_mib(pid)?;

    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (http, url, next) = (http.clone(), url.clone(), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= attempts {
                    return statuses;
                }
                // Every address different, as a flood's are.
                let email = format!("{n}{}@example.com", "x".repeat(email_bytes));
                let body = serde_json::json!({"email": email, "password": "wrong"});
                let mut request = http.post(format!("{url}/api/v1/auth/login")).json(&body);
                if many_addresses {
                    // As through a proxy on the server's computer, from a different address each time.
                    let [_, a, b, c] = (n as u32).to_be_bytes();
                    request = request.header("x-forwarded-for", format!("10.{a}.{b}.{c}"));
                }
                let status = match request.send().await {
                    Ok(resp) => resp.status().as_u16(),
                    Err(_) => 0,
                };
                *statuses.entry(status).or_default() += 1;
            }
        }));
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for w in workers {
        for (status, n) in w.await? {
            *statuses.entry(status).or_default() += n;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = rss_mib(pid)?;
    child.start_kill()?;
    let _ = child.wait().await;
    Ok(serde_json::json!({
        "bench": "login-flood",
        "server_bin": server_bin.display().to_string(),
        "attempts": attempts,
        "email_bytes": email_bytes,
        "concurrency": concurrency,
        "many_addresses": many_addresses,
        "statuses": statuses,
        "seconds": (seconds * 100.0).round() / 100.0,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "rss_growth_mib": ((after - before) * 10.0).round() / 10.0,
    }))
}
