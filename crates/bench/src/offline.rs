//! The offline-first figures: catch-up after an absence, outbox flush, cache bulk import, local
//! search, with the cache encrypted (as the app keeps it) and plain (the baseline); and the
//! server's cost of `synchronous = FULL` against NORMAL.

use std::time::{Duration, Instant};

use handoff_core::{Cache, CacheKey, Client, ClientOptions, ConnectionState};
use handoff_proto::{
    Contact, ContactId, Conversation, ConversationId, ConversationStatus, DeviceId, Event, EventBody, Message,
    MessageId, MessageKind, Role, SimulatorInbound, UserId,
};
use handoff_server::Durability;
use handoff_tests::World;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use uuid::Uuid;

use crate::figures;

/// Words support conversations are full of; each message draws some of them.
const COMMON: [&str; 20] = [
    "order", "refund", "delivery", "please", "thanks", "hello", "invoice", "payment", "address", "package", "tracking",
    "return", "broken", "price", "account", "help", "today", "shipping", "number", "size",
];

/// A vocabulary of pseudo-words (syllable pairs and triples) for the long tail.
fn vocabulary() -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ne", "su", "ra", "te", "vo", "zi", "pa", "do", "gu", "be", "ri", "fa", "no", "sel", "tam",
        "dor", "vin", "mek", "lus", "ber", "zon",
    ];
    let mut words = Vec::new();
    for a in SYLLABLES {
        for b in SYLLABLES {
            words.push(format!("{a}{b}"));
            for c in ["x", "n", "ra", "lo", "te", "mi", "sa"] {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    words
}

/// A message body of 6 to 20 words: a third common words, the rest log-uniform over the long
/// tail (a few tail words are frequent, most are rare, as in real text).
fn body(rng: &mut StdRng, vocab: &[String]) -> String {
    let n = rng.random_range(6..=20);
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        if rng.random_bool(0.33) {
            words.push(COMMON[rng.random_range(0..COMMON.len())].to_string());
        } else {
            let u: f64 = rng.random();
            let i = ((vocab.len() as f64).powf(u) as usize).saturating_sub(1).min(vocab.len() - 1);
            words.push(vocab[i].clone());
        }
    }
    words.join(" ")
}

fn conversation(
    id: ConversationId,
    device_id: DeviceId,
    k: usize,
    at: chrono::DateTime<chrono::Utc>,
    preview: &str,
) -> Conversation {
    Conversation {
        id,
        device_id,
        contact: Contact {
            id: ContactId::from(Uuid::from_u128(k as u128 + 1)),
            name: Some(format!("Customer {k}")),
            phone: format!("+49151{:08}", k),
        },
        status: ConversationStatus::Open,
        assignee_id: None,
        team_id: None,
        version: 1,
        last_message_at: at,
        last_message_preview: preview.chars().take(120).collect(),
        unread_count: 0,
        assigned_at: None,
        labels: Vec::new(),
        snooze_until: None,
        opened_at: Some(at),
        first_response_at: None,
        first_response_due_at: None,
        resolution_due_at: None,
        resolved_at: None,
        escalation_note_id: None,
    }
}

/// Fills a fresh cache with `messages` messages over `contacts` conversations, through the same
/// path the sync loop uses: events applied in transactions of `sync::BATCH`, or as a bulk import
/// (`sync::BULK_BATCH` per transaction) when the history is as long as a first sync's that is one
/// (`bulk`: the sync loop's choice, or forced off to compare). Returns the seconds spent applying, the bulk import's end included.
async fn import(cache: &Cache, messages: usize, contacts: usize, me: UserId, bulk: bool) -> anyhow::Result<f64> {
    let mut rng = StdRng::seed_from_u64(42);
    let vocab = vocabulary();
    let device_id = DeviceId::from(Uuid::from_u128(u128::MAX));
    let conversations: Vec<ConversationId> =
        (0..contacts).map(|k| ConversationId::from(Uuid::from_u128((1 << 64) + k as u128))).collect();
    let start_time = chrono::Utc::now() - chrono::Duration::seconds(messages as i64);
    let mut applying = Duration::ZERO;
    let mut batch_size = handoff_core::sync::BATCH;
    if bulk && messages as i64 >= handoff_core::sync::BULK_MIN {
        let started = Instant::now();
        anyhow::ensure!(cache.begin_bulk().await?, "a fresh cache opens a bulk import");
        applying += started.elapsed();
        batch_size = handoff_core::sync::BULK_BATCH;
    }
    let mut seq = 0i64;
    while (seq as usize) < messages {
        let batch: Vec<Event> = (0..batch_size.min(messages - seq as usize))
            .map(|_| {
                seq += 1;
                let k = rng.random_range(0..contacts);
                let at = start_time + chrono::Duration::seconds(seq);
                let text = body(&mut rng, &vocab);
                let message = Message {
                    id: MessageId::from(Uuid::from_u128((2 << 64) + seq as u128)),
                    conversation_id: conversations[k],
                    kind: if rng.random_bool(0.6) { MessageKind::Inbound } else { MessageKind::Outbound },
                    body: text.clone(),
                    author_id: None,
                    created_at: at,
                    delivery: None,
                    wa_message_id: Some(format!("wamid-{seq}")),
                    mutation_id: None,
                    failure: None,
                    sender: None,
                    media: None,
                };
                let conversation = conversation(conversations[k], device_id, k, at, &text);
                Event { seq, at, body: EventBody::MessageCreated { message, conversation } }
            })
            .collect();
        let started = Instant::now();
        cache.apply_events(&batch, me).await?;
        applying += started.elapsed();
    }
    let started = Instant::now();
    cache.end_bulk().await?;
    applying += started.elapsed();
    Ok(applying.as_secs_f64())
}

/// Indexes what the import left out of search, as the app's background indexer does; returns
/// the seconds it took and how many messages it indexed.
async fn index_backlog(cache: &Cache) -> anyhow::Result<(f64, i64)> {
    let started = Instant::now();
    let total = cache.search_backlog().await?.left;
    while let Some(left) = cache.index_search_backlog(handoff_core::sync::INDEX_CHUNK).await? {
        if left.left == 0 {
            break;
        }
    }
    anyhow::ensure!(cache.search_backlog().await?.left == 0, "everything is searchable");
    Ok((started.elapsed().as_secs_f64(), total))
}

/// Times each query `rounds` times against the cache; returns figures per query and over all.
async fn searches(cache: &Cache, rounds: usize) -> anyhow::Result<serde_json::Value> {
    let vocab = vocabulary();
    let queries: Vec<(&str, String)> = vec![
        ("common word", "order".to_string()),
        ("two common words", "refund please".to_string()),
        ("prefix", "pay".to_string()),
        ("tail word", vocab[vocab.len() / 2].clone()),
        ("rare word + common word", format!("{} order", vocab[vocab.len() - 3])),
        ("no match", "zzzqx".to_string()),
        ("contact number", "151 0004".to_string()),
        ("contact name", "Customer 4711".to_string()),
    ];
    let mut all = Vec::new();
    let mut per_query = serde_json::Map::new();
    for (what, q) in &queries {
        let mut samples = Vec::with_capacity(rounds);
        let mut found = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let r = cache.search(q, 50).await?;
            samples.push(started.elapsed());
            found = r.messages.len() + r.contacts.len();
        }
        all.extend(samples.iter().copied());
        let mut f = figures(samples);
        f["query"] = serde_json::json!(q);
        f["results"] = serde_json::json!(found);
        per_query.insert(what.to_string(), f);
    }
    Ok(serde_json::json!({ "all_queries": figures(all), "per_query": per_query }))
}

