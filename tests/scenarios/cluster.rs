//! Three nodes on one PostgreSQL database behind a load balancer (Caddy), real clients spread
//! over them (`tests/src/nodes.rs`). Run in the test command's PostgreSQL run.
//!
//! - A customer message through the number node A drives reaches the clients on B and C; one
//!   injected through node C reaches A, which drives the number, by being passed on.
//! - Presence crosses nodes: who is online, and who views what.
//! - An API key revoked through node B is refused by node A within the token cache's second.
//! - A claim race between clients on B and C has one winner; the loser learns who.
//! - A reply written on C goes out through A's number.
//! - A gateway number's webhooks may land on any node: one sent to a node that does not drive
//!   the number is passed on to the one that does.
//! - Node A killed with SIGKILL in the middle of a burst of customer messages: its number moves
//!   to another node (timed), the burst (each message retried until acknowledged, as WhatsApp
//!   redelivers) is stored once each, a reply pending on A goes out once from the new node, A's
//!   clients reconnect through the balancer to the others and catch up with nothing missed or
//!   doubled, and a user whose only connection was on A goes offline (timed).
//! - Every client's cache is compared with the database at the end.

use std::time::{Duration, Instant};

use handoff_core::{Change, ConnectionState};
use handoff_proto::{Delivery, Role, SimulatorInbound};
use handoff_tests::nodes::Nodes;
use handoff_tests::{settled, wait_delivery, wait_for, World, DEADLINE};
use reqwest::StatusCode;
use sqlx::Connection;

