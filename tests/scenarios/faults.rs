//! Fault tests: a server killed mid-burst, a network partition, a client killed with a full
//! outbox, and WhatsApp redeliveries with receipts out of order. Each ends by comparing every
//! client's cache with the server's state, table by table ([`World::assert_converged`]).
//!
//! The network faults come from [`FaultProxy`], a relay between the clients and the server on
//! loopback; the process kills are SIGKILL, with no chance to flush anything.

use std::collections::HashMap;
use std::time::Duration;

use handoff_core::{Change, Client, ConnectionState};
use handoff_proto::{
    ConversationId, Delivery, DeviceId, Event, EventBody, Message, MessageId, MessageKind, Role, SimulatorInbound,
    SimulatorReceipt,
};
use handoff_tests::proxy::{Fault, FaultProxy};
use handoff_tests::{settled, wait_for, World, DEADLINE, PASSWORD};
use reqwest::Method;
use tokio::io::AsyncBufReadExt;
use tokio::sync::watch;

async fn offline(client: &Client) {
    let wait = client.wait_connection(|s| matches!(s, ConnectionState::Offline { .. }));
    tokio::time::timeout(DEADLINE, wait).await.expect("the client notices it is offline");
}

/// Every message on the server, of every conversation.
async fn all_messages(world: &World) -> Vec<Message> {
    let mut all = Vec::new();
    for c in world.conversations().await {
        all.extend(world.messages(c.id).await);
    }
    all
}

/// How many times each body occurs among `messages` of `kind`.
fn bodies(messages: &[Message], kind: MessageKind) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in messages.iter().filter(|m| m.kind == kind) {
        *counts.entry(m.body.clone()).or_insert(0) += 1;
    }
    counts
}

/// A customer message as the phone delivers it, through `server` (a proxy): retried with the
/// same WhatsApp id until the server answers, as WhatsApp redelivers what was not acknowledged.
/// A failure waits for the next server generation (the test bumps it after a restart).
async fn deliver(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    device: DeviceId,
    inbound: &SimulatorInbound,
    generation: &mut watch::Receiver<u64>,
) {
    loop {
        let seen = *generation.borrow_and_update();
        let resp = http
            .post(format!("{server}/api/v1/devices/{device}/simulator/inbound"))
            .bearer_auth(token)
            .json(inbound)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => return,
            Ok(r) if r.status().is_client_error() => panic!("inbound refused: {}", r.status()),
            _ => {
                let wait = generation.wait_for(|g| *g > seen);
                tokio::time::timeout(DEADLINE, wait).await.expect("the server comes back").expect("test running");
            }
        }
    }
}

/// (a) The server is killed with SIGKILL in the middle of a burst of customer messages and
/// replies from three clients, and started again on the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_burst_loses_and_doubles_nothing() {
    let mut world = World::start_process(env!("CARGO_BIN_EXE_test-server")).await;
    let proxy = FaultProxy::start(world.addr()).await;
    let emails = ["ana@test.local", "ben@test.local", "cy@test.local"];
    for (email, name) in emails.iter().zip(["Ana", "Ben", "Cy"]) {
        world.create_user(email, name, Role::Agent).await;
    }
    let mut clients = Vec::new();
    for email in emails {
        clients.push(world.client_at(email, &proxy.url()).await);
    }
    // Ten customers have written once; every client has their conversations.
    let mut conversations = Vec::new();
    for k in 0..10 {
        conversations.push(world.inbound(&format!("+49151000000{k:02}"), "Hello", Some(&format!("hello-{k}"))).await);
    }
    for client in &clients {
        settled(&world, client).await;
    }

    // The burst: 90 customer messages through the proxy; 30 replies queued meanwhile, 10 per client.
    let (generation_tx, generation) = watch::channel(0u64);
    let (progress_tx, progress) = watch::channel(0usize);
    let burst = {
        let (http, server, token, device) =
            (reqwest::Client::new(), proxy.url(), world.admin_token.clone(), world.device.id);
        let mut generation = generation.clone();
        tokio::spawn(async move {
            for i in 0..90 {
                let inbound = SimulatorInbound {
                    from: format!("+49151000000{:02}", i % 10),
                    name: None,
                    body: format!("burst {i}"),
                    wa_message_id: Some(format!("burst-{i}")),
                    media: None,
                    media_content: None,
                    alt: None,
                    group: None,
                };
                deliver(&http, &server, &token, device, &inbound, &mut generation).await;
                progress_tx.send_replace(i + 1);
            }
        })
    };
    let mut replies = Vec::new();
    for (n, client) in clients.iter().enumerate() {
        let client = client.clone();
        let targets: Vec<ConversationId> = conversations.iter().map(|m| m.conversation_id).collect();
        let mut progress = progress.clone();
        replies.push(tokio::spawn(async move {
            for r in 0..10 {
                // Paced by the burst, so replies are queued before, during and after the kill.
                let _ = progress.wait_for(|p| *p >= r * 9).await;
                let target = targets[(n * 3 + r) % targets.len()];
                client.reply(target, &format!("reply {n}-{r}"), None, true).await.expect("queued");
            }
        }));
    }

    let mut watching = progress.clone();
    tokio::time::timeout(DEADLINE, watching.wait_for(|p| *p >= 40)).await.expect("burst under way").expect("running");
    world.kill_server().await;
    let addr = world.restart_process().await;
    proxy.redirect(addr);
    generation_tx.send_replace(1);

    tokio::time::timeout(DEADLINE * 2, burst).await.expect("the burst ends").expect("burst task");
    for task in replies {
        task.await.expect("replies queued");
    }
    for client in &clients {
        settled(&world, client).await;
        wait_for("every reply handed to WhatsApp", client, |c| async move {
            let inbox = c.inbox(handoff_core::InboxView::All, 100).await.unwrap_or_default();
            let mut pending = false;
            for conv in inbox {
                let thread = c.thread(conv.id).await.ok().flatten();
                pending |=
                    thread.is_none_or(|t| t.messages.iter().any(|m| m.message.delivery == Some(Delivery::Pending)));
            }
            !pending
        })
        .await;
        settled(&world, client).await;
    }
    for client in &clients {
        world.assert_converged(client).await;
    }

    let messages = all_messages(&world).await;
    let inbound = bodies(&messages, MessageKind::Inbound);
    for i in 0..90 {
        assert_eq!(inbound.get(&format!("burst {i}")), Some(&1), "customer message {i}");
    }
    assert_eq!(inbound.values().sum::<usize>(), 100, "10 hellos and 90 burst messages, nothing else");
    let outbound = bodies(&messages, MessageKind::Outbound);
    for n in 0..3 {
        for r in 0..10 {
            assert_eq!(outbound.get(&format!("reply {n}-{r}")), Some(&1), "reply {n}-{r}");
        }
    }
    assert_eq!(outbound.values().sum::<usize>(), 30);
    world.stop().await;
}

