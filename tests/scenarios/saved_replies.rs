//! Saved replies (docs/api.md, "Saved replies"): the workspace's library kept by Admins, each
//! agent's own, who sees and changes which, and the apps' copies: read at connection, read again
//! when the server says they changed, and there offline.

use handoff_proto::{Role, SavedReply};
use handoff_tests::{wait_for, World};
use reqwest::Method;
use serde_json::{json, Value};

async fn post(world: &World, token: &str, body: Value) -> (u16, Value) {
    let resp = world.raw(Method::POST, "/api/v1/saved-replies", token, Some(&body)).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn shortcuts(replies: &[SavedReply]) -> Vec<String> {
    replies.iter().map(|r| r.shortcut.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_is_the_admins_each_agent_keeps_their_own_and_the_apps_have_them_offline() {
    let mut world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    world.create_user("ben@test.local", "Ben", Role::Agent).await;
    world.create_user("vic@test.local", "Vic", Role::Viewer).await;
    let (ana, ben, vic) = (
        world.login("ana@test.local").await.token,
        world.login("ben@test.local").await.token,
        world.login("vic@test.local").await.token,
    );
    let admin = world.admin_token.clone();

    // An Admin's reply goes to the library; an agent's is their own unless they ask otherwise.
    let (status, thanks) = post(
        &world,
        &admin,
        json!({"shortcut": "/Thanks", "body": "Thanks {{contact.first_name}}, {{agent.first_name}} here."}),
    )
    .await;
    assert_eq!(status, 201, "{thanks}");
    assert_eq!((thanks["shortcut"].as_str(), &thanks["owner_id"]), (Some("thanks"), &Value::Null));
    let (status, mine) = post(&world, &ana, json!({"shortcut": "thanks", "body": "Cheers! Ana"})).await;
    assert_eq!(status, 201, "the same shortcut in her own: {mine}");
    assert!(mine["owner_id"].is_string());
    let (status, error) = post(&world, &ana, json!({"shortcut": "thanks", "body": "again"})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("shortcut_taken")));
    let (status, _) = post(&world, &ana, json!({"shortcut": "policy", "body": "x", "personal": false})).await;
    assert_eq!(status, 403, "the library is the Admins'");
    let (status, _) = post(&world, &vic, json!({"shortcut": "mine", "body": "x"})).await;
    assert_eq!(status, 403, "a Viewer sends nothing, keeps nothing");
    for (body, field) in [
        (json!({"shortcut": "two words", "body": "x"}), "shortcut"),
        (json!({"shortcut": "ok", "body": "   "}), "body"),
        (json!({"shortcut": "ok", "body": "x", "team_id": "00000000-0000-7000-8000-000000000000"}), "team_id"),
    ] {
        let (status, error) = post(&world, &ana, body.clone()).await;
        assert_eq!((status, error["error"]["field"].as_str()), (400, Some(field)), "{body}: {error}");
    }

    // Ana's core has the library and her own; Ben's the library only.
    let ana_app = world.client("ana@test.local").await;
    let ben_app = world.client("ben@test.local").await;
    wait_for("Ana's saved replies", &ana_app, |c| async move { c.saved_replies().await.unwrap().len() == 2 }).await;
    let hers = ana_app.saved_replies().await.unwrap();
    assert_eq!(shortcuts(&hers), ["thanks", "thanks"], "the library's first, then her own");
    assert!(hers[0].owner_id.is_none() && hers[1].owner_id.is_some());
    wait_for("Ben's saved replies", &ben_app, |c| async move { c.saved_replies().await.unwrap().len() == 1 }).await;
    let page: Value = world.call(Method::GET, "/api/v1/saved-replies", None::<&()>).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "an Admin does not see Ana's own either");

    // A change reaches the apps it concerns: the library's everyone's, Ana's own hers only.
    let (status, _) = post(&world, &admin, json!({"shortcut": "hours", "body": "We answer 9 to 5."})).await;
    assert_eq!(status, 201);
    wait_for("the new library reply in Ben's app", &ben_app, |c| async move {
        shortcuts(&c.saved_replies().await.unwrap()) == ["hours", "thanks"]
    })
    .await;
    let id = mine["id"].as_str().unwrap();
    let patched = world
        .raw(Method::PATCH, &format!("/api/v1/saved-replies/{id}"), &ana, Some(&json!({"shortcut": "cheers"})))
        .await;
    assert_eq!(patched.status(), 200);
    wait_for("her renamed reply in her app", &ana_app, |c| async move {
        shortcuts(&c.saved_replies().await.unwrap()) == ["hours", "thanks", "cheers"]
    })
    .await;
    let theirs = world.raw(Method::DELETE, &format!("/api/v1/saved-replies/{id}"), &ben, None::<&()>).await;
    assert_eq!(theirs.status(), 404, "Ben cannot see, let alone delete, Ana's own");
    let library = thanks["id"].as_str().unwrap();
    let refused = world
        .raw(Method::PATCH, &format!("/api/v1/saved-replies/{library}"), &ana, Some(&json!({"body": "changed"})))
        .await;
    assert_eq!(refused.status(), 403, "an agent does not change the library");
    assert_eq!(shortcuts(&ben_app.saved_replies().await.unwrap()), ["hours", "thanks"]);

    // The log carries that they changed, never their text.
    let sync: handoff_proto::SyncResponse =
        world.call(Method::GET, "/api/v1/sync?since=0&limit=1000", None::<&()>).await;
    let text = serde_json::to_string(&sync.events).unwrap();
    assert!(text.contains("saved_replies.changed") && !text.contains("Cheers! Ana") && !text.contains("9 to 5"));

    let audit: Vec<String> =
        world.audit().await.into_iter().filter(|e| e.action.starts_with("saved_reply.")).map(|e| e.summary).collect();
    assert_eq!(audit.len(), 4, "three added, one changed: {audit:?}");
    assert!(audit.contains(&"Saved reply /cheers changed (own)".to_string()), "{audit:?}");

    // Offline: the cache has them.
    world.stop_server().await;
    assert_eq!(shortcuts(&ana_app.saved_replies().await.unwrap()), ["hours", "thanks", "cheers"]);
}
