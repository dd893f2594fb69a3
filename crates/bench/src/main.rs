//! `handoff-bench`: benchmark programs over the real server and real client cores, in one
//! process on loopback. Each prints one JSON object of figures. Build with `--release` for
//! figures worth quoting; CI runs them small in debug so they cannot rot.
//!
//! - `typing`: how long a "someone is typing" takes from one client's frame to each other
//!   client's change event, with N clients connected.
//! - `fanout`: a customer message (or a "typing") from its sending to every agent's WebSocket, with
//!   nats-server measured in the same run as the baseline; on SQLite, and given a PostgreSQL
//!   server on one and on two PostgreSQL nodes too.
//! - `ingest`: customer messages stored per second, each committed before it is acknowledged.
//! - `offline`: catch-up after missed events, outbox flush, cache bulk import, local search.
//! - `durability`: the server's commit cost with SQLite `synchronous = FULL` against NORMAL.
//! - `login-flood`: a server process's memory before and after a flood of sign-ins with huge
//!   email addresses.
//! - `webhooks`: outbound webhook deliveries to a real receiver: latency one at a time,
//!   throughput with many customers writing, a backlog drained after an outage, beside the same
//!   bodies posted straight to the receiver.
//! - `workspaces`: one core per workspace in one process: memory and CPU idle with one and with
//!   N, and a new workspace's first sync while the others stay live.

mod disk;
mod fanout;
mod ingest;
mod login;
mod offline;
mod process;
mod servers;
mod shutdown;
mod tally;
mod webhooks;
mod workspaces;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use handoff_core::{Change, Client};

use handoff_proto::{Activity, Role};
use handoff_tests::World;

#[derive(Parser)]
#[command(about = "Handoff benchmarks: real server, real clients, JSON figures")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Typing-indicator latency from one client's frame to every other client's change event.
    Typing {
        /// Connected agents (one of them types each round).
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Rounds; each is one typing frame fanned out to every other client.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
    },
    /// Offline-first figures: catch-up, outbox flush, cache import, local search.
    Offline {
        /// Events that happen while the app is closed.
        #[arg(long, default_value_t = 10_000)]
        missed: usize,
        /// Changes made offline, then flushed.
        #[arg(long, default_value_t = 2_000)]
        outbox: usize,
        /// Messages imported into a fresh cache, then searched.
        #[arg(long, default_value_t = 1_000_000)]
        messages: usize,
        /// Times each search query is run.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Also import event by event into a second cache (every index kept up as rows
        /// arrive), to compare with the bulk import in the same run.
        #[arg(long)]
        compare: bool,
        /// The caches measured: encrypted (as the app keeps them), plain, or both in the same
        /// run (with the encryption's cost, and the time to encrypt a plain cache).
        #[arg(long, value_enum, default_value = "both")]
        cache: offline::Caches,
    },
    /// Fan-out from the sending to every agent, against nats-server with the same load in the same run.
    Fanout {
        /// Connected agents.
        #[arg(long, default_value_t = 200)]
        agents: usize,
        /// Customer messages (or typing frames) per second.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// One agent types instead of customers writing.
        #[arg(long)]
        typing: bool,
        /// A PostgreSQL server (`postgres://user:password@host:port/any`): the run is repeated
        /// on one and on two PostgreSQL nodes (a new database each), agents split between them.
        #[arg(long, env = "HANDOFF_BENCH_POSTGRES")]
        postgres: Option<String>,
    },
    /// Customer messages stored per second, each committed before it is acknowledged.
    Ingest {
        #[arg(long, default_value_t = 20_000)]
        messages: usize,
        /// Deliveries in flight at once (devices and gateways delivering side by side).
        #[arg(long, default_value_t = 64)]
        in_flight: usize,
        /// A PostgreSQL server: measured there too (a new database).
        #[arg(long, env = "HANDOFF_BENCH_POSTGRES")]
        postgres: Option<String>,
    },
    /// The server's commit cost: SQLite synchronous FULL against NORMAL.
    Durability {
        /// Customer messages stored, one commit each, per mode.
        #[arg(long, default_value_t = 1_000)]
        commits: usize,
        /// Rounds; the two modes take turns, each round on a fresh server.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// A graceful stop under load: SIGTERM to a server process while messages pour in and agents
    /// are connected; the time to exit, the agents told "going away", nothing acknowledged lost.
    Shutdown {
        #[arg(long, default_value = "target/release/handoff-server")]
        server_bin: std::path::PathBuf,
        /// Agents' WebSocket connections open at the signal.
        #[arg(long, default_value_t = 50)]
        agents: usize,
        /// Senders posting customer messages back to back.
        #[arg(long, default_value_t = 8)]
        senders: usize,
        /// Seconds of load before the signal.
        #[arg(long, default_value_t = 3)]
        load_secs: u64,
        #[arg(long, default_value_t = 2)]
        rounds: usize,
    },
    /// Several workspaces in one app: one core each, in this process, against a server process.
    Workspaces {
        #[arg(long, default_value = "target/release/handoff-server")]
        server_bin: std::path::PathBuf,
        /// Workspaces signed in at once.
        #[arg(long, default_value_t = 10)]
        workspaces: usize,
        /// Customers who wrote in each workspace before its core signs in.
        #[arg(long, default_value_t = 200)]
        conversations: usize,
        /// Seconds of idle measured with one core and with all.
        #[arg(long, default_value_t = 20)]
        idle_secs: u64,
        /// Customers who wrote in the workspace whose first sync is measured.
        #[arg(long, default_value_t = 2_000)]
        first_sync: usize,
    },
    /// Outbound webhooks: a customer's message to a real receiving HTTP server.
    Webhooks {
        /// Messages sent one at a time for the latency.
        #[arg(long, default_value_t = 300)]
        latency_rounds: usize,
        /// Messages for the throughput and the backlog.
        #[arg(long, default_value_t = 5_000)]
        messages: usize,
        /// Customers writing them (one conversation each).
        #[arg(long, default_value_t = 500)]
        customers: usize,
        /// Messages posted at once.
        #[arg(long, default_value_t = 64)]
        in_flight: usize,
    },
    /// A flood of sign-ins with huge, all-different email addresses against a server process.
    LoginFlood {
        /// The handoff-server binary to start (an older build gives the figure to compare with).
        #[arg(long, default_value = "target/release/handoff-server")]
        server_bin: std::path::PathBuf,
        #[arg(long, default_value_t = 1_058)]
        attempts: usize,
        /// Bytes of each email address.
        #[arg(long, default_value_t = 200_000)]
        email_bytes: usize,
        /// Sign-ins in flight at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Each sign-in from another client address (X-Forwarded-For, as behind the proxy), as
        /// an attacker with many addresses would: the per-address limits then never apply.
        #[arg(long)]
        many_addresses: bool,
    },
}