/// A user with no connection stays online this long in this test (30 s by default).
const GRACE_MS: u64 = 2_000;
/// Customer messages in the burst; node A dies after the first third is acknowledged.
const BURST: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_keep_one_order_and_a_dead_nodes_number_moves() {
    let Some(base) = std::env::var("HANDOFF_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        println!("several nodes need PostgreSQL: this scenario runs in the test command's PostgreSQL run");
        return;
    };
    let nodes_dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = Nodes::start(env!("CARGO_BIN_EXE_test-server"), nodes_dir.path(), &base, 3, GRACE_MS).await;
    // The Admin and the simulated number come in through node A, which then drives the number.
    let world = World::attach(tempfile::tempdir().expect("temp dir"), nodes.via(0)).await;
    assert_eq!(holder(&nodes, world.device.id).await, node_id(nodes_dir.path(), 0), "node A drives the number");

    for (email, name) in [("ana@test.local", "Ana"), ("ben@test.local", "Ben"), ("cai@test.local", "Cai")] {
        world.create_user(email, name, Role::Agent).await;
    }
    let dan_user = world.create_user("dan@test.local", "Dan", Role::Agent).await;
    let ana = world.client_at("ana@test.local", &nodes.via(0)).await; // on A
    let ben = world.client_at("ben@test.local", &nodes.via(1)).await; // on B
    let cai = world.client_at("cai@test.local", &nodes.via(2)).await; // on C
                                                                      // Dan reaches node A itself, without the balancer: when A dies, so does his only connection.
    let dan = world.client_at("dan@test.local", &format!("http://{}", nodes.addr(0))).await;

    // What A commits reaches B and C.
    let first = world.inbound("+4915112345678", "Hello from A's number", None).await;
    let cid = first.conversation_id;
    for client in [&ben, &cai] {
        wait_for(
            "A's customer message on B and C",
            client,
            |c| async move { c.thread(cid).await.ok().flatten().is_some() },
        )
        .await;
    }
    // A message injected through node C is passed on to A, which drives the number.
    let via_c = inject(&world, &nodes.via(2), "+4915187654321", "Hello through C", "through-c").await;
    assert!(via_c, "injected through node C");

    // Presence crosses nodes: Ben (B) sees Ana (A) and Dan (A) online, Cai (C) sees Ana view.
    let ana_id = ana.session().unwrap().user.id;
    wait_for("Ana and Dan online, seen from B", &ben, |c| async move {
        let online = c.presence().statuses;
        online.iter().any(|s| s.user_id == ana_id) && online.iter().any(|s| s.user_id == dan_user.id)
    })
    .await;
    ana.set_presence(Some(cid), handoff_proto::Activity::Viewing);
    wait_for("Ana viewing, seen from C", &cai, |c| async move {
        c.presence().activities.iter().any(|a| a.user_id == ana_id && a.conversation_id == cid)
    })
    .await;

    // A key revoked through node B is refused by node A within the token cache's second, though
    // A had just checked it (and kept it).
    let key: handoff_proto::CreatedApiKey = world
        .call(reqwest::Method::POST, "/api/v1/api-keys", Some(&serde_json::json!({"name": "cache", "role": "agent"})))
        .await;
    let http = reqwest::Client::new();
    let me_at_a = || http.get(format!("http://{}/api/v1/me", nodes.addr(0))).bearer_auth(&key.key).send();
    assert_eq!(me_at_a().await.expect("node A").status(), StatusCode::OK, "the new key works on A");
    let revoke = format!("http://{}/api/v1/api-keys/{}", nodes.addr(1), key.api_key.id);
    let revoked = http.delete(revoke).bearer_auth(&world.admin_token).send().await.expect("node B");
    assert!(revoked.status().is_success(), "revoked through B: {}", revoked.status());
    let since = Instant::now();
    while me_at_a().await.expect("node A").status() != StatusCode::UNAUTHORIZED {
        assert!(since.elapsed() < Duration::from_secs(3), "node A still takes the key revoked through B");
        tokio::task::yield_now().await;
    }
    let refused_after = since.elapsed();
    println!("a key revoked through node B refused by node A after {refused_after:?}");
    assert!(
        refused_after <= handoff_server::store::bearers::FRESH_FOR + Duration::from_millis(500),
        "refused by A after {refused_after:?}"
    );

    // A claim race between B and C: one winner, and the loser is told who.
    for client in [&ben, &cai] {
        settled(&world, client).await;
    }
    let mut changes = [ben.subscribe(), cai.subscribe()];
    let ids = tokio::join!(ben.claim(cid), cai.claim(cid));
    let ids = [ids.0.unwrap(), ids.1.unwrap()];
    for client in [&ben, &cai] {
        settled(&world, client).await;
    }
    let winner = world.conversation(cid).await.assignee_id.expect("someone won");
    let mut refused = 0;
    for (i, client) in [&ben, &cai].into_iter().enumerate() {
        while let Ok(change) = changes[i].try_recv() {
            if let Change::Rejected { mutation_id, error, .. } = change {
                assert_eq!(mutation_id, ids[i]);
                assert_eq!((error.code.as_str(), error.assignee_id), ("already_claimed", Some(winner)));
                refused += 1;
            }
        }
        assert_eq!(client.thread(cid).await.unwrap().unwrap().conversation.assignee_id, Some(winner));
    }
    assert_eq!(refused, 1, "one loser, told");
    let (owner, other) = if ben.session().unwrap().user.id == winner { (&ben, &cai) } else { (&cai, &ben) };

    // A reply written on B or C goes out through A's number.
    owner.reply(cid, "Answered from another node", None, false).await.unwrap();
    wait_delivery(owner, cid, "Answered from another node", Delivery::Sent).await;
    assert!(world.sent().await.iter().any(|s| s.body == "Answered from another node"));

    // A gateway number's webhooks land on whichever node the balancer picks. While no node
    // drives a just-added number they are answered 503 and sent again, as WAHA does; then one
    // that reaches another node is passed on to the node that drives it.
    let gw = crate::gateway::gateway_device(&world).await;
    assert_eq!(webhook(&nodes, &gw, 1, "session-status-working").await, StatusCode::OK);
    let gw_holder = holder(&nodes, gw.id()).await;
    let elsewhere = (0..3).find(|i| node_id(nodes_dir.path(), *i) != gw_holder).expect("two other nodes");
    assert_eq!(webhook(&nodes, &gw, elsewhere, "message-text").await, StatusCode::OK);
    let lena =
        world.conversations().await.into_iter().find(|c| c.device_id == gw.id()).expect("the webhook's customer");
    assert_eq!(world.messages(lena.id).await.len(), 1, "stored once, by the node that drives the number");

    // A burst of customer messages through node C; node A dies a third of the way in, with a
    // reply waiting to go out.
    let burst_world = std::sync::Arc::new(world);
    let burst = {
        let world = burst_world.clone();
        let entrance = nodes.via(2);
        tokio::spawn(async move {
            let (acked_tx, acked_rx) = tokio::sync::watch::channel(0usize);
            let sender = tokio::spawn(async move {
                for i in 0..BURST {
                    let from = format!("+49151000{:05}", i % 40);
                    assert!(inject(&world, &entrance, &from, &format!("burst {i}"), &format!("burst-{i}")).await);
                    acked_tx.send_replace(i + 1);
                }
            });
            (sender, acked_rx)
        })
        .await
        .unwrap()
    };
    let (sender, mut acked) = burst;
    acked.wait_for(|n| *n >= BURST / 3).await.unwrap();
    other.reply(cid, "Written just before A died", None, true).await.unwrap();
    nodes.kill(0).await;
    let killed = Instant::now();
    let before = *acked.borrow();

    // The number moves: the next customer message is acknowledged by the node that took it over.
    tokio::time::timeout(Duration::from_secs(30), acked.wait_for(|n| *n > before))
        .await
        .expect("the number moved in time")
        .unwrap();
    let moved = killed.elapsed();
    assert_ne!(holder(&nodes, burst_world.device.id).await, node_id(nodes_dir.path(), 0), "another node drives it");
    println!("{{\"figure\": \"device moved after its node was killed\", \"seconds\": {:.2}}}", moved.as_secs_f64());
    assert!(moved < Duration::from_secs(15), "moved in {moved:?}");
    tokio::time::timeout(Duration::from_secs(60), sender).await.expect("the burst ends").expect("every message acked");

    // Dan's only connection died with A: Ben sees him offline after the grace period.
    wait_for("Dan offline, seen from B", &ben, |c| async move {
        !c.presence().statuses.iter().any(|s| s.user_id == dan_user.id)
    })
    .await;
    println!(
        "{{\"figure\": \"a dead node's user offline after its death\", \"seconds\": {:.2}, \"grace_seconds\": {:.1}}}",
        killed.elapsed().as_secs_f64(),
        GRACE_MS as f64 / 1000.0
    );
    drop(dan);

    // Ana reconnects through the balancer to another node and catches up.
    wait_for("Ana connected again", &ana, |c| async move { c.connection() == ConnectionState::Online }).await;
    let world = std::sync::Arc::try_unwrap(burst_world).ok().expect("the burst is done");
    wait_delivery(other, cid, "Written just before A died", Delivery::Sent).await;
    for client in [&ana, &ben, &cai] {
        settled(&world, client).await;
    }

    // Each burst message is stored once, and every cache equals the database.
    let mut bodies = Vec::new();
    for c in world.conversations().await {
        bodies.extend(world.messages(c.id).await.into_iter().map(|m| m.body));
    }
    for i in 0..BURST {
        assert_eq!(bodies.iter().filter(|b| **b == format!("burst {i}")).count(), 1, "burst {i}");
    }
    assert_eq!(bodies.iter().filter(|b| *b == "Written just before A died").count(), 1);
    for client in [&ana, &ben, &cai] {
        world.assert_converged(client).await;
    }
}

