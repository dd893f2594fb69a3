//! Scenario tests over the whole chain: device -> server -> clients, and back.

mod accounts;
mod audit;
mod cluster;
mod contacts;
mod devices;
mod faults;
mod first_sync;
mod gateway;
mod liveness;
mod notifications;
mod outbound;
mod presence;
mod privacy;
mod restore;
mod routing;
mod saved_replies;
mod send_guard;
mod simulator;
mod tls;
mod transient;
mod webhooks;
mod workspaces;

use handoff_core::{Change, Client, InboxView};
use handoff_proto::{ConversationId, MessageKind, Role};
use handoff_tests::{settled, wait_for, World};

async fn three_agents(world: &World) -> (Client, Client, Client) {
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    world.create_user("ben@test.local", "Ben", Role::Agent).await;
    world.create_user("cy@test.local", "Cy", Role::Agent).await;
    (world.client("ana@test.local").await, world.client("ben@test.local").await, world.client("cy@test.local").await)
}

async fn has_conversation(c: &Client, id: ConversationId) -> bool {
    c.thread(id).await.ok().flatten().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_message_reaches_all_three_clients() {
    let world = World::start().await;
    let (ana, ben, cy) = three_agents(&world).await;
    let msg = world.inbound("+4915112345678", "Where is my order?", None).await;
    for client in [&ana, &ben, &cy] {
        wait_for("the message", client, |c| async move {
            c.thread(msg.conversation_id)
                .await
                .ok()
                .flatten()
                .is_some_and(|t| t.messages.iter().any(|m| m.message.id == msg.id))
        })
        .await;
        let inbox = client.inbox(InboxView::Unassigned, 50).await.unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].last_message_preview, "Where is my order?");
        assert_eq!(inbox[0].unread_count, 1);
        world.assert_converged(client).await;
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_race_has_exactly_one_winner_and_the_loser_learns_who() {
    let world = World::start().await;
    let (ana, ben, cy) = three_agents(&world).await;
    let msg = world.inbound("+4915112345678", "Hello?", None).await;
    let cid = msg.conversation_id;
    for client in [&ana, &ben, &cy] {
        wait_for("the conversation", client, |c| async move { has_conversation(&c, cid).await }).await;
    }
    let mut changes = [ana.subscribe(), ben.subscribe(), cy.subscribe()];
    let ids = tokio::join!(ana.claim(cid), ben.claim(cid), cy.claim(cid));
    let ids = [ids.0.unwrap(), ids.1.unwrap(), ids.2.unwrap()];
    for client in [&ana, &ben, &cy] {
        settled(&world, client).await;
    }
    let server = world.conversations().await;
    let winner = server[0].assignee_id.expect("someone won");
    let users = ana.users().await.unwrap();
    let winner_name = users.iter().find(|u| u.id == winner).unwrap().name.clone();
    let mut rejections = 0;
    for (i, client) in [&ana, &ben, &cy].into_iter().enumerate() {
        let me = client.session().unwrap().user.id;
        // Every cache shows the winner, whatever it showed optimistically.
        assert_eq!(client.thread(cid).await.unwrap().unwrap().conversation.assignee_id, Some(winner));
        while let Ok(change) = changes[i].try_recv() {
            if let Change::Rejected { mutation_id, error, .. } = change {
                assert_eq!(mutation_id, ids[i]);
                assert_ne!(me, winner, "the winner was refused");
                assert_eq!(error.code, "already_claimed");
                assert_eq!(error.assignee_id, Some(winner));
                assert!(error.message.starts_with(&format!("{winner_name} claimed this")), "{}", error.message);
                rejections += 1;
            }
        }
    }
    assert_eq!(rejections, 2, "both losers were told");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_reaches_the_simulator_exactly_once_and_a_note_never() {
    let world = World::start().await;
    let (ana, ben, _cy) = three_agents(&world).await;
    let msg = world.inbound("+4915112345678", "Can I get a refund?", None).await;
    let cid = msg.conversation_id;
    wait_for("the conversation", &ana, |c| async move { has_conversation(&c, cid).await }).await;
    ana.note(cid, "Customer is a VIP, be generous").await.unwrap();
    ana.reply(cid, "Of course, refund is on its way.", None, false).await.unwrap();
    settled(&world, &ana).await;
    // Reconnecting resends nothing twice: the server applies each mutation once.
    ana.stop().await;
    ana.start();
    settled(&world, &ana).await;
    let sent = world.sent().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].body, "Of course, refund is on its way.");
    assert_eq!(sent[0].to, "+4915112345678");
    let messages = world.messages(cid).await;
    let kinds: Vec<MessageKind> = messages.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, vec![MessageKind::Inbound, MessageKind::Note, MessageKind::Outbound]);
    assert_eq!(messages[2].wa_message_id.as_deref(), Some(sent[0].wa_message_id.as_str()));
    settled(&world, &ben).await;
    world.assert_converged(&ana).await;
    world.assert_converged(&ben).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_inbound_delivery_is_stored_once() {
    let world = World::start().await;
    let (ana, _ben, _cy) = three_agents(&world).await;
    let first = world.inbound("+4915112345678", "Hi", Some("3EB0AAAABBBBCCCCDDDD")).await;
    let again = world.inbound("+4915112345678", "Hi", Some("3EB0AAAABBBBCCCCDDDD")).await;
    assert_eq!(first.id, again.id);
    let messages = world.messages(first.conversation_id).await;
    assert_eq!(messages.len(), 1);
    settled(&world, &ana).await;
    let thread = ana.thread(first.conversation_id).await.unwrap().unwrap();
    assert_eq!(thread.messages.len(), 1);
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnected_while_things_happened_catches_up_exactly() {
    let world = World::start().await;
    let (ana, ben, _cy) = three_agents(&world).await;
    let first = world.inbound("+4915112345678", "One", None).await;
    settled(&world, &ben).await;
    ben.stop().await;
    // While Ben is away: more customers, a claim, a reply, a note.
    for i in 0..30 {
        world.inbound(&format!("+4915100000{i:03}"), &format!("Message {i}"), None).await;
    }
    wait_for("the first conversation", &ana, |c| async move { has_conversation(&c, first.conversation_id).await })
        .await;
    ana.claim(first.conversation_id).await.unwrap();
    ana.reply(first.conversation_id, "On it", None, false).await.unwrap();
    ana.note(first.conversation_id, "checked the warehouse").await.unwrap();
    settled(&world, &ana).await;
    let ben_seq = ben.last_seq().await.unwrap();
    assert!(ben_seq < world.head_seq().await);
    ben.start();
    settled(&world, &ben).await;
    world.assert_converged(&ben).await;
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_nothing() {
    let mut world = World::start().await;
    let (ana, ben, _cy) = three_agents(&world).await;
    let msg = world.inbound("+4915112345678", "Before the restart", None).await;
    wait_for("the conversation", &ana, |c| async move { has_conversation(&c, msg.conversation_id).await }).await;
    ana.claim(msg.conversation_id).await.unwrap();
    ana.reply(msg.conversation_id, "Reply before the restart", None, false).await.unwrap();
    settled(&world, &ana).await;
    let head_before = world.head_seq().await;
    let log_before = world.events(head_before).await;
    let conversations_before = world.conversations().await;
    let messages_before = world.messages(msg.conversation_id).await;

    world.restart().await;
    assert_eq!(world.events(head_before).await, log_before, "the log survived");
    assert_eq!(world.conversations().await, conversations_before);
    assert_eq!(world.messages(msg.conversation_id).await, messages_before);

    // The clients reconnect by themselves, and go on working.
    let after = world.inbound("+4915112345678", "After the restart", None).await;
    assert_eq!(after.conversation_id, msg.conversation_id);
    for client in [&ana, &ben] {
        wait_for("the message after the restart", client, |c| async move {
            c.thread(msg.conversation_id)
                .await
                .ok()
                .flatten()
                .is_some_and(|t| t.messages.iter().any(|m| m.message.id == after.id))
        })
        .await;
        settled(&world, client).await;
        world.assert_converged(client).await;
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_reply_is_refused_and_its_text_comes_back() {
    let world = World::start().await;
    let (ana, ben, _cy) = three_agents(&world).await;
    let msg = world.inbound("+4915112345678", "Hello?", None).await;
    let cid = msg.conversation_id;
    for client in [&ana, &ben] {
        wait_for("the conversation", client, |c| async move { has_conversation(&c, cid).await }).await;
    }
    let seen = ana.thread(cid).await.unwrap().unwrap().conversation.version;
    // Ben answers first; Ana still looks at the older version.
    ben.reply(cid, "Hi, Ben here!", None, false).await.unwrap();
    settled(&world, &ben).await;
    let mut changes = ana.subscribe();
    let mutation = ana.reply(cid, "Hi, Ana here!", Some(seen), false).await.unwrap();
    settled(&world, &ana).await;
    let mut refused = None;
    while let Ok(change) = changes.try_recv() {
        if let Change::Rejected { mutation_id, error, body, .. } = change {
            refused = Some((mutation_id, error, body));
        }
    }
    let (mutation_id, error, body) = refused.expect("Ana was told");
    assert_eq!(mutation_id, mutation);
    assert_eq!(error.code, "conversation_changed");
    assert_eq!(body.as_deref(), Some("Hi, Ana here!"), "the draft came back");
    let ben_id = ben.session().unwrap().user.id;
    assert!(matches!(
        error.changes.as_deref(),
        Some([handoff_proto::ConversationChange::Reply { author_id: Some(id), .. }]) if *id == ben_id
    ));
    // Nothing of Ana's reached WhatsApp, and her cache holds no ghost of it.
    assert_eq!(world.sent().await.len(), 1);
    world.assert_converged(&ana).await;
    world.stop().await;
}