async fn wait_online(client: &Client) {
    client.wait_connection(|s| *s == ConnectionState::Online).await;
}

/// Sends `n` customer messages through the simulator, `parallel` at a time.
async fn inbound_burst(world: &World, n: usize, parallel: usize, tag: &str) -> anyhow::Result<()> {
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    let mut next = 0;
    while next < n {
        let chunk: Vec<_> = (next..n.min(next + parallel))
            .map(|i| {
                let body = SimulatorInbound {
                    from: format!("+4915100{:06}", i % 500),
                    name: None,
                    body: format!("{tag} message {i}"),
                    wa_message_id: Some(format!("{tag}-{i}")),
                    media: None,
                    media_content: None,
                    alt: None,
                    group: None,
                };
                let path = path.clone();
                async move {
                    let resp = world.raw(Method::POST, &path, &world.admin_token, Some(&body)).await;
                    anyhow::ensure!(resp.status().is_success(), "inbound: {}", resp.status());
                    Ok(())
                }
            })
            .collect();
        for r in futures_util::future::join_all(chunk).await {
            r?;
        }
        next = n.min(next + parallel);
    }
    Ok(())
}

/// Which caches `offline` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Caches {
    /// Encrypted with SQLCipher, as the app keeps it.
    Encrypted,
    /// Plain SQLite.
    Plain,
    /// Both, one after the other in the same run, with the encryption's cost; and the time an
    /// app from before encryption takes to encrypt its plain cache of `messages`.
    Both,
}