/// The value at quantile `q` (0..=1) of sorted samples, in milliseconds.
pub(crate) fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

pub(crate) fn figures(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort();
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    serde_json::json!({
        "p50_ms": r(quantile_ms(&samples, 0.50)),
        "p90_ms": r(quantile_ms(&samples, 0.90)),
        "p95_ms": r(quantile_ms(&samples, 0.95)),
        "p99_ms": r(quantile_ms(&samples, 0.99)),
        "max_ms": r(quantile_ms(&samples, 1.0)),
    })
}

async fn typing(clients: usize, rounds: usize) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(clients >= 2, "typing needs at least 2 clients");
    let world = World::start().await;
    let mut agents: Vec<(handoff_proto::UserId, Client)> = Vec::with_capacity(clients);
    for i in 0..clients {
        let email = format!("agent{i}@bench.local");
        let user = world.create_user(&email, &format!("Agent {i}"), Role::Agent).await;
        agents.push((user.id, world.client(&email).await));
    }
    let conversation = world.inbound("+4915100000001", "Hello", None).await.conversation_id;

    // Each client notes when a typing change reaches it, on its own task.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    for (i, (_, client)) in agents.iter().enumerate() {
        let mut stream = client.subscribe();
        let seen_tx = seen_tx.clone();
        tokio::spawn(async move {
            while let Ok(change) = stream.recv().await {
                if let Change::Presence { user_id, activity, .. } = change {
                    let _ = seen_tx.send((i, user_id, activity, Instant::now()));
                }
            }
        });
    }

    let mut deliveries = Vec::with_capacity(rounds * (clients - 1));
    let mut last_per_round = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let typer = round % clients;
        let typer_id = agents[typer].0;
        // Alternate the activity so every round is a change the others can tell apart.
        let activity = if round % 2 == 0 { Activity::ComposingReply } else { Activity::ComposingNote };
        let start = Instant::now();
        agents[typer].1.set_presence(Some(conversation), activity);
        let mut waiting = clients - 1;
        let mut slowest = Duration::ZERO;
        while waiting > 0 {
            let (i, user, a, at) = tokio::time::timeout(Duration::from_secs(10), seen.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("clients stopped"))?;
            if i == typer || user != typer_id || a != activity {
                continue;
            }
            let took = at - start;
            deliveries.push(took);
            slowest = slowest.max(took);
            waiting -= 1;
        }
        last_per_round.push(slowest);
    }
    for (_, c) in &agents {
        c.stop().await;
    }
    world.stop().await;
    Ok(serde_json::json!({
        "bench": "typing",
        "clients": clients,
        "rounds": rounds,
        "deliveries": deliveries.len(),
        "per_delivery": figures(deliveries),
        "last_client": figures(last_per_round),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = match Cli::parse().bench {
        Bench::Typing { clients, rounds } => typing(clients, rounds).await?,
        Bench::Offline { missed, outbox, messages, rounds, compare, cache } => {
            offline::offline(missed, outbox, messages, rounds, compare, cache).await?
        }
        Bench::Fanout { agents, rate, seconds, typing, postgres } => {
            let load = if typing { fanout::Load::Typing } else { fanout::Load::Messages };
            fanout::fanout(agents, rate, seconds, load, postgres.as_deref()).await?
        }
        Bench::Ingest { messages, in_flight, postgres } => {
            ingest::ingest(messages, in_flight, postgres.as_deref()).await?
        }
        Bench::Durability { commits, rounds } => offline::durability(commits, rounds).await?,
        Bench::Shutdown { server_bin, agents, senders, load_secs, rounds } => {
            shutdown::shutdown(&server_bin, agents, senders, load_secs, rounds).await?
        }
        Bench::Workspaces { server_bin, workspaces, conversations, idle_secs, first_sync } => {
            workspaces::workspaces(&server_bin, workspaces, conversations, idle_secs, first_sync).await?
        }
        Bench::Webhooks { latency_rounds, messages, customers, in_flight } => {
            webhooks::webhooks(latency_rounds, messages, customers, in_flight).await?
        }
        Bench::LoginFlood { server_bin, attempts, email_bytes, concurrency, many_addresses } => {
            login::login_flood(&server_bin, attempts, email_bytes, concurrency, many_addresses).await?
        }
    };
    println!("{out}");
    Ok(())
}
