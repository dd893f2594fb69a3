//! The simulator's behaviours, each driven by its control endpoint, and what the inbox must look
//! like afterwards: receipts skipped, reordered, repeated or early; refused sends and their retry;
//! an offline drain that redelivers; messages typed on the phone; attachments.

use handoff_core::Client;
use handoff_proto::{
    ConversationId, Delivery, EventBody, Media, MediaKind, Message, MessageId, MessageKind, Role, SyncResponse,
};
use handoff_tests::{settled, wait_delivery, wait_for, World};
use reqwest::{Method, StatusCode};
use uuid::Uuid;

async fn control(world: &World, action: &str, body: serde_json::Value) {
    let path = format!("/api/v1/devices/{}/simulator/{action}", world.device.id);
    let resp = world.raw(Method::POST, &path, &world.admin_token, Some(&body)).await;
    assert!(resp.status().is_success(), "{action}: {}", resp.status());
}

/// Replies and waits until the agent's cache shows the reply in `state`.
async fn reply_until(client: &Client, conversation_id: ConversationId, body: &str, state: Delivery) -> Message {
    client.reply(conversation_id, body, None, true).await.unwrap();
    wait_delivery(client, conversation_id, body, state).await
}

/// Every delivery state the event log ever gave `message_id`, in order.
async fn delivery_history(world: &World, message_id: MessageId) -> Vec<Delivery> {
    let log: SyncResponse = world.call(Method::GET, "/api/v1/sync?since=0&limit=1000", None::<&()>).await;
    log.events
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::MessageCreated { message, .. } | EventBody::MessageUpdated { message }
                if message.id == message_id =>
            {
                message.delivery
            }
            _ => None,
        })
        .collect()
}