/// (b) Half the clients lose the network while the others keep working; meanwhile they work
/// offline. After the partition heals, everyone converges, and the changes that conflict are
/// refused with the reason instead of overwriting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_a_partition_heals_and_everyone_converges() {
    let world = World::start().await;
    let emails = ["ana@test.local", "ben@test.local", "cy@test.local", "dee@test.local"];
    let mut users = Vec::new();
    for (email, name) in emails.iter().zip(["Ana", "Ben", "Cy", "Dee"]) {
        users.push(world.create_user(email, name, Role::Agent).await);
    }
    let side_a = FaultProxy::start(world.addr()).await;
    let side_b = FaultProxy::start(world.addr()).await;
    let ana = world.client_at(emails[0], &side_a.url()).await;
    let ben = world.client_at(emails[1], &side_a.url()).await;
    let cy = world.client_at(emails[2], &side_b.url()).await;
    let dee = world.client_at(emails[3], &side_b.url()).await;
    let mut c = Vec::new();
    for k in 0..6 {
        c.push(world.inbound(&format!("+49151000001{k:02}"), "Hi", None).await.conversation_id);
    }
    for client in [&ana, &ben, &cy, &dee] {
        settled(&world, client).await;
    }

    side_b.set(Fault::Cut);
    offline(&cy).await;
    offline(&dee).await;
    let mut cy_changes = cy.subscribe();
    // The connected side works on.
    ana.claim(c[0]).await.unwrap();
    ana.reply(c[0], "On it", None, false).await.unwrap();
    ben.note(c[1], "Ben's note").await.unwrap();
    ben.label(c[2], vec!["vip".into()], vec![]).await.unwrap();
    world.inbound("+4915100000103", "Any news?", None).await;
    world.inbound("+4915100000199", "New customer", None).await;
    // The cut-off side works offline: its changes wait in the outbox.
    cy.claim(c[0]).await.unwrap();
    cy.note(c[1], "Cy's note, written offline").await.unwrap();
    let blind_reply = cy.reply(c[3], "Reply written before the customer's new message", None, false).await.unwrap();
    dee.label(c[2], vec!["refund".into()], vec![]).await.unwrap();
    dee.claim(c[4]).await.unwrap();
    dee.set_status(c[5], handoff_proto::ConversationStatus::Resolved).await.unwrap();
    assert_eq!(cy.outbox_len().await.unwrap(), 3);
    assert_eq!(dee.outbox_len().await.unwrap(), 3);
    for client in [&ana, &ben] {
        settled(&world, client).await;
    }
    // 30 s without them, on the server's clock: they are offline for routing and presence too.
    world.clock.advance(chrono::Duration::seconds(31));
    world.wait_online(users[2].id, false).await;
    world.wait_online(users[3].id, false).await;

    side_b.set(Fault::None);
    for client in [&ana, &ben, &cy, &dee] {
        settled(&world, client).await;
    }
    for client in [&ana, &ben, &cy, &dee] {
        world.assert_converged(client).await;
    }
    let conv = |id| world.conversation(id);
    assert_eq!(conv(c[0]).await.assignee_id, Some(users[0].id), "Ana claimed first");
    assert_eq!(conv(c[4]).await.assignee_id, Some(users[3].id), "Dee's offline claim applied");
    assert_eq!(conv(c[5]).await.status, handoff_proto::ConversationStatus::Resolved);
    assert_eq!(conv(c[2]).await.labels, vec!["refund".to_string(), "vip".to_string()]);
    let notes = bodies(&all_messages(&world).await, MessageKind::Note);
    assert_eq!(notes.get("Ben's note"), Some(&1));
    assert_eq!(notes.get("Cy's note, written offline"), Some(&1));
    // Cy learns why two of her changes did not go through.
    let mut refused = HashMap::new();
    while let Ok(change) = cy_changes.try_recv() {
        if let Change::Rejected { mutation_id, error, .. } = change {
            refused.insert(error.code.clone(), mutation_id);
        }
    }
    assert!(refused.contains_key("already_claimed"), "{refused:?}");
    assert_eq!(refused.values().filter(|id| **id == blind_reply).count(), 1, "{refused:?}");
    let sent = world.sent().await;
    assert!(sent.iter().all(|s| s.body != "Reply written before the customer's new message"));
    let waiting = cy.attention().await.unwrap();
    assert_eq!(waiting.iter().map(|a| a.mutation_id).collect::<Vec<_>>(), [blind_reply], "needs attention");
    world.stop().await;
}

