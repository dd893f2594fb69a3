//! Privacy through real client cores (docs/privacy.md): an erased contact leaves no byte in the
//! server's database files nor in any app's cache files (free pages and write-ahead logs
//! included), whether the app was online, offline during the erasure, or new; the retention
//! period removes old messages from the server and every cache on the server's clock; and an app
//! offline longer than an erasure's record is kept starts its cache again.

use std::path::Path;

use handoff_core::privacy::ExportFormat;
use handoff_core::{Client, DraftMode, InboxView};
use handoff_proto::{Conversation, ConversationId, Role};
use handoff_tests::{settled, wait_for, World, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

/// Every file under `dir` whose name starts with `prefix`, read whole, with its name.
fn files(dir: &Path, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with(prefix) {
                found.push((path.display().to_string(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    found
}

/// The files among `files` whose bytes hold `needle` anywhere.
fn holding(files: &[(String, Vec<u8>)], needle: &str) -> Vec<String> {
    let needle = needle.as_bytes();
    files.iter().filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle)).map(|(n, _)| n.clone()).collect()
}

/// The server's own files, when its database is an SQLite file in its data folder.
fn server_files(world: &World) -> Option<Vec<(String, Vec<u8>)>> {
    world.database().sqlite_file()?;
    Some(files(&world.data_dir(), ""))
}

async fn conversation_of(client: &Client, id: ConversationId) -> Option<Conversation> {
    client.inbox(InboxView::All, 500).await.unwrap().into_iter().find(|c| c.id == id)
}

/// Erika's number and a word only her conversation holds.
const ERIKA: &str = "+4915187654321";
const ERIKA_DIGITS: &str = "87654321";
const SECRET: &str = "zebrafish42";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_contact_leaves_no_byte_on_the_server_or_in_any_cache() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    world.create_user("ben@test.local", "Ben", Role::Agent).await;
    world.create_user("dee@test.local", "Dee", Role::Agent).await;
    let (ana, ben) = (world.client("ana@test.local").await, world.client("ben@test.local").await);

    let erika = world.inbound(ERIKA, &format!("Hello, my code word is {SECRET}"), None).await;
    let other = world.inbound("+4915100000002", "Where is my parcel?", None).await;
    let id = erika.conversation_id;
    for client in [&ana, &ben] {
        wait_for("both conversations", client, |c| async move {
            conversation_of(&c, id).await.is_some() && conversation_of(&c, other.conversation_id).await.is_some()
        })
        .await;
    }
    ana.claim(id).await.unwrap();
    ana.reply(id, &format!("Thanks Erika, {SECRET} noted."), None, false).await.unwrap();
    ana.note(id, &format!("She said {SECRET} on the phone too")).await.unwrap();
    settled(&world, &ana).await;
    settled(&world, &ben).await;
    ben.set_draft(id, DraftMode::Reply, &format!("Dear Erika ({SECRET})")).await.unwrap();
    // A receipt the number sent before its reply was recorded, under a gateway's kind of id,
    // which carries her address.
    let early = json!({"wa_message_id": format!("true_{}@c.us_3EB0C0FFEE", &ERIKA[1..]), "state": "read"});
    let path = format!("/api/v1/devices/{}/simulator/receipt", world.device.id);
    assert_eq!(world.raw(Method::POST, &path, &world.admin_token, Some(&early)).await.status(), 204);
    assert_eq!(ben.search(SECRET, 10).await.unwrap().messages.len(), 3, "Ben's search finds her three messages");

    // Ben closes his laptop: he misses the erasure and catches up later.
    ben.stop().await;

    // Before: her number and the word are on disk everywhere (so the search below can fail).
    let caches = |world: &World| files(world.dir.path(), "cache-");
    for needle in [ERIKA_DIGITS, SECRET] {
        let found = holding(&caches(&world), needle);
        assert!(found.len() >= 2, "{needle} is in Ana's and Ben's caches before: {found:?}");
        if let Some(server) = server_files(&world) {
            assert!(!holding(&server, needle).is_empty(), "{needle} is in the server's files before");
        }
    }

    // The Admin erases her.
    let contact_id = world.conversation(id).await.contact.id;
    let erased: Value = world.call(Method::POST, &format!("/api/v1/contacts/{contact_id}/erase"), None::<&()>).await;
    assert_eq!(erased["conversations"], 1);
    assert_eq!(erased["messages"], 3, "her message, the reply and the note");

    // Ana, online, drops her at once; Ben at his catch-up; Dee's first sync never sees her.
    wait_for("Ana drops her", &ana, |c| async move { conversation_of(&c, id).await.is_none() }).await;
    ben.start();
    settled(&world, &ben).await;
    assert!(conversation_of(&ben, id).await.is_none(), "Ben dropped her at his catch-up");
    assert_eq!(ben.draft(id, DraftMode::Reply).await.unwrap(), None, "and his draft to her");
    let dee = world.client("dee@test.local").await;
    settled(&world, &dee).await;
    for client in [&ana, &ben, &dee] {
        assert!(client.thread(id).await.unwrap().is_none());
        assert!(conversation_of(client, other.conversation_id).await.is_some(), "the other customer stays");
        let hits = client.search(SECRET, 10).await.unwrap();
        assert!(hits.messages.is_empty() && hits.contacts.is_empty(), "search finds nothing of her");
        assert!(client.search(ERIKA_DIGITS, 10).await.unwrap().contacts.is_empty());
    }

    // The API answers nothing about her, the log from 0 neither, and the audit says who erased a contact.
    let resp = world.raw(Method::GET, &format!("/api/v1/contacts/{contact_id}"), &world.admin_token, None::<&()>).await;
    assert_eq!(resp.status(), 404);
    let resp = world.raw(Method::GET, &format!("/api/v1/conversations/{id}"), &world.admin_token, None::<&()>).await;
    assert_eq!(resp.status(), 404);
    let log = serde_json::to_string(&world.events(5000).await).unwrap();
    let audit = serde_json::to_string(&world.audit().await).unwrap();
    for needle in [ERIKA_DIGITS, SECRET, "Erika"] {
        assert!(!log.contains(needle), "the log from 0 names {needle}");
        assert!(!audit.contains(needle), "the audit names {needle}");
    }
    let events = world.events(5000).await;
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1), "the log has no gap");
    let entries = world.audit().await;
    let entry = entries.iter().find(|e| e.action == "contact.erase").expect("the erasure is audited");
    assert_eq!(entry.actor_name, "Admin");
    assert_eq!(entry.summary, "Erased a contact: 1 conversation, 3 messages and notes");

    // On disk: not one byte of her in any cache file or the server's database files.
    ana.close().await;
    ben.close().await;
    dee.close().await;
    for needle in [ERIKA_DIGITS, SECRET] {
        assert_eq!(holding(&caches(&world), needle), Vec::<String>::new(), "{needle} left in a cache file");
        if let Some(server) = server_files(&world) {
            assert_eq!(holding(&server, needle), Vec::<String>::new(), "{needle} left in the server's files");
        }
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_period_removes_old_messages_from_the_server_and_every_cache() {
    let mut world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    world.create_user("dee@test.local", "Dee", Role::Agent).await;
    let ana = world.client("ana@test.local").await;
    let settings: Value = world.call(Method::PATCH, "/api/v1/settings", Some(&json!({"retention_days": 30}))).await;
    assert_eq!(settings["retention_days"], 30);
    assert_eq!(
        settings["numbers"],
        json!([{"device_id": world.device.id, "retention_days": null}]),
        "the number follows"
    );

    let old = world.inbound("+4915100000003", "An old question about kiwi77", None).await;
    let new = world.inbound("+4915100000003", "A newer one about mango88", None).await;
    let id = old.conversation_id;
    wait_for("both messages", &ana, |c| async move {
        c.thread(id).await.ok().flatten().is_some_and(|t| t.messages.len() == 2)
    })
    .await;
    assert_eq!(ana.search("kiwi77", 10).await.unwrap().messages.len(), 1);

    // Thirty days after a moment between the two messages, the server's hourly pass runs.
    let cutoff = old.created_at + chrono::Duration::microseconds(1);
    assert!(new.created_at > cutoff);
    world.clock.advance(cutoff + chrono::Duration::days(30) - world.clock.now());
    world.admin_token = world.login("admin@test.local").await.token; // a month on, the test's session ran out
    wait_for("the old message goes", &ana, |c| async move {
        c.thread(id).await.ok().flatten().is_some_and(|t| t.messages.len() == 1)
    })
    .await;
    let thread = ana.thread(id).await.unwrap().unwrap();
    assert_eq!(thread.messages[0].message.body, "A newer one about mango88");
    assert!(ana.search("kiwi77", 10).await.unwrap().messages.is_empty(), "nor is it found");
    assert_eq!(world.messages(id).await.len(), 1, "the server kept the newer message only");

    // A first sync after it: the conversation, the newer message, nothing of the old one.
    let dee = world.client("dee@test.local").await;
    settled(&world, &dee).await;
    let thread = dee.thread(id).await.unwrap().expect("the conversation is there");
    assert_eq!(thread.messages.len(), 1);
    assert_eq!(conversation_of(&dee, id).await.unwrap().last_message_preview, "A newer one about mango88");
    let events = world.events(5000).await;
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1), "the log has no gap");
    let left: Vec<_> = events.iter().filter(|e| serde_json::to_string(e).unwrap().contains("kiwi77")).collect();
    assert!(left.is_empty(), "the log no longer holds it: {left:#?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_offline_longer_than_erasures_are_recorded_starts_its_cache_again() {
    let mut world = World::start().await;
    world.create_user("ben@test.local", "Ben", Role::Agent).await;
    let ben = world.client("ben@test.local").await;
    let erika = world.inbound(ERIKA, "Please forget me", None).await;
    let id = erika.conversation_id;
    wait_for("her conversation", &ben, |c| async move { conversation_of(&c, id).await.is_some() }).await;
    ben.set_draft(id, DraftMode::Reply, &format!("Dear Erika, about {SECRET}")).await.unwrap();
    let since = ben.last_seq().await.unwrap();
    ben.stop().await;

    let contact_id = world.conversation(id).await.contact.id;
    let _: Value = world.call(Method::POST, &format!("/api/v1/contacts/{contact_id}/erase"), None::<&()>).await;
    // 91 days on, the erasure's record is retired: the log no longer says whom it erased.
    world.clock.advance(chrono::Duration::days(91));
    world.admin_token = world.login("admin@test.local").await.token;
    let state = &world.server.as_ref().unwrap().state;
    // The hourly pass woke with the clock; this one makes sure it is done (whichever retires it).
    handoff_server::privacy::retention_once(state, world.clock.now()).await.unwrap();
    let resp = world.raw(Method::GET, &format!("/api/v1/sync?since={since}"), &world.admin_token, None::<&()>).await;
    assert_eq!(resp.status(), 410, "a catch-up from before the floor is refused");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "resync_required");

    // Ben comes back (signing in again: his session ran out meanwhile) with his cache as he
    // left it; below the floor, he starts again from 0 and she is gone.
    assert!(conversation_of(&ben, id).await.is_some());
    ben.sign_in(&world.url, "ben@test.local", PASSWORD).await.unwrap();
    settled(&world, &ben).await;
    assert!(conversation_of(&ben, id).await.is_none(), "her conversation is gone from Ben's cache");
    assert_eq!(ben.draft(id, DraftMode::Reply).await.unwrap(), None, "and what he wrote to her");
    ben.close().await;
    assert!(!cache_holds(&world, "ben@test.local", SECRET), "nothing of it in the cache's files");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_exports_a_contact_into_a_file_with_progress_and_a_refusal_leaves_none() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let admin = world.client("admin@test.local").await;
    let ana = world.client("ana@test.local").await;
    let first = world.inbound(ERIKA, "A long question", None).await;
    for i in 0..300 {
        world.inbound(ERIKA, &format!("Line {i} of a long story about {SECRET}"), None).await;
    }
    let contact = world.conversation(first.conversation_id).await.contact.id;
    let dir = world.dir.path().join("exports");

    let mut heard: Vec<(u64, Option<u64>)> = Vec::new();
    let json = admin
        .export_contact(contact, ExportFormat::Json, &dir, |done, total| heard.push((done, total)))
        .await
        .expect("exported");
    let bytes = std::fs::read(&json).unwrap();
    let export: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(export["messages"].as_array().unwrap().len(), 301);
    assert!(json.file_name().unwrap().to_string_lossy().ends_with(".json"));
    let size = bytes.len() as u64;
    assert_eq!(heard.first(), Some(&(0, Some(size))), "progress starts at 0 of the whole size");
    assert_eq!(heard.last(), Some(&(size, Some(size))), "and ends at the whole size");
    assert!(heard.windows(2).all(|w| w[0].0 <= w[1].0), "and only grows");

    let zip = admin.export_contact(contact, ExportFormat::Csv, &dir, |_, _| {}).await.expect("exported");
    assert_eq!(&std::fs::read(&zip).unwrap()[..4], b"PK\x03\x04");
    let again = admin.export_contact(contact, ExportFormat::Json, &dir, |_, _| {}).await.unwrap();
    assert_ne!(again, json, "a second export never overwrites the first");

    // An Agent may not: the refusal says so and leaves no file behind.
    let before = std::fs::read_dir(&dir).unwrap().count();
    let refused = ana.export_contact(contact, ExportFormat::Json, &dir, |_, _| {}).await;
    assert!(refused.is_err());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), before);
    world.stop().await;
}