async fn agent(world: &World) -> (Client, ConversationId) {
    world.create_user("ana@test.local", "Ana Lima", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let cid = world.inbound("+4915112345678", "Hello?", None).await.conversation_id;
    wait_for("the conversation", &ana, |c| async move { c.thread(cid).await.ok().flatten().is_some() }).await;
    (ana, cid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_reordered_repeated_and_early_receipts_end_in_the_furthest_state_without_going_back() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    let plans = [
        ("skipped", serde_json::json!({"steps": ["read"]})),
        ("reordered", serde_json::json!({"steps": ["read", "delivered", "sent"]})),
        ("repeated", serde_json::json!({"steps": ["delivered", "delivered", "read", "read"]})),
        ("early", serde_json::json!({"steps": ["delivered", "read"], "early": true})),
    ];
    for (name, plan) in plans {
        control(&world, "receipts", plan).await;
        let reply = reply_until(&ana, cid, &format!("Reply with {name} receipts"), Delivery::Read).await;
        let history = delivery_history(&world, reply.id).await;
        assert!(history.windows(2).all(|w| w[0].rank() <= w[1].rank()), "{name}: never backwards: {history:?}");
        assert_eq!(history.last(), Some(&Delivery::Read), "{name}");
        if name == "early" {
            // Both receipts beat the send's answer: the reply's WhatsApp id was stored when it
            // was committed, so each applies as it comes, and the late answer ("sent") changes
            // nothing.
            assert_eq!(
                history,
                [Delivery::Pending, Delivery::Delivered, Delivery::Read],
                "early receipts apply at once"
            );
        }
    }
    // A plan without pending, please.
    let path = format!("/api/v1/devices/{}/simulator/receipts", world.device.id);
    let bad =
        world.raw(Method::POST, &path, &world.admin_token, Some(&serde_json::json!({"steps": ["pending"]}))).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_shows_why_and_a_retry_sends_it_once() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    control(&world, "fail-next", serde_json::json!({"reasons": ["This number is not on WhatsApp"]})).await;
    let failed = reply_until(&ana, cid, "Are you there?", Delivery::Failed).await;
    assert_eq!(failed.failure.as_deref(), Some("WhatsApp refused the request: This number is not on WhatsApp"));
    assert!(world.sent().await.is_empty(), "nothing went out");

    ana.retry(cid, failed.id).await.unwrap();
    wait_for("sent again", &ana, |c| async move {
        c.thread(cid).await.ok().flatten().is_some_and(|t| {
            t.messages.iter().any(|m| m.message.id == failed.id && m.message.delivery == Some(Delivery::Sent))
        })
    })
    .await;
    let thread = ana.thread(cid).await.unwrap().unwrap();
    let sent = thread.messages.iter().find(|m| m.message.id == failed.id).unwrap();
    assert_eq!(sent.message.failure, None, "the reason goes with the failure");
    assert_eq!(world.sent().await.iter().filter(|s| s.body == "Are you there?").count(), 1);
    // Retrying what did not fail is refused, and changes nothing.
    ana.retry(cid, failed.id).await.unwrap();
    wait_for("the refusal", &ana, |c| async move { c.outbox_len().await.unwrap_or(1) == 0 }).await;
    assert_eq!(world.sent().await.iter().filter(|s| s.body == "Are you there?").count(), 1);
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_held_while_the_phone_was_offline_arrive_once_when_it_is_back() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    world.inbound("+4915112345678", "Second, before the outage", None).await;
    control(&world, "disconnect", serde_json::json!({})).await;
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    for k in 0..3 {
        let body = serde_json::json!({"from": "+4915112345678", "body": format!("Held {k}")});
        let resp = world.raw(Method::POST, &path, &world.admin_token, Some(&body)).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED, "held by WhatsApp while the phone is offline");
    }
    assert_eq!(world.messages(cid).await.len(), 2, "nothing arrives while offline");
    // Back: the drain repeats the last two delivered and brings the three held, in order.
    control(&world, "reconnect", serde_json::json!({})).await;
    let bodies: Vec<String> = world.messages(cid).await.into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["Hello?", "Second, before the outage", "Held 0", "Held 1", "Held 2"]);
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_typed_on_the_phone_is_outbound_by_the_phone_and_stops_a_stale_reply() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    let seen = ana.thread(cid).await.unwrap().unwrap().conversation.version;
    let typed: Message = world
        .call(
            Method::POST,
            &format!("/api/v1/devices/{}/simulator/phone-message", world.device.id),
            Some(&serde_json::json!({"to": "+4915112345678", "body": "Answered from the phone"})),
        )
        .await;
    assert_eq!((typed.kind, typed.author_id, typed.delivery), (MessageKind::Outbound, None, Some(Delivery::Sent)));
    assert_eq!(typed.conversation_id, cid);
    let refused = ana.reply(cid, "Hi, how can I help?", Some(seen), false).await.unwrap();
    wait_for("the refusal", &ana, |c| async move {
        c.attention().await.unwrap_or_default().iter().any(|a| a.mutation_id == refused)
    })
    .await;
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_arrives_as_a_typed_placeholder() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    let media = Media {
        kind: MediaKind::Audio,
        filename: None,
        mime: Some("audio/ogg; codecs=opus".into()),
        size: Some(48_213),
        downloadable: false,
    };
    let body = serde_json::json!({"from": "+4915112345678", "body": "", "media": media});
    let stored: Message =
        world.call(Method::POST, &format!("/api/v1/devices/{}/simulator/inbound", world.device.id), Some(&body)).await;
    // The simulator keeps the file, so it can be downloaded.
    assert_eq!(stored.media.as_deref(), Some(&Media { downloadable: true, ..media.clone() }));
    wait_for("the voice message", &ana, |c| async move {
        c.thread(cid).await.ok().flatten().is_some_and(|t| t.messages.iter().any(|m| m.message.media.is_some()))
    })
    .await;
    let conversation = ana.thread(cid).await.unwrap().unwrap().conversation;
    assert_eq!(conversation.last_message_preview, "🎤 Voice message");
    // Neither text nor attachment: nothing to store.
    let empty = serde_json::json!({"from": "+4915112345678", "body": " "});
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    let resp = world.raw(Method::POST, &path, &world.admin_token, Some(&empty)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_chat_is_one_conversation_named_by_its_subject_with_each_member_named_on_their_messages() {
    let world = World::start().await;
    let (ana, _) = agent(&world).await;
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    let group = serde_json::json!({"id": "120363025555555555@g.us", "subject": "Team Order #7"});
    let mut conversation = None;
    for (from, name, body) in
        [("+4915112345678", Some("Lena Hoffmann"), "We need three more"), ("+447700900123", None, "And one in blue")]
    {
        let req = serde_json::json!({"from": from, "name": name, "body": body, "group": group});
        let stored: Message = world.call(Method::POST, &path, Some(&req)).await;
        assert_eq!(*conversation.get_or_insert(stored.conversation_id), stored.conversation_id, "one conversation");
    }
    let cid = conversation.unwrap();
    let listed = world.conversations().await.into_iter().find(|c| c.id == cid).unwrap();
    assert_eq!(listed.contact.name.as_deref(), Some("Team Order #7"), "named by the group, not a member");
    let senders: Vec<Option<String>> = world.messages(cid).await.into_iter().map(|m| m.sender).collect();
    assert_eq!(senders, [Some("Lena Hoffmann".to_string()), Some("+447700900123".to_string())]);
    // A group id that is not a group is refused.
    let bad = serde_json::json!({"from": "+4915112345678", "body": "x", "group": {"id": "+4915100000000"}});
    assert_eq!(world.raw(Method::POST, &path, &world.admin_token, Some(&bad)).await.status(), StatusCode::BAD_REQUEST);
    wait_for("the group's messages", &ana, |c| async move {
        c.thread(cid)
            .await
            .ok()
            .flatten()
            .is_some_and(|t| t.messages.iter().filter(|m| m.message.sender.is_some()).count() == 2)
    })
    .await;
    settled(&world, &ana).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

/// Polls the in-process simulator until `done` holds (its records change without an event).
async fn simulator_until(world: &World, what: &str, done: impl Fn(&handoff_channels::Simulator) -> bool) {
    let handle = world.server.as_ref().expect("in process").state.devices.get(world.device.id).expect("device");
    let sim = handle.simulator.clone().expect("a simulator");
    let mut asked = sim.asked();
    let wait = async {
        while !done(&sim) {
            asked.changed().await.expect("the simulator is running");
        }
    };
    tokio::time::timeout(handoff_tests::DEADLINE, wait).await.unwrap_or_else(|_| panic!("{what} in time"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_neither_sends_read_receipts_nor_shows_typing_to_the_customer() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    let viewer = world.create_user("vic@test.local", "Vic", Role::Viewer).await;
    let vic = world.client("vic@test.local").await;
    wait_for("the conversation", &vic, |c| async move { c.thread(cid).await.ok().flatten().is_some() }).await;
    let first = world.messages(cid).await[0].wa_message_id.clone().unwrap();

    // Vic reads it; then the customer writes again and Ana reads. Had Vic's read told WhatsApp,
    // it would have sent the first message alone, and Ana's only the second. Nothing went for
    // Vic: Ana's read tells both, in one call (newest first).
    vic.mark_read(cid).await.unwrap();
    settled(&world, &vic).await;
    let second = world.inbound("+4915112345678", "Anyone?", None).await.wa_message_id.unwrap();
    ana.mark_read(cid).await.unwrap();
    simulator_until(&world, "Ana's read receipts", |sim| sim.marked_read().len() >= 2).await;
    simulator_until(&world, "exactly Ana's call", |sim| sim.marked_read() == vec![second.clone(), first.clone()]).await;

    // Vic "types a reply" (the app would not let him; a hostile client could): the customer sees
    // nothing. Ana types next, and hers is the only "typing…" the customer was shown.
    vic.set_presence(Some(cid), handoff_proto::Activity::ComposingReply);
    wait_for("Vic's activity, fanned out", &ana, |c| async move {
        c.presence()
            .activities
            .iter()
            .any(|a| a.user_id == viewer.id && a.activity == handoff_proto::Activity::ComposingReply)
    })
    .await;
    ana.set_presence(Some(cid), handoff_proto::Activity::ComposingReply);
    let on = (handoff_channels::Jid::parse("+4915112345678").unwrap(), true);
    simulator_until(&world, "Ana's typing shown", |sim| sim.typing_shown().contains(&on)).await;
    let shown = world
        .server
        .as_ref()
        .unwrap()
        .state
        .devices
        .get(world.device.id)
        .unwrap()
        .simulator
        .clone()
        .unwrap()
        .typing_shown();
    assert_eq!(shown, vec![on], "only Ana's typing reached the customer");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_conversation_marks_it_read_on_whatsapp_and_typing_a_reply_shows_typing_to_the_customer() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    let second = world.inbound("+4915112345678", "Still there?", None).await;
    ana.mark_read(cid).await.unwrap();
    let first = world.messages(cid).await[0].wa_message_id.clone().unwrap();
    let second = second.wa_message_id.unwrap();
    simulator_until(&world, "read receipts", |sim| {
        let read = sim.marked_read();
        read.contains(&first) && read.contains(&second)
    })
    .await;
    // Only what is new since the last read goes to WhatsApp the next time.
    let third = world.inbound("+4915112345678", "Hello??", None).await.wa_message_id.unwrap();
    ana.mark_read(cid).await.unwrap();
    simulator_until(&world, "the new message read", |sim| sim.marked_read().contains(&third)).await;
    let read = {
        let handle = world.server.as_ref().unwrap().state.devices.get(world.device.id).unwrap();
        handle.simulator.clone().unwrap().marked_read()
    };
    assert_eq!(read.iter().filter(|id| **id == first).count(), 1, "{read:?}");

    // Ana types a reply: the customer sees "typing…", and it clears when she stops.
    let customer = handoff_channels::Jid::parse("+4915112345678").unwrap();
    ana.set_presence(Some(cid), handoff_proto::Activity::ComposingReply);
    let on = (customer.clone(), true);
    simulator_until(&world, "typing shown", |sim| sim.typing_shown().contains(&on)).await;
    ana.set_presence(Some(cid), handoff_proto::Activity::Viewing);
    let off = (customer, false);
    simulator_until(&world, "typing cleared", |sim| sim.typing_shown().last() == Some(&off)).await;

    // Typing again, and the app goes away mid-reply (a closed laptop): cleared all the same.
    ana.set_presence(Some(cid), handoff_proto::Activity::ComposingReply);
    let shown = |sim: &handoff_channels::Simulator| sim.typing_shown().iter().filter(|t| **t == on).count();
    simulator_until(&world, "typing shown again", |sim| shown(sim) == 2).await;
    ana.stop().await;
    simulator_until(&world, "typing cleared when the app went away", |sim| sim.typing_shown().last() == Some(&off))
        .await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_is_downloaded_on_demand_saved_once_and_never_over_another_file() {
    let world = World::start().await;
    let (ana, cid) = agent(&world).await;
    world.create_user("vic@test.local", "Vic Viewer", Role::Viewer).await;
    let vic = world.login("vic@test.local").await.token;
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    let invoice = |content: &str| {
        serde_json::json!({
            "from": "+4915112345678", "body": "The invoice",
            "media": {"kind": "document", "filename": "invoice.pdf", "mime": "application/pdf", "size": content.len()},
            "media_content": content,
        })
    };
    let first: Message = world.call(Method::POST, &path, Some(&invoice("%PDF-1.4 first"))).await;
    let second: Message = world.call(Method::POST, &path, Some(&invoice("%PDF-1.4 second"))).await;
    assert!(first.media.as_ref().is_some_and(|m| m.downloadable));
    wait_for("both attachments", &ana, |c| async move {
        c.thread(cid)
            .await
            .ok()
            .flatten()
            .is_some_and(|t| t.messages.iter().filter(|m| m.message.media.is_some()).count() == 2)
    })
    .await;

    // Ana saves both: each under its own name, the second beside the first, not over it.
    let dir = tempfile::tempdir().unwrap();
    let saved = ana.save_attachment(first.id, dir.path()).await.unwrap();
    let beside = ana.save_attachment(second.id, dir.path()).await.unwrap();
    assert_eq!(
        (saved.file_name().unwrap(), beside.file_name().unwrap()),
        ("invoice.pdf".as_ref(), "invoice (2).pdf".as_ref())
    );
    assert_eq!(std::fs::read(&saved).unwrap(), b"%PDF-1.4 first");
    assert_eq!(std::fs::read(&beside).unwrap(), b"%PDF-1.4 second");
    // Asked again: the saved file, not a third copy and not another fetch.
    assert_eq!(ana.save_attachment(first.id, dir.path()).await.unwrap(), saved);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    let thread = ana.thread(cid).await.unwrap().unwrap();
    let shown = thread.messages.iter().find(|m| m.message.id == first.id).unwrap();
    assert_eq!(shown.saved_to.as_deref(), Some(saved.to_str().unwrap()), "the thread shows where it was saved");
    let downloads = world.audit().await.into_iter().filter(|e| e.action == "media.download").count();
    assert_eq!(downloads, 2, "one audit entry per fetch");

    // A Viewer can read it too, with its type and name.
    let media_path = format!("/api/v1/messages/{}/media", first.id);
    let resp = world.raw(Method::GET, &media_path, &vic, None::<&()>).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().contains("filename=\"invoice.pdf\""));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"%PDF-1.4 first");

    // Not an attachment, not a message, no one signed in: said so.
    let text_only = world.inbound("+4915112345678", "Just text", None).await;
    for (what, path, token, status) in [
        ("a text message", format!("/api/v1/messages/{}/media", text_only.id), vic.as_str(), StatusCode::NOT_FOUND),
        (
            "an unknown message",
            format!("/api/v1/messages/{}/media", Uuid::now_v7()),
            vic.as_str(),
            StatusCode::NOT_FOUND,
        ),
        ("no token", media_path.clone(), "", StatusCode::UNAUTHORIZED),
    ] {
        assert_eq!(world.raw(Method::GET, &path, token, None::<&()>).await.status(), status, "{what}");
    }

    // While the phone is offline WhatsApp cannot give the file: 409 with the reason; back, it can.
    control(&world, "disconnect", serde_json::json!({})).await;
    let resp = world.raw(Method::GET, &media_path, &vic, None::<&()>).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let refusal: handoff_proto::ErrorBody = resp.json().await.unwrap();
    assert_eq!(refusal.error.code, "device_not_connected");
    // The saved copy was deleted, so it must be fetched again: refused with the reason, no file.
    std::fs::remove_file(&beside).unwrap();
    let err = ana.save_attachment(second.id, dir.path()).await.unwrap_err();
    assert!(err.to_string().contains("not connected"), "{err}");
    assert!(!beside.exists());
    control(&world, "reconnect", serde_json::json!({})).await;
    assert_eq!(world.raw(Method::GET, &media_path, &vic, None::<&()>).await.status(), StatusCode::OK);
    let again = ana.save_attachment(second.id, dir.path()).await.unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), b"%PDF-1.4 second");
    world.stop().await;
}