/// (c) A client process is killed with SIGKILL while it flushes 100 queued changes; the app
/// starts again on the same cache and each change is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_a_client_killed_with_a_full_outbox_applies_each_change_once() {
    let world = World::start().await;
    let ana_user = world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let cid = world.inbound("+4915112345678", "Hello?", None).await.conversation_id;
    let proxy = FaultProxy::start(world.addr()).await;
    let cache = world.cache_path("ana@test.local");
    // Ana signed in once; the app was closed.
    let token = {
        let ana = Client::open(&cache).await.unwrap();
        let (_, token) = ana.sign_in(&proxy.url(), "ana@test.local", PASSWORD).await.unwrap();
        settled(&world, &ana).await;
        ana.stop().await;
        token
    };

    // The app starts offline and queues 100 changes.
    proxy.set(Fault::Cut);
    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_outbox-agent"))
        .arg(proxy.url())
        .arg(&token)
        .arg(&cache)
        .arg(cid.to_string())
        .arg("100")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("outbox-agent starts");
    let mut lines = tokio::io::BufReader::new(agent.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(DEADLINE, lines.next_line()).await.expect("queued in time").unwrap();
    assert_eq!(line.as_deref(), Some("queued 100"));

    // The network comes back slowly; the process is killed once the server has applied half.
    let state = world.server.as_ref().unwrap().state.clone();
    let mut hub = state.store.hub().subscribe(world.first_workspace().await);
    let start = world.head_seq().await;
    proxy.set(Fault::Delay(Duration::from_millis(5)));
    let half = async {
        loop {
            if let Ok(handoff_server::hub::HubMsg::Event { seq, .. }) = hub.recv().await {
                if seq - start >= 50 {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(DEADLINE, half).await.expect("half applied in time");
    agent.start_kill().unwrap();
    agent.wait().await.unwrap();
    proxy.set(Fault::None);

    // The app starts again on the same cache, with changes the server has applied still queued
    // (their acks were on the slow link): they are sent again and must not apply twice.
    let ana = Client::open(&cache).await.unwrap();
    let left = ana.outbox_len().await.unwrap();
    assert!(left > 0 && left <= 100, "{left} changes still queued after the kill");
    ana.resume(&proxy.url(), &token).await.unwrap();
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;

    let messages = world.messages(cid).await;
    let notes = bodies(&messages, MessageKind::Note);
    let replies = bodies(&messages, MessageKind::Outbound);
    for i in 0..100 {
        match i % 10 {
            0..=6 => assert_eq!(notes.get(&format!("note #{i}")), Some(&1), "note #{i}"),
            7 | 8 => assert_eq!(replies.get(&format!("reply #{i}")), Some(&1), "reply #{i}"),
            _ => {}
        }
    }
    assert_eq!(notes.values().sum::<usize>() + replies.values().sum::<usize>(), 90);
    let labels = world.conversation(cid).await.labels;
    assert_eq!(labels.len(), 10, "{labels:?}");
    let mut sent: Vec<String> = world.sent().await.into_iter().map(|s| s.body).collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 20, "each reply handed to WhatsApp once");
    assert_eq!(world.sent().await.len(), 20);
    // The audit log has one entry per change, however often it was sent.
    let mine = world.audit().await.into_iter().filter(|e| e.actor_id == Some(ana_user.id) && e.action != "view");
    assert_eq!(mine.count(), 100);
    world.stop().await;
}

/// (d) Every customer message arrives three times, concurrently, and the receipts of every
/// reply arrive duplicated and out of order: one row per WhatsApp id, and a delivery state that
/// never moves backwards on the server or in any cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_redeliveries_and_reordered_receipts_change_nothing_twice() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    world.create_user("ben@test.local", "Ben", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let ben = world.client("ben@test.local").await;
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    for i in 0..20 {
        let inbound = SimulatorInbound {
            from: format!("+49151000002{:02}", i % 5),
            name: None,
            body: format!("question {i}"),
            wa_message_id: Some(format!("wamid-{i}")),
            media: None,
            media_content: None,
            alt: None,
            group: None,
        };
        let [a, b, c] = [0, 1, 2].map(|_| world.raw(Method::POST, &path, &world.admin_token, Some(&inbound)));
        let (a, b, c) = tokio::join!(a, b, c);
        let mut codes = [a.status().as_u16(), b.status().as_u16(), c.status().as_u16()];
        codes.sort();
        assert!(codes.iter().all(|s| *s == 200 || *s == 201) && codes.contains(&201), "{codes:?}");
    }
    settled(&world, &ana).await;
    let conversations = world.conversations().await;
    assert_eq!(conversations.len(), 5);
    for conv in &conversations {
        ana.reply(conv.id, &format!("answer to {}", conv.id), None, true).await.unwrap();
    }
    settled(&world, &ana).await;
    wait_for("replies sent", &ana, |c| async move {
        let mut sent = 0;
        for conv in c.inbox(handoff_core::InboxView::All, 10).await.unwrap_or_default() {
            let t = c.thread(conv.id).await.ok().flatten();
            sent += t.map_or(0, |t| t.messages.iter().filter(|m| m.message.delivery == Some(Delivery::Sent)).count());
        }
        sent == 5
    })
    .await;

    let receipts = world.sent().await;
    assert_eq!(receipts.len(), 5);
    let orders: [&[Delivery]; 5] = [
        &[Delivery::Read, Delivery::Delivered, Delivery::Delivered],
        &[Delivery::Delivered, Delivery::Read, Delivery::Delivered, Delivery::Read],
        &[Delivery::Read, Delivery::Read],
        &[Delivery::Delivered, Delivery::Delivered],
        &[Delivery::Read, Delivery::Sent, Delivery::Delivered],
    ];
    let receipt_path = format!("/api/v1/devices/{}/simulator/receipt", world.device.id);
    for (sent, order) in receipts.iter().zip(orders) {
        for state in order {
            let body = SimulatorReceipt { wa_message_id: sent.wa_message_id.clone(), state: *state };
            let resp = world.raw(Method::POST, &receipt_path, &world.admin_token, Some(&body)).await;
            assert_eq!(resp.status(), 204);
        }
    }
    for client in [&ana, &ben] {
        settled(&world, client).await;
        world.assert_converged(client).await;
    }

    let messages = all_messages(&world).await;
    let mut by_wa_id: HashMap<&str, usize> = HashMap::new();
    for m in &messages {
        *by_wa_id.entry(m.wa_message_id.as_deref().expect("every message here came from WhatsApp")).or_default() += 1;
    }
    assert_eq!(by_wa_id.len(), 25, "20 questions and 5 answers");
    assert!(by_wa_id.values().all(|n| *n == 1), "{by_wa_id:?}");
    let final_state: HashMap<&str, Option<Delivery>> =
        messages.iter().map(|m| (m.wa_message_id.as_deref().unwrap(), m.delivery)).collect();
    for (sent, order) in receipts.iter().zip(orders) {
        let best = order.iter().max_by_key(|d| d.rank()).copied();
        assert_eq!(final_state[sent.wa_message_id.as_str()], best, "{}", sent.wa_message_id);
    }
    // The log never takes a message's delivery state backwards.
    let head = world.head_seq().await;
    let mut last: HashMap<MessageId, u8> = HashMap::new();
    for Event { body, .. } in world.events(head).await {
        if let EventBody::MessageCreated { message, .. } | EventBody::MessageUpdated { message } = body {
            if let Some(d) = message.delivery {
                let previous = last.insert(message.id, d.rank()).unwrap_or(0);
                assert!(d.rank() >= previous, "{} went from rank {previous} to {d:?}", message.id);
            }
        }
    }
    world.stop().await;
}
