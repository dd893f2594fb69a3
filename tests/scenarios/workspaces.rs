//! Workspaces through real client cores: two workspaces on one server and a third on another
//! server; Ana works in all three (a core and a cache file for each), Ben, Cy and Dee in one
//! each. Customers' messages, claims, notes, replies and presence stay inside their workspace,
//! in what each core shows and in the bytes of each cache file, and one workspace offline does
//! not hold up another.

use handoff_core::{Client, InboxView};
use handoff_proto::{Activity, ConversationId, Role, WorkspaceId};
use handoff_tests::{wait_for, World, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

/// A core of `email` in `workspace` of the server at `url` (its first when `None`), with a
/// cache file of its own, online.
async fn core(world: &World, cache: &str, url: &str, email: &str, workspace: Option<WorkspaceId>) -> Client {
    let client = Client::open(&world.dir.path().join(format!("cache-{cache}.db"))).await.expect("cache opens");
    let (info, _) = client.sign_in_to(url, email, PASSWORD, workspace).await.expect("sign in");
    if let Some(asked) = workspace {
        assert_eq!(info.workspace.map(|w| w.id), Some(asked), "{cache}: signed in to the workspace asked for");
    }
    wait_for("online", &client, |c| async move { c.connection() == handoff_core::ConnectionState::Online }).await;
    client
}

async fn ok(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The installation owner's token in `workspace` (the Admin the world started with).
async fn owner_in(world: &World, workspace: WorkspaceId) -> String {
    let login = json!({"email": "admin@test.local", "password": PASSWORD, "workspace_id": workspace});
    let signed_in =
        ok(world.http().post(format!("{}/api/v1/auth/login", world.url)).json(&login).send().await.unwrap());
    signed_in.await["token"].as_str().unwrap().to_string()
}

/// The only conversation `client` holds, once it holds one whose last message is `body`.
async fn the_conversation(client: &Client, body: &'static str) -> ConversationId {
    wait_for(body, client, |c| async move {
        c.inbox(InboxView::All, 50).await.unwrap_or_default().iter().any(|x| x.last_message_preview == body)
    })
    .await;
    let all = client.inbox(InboxView::All, 50).await.expect("inbox");
    assert_eq!(all.len(), 1, "one conversation in this workspace: {all:?}");
    all[0].id
}

/// Waits until `client`'s thread of `id` shows a message with `body`.
async fn shows(client: &Client, id: ConversationId, body: &'static str) {
    wait_for(body, client, move |c| async move {
        c.thread(id).await.ok().flatten().is_some_and(|t| t.messages.iter().any(|m| m.message.body == body))
    })
    .await;
}

/// Everything a cache keeps on disk: its file and its write-ahead log.
fn cache_bytes(world: &World, cache: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let path = world.dir.path().join(format!("cache-{cache}.db{suffix}"));
        bytes.extend(std::fs::read(path).unwrap_or_default());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workspaces_on_two_servers_keep_to_themselves() {
    let one = World::start().await;
    let two = World::start().await;
    let main = one.first_workspace().await;

    // Acme: a second workspace on the first server, its own number, Cy in it; Ana joins it.
    let acme: Value = one.call(Method::POST, "/api/v1/workspaces", Some(&json!({"name": "Acme"}))).await;
    let acme_id: WorkspaceId = acme["id"].as_str().unwrap().parse().unwrap();
    let owner_in_acme = owner_in(&one, acme_id).await;
    let acme_call = |method: Method, path: String, body: Value| {
        let token = owner_in_acme.clone();
        let one = &one;
        async move { ok(one.raw(method, &path, &token, Some(&body)).await).await }
    };
    let line =
        acme_call(Method::POST, "/api/v1/devices".into(), json!({"name": "Acme line", "kind": "simulator"})).await;
    let line = line["id"].as_str().unwrap().to_string();
    acme_call(Method::POST, format!("/api/v1/devices/{line}/simulator/link"), json!({})).await;
    let user = |email: &str, name: &str| json!({"email": email, "name": name, "password": PASSWORD, "role": "agent"});
    acme_call(Method::POST, "/api/v1/users".into(), user("cy@test.local", "Cy")).await;
    one.create_user("ana@test.local", "Ana", Role::Agent).await;
    one.create_user("ben@test.local", "Ben", Role::Agent).await;
    let fay = one.create_user("fay@test.local", "Fay", Role::Agent).await.id;
    let members = format!("/api/v1/workspaces/{acme_id}/members");
    acme_call(Method::POST, members, json!({"email": "ana@test.local", "role": "agent"})).await;
    // The other server: Ana and Dee.
    let ana_id = two.create_user("ana@test.local", "Ana", Role::Agent).await.id;
    two.create_user("dee@test.local", "Dee", Role::Agent).await;

    // Ana: three cores, one per workspace; everyone else one.
    let ana_main = core(&one, "ana-main", &one.url, "ana@test.local", Some(main)).await;
    let ana_acme = core(&one, "ana-acme", &one.url, "ana@test.local", Some(acme_id)).await;
    let ana_two = core(&one, "ana-two", &two.url, "ana@test.local", None).await;
    let ben = core(&one, "ben", &one.url, "ben@test.local", None).await;
    let fay_core = core(&one, "fay", &one.url, "fay@test.local", None).await;
    let cy = core(&one, "cy", &one.url, "cy@test.local", None).await;
    let dee = core(&one, "dee", &two.url, "dee@test.local", None).await;
    assert_eq!(cy.session().and_then(|s| s.workspace).map(|w| w.id), Some(acme_id), "Cy's only workspace");

    // A customer writes in each workspace.
    one.inbound("+4915100000001", "Main hello", None).await;
    let inbound = json!({"from": "+4915100000002", "body": "Acme hello"});
    acme_call(Method::POST, format!("/api/v1/devices/{line}/simulator/inbound"), inbound).await;
    two.inbound("+4915100000003", "Two hello", None).await;
    let in_main = the_conversation(&ana_main, "Main hello").await;
    let in_acme = the_conversation(&ana_acme, "Acme hello").await;
    let in_two = the_conversation(&ana_two, "Two hello").await;
    assert_eq!(the_conversation(&ben, "Main hello").await, in_main);
    assert_eq!(the_conversation(&cy, "Acme hello").await, in_acme);
    assert_eq!(the_conversation(&dee, "Two hello").await, in_two);

    // Ana claims each, notes and replies in each, from the core of that workspace.
    for (core, id, note, reply) in [
        (&ana_main, in_main, "note in Main", "reply in Main"),
        (&ana_acme, in_acme, "note in Acme", "reply in Acme"),
        (&ana_two, in_two, "note in Two", "reply in Two"),
    ] {
        core.claim(id).await.expect("claim");
        core.note(id, note).await.expect("note");
        core.reply(id, reply, None, false).await.expect("reply");
    }
    // Each colleague sees Ana's work in their own workspace, and only there.
    for (core, id, note, reply) in [
        (&ben, in_main, "note in Main", "reply in Main"),
        (&cy, in_acme, "note in Acme", "reply in Acme"),
        (&dee, in_two, "note in Two", "reply in Two"),
    ] {
        shows(core, id, note).await;
        shows(core, id, reply).await;
        let thread = core.thread(id).await.unwrap().unwrap();
        assert!(thread.conversation.assignee_id.is_some(), "claimed");
        assert_eq!(core.inbox(InboxView::All, 50).await.unwrap().len(), 1);
    }
    for core in [&ana_main, &ana_acme, &ana_two] {
        assert_eq!(core.counts().await.unwrap().mine, 1, "one of Ana's in each");
    }

    // Presence: Ana viewing Acme's conversation is seen by Cy, not by Ben; Fay's composing in
    // Main (seen by Ben) is the marker that Ben's connection has heard everything before it
    // (Ana's own activity in Main would replace a leaked one: one per person is kept).
    ana_acme.set_presence(Some(in_acme), Activity::Viewing);
    wait_for("Ana viewing in Acme", &cy, |c| async move {
        c.presence().activities.iter().any(|a| a.conversation_id == in_acme)
    })
    .await;
    fay_core.set_presence(Some(in_main), Activity::ComposingNote);
    wait_for(
        "Fay composing in Main",
        &ben,
        |c| async move { c.presence().activities.iter().any(|a| a.user_id == fay) },
    )
    .await;
    assert!(!ben.presence().activities.iter().any(|a| a.conversation_id == in_acme), "Acme's presence reached Main");
    // On the other server Ana is online through her core there.
    assert!(dee.presence().statuses.iter().any(|s| s.user_id == ana_id));

    // Acme offline: Ana's Acme core queues a note while her Main core carries on.
    ana_acme.stop().await;
    ana_acme.note(in_acme, "written offline in Acme").await.expect("queued");
    assert_eq!(ana_acme.outbox_len().await.unwrap(), 1);
    ana_main.note(in_main, "meanwhile in Main").await.expect("note");
    shows(&ben, in_main, "meanwhile in Main").await;
    ana_acme.start();
    shows(&cy, in_acme, "written offline in Acme").await;
    wait_for("Acme's outbox sent", &ana_acme, |c| async move { c.outbox_len().await.unwrap_or(1) == 0 }).await;

    // Nothing of one workspace is in another's cache, not even in its file's bytes.
    let words = [
        ("main", ["Main hello", "note in Main", "+4915100000001"]),
        ("acme", ["Acme hello", "note in Acme", "+4915100000002"]),
        ("two", ["Two hello", "note in Two", "+4915100000003"]),
    ];
    for (cache, own) in [
        ("ana-main", "main"),
        ("ben", "main"),
        ("ana-acme", "acme"),
        ("cy", "acme"),
        ("ana-two", "two"),
        ("dee", "two"),
    ] {
        let bytes = cache_bytes(&one, cache);
        assert!(!bytes.is_empty(), "{cache} is on disk");
        for (workspace, unique) in &words {
            for word in unique {
                let found = contains(&bytes, word);
                assert_eq!(found, *workspace == own, "{cache}'s cache and {word:?} of {workspace}");
            }
        }
    }
    for client in [ana_main, ana_acme, ana_two, ben, fay_core, cy, dee] {
        client.stop().await;
    }
    one.stop().await;
    two.stop().await;
}

/// One cache, signed in again: to its own workspace (a session that ended) it keeps its outbox
/// and sends it there; to another workspace it starts again, nothing of the first left; a
/// cache from before workspaces (no workspace kept) signed in again keeps its outbox too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_again_keeps_the_outbox_of_its_own_workspace_only() {
    let one = World::start().await;
    let main = one.first_workspace().await;
    let acme: Value = one.call(Method::POST, "/api/v1/workspaces", Some(&json!({"name": "Acme"}))).await;
    let acme_id: WorkspaceId = acme["id"].as_str().unwrap().parse().unwrap();
    one.create_user("ana@test.local", "Ana", Role::Agent).await;
    let owner_in_acme = owner_in(&one, acme_id).await;
    let members = json!({"email": "ana@test.local", "role": "agent"});
    ok(one.raw(Method::POST, &format!("/api/v1/workspaces/{acme_id}/members"), &owner_in_acme, Some(&members)).await)
        .await;
    let line = ok(one
        .raw(Method::POST, "/api/v1/devices", &owner_in_acme, Some(&json!({"name": "Acme line", "kind": "simulator"})))
        .await)
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(one
        .raw(Method::POST, &format!("/api/v1/devices/{line}/simulator/link"), &owner_in_acme, Some(&json!({})))
        .await)
    .await;
    let inbound = json!({"from": "+4915100000002", "body": "Acme hello"});
    ok(one
        .raw(Method::POST, &format!("/api/v1/devices/{line}/simulator/inbound"), &owner_in_acme, Some(&inbound))
        .await)
    .await;
    one.inbound("+4915100000001", "Main hello", None).await;

    let ana = core(&one, "ana", &one.url, "ana@test.local", Some(acme_id)).await;
    let in_acme = the_conversation(&ana, "Acme hello").await;
    // Offline, a note waits; signed in again to Acme (as after a session ended), it is kept and sent.
    ana.stop().await;
    ana.note(in_acme, "kept across the sign-in").await.expect("queued");
    ana.sign_in_to(&one.url, "ana@test.local", PASSWORD, Some(acme_id)).await.expect("sign in");
    wait_for("the note sent", &ana, |c| async move { c.outbox_len().await.unwrap_or(1) == 0 }).await;
    shows(&ana, in_acme, "kept across the sign-in").await;

    // Offline again, a note waits; signed in to Main instead: the cache starts again.
    ana.stop().await;
    ana.note(in_acme, "never sent to Main").await.expect("queued");
    ana.sign_in_to(&one.url, "ana@test.local", PASSWORD, Some(main)).await.expect("sign in");
    assert_eq!(ana.outbox_len().await.unwrap(), 0, "Acme's outbox is not Main's");
    let in_main = the_conversation(&ana, "Main hello").await;
    assert!(ana.thread(in_acme).await.unwrap().is_none(), "nothing of Acme is left");

    // A cache from before workspaces keeps no workspace: signed in again, its outbox stays.
    ana.stop().await;
    ana.note(in_main, "from an older app").await.expect("queued");
    for key in ["workspace_id", "workspace"] {
        sqlx::query("DELETE FROM meta WHERE key = ?").bind(key).execute(ana.cache().pool()).await.unwrap();
    }
    ana.sign_in(&one.url, "ana@test.local", PASSWORD).await.expect("sign in");
    wait_for("the older app's note sent", &ana, |c| async move { c.outbox_len().await.unwrap_or(1) == 0 }).await;
    shows(&ana, in_main, "from an older app").await;
    ana.stop().await;
    one.stop().await;
}
