//! Routing rules, team queues, escalation and snooze, over the real server and real clients.

use std::collections::HashMap;

use handoff_core::Change;
use handoff_proto::{Conversation, ConversationId, ConversationStatus, MessageKind, Role, UserId};
use handoff_tests::{settled, wait_for, World};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// The newest system message of a conversation on the server.
async fn last_system_message(world: &World, id: ConversationId) -> String {
    let messages = world.messages(id).await;
    messages.iter().rev().find(|m| m.kind == MessageKind::System).map(|m| m.body.clone()).unwrap_or_default()
}

async fn user_id(world: &World, email: &str, name: &str) -> UserId {
    world.create_user(email, name, Role::Agent).await.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_contact_and_device_rules_route_and_the_first_match_wins() {
    let world = World::start().await;
    let ana = user_id(&world, "ana@test.local", "Ana").await;
    let ben = user_id(&world, "ben@test.local", "Ben").await;
    let cy = user_id(&world, "cy@test.local", "Cy").await;
    let billing = world.create_team("Billing", 5, &[ana]).await;
    let vip = world.create_team("VIP", 5, &[ben]).await;
    world.create_rule("refund", json!({"keyword": "Refund"}), json!({"team_id": billing.id})).await;
    world.create_rule("order number", json!({"regex": r"(?i)order #\d{6}"}), json!({"team_id": billing.id})).await;
    world.create_rule("UK customers", json!({"contact": "+44*"}), json!({"team_id": vip.id})).await;
    world.create_rule("this line", json!({"device_id": world.device.id}), json!({"user_id": cy})).await;
    let _clients = (world.client("ana@test.local").await, world.client("ben@test.local").await);

    // Keyword before contact: a UK customer asking for a refund goes to Billing.
    let refund = world.inbound("+447700900001", "I want a REFUND for my order", None).await;
    let c = world.conversation(refund.conversation_id).await;
    assert_eq!((c.team_id, c.assignee_id), (Some(billing.id), Some(ana)));
    assert_eq!(last_system_message(&world, c.id).await, "Routed to Billing by rule 'refund'; Ana had 0 open of 5.");
    let order = world.inbound("+4915100000002", "Where is order #123456?", None).await;
    let c = world.conversation(order.conversation_id).await;
    assert_eq!((c.team_id, c.assignee_id), (Some(billing.id), Some(ana)));
    assert_eq!(
        last_system_message(&world, c.id).await,
        "Routed to Billing by rule 'order number'; Ana had 1 open of 5."
    );
    let uk = world.inbound("+447700900003", "Hello there", None).await;
    let c = world.conversation(uk.conversation_id).await;
    assert_eq!((c.team_id, c.assignee_id), (Some(vip.id), Some(ben)));
    // The device rule names an agent directly: Cy gets it even while offline.
    let other = world.inbound("+4915100000004", "Hello", None).await;
    let c = world.conversation(other.conversation_id).await;
    assert_eq!((c.team_id, c.assignee_id), (None, Some(cy)));
    assert_eq!(last_system_message(&world, c.id).await, "Routed to Cy by rule 'this line'.");

    // A later message in a routed conversation does not route it again.
    world.inbound("+447700900001", "refund, please", None).await;
    let c = world.conversation(refund.conversation_id).await;
    assert_eq!(world.messages(c.id).await.iter().filter(|m| m.kind == MessageKind::System).count(), 1);

    // "Try this rule on a message" says which rule would route it, and changes nothing.
    let head = world.head_seq().await;
    let tried: handoff_proto::RoutingTestResponse =
        world.call(Method::POST, "/api/v1/routing-rules/test", Some(&json!({"body": "hi", "phone": "+44123"}))).await;
    assert_eq!(tried.rule.map(|r| r.name), Some("UK customers".to_string()));
    assert_eq!(world.head_seq().await, head);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_and_assignments_are_refused_with_what_to_fix() {
    let world = World::start().await;
    let viewer = world.create_user("vic@test.local", "Vic", Role::Viewer).await;
    let team = world.create_team("Billing", 5, &[]).await;
    let cases = [
        (json!({"name": "r", "match": {"regex": "(unclosed"}, "assign": {"team_id": team.id}}), "match.regex"),
        (json!({"name": "r", "match": {}, "assign": {"team_id": team.id}}), "match"),
        (json!({"name": "r", "match": {"keyword": "x"}, "assign": {}}), "assign"),
        (json!({"name": "r", "match": {"keyword": "x"}, "assign": {"team_id": Uuid::now_v7()}}), "assign.team_id"),
        (json!({"name": "r", "match": {"keyword": "x"}, "assign": {"user_id": viewer.id}}), "assign.user_id"),
        (json!({"name": "r", "match": {"contact": "not a number"}, "assign": {"team_id": team.id}}), "match.contact"),
    ];
    for (body, field) in cases {
        let resp = world.raw(Method::POST, "/api/v1/routing-rules", &world.admin_token, Some(&body)).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: handoff_proto::ErrorBody = resp.json().await.unwrap();
        assert_eq!(err.error.field.as_deref(), Some(field), "{}", err.error.message);
    }
    let rules: handoff_proto::Page<handoff_proto::RoutingRule> =
        world.call(Method::GET, "/api/v1/routing-rules", None::<&()>).await;
    assert!(rules.items.is_empty(), "nothing was stored");

    let msg = world.inbound("+4915100000001", "Hello", None).await;
    let before = world.conversation(msg.conversation_id).await;
    let path = format!("/api/v1/conversations/{}", msg.conversation_id);
    let cases = [
        (format!("{path}/assign"), json!({"assignee_id": viewer.id}), "assignee_id"),
        (format!("{path}/assign"), json!({"assignee_id": Uuid::now_v7()}), "assignee_id"),
        (format!("{path}/assign"), json!({"assignee_id": null, "team_id": Uuid::now_v7()}), "team_id"),
        (format!("{path}/escalate"), json!({"team_id": team.id, "note": "  "}), "note"),
        (format!("{path}/escalate"), json!({"team_id": Uuid::now_v7(), "note": "over to you"}), "team_id"),
        (format!("{path}/labels"), json!({"add": ["a,b"]}), "add"),
    ];
    for (path, body, field) in cases {
        let resp = world.raw(Method::POST, &path, &world.admin_token, Some(&body)).await;
        assert_eq!(resp.status(), 400, "{path} {body}");
        let err: handoff_proto::ErrorBody = resp.json().await.unwrap();
        assert_eq!(err.error.field.as_deref(), Some(field), "{}", err.error.message);
    }
    assert_eq!(world.conversation(msg.conversation_id).await, before, "nothing changed");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_conversations_are_shared_fairly_under_caps_and_the_rest_wait_oldest_first() {
    let world = World::start().await;
    let mut agents = Vec::new();
    for name in ["Ana", "Ben", "Cy"] {
        agents.push(user_id(&world, &format!("{}@test.local", name.to_lowercase()), name).await);
    }
    let team = world.create_team("Support", 30, &agents).await;
    world.create_rule("everything", json!({"device_id": world.device.id}), json!({"team_id": team.id})).await;
    let ana = world.client("ana@test.local").await;
    let _others = (world.client("ben@test.local").await, world.client("cy@test.local").await);

    let mut order = Vec::new();
    for i in 0..100 {
        let msg = world.inbound(&format!("+49151000{i:05}"), "Hello", None).await;
        let c = world.conversation(msg.conversation_id).await;
        order.push((c.id, c.assignee_id));
    }
    let mut load: HashMap<UserId, usize> = HashMap::new();
    for (_, assignee) in &order {
        if let Some(a) = assignee {
            *load.entry(*a).or_default() += 1;
        }
    }
    assert_eq!(agents.iter().map(|a| load.get(a).copied().unwrap_or(0)).collect::<Vec<_>>(), vec![30, 30, 30]);
    for window in order[..90].chunks(3) {
        let mut owners: Vec<_> = window.iter().map(|(_, a)| a.unwrap()).collect();
        owners.sort();
        owners.dedup();
        assert_eq!(owners.len(), 3, "each round of three goes to three different agents");
    }
    let queued: Vec<ConversationId> = order[90..].iter().map(|(id, a)| (assert!(a.is_none()), *id).1).collect();
    assert!(last_system_message(&world, queued[0]).await.contains("waiting in the team queue"));

    // Ana resolves five: the five oldest waiting conversations go to her, in order.
    settled(&world, &ana).await;
    let mine: Vec<ConversationId> =
        order.iter().filter(|(_, a)| *a == Some(agents[0])).map(|(id, _)| *id).take(5).collect();
    for id in &mine {
        ana.set_status(*id, ConversationStatus::Resolved).await.unwrap();
    }
    let ana_id = agents[0];
    for id in &queued[..5] {
        let id = *id;
        wait_for("a queued conversation handed to Ana", &ana, |c| async move {
            c.thread(id).await.ok().flatten().is_some_and(|t| t.conversation.assignee_id == Some(ana_id))
        })
        .await;
    }
    settled(&world, &ana).await;
    for id in &queued[5..] {
        assert_eq!(world.conversation(*id).await.assignee_id, None, "the newer ones still wait");
    }
    assert!(last_system_message(&world, queued[0]).await.starts_with("Handed out from the Support queue; Ana had"));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_backlog_drains_when_an_agent_comes_online() {
    let world = World::start().await;
    let dan = user_id(&world, "dan@test.local", "Dan").await;
    let team = world.create_team("Night shift", 5, &[dan]).await;
    world.create_rule("all", json!({"keyword": "help"}), json!({"team_id": team.id})).await;
    let mut waiting = Vec::new();
    for i in 0..3 {
        let msg = world.inbound(&format!("+4915100000{i}"), "help me", None).await;
        let c = world.conversation(msg.conversation_id).await;
        assert_eq!((c.team_id, c.assignee_id), (Some(team.id), None));
        waiting.push(c.id);
    }
    let dan_client = world.client("dan@test.local").await;
    wait_for("the backlog handed to Dan", &dan_client, |c| async move {
        c.inbox(handoff_core::InboxView::Mine, 50).await.map(|i| i.len()).unwrap_or(0) == 3
    })
    .await;
    for id in waiting {
        assert_eq!(world.conversation(id).await.assignee_id, Some(dan));
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_conversation_stays_with_an_online_owner_and_is_rerouted_from_an_offline_one() {
    let world = World::start().await;
    let ana = user_id(&world, "ana@test.local", "Ana").await;
    let ben = user_id(&world, "ben@test.local", "Ben").await;
    let team = world.create_team("Support", 5, &[ana, ben]).await;
    world.create_rule("all", json!({"device_id": world.device.id}), json!({"team_id": team.id})).await;
    let ana_client = world.client("ana@test.local").await;
    let first = world.inbound("+4915100000001", "Hi", None).await;
    let id = first.conversation_id;
    assert_eq!(world.conversation(id).await.assignee_id, Some(ana));
    settled(&world, &ana_client).await;

    // Resolved and reopened by the customer while Ana is online: it stays hers.
    ana_client.set_status(id, ConversationStatus::Resolved).await.unwrap();
    settled(&world, &ana_client).await;
    world.inbound("+4915100000001", "One more thing", None).await;
    let c = world.conversation(id).await;
    assert_eq!((c.status, c.assignee_id), (ConversationStatus::Open, Some(ana)));

    // Resolved again; Ana goes offline, Ben is online: the customer's next message goes to Ben.
    settled(&world, &ana_client).await;
    ana_client.set_status(id, ConversationStatus::Resolved).await.unwrap();
    settled(&world, &ana_client).await;
    ana_client.stop().await;
    world.wait_disconnected(ana).await;
    assert!(
        world.server.as_ref().unwrap().state.presence.is_online(world.first_workspace().await, ana),
        "still online in the grace period"
    );
    world.clock.advance(chrono::Duration::seconds(handoff_server::presence::OFFLINE_GRACE_SECS));
    world.wait_online(ana, false).await;
    let _ben_client = world.client("ben@test.local").await;
    world.inbound("+4915100000001", "Anyone there?", None).await;
    let c = world.conversation(id).await;
    assert_eq!((c.status, c.assignee_id), (ConversationStatus::Open, Some(ben)));
    assert_eq!(
        last_system_message(&world, id).await,
        "Reopened while Ana is offline: routed to Support by rule 'all'; Ben had 0 open of 5."
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snoozed_conversation_wakes_up_by_itself_when_the_clock_says_so() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let msg = world.inbound("+4915100000001", "Call me tomorrow", None).await;
    let id = msg.conversation_id;
    wait_for("the conversation", &ana, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;
    ana.claim(id).await.unwrap();
    ana.snooze(id, world.clock.now() + chrono::Duration::hours(1)).await.unwrap();
    settled(&world, &ana).await;
    assert_eq!(world.conversation(id).await.status, ConversationStatus::Snoozed);

    let state = world.server.as_ref().unwrap().state.clone();
    world.clock.advance(chrono::Duration::minutes(59));
    assert_eq!(handoff_server::snooze::wake_due(&state).await.unwrap(), 0, "not yet");
    world.clock.advance(chrono::Duration::minutes(2));
    wait_for("the conversation to wake up", &ana, |c| async move {
        c.thread(id).await.ok().flatten().is_some_and(|t| t.conversation.status == ConversationStatus::Open)
    })
    .await;
    let c = world.conversation(id).await;
    assert_eq!((c.snooze_until, c.assignee_id.is_some()), (None, true));
    let wakes = world.audit().await.into_iter().filter(|e| e.action == "wake").count();
    assert_eq!(wakes, 1);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_lands_in_the_team_queue_with_its_note_and_tells_who_is_mentioned() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana Lima", Role::Agent).await;
    let ben = user_id(&world, "ben@test.local", "Ben Ortiz").await;
    let billing = world.create_team("Billing", 5, &[ben]).await;
    let ana = world.client("ana@test.local").await;
    let ben_client = world.client("ben@test.local").await;
    let mut ben_changes = ben_client.subscribe();
    let msg = world.inbound("+4915100000001", "I was charged twice", None).await;
    let id = msg.conversation_id;
    wait_for("the conversation", &ana, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;
    ana.claim(id).await.unwrap();
    ana.label(id, vec!["Refund".into(), "vip".into()], vec![]).await.unwrap();
    ana.escalate(id, billing.id, "Double charge on 3 Nov. @ben please refund one.").await.unwrap();
    settled(&world, &ana).await;

    let c: Conversation = world.conversation(id).await;
    assert_eq!((c.team_id, c.assignee_id), (Some(billing.id), None));
    assert_eq!(c.labels, vec!["refund", "vip"]);
    let team_queue: handoff_proto::Page<Conversation> = world
        .call(Method::GET, &format!("/api/v1/conversations?team={}&assignee=none&label=VIP", billing.id), None::<&()>)
        .await;
    assert_eq!(team_queue.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);
    let note = world.messages(id).await.into_iter().last().unwrap();
    assert_eq!((note.kind, note.body.as_str()), (MessageKind::Note, "Double charge on 3 Nov. @ben please refund one."));
    assert_eq!(c.escalation_note_id, Some(note.id), "the note is pinned on top of the thread");
    assert_eq!(last_system_message(&world, id).await, "Ana Lima escalated this to Billing.");

    settled(&world, &ben_client).await;
    let mut mentioned = false;
    while let Ok(change) = ben_changes.try_recv() {
        if let Change::Mentioned { conversation_id, message_id } = change {
            assert_eq!((conversation_id, message_id), (id, note.id));
            mentioned = true;
        }
    }
    assert!(mentioned, "Ben was told he was mentioned");
    let thread = ben_client.thread(id).await.unwrap().unwrap();
    assert_eq!(thread.conversation.team_id, Some(billing.id));
    assert_eq!(ben_client.teams().await.unwrap().iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Billing"]);
    world.assert_converged(&ben_client).await;
    world.stop().await;
}
