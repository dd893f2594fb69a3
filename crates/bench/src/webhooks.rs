//! `handoff-bench webhooks`: outbound webhook delivery, from a customer's message to a real
//! receiving HTTP server on loopback (the test suite's receiver, which checks every signature):
//!
//! - `latency`: one message at a time, from the simulator's inbound request (answered once the
//!   message is committed) to the delivery's arrival at the receiver;
//! - `live`: many customers writing at once (deliveries in flight at once), deliveries a second
//!   from the first message to the last delivery, beside the rate the messages were stored at;
//! - `backlog`: the receiver down (503) while the messages come in, then back: how fast the
//!   worker drains what waited (one conversation's deliveries in order, the others side by side);
//! - `baseline`: the same bodies posted straight to the receiver with reqwest, 32 at once (the
//!   worker's own limit): what the receiver and the HTTP stack take without the server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use handoff_proto::CreatedWebhook;
use handoff_tests::webhook_receiver::WebhookReceiver;
use handoff_tests::World;
use reqwest::Method;
use serde_json::json;

use crate::figures;

/// How long any phase may take before the benchmark gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(600);

async fn register(world: &World) -> anyhow::Result<WebhookReceiver> {
    let receiver = WebhookReceiver::start().await;
    let created: CreatedWebhook = world
        .call(Method::POST, "/api/v1/webhooks", Some(&json!({"url": receiver.url, "events": ["message.received"]})))
        .await;
    receiver.set_secret(&created.secret);
    Ok(receiver)
}

/// Posts `count` customer messages (body `"{tag} {n}"`) from `customers` numbers, `in_flight`
/// at once; returns when each was sent, by body.
async fn inject(
    world: &World,
    tag: &str,
    count: usize,
    customers: usize,
    in_flight: usize,
) -> anyhow::Result<HashMap<String, Instant>> {
    let url = format!("{}/api/v1/devices/{}/simulator/inbound", world.url, world.device.id);
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut sends = Vec::with_capacity(count);
    for n in 0..count {
        let permit = gate.clone().acquire_owned().await?;
        let body = format!("{tag} {n}");
        let req = world
            .http()
            .post(&url)
            .bearer_auth(&world.admin_token)
            .json(&json!({"from": format!("+491510{:06}", n % customers), "body": body}));
        sends.push(tokio::spawn(async move {
            let sent = Instant::now();
            let status = req.send().await?.status();
            drop(permit);
            anyhow::ensure!(status.is_success(), "inbound answered {status}");
            anyhow::Ok((body, sent))
        }));
    }
    let mut sent = HashMap::with_capacity(count);
    for s in sends {
        let (body, at) = s.await??;
        sent.insert(body, at);
    }
    Ok(sent)
}

/// Waits until `n` deliveries were answered 200, at most [`PHASE_LIMIT`].
async fn wait_for(receiver: &WebhookReceiver, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut rx = receiver.arrivals();
    while receiver.deliveries().iter().filter(|d| d.answered == 200).count() < n {
        let left = PHASE_LIMIT.checked_sub(started.elapsed()).unwrap_or_default();
        anyhow::ensure!(!left.is_zero(), "{n} deliveries did not arrive within {} s", PHASE_LIMIT.as_secs());
        let _ = tokio::time::timeout(left, rx.changed()).await;
    }
    Ok(())
}

fn rate(n: usize, took: Duration) -> f64 {
    (n as f64 / took.as_secs_f64()).round()
}

pub async fn webhooks(
    latency_rounds: usize,
    messages: usize,
    customers: usize,
    in_flight: usize,
) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(latency_rounds >= 1 && messages >= 1 && customers >= 1 && in_flight >= 1, "nothing to measure");

    // One message at a time.
    let world = World::start().await;
    let receiver = register(&world).await?;
    let mut latencies = Vec::with_capacity(latency_rounds);
    for n in 0..latency_rounds {
        let sent = inject(&world, "latency", 1, 1, 1).await?;
        wait_for(&receiver, n + 1).await?;
        let got = receiver.deliveries().pop().expect("one more");
        latencies.push(got.received - sent["latency 0"]);
    }
    anyhow::ensure!(receiver.deliveries().iter().all(|d| d.valid), "a delivery's signature did not match");
    world.stop().await;

    // Many customers at once.
    let world = World::start().await;
    let receiver = register(&world).await?;
    let started = Instant::now();
    let sent = inject(&world, "live", messages, customers, in_flight).await?;
    let stored = started.elapsed();
    wait_for(&receiver, messages).await?;
    let all = receiver.deliveries();
    let delivered = all.iter().map(|d| d.received).max().expect("deliveries") - started;
    let mut live = Vec::with_capacity(messages);
    for d in &all {
        if let Some(at) = d.body["data"]["message"]["body"].as_str().and_then(|b| sent.get(b)) {
            live.push(d.received - *at);
        }
    }
    anyhow::ensure!(all.iter().all(|d| d.valid), "a delivery's signature did not match");
    world.stop().await;

    // An outage, then the backlog.
    let world = World::start().await;
    let receiver = register(&world).await?;
    receiver.answer_with(503);
    inject(&world, "backlog", messages, customers, in_flight).await?;
    // Every conversation's first delivery fails once; the rest wait behind it.
    let mut rx = receiver.arrivals();
    let firsts = customers.min(messages);
    tokio::time::timeout(PHASE_LIMIT, rx.wait_for(|c| *c >= firsts)).await??;
    receiver.answer_with(200);
    let back = Instant::now();
    world.clock.advance(chrono::Duration::hours(3));
    wait_for(&receiver, messages).await?;
    let drained = receiver.deliveries().iter().map(|d| d.received).max().expect("deliveries") - back;
    world.stop().await;

    // The same bodies straight to a receiver, 32 at once.
    let target = WebhookReceiver::start().await;
    let bodies: Vec<Vec<u8>> = all.iter().map(|d| d.raw.clone()).collect();
    let http = reqwest::Client::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let started = Instant::now();
    let mut posts = Vec::with_capacity(bodies.len());
    for body in bodies {
        let permit = gate.clone().acquire_owned().await?;
        let req = http.post(&target.url).header("content-type", "application/json").body(body);
        posts.push(tokio::spawn(async move {
            let status = req.send().await?.status();
            drop(permit);
            anyhow::ensure!(status.is_success(), "the receiver answered {status}");
            anyhow::Ok(())
        }));
    }
    for p in posts {
        p.await??;
    }
    let direct = started.elapsed();

    Ok(json!({
        "latency": { "messages": latency_rounds, "inbound_to_receiver": figures(latencies) },
        "live": {
            "messages": messages, "customers": customers, "in_flight": in_flight,
            "stored_per_s": rate(messages, stored),
            "delivered_per_s": rate(messages, delivered),
            "inbound_to_receiver": figures(live),
        },
        "backlog": {
            "deliveries": messages, "conversations": firsts,
            "drained_per_s": rate(messages, drained),
            "drain_s": (drained.as_secs_f64() * 100.0).round() / 100.0,
        },
        "baseline_direct_posts": { "posts": messages, "at_once": 32, "per_s": rate(messages, direct) },
    }))
}