pub async fn offline(
    missed: usize,
    outbox: usize,
    messages: usize,
    rounds: usize,
    compare: bool,
    caches: Caches,
) -> anyhow::Result<serde_json::Value> {
    let mut out = serde_json::json!({
        "bench": "offline",
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    if caches != Caches::Plain {
        out["encrypted"] = one(missed, outbox, messages, rounds, compare, Some(CacheKey::random()), false).await?;
    }
    if caches != Caches::Encrypted {
        out["plain"] = one(missed, outbox, messages, rounds, compare, None, caches == Caches::Both).await?;
    }
    if caches == Caches::Both {
        out["encryption_cost"] = cost(&out["plain"], &out["encrypted"]);
    }
    Ok(out)
}

/// Plain against encrypted, figure by figure: both values and the change in percent (positive:
/// the encrypted cache is slower, or for `cache_mb` larger).
fn cost(plain: &serde_json::Value, encrypted: &serde_json::Value) -> serde_json::Value {
    let figure = |pointer: &str, higher_is_better: bool| {
        let (p, e) = (plain.pointer(pointer)?.as_f64()?, encrypted.pointer(pointer)?.as_f64()?);
        if p <= 0.0 || e <= 0.0 {
            return None; // nothing measured (no backlog to index, say)
        }
        let slower = if higher_is_better { p / e - 1.0 } else { e / p - 1.0 };
        Some(serde_json::json!({ "plain": p, "encrypted": e, "slower_pct": (slower * 1000.0).round() / 10.0 }))
    };
    serde_json::json!({
        "catch_up_ms": figure("/catch_up/ms", false),
        "outbox_enqueue_per_s": figure("/outbox/enqueue_per_s", true),
        "outbox_flush_per_s": figure("/outbox/flush_per_s", true),
        "import_messages_per_s": figure("/import/messages_per_s", true),
        "search_index_messages_per_s": figure("/import/search_index/messages_per_s", true),
        "event_by_event_messages_per_s": figure("/import/event_by_event/messages_per_s", true),
        "search_p50_ms": figure("/search/all_queries/p50_ms", false),
        "search_p99_ms": figure("/search/all_queries/p99_ms", false),
        "cache_mb": figure("/import/cache_mb", false),
    })
}

/// The figures with one kind of cache: encrypted with `key`, plain without. `then_encrypt`
/// (plain only): the imported cache is then opened with a key, which encrypts it, timed.
async fn one(
    missed: usize,
    outbox: usize,
    messages: usize,
    rounds: usize,
    compare: bool,
    key: Option<CacheKey>,
    then_encrypt: bool,
) -> anyhow::Result<serde_json::Value> {
    // Catch-up: an agent's app is closed while `missed` events happen, then it opens again.
    let world = World::start().await;
    world.create_user("agent@bench.local", "Agent", Role::Agent).await;
    let options = ClientOptions { cache_key: key.clone(), ..ClientOptions::default() };
    let client = world.client_with("agent@bench.local", &world.url, &options).await;
    client.stop().await;
    inbound_burst(&world, missed, 32, "missed").await?;
    let head = world.head_seq().await;
    let before = client.last_seq().await?;
    let started = Instant::now();
    client.start();
    wait_online(&client).await;
    let catch_up = started.elapsed();
    anyhow::ensure!(client.last_seq().await? == head, "not caught up");

    // Outbox: `outbox` notes written offline, then the connection comes back.
    client.stop().await;
    let conversation = world.conversations().await[0].id;
    let started = Instant::now();
    for i in 0..outbox {
        client.note(conversation, &format!("offline note {i}")).await?;
    }
    let enqueue = started.elapsed();
    let mut changes = client.subscribe();
    let started = Instant::now();
    client.start();
    while client.outbox_len().await? > 0 {
        let _ = tokio::time::timeout(Duration::from_secs(30), changes.recv()).await?;
    }
    let flush = started.elapsed();
    // Closed, not dropped, each cache here: a connection closing on its own thread while the
    // process exits would race the crypto library's teardown.
    client.close().await;
    world.stop().await;

    // Import and search: a cache of `messages` messages over 50k contacts (fewer when small).
    let dir = tempfile::tempdir()?;
    let cache = Cache::open(&dir.path().join("cache.db"), key.as_ref()).await?;
    let contacts = (messages / 20).clamp(1, 50_000);
    let import_s = import(&cache, messages, contacts, UserId::nil(), true).await?;
    let (index_s, indexed) = index_backlog(&cache).await?;
    let search = searches(&cache, rounds).await?;
    // The same import event by event (every index kept up as rows arrive), for comparison.
    let ordinary_s = if compare {
        let dir = tempfile::tempdir()?;
        let cache = Cache::open(&dir.path().join("cache.db"), key.as_ref()).await?;
        let seconds = import(&cache, messages, contacts, UserId::nil(), false).await?;
        cache.pool().close().await;
        Some(seconds)
    } else {
        None
    };
    // The database file and its write-ahead log (not yet checkpointed pages live there).
    let size: u64 = ["cache.db", "cache.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();

    let r = |x: f64| (x * 10.0).round() / 10.0;
    // An app from before encryption opens its plain cache of `messages` with a key.
    let encrypting = if then_encrypt {
        let before = cache.search("order", 50).await?.messages.len();
        cache.pool().close().await;
        let started = Instant::now();
        let encrypted = Cache::open(&dir.path().join("cache.db"), Some(&CacheKey::random())).await?;
        let seconds = started.elapsed().as_secs_f64();
        let found = encrypted.search("order", 50).await?.messages.len();
        anyhow::ensure!(found == before, "the encrypted copy finds what the plain one did ({found}, not {before})");
        encrypted.pool().close().await;
        Some(
            serde_json::json!({ "messages": messages, "seconds": r(seconds), "messages_per_s": r(messages as f64 / seconds) }),
        )
    } else {
        cache.pool().close().await;
        None
    };
    Ok(serde_json::json!({
        "catch_up": {
            "missed_events": head - before,
            "ms": r(catch_up.as_secs_f64() * 1000.0),
            "events_per_s": r((head - before) as f64 / catch_up.as_secs_f64()),
        },
        "outbox": {
            "mutations": outbox,
            "enqueue_per_s": r(outbox as f64 / enqueue.as_secs_f64()),
            "flush_ms": r(flush.as_secs_f64() * 1000.0),
            "flush_per_s": r(outbox as f64 / flush.as_secs_f64()),
        },
        "import": {
            "messages": messages,
            "contacts": contacts,
            "seconds": r(import_s),
            "messages_per_s": r(messages as f64 / import_s),
            "cache_mb": r(size as f64 / 1e6),
            // After a bulk import: the background indexing that makes all of it searchable.
            "search_index": {
                "messages": indexed,
                "seconds": r(index_s),
                "messages_per_s": if indexed > 0 { r(indexed as f64 / index_s) } else { 0.0 },
            },
            "import_then_searchable_per_s": r(messages as f64 / (import_s + index_s)),
            "event_by_event": ordinary_s.map(|s| serde_json::json!({
                "seconds": r(s),
                "messages_per_s": r(messages as f64 / s),
            })),
        },
        "search": search,
        "encrypting_this_plain_cache": encrypting,
    }))
}

/// The server's commit cost with `synchronous = FULL` and NORMAL: `commits` customer messages,
/// one at a time (each is one transaction, committed before the answer), then 16 at a time. The
/// two modes take turns over `rounds` rounds, each on a fresh server, so that drift of the machine
/// (caches, other load) does not favour one; the figures are the medians over the rounds.
pub async fn durability(commits: usize, rounds: usize) -> anyhow::Result<serde_json::Value> {
    let mut runs: Vec<(&str, serde_json::Value)> = Vec::new();
    for _ in 0..rounds {
        for (name, mode) in [("full", Durability::Full), ("normal", Durability::Normal)] {
            runs.push((name, commit_run(mode, commits).await?));
        }
    }
    let median = |mode: &str, field: &str| {
        let mut v: Vec<f64> = runs.iter().filter(|(m, _)| *m == mode).filter_map(|(_, f)| f[field].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let summary = |mode: &str| {
        serde_json::json!({
            "p50_ms": median(mode, "p50_ms"),
            "p99_ms": median(mode, "p99_ms"),
            "sequential_per_s": median(mode, "sequential_per_s"),
            "parallel16_per_s": median(mode, "parallel16_per_s"),
        })
    };
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    Ok(serde_json::json!({
        "bench": "durability",
        "fsync": fsync_cost(300)?,
        "commits": commits,
        "rounds": rounds,
        "full": summary("full"),
        "normal": summary("normal"),
        "full_minus_normal_p50_ms": r(median("full", "p50_ms") - median("normal", "p50_ms")),
        "runs": runs.iter().map(|(m, f)| serde_json::json!({ "mode": m, "figures": f })).collect::<Vec<_>>(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    }))
}

/// What one fsync of a 4 KiB append costs on the disk the benchmark runs on (the temp folder).
fn fsync_cost(n: usize) -> anyhow::Result<serde_json::Value> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let mut file = std::fs::File::create(dir.path().join("probe"))?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        file.write_all(&[0u8; 4096])?;
        let t = Instant::now();
        file.sync_data()?;
        samples.push(t.elapsed());
    }
    Ok(figures(samples))
}

async fn commit_run(mode: Durability, commits: usize) -> anyhow::Result<serde_json::Value> {
    let world = World::start_with(|c| c.durability = mode).await;
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    let mut samples = Vec::with_capacity(commits);
    let started = Instant::now();
    for i in 0..commits {
        let body = SimulatorInbound {
            from: format!("+4915100{:06}", i % 100),
            name: None,
            body: format!("message {i}"),
            wa_message_id: Some(format!("d-{i}")),
            media: None,
            media_content: None,
            alt: None,
            group: None,
        };
        let t = Instant::now();
        let resp = world.raw(Method::POST, &path, &world.admin_token, Some(&body)).await;
        anyhow::ensure!(resp.status().is_success(), "inbound: {}", resp.status());
        samples.push(t.elapsed());
    }
    let sequential = started.elapsed();
    let started = Instant::now();
    inbound_burst(&world, commits, 16, "parallel").await?;
    let parallel = started.elapsed();
    world.stop().await;
    let mut f = figures(samples);
    f["sequential_per_s"] = serde_json::json!((commits as f64 / sequential.as_secs_f64()).round());
    f["parallel16_per_s"] = serde_json::json!((commits as f64 / parallel.as_secs_f64()).round());
    Ok(f)
}
