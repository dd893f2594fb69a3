//! The durable outbound worker (crates/server/src/outbound/) against a WAHA gateway that
//! misbehaves: one that hangs, a server killed with a send in hand, a graceful stop with a send
//! in hand, an echo that beats the send's own answer, a device removed mid-send, a session that
//! is down. Each reply reaches WhatsApp as one message.

use std::time::{Duration, Instant};

use handoff_core::Client;
use handoff_proto::{Conversation, ConversationId, Delivery, Message, MessageKind, ReplyRequest, Role};
use handoff_tests::{wait_delivery, wait_for, World};
use reqwest::{Method, StatusCode};

use crate::gateway::{fixture, gateway_device, Gateway};

/// A gateway number, linked, with Lena's conversation on it.
async fn linked(world: &World) -> (Gateway, Conversation) {
    let gw = gateway_device(world).await;
    assert_eq!(gw.deliver(world, &fixture("session-status-working")).await, StatusCode::OK);
    assert_eq!(gw.deliver(world, &fixture("message-text")).await, StatusCode::OK);
    let conversation = world.conversations().await.into_iter().find(|c| c.device_id == gw.id()).expect("Lena's");
    (gw, conversation)
}

async fn agent(world: &World, conversation: &Conversation) -> Client {
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let id = conversation.id;
    wait_for("the conversation", &ana, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;
    ana
}

/// The replies with `body` the server holds for the conversation.
async fn replies(world: &World, conversation: &Conversation, body: &str) -> Vec<Message> {
    world
        .messages(conversation.id)
        .await
        .into_iter()
        .filter(|m| m.kind == MessageKind::Outbound && m.body == body)
        .collect()
}

/// Waits until the client shows a message with `body` in the conversation.
async fn sees(client: &Client, conversation_id: ConversationId, body: &str) {
    let body = body.to_string();
    wait_for(&format!("{body:?}"), client, |c| {
        let body = body.clone();
        async move {
            c.thread(conversation_id)
                .await
                .ok()
                .flatten()
                .is_some_and(|t| t.messages.iter().any(|m| m.message.body == body))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_hangs_30_s_delays_only_that_reply_and_the_agent_keeps_getting_live_events() {
    let world = World::start().await;
    let (gw, conversation) = linked(&world).await;
    let ana = agent(&world, &conversation).await;

    // The gateway takes the send and hangs for 30 s (past the adapter's 20 s timeout: it is
    // tried again, as the same message).
    gw.stub.stall_next_send(Duration::from_secs(30));
    let replied = Instant::now();
    ana.reply(conversation.id, "One moment, I am checking", None, false).await.unwrap();
    wait_for("the reply acknowledged", &ana, |c| async move { c.outbox_len().await.unwrap_or(1) == 0 }).await;
    assert!(replied.elapsed() < Duration::from_secs(5), "the reply is committed, not sent, before it is acknowledged");
    gw.stub.wait_sends(1).await;

    // Meanwhile customers keep writing, to the gateway number and to the simulator's: Ana has
    // each within a second, all the time the send hangs.
    let mut pace = tokio::time::interval(Duration::from_secs(1));
    let mut slowest = Duration::ZERO;
    let mut measured = 0;
    while !replies(&world, &conversation, "One moment, I am checking")
        .await
        .iter()
        .any(|m| m.delivery == Some(Delivery::Sent))
    {
        pace.tick().await;
        measured += 1;
        let body = format!("Are you still there? ({measured})");
        let at = Instant::now();
        let conversation_id = if measured % 2 == 0 {
            let event = fixture("message-text")
                .replace("3EB0A1B2C3D4E5F60718", &format!("3EB0LIVE{measured:012}"))
                .replace("Hello, my order has not arrived", &body);
            assert_eq!(gw.deliver(&world, &event).await, StatusCode::OK);
            conversation.id
        } else {
            world.inbound(&format!("+4915199{measured:05}"), &body, None).await.conversation_id
        };
        sees(&ana, conversation_id, &body).await;
        slowest = slowest.max(at.elapsed());
        assert!(at.elapsed() < Duration::from_secs(1), "message {measured} took {:?} to reach Ana", at.elapsed());
        assert!(measured < 60, "the reply was not sent within a minute");
    }
    assert!(measured >= 15, "the send hung while {measured} messages were measured");
    let sends = gw.stub.sends();
    assert_eq!(sends.len(), 2, "the hung attempt and its retry");
    assert_eq!(sends[1].body["id"], sends[0].body["id"], "the retry is the same WhatsApp message");
    assert_eq!(replies(&world, &conversation, "One moment, I am checking").await.len(), 1);
    eprintln!("{measured} live messages during the hung send; the slowest reached the agent in {slowest:?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_with_a_send_in_hand_sends_it_once_after_restart_as_the_same_message() {
    let mut world = World::start_process(env!("CARGO_BIN_EXE_test-server")).await;
    let (gw, conversation) = linked(&world).await;
    gw.stub.hold_sends(true);
    let path = format!("/api/v1/conversations/{}/messages", conversation.id);
    let request =
        ReplyRequest { body: "Your parcel left today".into(), seen_version: conversation.version, force: false };
    let reply: Message = world.call(Method::POST, &path, Some(&request)).await;
    assert_eq!(reply.delivery, Some(Delivery::Pending), "committed and acknowledged before any send");
    let first = gw.stub.wait_sends(1).await[0].body["id"].as_str().expect("the send names its id").to_string();

    // Killed before the gateway answers: the reply's outcome was never stored.
    world.kill_server().await;
    gw.stub.hold_sends(false);
    world.restart_process().await;
    let ana = agent(&world, &conversation).await;
    let sent = wait_delivery(&ana, conversation.id, "Your parcel left today", Delivery::Sent).await;

    let sends = gw.stub.sends();
    assert_eq!(sends.len(), 2, "one attempt before the kill, one after the restart");
    assert_eq!(sends[1].body["id"], first.as_str(), "the resend is the same WhatsApp message");
    assert_eq!(sent.wa_message_id, Some(format!("true_4915112345678@c.us_{first}")));
    assert_eq!(replies(&world, &conversation, "Your parcel left today").await.len(), 1);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echo_that_beats_the_sends_answer_leaves_one_message() {
    let world = World::start().await;
    let (gw, conversation) = linked(&world).await;
    let ana = agent(&world, &conversation).await;
    // The gateway reports the sent message (message.any, fromMe) before it answers sendText.
    gw.stub.echo_sends(&gw.webhook_url(&world), &gw.secret);
    ana.reply(conversation.id, "Thanks, Lena", None, false).await.unwrap();
    let sent = wait_delivery(&ana, conversation.id, "Thanks, Lena", Delivery::Sent).await;
    let id = gw.stub.sends()[0].body["id"].as_str().unwrap().to_string();
    assert_eq!(sent.wa_message_id, Some(format!("true_4915112345678@c.us_{id}")));

    // The same echo again later (WAHA sends message.any more than once): still one message.
    let echo = fixture("message-any-from-phone")
        .replace("3EB0ABCDEF0123456789", &id)
        .replace("Typed on the phone: we are on it", "Thanks, Lena");
    assert_eq!(gw.deliver(&world, &echo).await, StatusCode::OK);
    let stored = replies(&world, &conversation, "Thanks, Lena").await;
    assert_eq!(stored.len(), 1, "the echo is our reply, not a message typed on the phone");
    assert!(stored[0].author_id.is_some(), "still Ana's reply");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_device_mid_send_cancels_its_sends_and_the_rest_goes_on() {
    let world = World::start().await;
    let (gw, conversation) = linked(&world).await;
    let ana = agent(&world, &conversation).await;
    gw.stub.hold_sends(true);
    ana.reply(conversation.id, "This one never leaves", None, false).await.unwrap();
    gw.stub.wait_sends(1).await;
    let path = format!("/api/v1/devices/{}", gw.id());
    let removed = tokio::time::timeout(
        handoff_tests::DEADLINE,
        world.raw(Method::DELETE, &path, &world.admin_token, None::<&()>),
    )
    .await
    .expect("the removal does not wait for the hung send");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    gw.stub.hold_sends(false);
    // The server goes on: a reply on the other number is sent.
    let msg = world.inbound("+4915100000042", "Hello from the other line", None).await;
    sees(&ana, msg.conversation_id, "Hello from the other line").await;
    ana.reply(msg.conversation_id, "Hello!", None, false).await.unwrap();
    wait_delivery(&ana, msg.conversation_id, "Hello!", Delivery::Sent).await;
    assert_eq!(gw.stub.sends().len(), 1, "nothing more went to the removed gateway");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_for_a_number_that_is_down_waits_and_goes_once_it_is_back() {
    let world = World::start().await;
    let (gw, conversation) = linked(&world).await;
    let ana = agent(&world, &conversation).await;
    // WAHA says the session failed: the number is down.
    assert_eq!(gw.deliver(&world, &fixture("session-status-failed")).await, StatusCode::OK);
    ana.reply(conversation.id, "We will get back to you", None, false).await.unwrap();
    wait_for("the reply acknowledged", &ana, |c| async move { c.outbox_len().await.unwrap_or(1) == 0 }).await;
    // Time passes for the worker (a customer message goes all the way to Ana meanwhile): the
    // reply waits, pending, and nothing is handed to a gateway whose session is down.
    let inbound = fixture("message-text")
        .replace("3EB0A1B2C3D4E5F60718", "3EB0WAITING000000001")
        .replace("Hello, my order has not arrived", "Still waiting");
    assert_eq!(gw.deliver(&world, &inbound).await, StatusCode::OK);
    sees(&ana, conversation.id, "Still waiting").await;
    assert!(gw.stub.sends().is_empty(), "nothing sent while the number is down");
    let held = replies(&world, &conversation, "We will get back to you").await;
    assert_eq!(held[0].delivery, Some(Delivery::Pending), "waiting, not failed");
    // Back: it goes, once.
    assert_eq!(gw.deliver(&world, &fixture("session-status-working")).await, StatusCode::OK);
    wait_delivery(&ana, conversation.id, "We will get back to you", Delivery::Sent).await;
    assert_eq!(gw.stub.sends().len(), 1);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_the_send_in_hand_and_nothing_goes_twice() {
    let mut world = World::start().await;
    let (gw, conversation) = linked(&world).await;
    gw.stub.hold_sends(true);
    let path = format!("/api/v1/conversations/{}/messages", conversation.id);
    let request = ReplyRequest { body: "Sent before we stop".into(), seen_version: conversation.version, force: false };
    let reply: Message = world.call(Method::POST, &path, Some(&request)).await;
    assert_eq!(reply.delivery, Some(Delivery::Pending));
    gw.stub.wait_sends(1).await;

    // SIGTERM's stop while the gateway holds the send: once the server has stopped accepting
    // (its listener refuses), the gateway answers. A stop that cut the send would leave the reply
    // pending, to go out again at the next start.
    let url = world.url.clone();
    let release = async {
        let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let deadline = Instant::now() + handoff_tests::DEADLINE;
        while fresh.get(format!("{url}/healthz")).send().await.is_ok() {
            assert!(Instant::now() < deadline, "the server kept accepting after its stop began");
            tokio::task::yield_now().await;
        }
        gw.stub.hold_sends(false);
    };
    let stopped_at = Instant::now();
    let (addr, ()) = tokio::join!(world.stop_server(), release);
    let took = stopped_at.elapsed();
    assert!(took < handoff_server::STOP_TIMEOUT, "the stop took {took:?}");

    // Started again: the reply is recorded as sent, and a new reply is the only other send.
    world.start_server(addr).await;
    let sent = replies(&world, &conversation, "Sent before we stop").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].delivery, Some(Delivery::Sent), "the send in hand was finished and recorded");
    let ana = agent(&world, &conversation).await;
    ana.reply(conversation.id, "And this after", None, false).await.unwrap();
    wait_delivery(&ana, conversation.id, "And this after", Delivery::Sent).await;
    let sends = gw.stub.sends();
    assert_eq!(sends.len(), 2, "the reply in hand once, the new one once");
    assert_eq!(sends[1].body["text"], "And this after");
    eprintln!("graceful stop with a device send in hand: {took:?}");
    world.stop().await;
}