/// `email`'s app, online, and the token it keeps.
async fn app_with_token(world: &World, email: &str) -> (Client, String) {
    let client = Client::open(&world.cache_path(email)).await.expect("cache opens");
    let (_, token) = client.sign_in(&world.url, email, PASSWORD).await.expect("sign in");
    wait_for("online", &client, |c| async move { c.connection() == handoff_core::ConnectionState::Online }).await;
    (client, token)
}

/// Makes the cache at `path` say it last reached the server `days` ago.
async fn last_contact(path: &Path, days: i64) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display())).await.unwrap();
    let at = (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    let set =
        sqlx::query("UPDATE meta SET value = ? WHERE key = 'last_contact'").bind(at).execute(&pool).await.unwrap();
    assert_eq!(set.rows_affected(), 1, "the cache keeps when it last reached the server");
    pool.close().await;
}

/// The bytes of `email`'s cache files hold `needle`.
fn cache_holds(world: &World, email: &str, needle: &str) -> bool {
    let name = format!("cache-{email}.db");
    !holding(&files(world.dir.path(), &name), needle).is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_whose_access_an_admin_removes_deletes_its_copy_at_once_or_at_its_next_start() {
    let world = World::start().await;
    let ana = world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ben = world.create_user("ben@test.local", "Ben", Role::Agent).await;
    let ana_app = world.client("ana@test.local").await;
    let (ben_app, token) = app_with_token(&world, "ben@test.local").await;
    let msg = world.inbound(ERIKA, &format!("Secret word {SECRET}"), None).await;
    for app in [&ana_app, &ben_app] {
        wait_for("her message", app, |c| async move { conversation_of(&c, msg.conversation_id).await.is_some() }).await;
    }
    ana_app.set_draft(msg.conversation_id, DraftMode::Note, &format!("draft about {SECRET}")).await.unwrap();
    let ben_token = world.login("ben@test.local").await.token; // Ben's phone, say: a second session
    ben_app.stop().await; // Ben's laptop is off

    // Ana is deactivated while online: her app deletes its copy at once.
    let _: Value =
        world.call(Method::PATCH, &format!("/api/v1/users/{}", ana.id), Some(&json!({"active": false}))).await;
    wait_for("Ana's access removed", &ana_app, |c| async move {
        c.connection() == handoff_core::ConnectionState::AccessRemoved
    })
    .await;
    assert!(ana_app.inbox(InboxView::All, 50).await.unwrap().is_empty());
    assert_eq!(ana_app.draft(msg.conversation_id, DraftMode::Note).await.unwrap(), None);
    ana_app.close().await;
    assert!(!cache_holds(&world, "ana@test.local", SECRET), "nothing of the workspace left in Ana's cache files");

    // Ben is signed out everywhere and wiped; his laptop deletes its copy when it next starts.
    let wiped: Value = world.call(Method::POST, &format!("/api/v1/users/{}/wipe", ben.id), None::<&()>).await;
    assert_eq!(wiped["sessions"], 2, "the laptop's session and the phone's");
    let resp = world.raw(Method::GET, "/api/v1/me", &ben_token, None::<&()>).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "access_removed");
    ben_app.close().await;
    assert!(cache_holds(&world, "ben@test.local", SECRET), "until it starts, the laptop still holds it");
    let restarted = Client::open(&world.cache_path("ben@test.local")).await.unwrap();
    let refused = restarted.resume(&world.url, &token).await;
    assert!(matches!(refused, Err(handoff_core::CoreError::AccessRemoved)), "{refused:?}");
    restarted.close().await;
    assert!(!cache_holds(&world, "ben@test.local", SECRET), "and then nothing of it");

    // Ben may sign in again (he is still a member); Ana may not.
    let again = Client::open(&world.cache_path("ben@test.local")).await.unwrap();
    again.sign_in(&world.url, "ben@test.local", PASSWORD).await.expect("Ben signs in again");
    let login = json!({"email": "ana@test.local", "password": PASSWORD});
    let resp = world.http().post(format!("{}/api/v1/auth/login", world.url)).json(&login).send().await.unwrap();
    assert_eq!(resp.status(), 401, "Ana, deactivated in her only workspace, no longer signs in");
    let entries = world.audit().await;
    assert!(entries.iter().any(|e| e.action == "user.wipe" && e.summary.starts_with("Signed Ben out everywhere")));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_offline_past_its_grace_asks_for_the_password_first() {
    let mut world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let _: Value = world.call(Method::PATCH, "/api/v1/settings", Some(&json!({"offline_grace_days": 2}))).await;
    let (ana, token) = app_with_token(&world, "ana@test.local").await;
    let msg = world.inbound("+4915100000004", "Hello", None).await;
    wait_for("the message", &ana, |c| async move { conversation_of(&c, msg.conversation_id).await.is_some() }).await;
    ana.close().await;
    let url = world.url.clone();
    world.stop_server().await;

    // The server is gone. Last reached a day ago: the cache opens, offline.
    let cache = world.cache_path("ana@test.local");
    last_contact(&cache, 1).await;
    let app = Client::open(&world.cache_path("ana@test.local")).await.unwrap();
    app.resume(&url, &token).await.expect("within the grace it opens from the cache");
    assert!(conversation_of(&app, msg.conversation_id).await.is_some());
    app.close().await;

    // Three days ago, with a grace of two: it does not open; the cache stays for the password.
    last_contact(&cache, 3).await;
    let app = Client::open(&world.cache_path("ana@test.local")).await.unwrap();
    let refused = app.resume(&url, &token).await;
    assert!(matches!(refused, Err(handoff_core::CoreError::OfflineTooLong { days: 2 })), "{refused:?}");
    app.close().await;
    assert!(cache_holds(&world, "ana@test.local", "Hello"), "the copy is kept for when she signs in");
}
