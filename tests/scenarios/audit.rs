//! API keys and the audit log, over the real server and real clients.

use handoff_core::{Change, InboxView};
use handoff_proto::Activity;
use handoff_proto::{ApiKey, ConversationStatus, CreatedApiKey, Message, Page, Role, User, UserId, UserKind};
use handoff_tests::{settled, wait_for, World};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_act_with_their_role_and_stop_working_when_revoked() {
    let world = World::start().await;
    let agent_key: CreatedApiKey =
        world.call(Method::POST, "/api/v1/api-keys", Some(&json!({"name": "Zapier", "role": "agent"}))).await;
    let viewer_key: CreatedApiKey =
        world.call(Method::POST, "/api/v1/api-keys", Some(&json!({"name": "Dashboard", "role": "viewer"}))).await;
    assert!(agent_key.key.starts_with("hnd_key_"));
    let msg = world.inbound("+4915100000001", "Hello", None).await;
    let notes = format!("/api/v1/conversations/{}/notes", msg.conversation_id);

    let resp = world.raw(Method::POST, &notes, &agent_key.key, Some(&json!({"body": "Order looked up: #123"}))).await;
    assert_eq!(resp.status(), 201);
    let note: Message = resp.json().await.unwrap();
    assert_eq!(note.author_id, Some(agent_key.api_key.user_id), "the key's identity authors what it does");
    let resp = world.raw(Method::POST, &notes, &viewer_key.key, Some(&json!({"body": "x"}))).await;
    assert_eq!(resp.status(), 403);
    let resp = world.raw(Method::GET, "/api/v1/conversations", &viewer_key.key, None::<&()>).await;
    assert_eq!(resp.status(), 200, "a viewer key reads");

    let users: Page<User> = world.call(Method::GET, "/api/v1/users", None::<&()>).await;
    let key_user = users.items.iter().find(|u| u.id == agent_key.api_key.user_id).unwrap();
    assert_eq!((key_user.kind, key_user.name.as_str()), (UserKind::ApiKey, "Zapier (API key)"));
    // Nobody signs in as a key's identity, and it cannot be given conversations.
    let resp = world
        .raw(
            Method::POST,
            &format!("/api/v1/conversations/{}/assign", msg.conversation_id),
            &world.admin_token,
            Some(&json!({"assignee_id": key_user.id})),
        )
        .await;
    assert_eq!(resp.status(), 400);

    let revoked: ApiKey = world.call(Method::DELETE, &format!("/api/v1/api-keys/{}", agent_key.id), None::<&()>).await;
    assert!(revoked.revoked_at.is_some());
    let resp = world.raw(Method::GET, "/api/v1/me", &agent_key.key, None::<&()>).await;
    assert_eq!(resp.status(), 401, "a revoked key stops working at once");
    let keys: Page<ApiKey> = world.call(Method::GET, "/api/v1/api-keys", None::<&()>).await;
    assert_eq!(keys.items.len(), 2);
    let body = serde_json::to_string(&keys).unwrap();
    assert!(!body.contains(&agent_key.key) && !body.contains("key_hash"), "keys are never listed");

    let audit = world.audit().await;
    let actions: Vec<(&str, &str)> = audit.iter().map(|e| (e.actor_name.as_str(), e.action.as_str())).collect();
    assert!(actions.contains(&("Zapier (API key)", "note")));
    assert!(actions.contains(&("Admin", "api_key.create")));
    assert!(actions.contains(&("Admin", "api_key.revoke")));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_appears_in_the_audit_exactly_once() {
    let world = World::start().await;
    let ana_id = world.create_user("ana@test.local", "Ana", Role::Agent).await.id;
    let ben_id = world.create_user("ben@test.local", "Ben", Role::Agent).await.id;
    let team = world.create_team("Billing", 5, &[ben_id]).await;
    let (ana, ben) = (world.client("ana@test.local").await, world.client("ben@test.local").await);
    let msg = world.inbound("+4915100000001", "Hello", None).await;
    let id = msg.conversation_id;
    wait_for("the conversation", &ana, |c| async move { c.thread(id).await.ok().flatten().is_some() }).await;

    let mut expected: Vec<(Option<UserId>, &str)> = Vec::new();
    ana.claim(id).await.unwrap();
    expected.push((Some(ana_id), "claim"));
    ana.reply(id, "Hi, how can I help?", None, false).await.unwrap();
    expected.push((Some(ana_id), "reply"));
    ana.note(id, "Looks like a refund").await.unwrap();
    expected.push((Some(ana_id), "note"));
    ana.label(id, vec!["refund".into()], vec![]).await.unwrap();
    expected.push((Some(ana_id), "label"));
    ana.escalate(id, team.id, "Please refund @ben").await.unwrap();
    expected.push((Some(ana_id), "escalate"));
    settled(&world, &ana).await;
    wait_for("the escalation", &ben, |c| async move {
        c.inbox(InboxView::All, 10).await.is_ok_and(|i| i.first().is_some_and(|c| c.team_id.is_some()))
    })
    .await;
    ben.claim(id).await.unwrap();
    expected.push((Some(ben_id), "claim"));
    ben.mark_read(id).await.unwrap();
    expected.push((Some(ben_id), "mark_read"));
    ben.set_status(id, ConversationStatus::Resolved).await.unwrap();
    expected.push((Some(ben_id), "set_status"));
    settled(&world, &ben).await;
    // An HTTP write sent twice with the same Idempotency-Key is one change, audited once.
    let admin_id = world.login("admin@test.local").await.user.id;
    for _ in 0..2 {
        let resp = world
            .http()
            .post(format!("{}/api/v1/conversations/{id}/status", world.url))
            .bearer_auth(&world.admin_token)
            .header("Idempotency-Key", "reopen-1")
            .json(&json!({"status": "open"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    expected.push((Some(admin_id), "set_status"));

    let audit = world.audit().await;
    let mut got: Vec<(Option<UserId>, &str)> = audit
        .iter()
        .filter(|e| e.conversation_id == Some(id) && e.action != "view")
        .map(|e| (e.actor_id, e.action.as_str()))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    // Every audited change names the event it produced, and that event exists in the log.
    let head = world.head_seq().await;
    for e in audit.iter().filter(|e| e.conversation_id == Some(id) && e.action != "view") {
        let seq = e.seq.unwrap_or_else(|| panic!("{} has no event", e.action));
        assert!(seq >= 1 && seq <= head);
    }
    // Reading a thread over HTTP is recorded as opening it; going back and forth between two
    // conversations within a few minutes records each once.
    let other = world.inbound("+4915100000999", "Another customer", None).await.conversation_id;
    for c in [id, other, id, other, id] {
        world.messages(c).await;
    }
    let views: Vec<_> =
        world.audit().await.into_iter().filter(|e| e.action == "view" && e.actor_id == Some(admin_id)).collect();
    assert_eq!(views.len(), 2, "{views:?}");
    // So is showing it in the app (its "viewing" presence), once per opening, before anyone is told.
    let mut ben_changes = ben.subscribe();
    for _ in 0..2 {
        ana.set_presence(Some(id), Activity::Viewing);
    }
    let seen = tokio::time::timeout(handoff_tests::DEADLINE, async {
        loop {
            if let Ok(Change::Presence { user_id, conversation_id: Some(c), .. }) = ben_changes.recv().await {
                if user_id == ana_id && c == id {
                    return;
                }
            }
        }
    });
    seen.await.expect("Ben sees Ana viewing");
    let views = world.audit().await.into_iter().filter(|e| e.action == "view" && e.actor_id == Some(ana_id)).count();
    let all: Vec<_> = world.audit().await.into_iter().map(|e| (e.actor_name, e.action)).collect();
    assert_eq!(views, 1, "one opening, however many presence frames: {all:?}");
    world.stop().await;
}
