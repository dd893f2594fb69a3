//! `handoff-bench ingest`: how many customer messages a server stores per second, each committed
//! before its device is answered (the simulator's inbound endpoint answers after the commit, as
//! a real device's delivery is acknowledged only then), with a number of deliveries in flight at
//! once: on the embedded SQLite and, given a PostgreSQL server, on one PostgreSQL node and on
//! two (a number linked on each, the deliveries split between them: both nodes' writers then
//! take turns at the event log's lock).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::figures;
use crate::servers::{customer_message, messages_per_commit, post, stages, Backend, Line, Servers};

pub async fn ingest(messages: usize, concurrency: usize, postgres: Option<&str>) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(messages >= 1 && concurrency >= 1, "need messages and deliveries in flight");
    let mut backends = serde_json::Map::new();
    for backend in Backend::all(postgres) {
        let servers = Servers::start(&backend).await?;
        // A number linked through each node, which then drives it.
        let mut lines = Vec::new();
        for url in &servers.urls {
            let line = Line::link(url).await?;
            let inbound = format!("{url}/api/v1/devices/{}/simulator/inbound", line.device.id);
            lines.push((line, inbound));
        }
        let in_flight = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let (cpu_before, _) = servers.usage()?;
        let started = Instant::now();
        let mut sends = Vec::with_capacity(messages);
        for n in 0..messages {
            let permit = in_flight.clone().acquire_owned().await?;
            let (line, inbound) = &lines[n % lines.len()];
            let req = post(&line.http, &line.admin, inbound.clone(), serde_json::to_value(customer_message(n))?);
            sends.push(tokio::spawn(async move {
                let sent = Instant::now();
                req.await?;
                drop(permit);
                anyhow::Ok(sent.elapsed())
            }));
        }
        let mut acks: Vec<Duration> = Vec::with_capacity(messages);
        for s in sends {
            acks.push(s.await??);
        }
        let took = started.elapsed();
        let (cpu_after, peak) = servers.usage()?;
        let (mut per_commit, mut per_node) = (Vec::new(), Vec::new());
        for (url, (line, _)) in servers.urls.iter().zip(&lines) {
            per_commit.push(messages_per_commit(&line.http, url).await?.map(|m| (m * 100.0).round() / 100.0));
            per_node.push(stages(&line.http, url).await?);
        }
        backends.insert(
            backend.name.to_string(),
            serde_json::json!({
                "messages_per_s": (messages as f64 / took.as_secs_f64()).round(),
                "seconds": (took.as_secs_f64() * 100.0).round() / 100.0,
                "ack": figures(acks),
                "nodes": backend.nodes,
                "messages_per_commit": per_commit,
                "stages_per_node": per_node,
                "server_cpu_s": ((cpu_after - cpu_before) * 1000.0).round() / 1000.0,
                "server_peak_rss_mb": (peak as f64 / 1024.0 * 10.0).round() / 10.0,
            }),
        );
        servers.stop().await?;
    }
    Ok(serde_json::json!({
        "bench": "ingest",
        "messages": messages,
        "in_flight": concurrency,
        "backends": backends,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    }))
}