/// Injects a customer message through `entrance`, again until the number's node acknowledges it
/// (a number on the move answers 503; a dying node drops the connection), as WhatsApp redelivers
/// what was not acknowledged. Returns whether it was.
async fn inject(world: &World, entrance: &str, from: &str, body: &str, wa_id: &str) -> bool {
    let req = SimulatorInbound {
        from: from.into(),
        name: None,
        body: body.into(),
        wa_message_id: Some(wa_id.into()),
        media: None,
        media_content: None,
        alt: None,
        group: None,
    };
    let url = format!("{entrance}/api/v1/devices/{}/simulator/inbound", world.device.id);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::time::Instant::now() < deadline {
        let sent = world.http().post(&url).bearer_auth(&world.admin_token).json(&req).send().await;
        match sent {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().as_u16() == 503 || r.status().as_u16() == 502 => {}
            Ok(r) => panic!("{body}: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(_) => {}
        }
        // WhatsApp's pause before it redelivers: the behaviour modelled, not a wait for readiness.
        tokio::time::sleep(Duration::from_millis(100)).await; // clock: a redelivery's pause
    }
    false
}

/// Posts the recorded webhook `name` for the gateway `gw` through node `i`'s entrance, sent again
/// while it is answered 503 (or the entrance finds no node), as WAHA retries.
async fn webhook(nodes: &Nodes, gw: &crate::gateway::Gateway, i: usize, name: &str) -> StatusCode {
    let body = crate::gateway::fixture(name);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = gw.deliver_via(&nodes.via(i), &body).await;
        if !matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY) {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} through node {i}: still {status}");
        // WAHA's pause before it retries: the behaviour modelled, not a wait for readiness.
        tokio::time::sleep(Duration::from_millis(100)).await; // clock: a retry's pause
    }
}

/// The node that holds the number's lease, from the database.
async fn holder(nodes: &Nodes, device: handoff_proto::DeviceId) -> String {
    let mut conn = sqlx::PgConnection::connect(&nodes.database).await.expect("the database");
    let node: String = sqlx::query_scalar("SELECT node_id FROM device_leases WHERE device_id = $1")
        .bind(device.to_string())
        .fetch_one(&mut conn)
        .await
        .expect("a lease");
    conn.close().await.ok();
    node
}

/// Node `i`'s id, as it keeps it in its data folder.
fn node_id(dir: &std::path::Path, i: usize) -> String {
    std::fs::read_to_string(dir.join(format!("node-{i}")).join("node-id")).expect("node-id").trim().to_string()
}
