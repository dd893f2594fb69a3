//! Privacy over HTTP (docs/privacy.md): the workspace's settings, a contact with every
//! conversation, its export as JSON and as a zip of CSV files, and its erasure as the API sees
//! it. What reaches the apps and the files on disk is in tests/scenarios/privacy.rs.

mod common;

use std::io::Read;

use common::{code, Api};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_the_admins_and_checked() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (status, settings) = api.send(Method::GET, "/api/v1/settings", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        settings,
        json!({"retention_days": null, "offline_grace_days": 3, "numbers": []}),
        "messages kept, 3 days offline"
    );

    let patch = |body: Value| api.send(Method::PATCH, "/api/v1/settings", Some(&admin), Some(body));
    let (status, after) = patch(json!({"retention_days": 365})).await;
    assert_eq!(
        (status, after),
        (StatusCode::OK, json!({"retention_days": 365, "offline_grace_days": 3, "numbers": []}))
    );
    let (_, after) = patch(json!({"offline_grace_days": 7})).await;
    assert_eq!(after, json!({"retention_days": 365, "offline_grace_days": 7, "numbers": []}), "an absent field stays");
    let (_, after) = patch(json!({"retention_days": null})).await;
    assert_eq!(
        after,
        json!({"retention_days": null, "offline_grace_days": 7, "numbers": []}),
        "null keeps messages again"
    );
    for (body, field) in [
        (json!({"retention_days": 0}), "retention_days"),
        (json!({"retention_days": 3651}), "retention_days"),
        (json!({"offline_grace_days": 0}), "offline_grace_days"),
        (json!({"offline_grace_days": 366}), "offline_grace_days"),
    ] {
        let (status, error) = patch(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["error"]["field"], field);
    }
    let (_, audit) = api.send(Method::GET, "/api/v1/audit?action=settings.update", Some(&admin), None).await;
    let summaries: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["summary"].as_str().unwrap()).collect();
    assert_eq!(
        summaries,
        [
            "Settings: messages kept, apps open offline for 7 days",
            "Settings: messages 365 days, apps open offline for 7 days",
            "Settings: messages 365 days, apps open offline for 3 days",
        ],
        "each change audited, newest first"
    );
    let (_, agent) = api.user(&admin, "ana@test.local", "agent").await;
    let (status, error) = api.send(Method::GET, "/api/v1/settings", Some(&agent), None).await;
    assert_eq!((status, code(&error)), (StatusCode::FORBIDDEN, "forbidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_exports_as_json_and_csv_and_erases_for_good() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (device, conversation) = api.conversation(&admin).await;
    let id = conversation.id;
    let contact = conversation.contact.id;
    let inbound = format!("/api/v1/devices/{}/simulator/inbound", device.id);
    let invoice = json!({"from": "+4915112345678", "body": "Here, \"my\" invoice, as asked",
        "media": {"kind": "document", "filename": "invoice-lena.pdf", "mime": "application/pdf", "size": 2048}});
    let (status, _) = api.send(Method::POST, &inbound, Some(&admin), Some(invoice)).await;
    assert_eq!(status, StatusCode::CREATED);
    let path = |tail: &str| format!("/api/v1/conversations/{id}{tail}");
    let (status, _) = api.send(Method::POST, &path("/claim"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let reply = json!({"body": "=HYPERLINK(\"x\") thanks Lena", "seen_version": 0, "force": true});
    assert_eq!(api.send(Method::POST, &path("/messages"), Some(&admin), Some(reply)).await.0, StatusCode::CREATED);
    let note = json!({"body": "Lena, multi-line\nnote"});
    assert_eq!(api.send(Method::POST, &path("/notes"), Some(&admin), Some(note)).await.0, StatusCode::CREATED);

    // The contact, with every address and conversation.
    let (status, detail) = api.send(Method::GET, &format!("/api/v1/contacts/{contact}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["phone"], "+4915112345678");
    assert_eq!(detail["name"], "Lena");
    assert_eq!(detail["aliases"], json!(["4915112345678@s.whatsapp.net"]));
    assert_eq!(detail["conversations"][0]["id"], id.to_string());

    // JSON: the contact, every message and note oldest first, the audit about them, the attachment.
    let resp = api
        .http
        .get(format!("{}/api/v1/contacts/{contact}/export", api.server.url()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_string();
    assert_eq!(disposition, format!("attachment; filename=\"contact-{contact}.json\""));
    let export: Value = resp.json().await.unwrap();
    let bodies: Vec<&str> =
        export["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        ["Hello", "Here, \"my\" invoice, as asked", "=HYPERLINK(\"x\") thanks Lena", "Lena, multi-line\nnote"]
    );
    let actions: Vec<&str> =
        export["audit"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"claim") && actions.contains(&"reply") && actions.contains(&"note"), "{actions:?}");
    assert_eq!(export["attachments"][0]["filename"], "invoice-lena.pdf");
    assert_eq!(export["attachments"][0]["size"], 2048);
    assert_eq!(export["contact"]["id"], contact.to_string());

    // CSV: a zip of five files, quoted where needed, a formula shown as text.
    let resp = api
        .http
        .get(format!("{}/api/v1/contacts/{contact}/export?format=csv", api.server.url()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let bytes = resp.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names, ["attachments.csv", "audit.csv", "contact.csv", "conversations.csv", "messages.csv"]);
    let mut messages = String::new();
    zip.by_name("messages.csv").unwrap().read_to_string(&mut messages).unwrap();
    let lines: Vec<&str> = messages.split("\r\n").collect();
    assert_eq!(lines[0], "conversation_id,id,created_at,kind,author_id,sender,body,delivery,attachment");
    assert!(lines[2].contains(",\"Here, \"\"my\"\" invoice, as asked\","), "{}", lines[2]);
    assert!(lines[2].ends_with(",invoice-lena.pdf"), "{}", lines[2]);
    assert!(lines[3].contains(",\"'=HYPERLINK(\"\"x\"\") thanks Lena\","), "{}", lines[3]);
    assert!(messages.contains("\"Lena, multi-line\nnote\""));
    let mut contact_csv = String::new();
    zip.by_name("contact.csv").unwrap().read_to_string(&mut contact_csv).unwrap();
    assert!(contact_csv.contains(",Lena,+4915112345678,"), "{contact_csv}");
    let (status, error) =
        api.send(Method::GET, &format!("/api/v1/contacts/{contact}/export?format=xml"), Some(&admin), None).await;
    assert_eq!((status, error["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("format")));

    // Agents may look at a contact, not export or erase one.
    let (_, agent) = api.user(&admin, "ana@test.local", "agent").await;
    for (method, tail) in [(Method::GET, ""), (Method::GET, "/export"), (Method::POST, "/erase")] {
        let (status, _) =
            api.send(method.clone(), &format!("/api/v1/contacts/{contact}{tail}"), Some(&agent), None).await;
        let expected = if tail.is_empty() { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status, expected, "{method} {tail}");
    }

    // Erased: 202 with what went; then nothing answers about them, and erasing again is 404.
    let head = api.head(&admin).await;
    let (status, erased) =
        api.send(Method::POST, &format!("/api/v1/contacts/{contact}/erase"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{erased}");
    assert_eq!(erased, json!({"contact_id": contact, "conversations": 1, "messages": 4}));
    for p in [format!("/api/v1/contacts/{contact}"), format!("/api/v1/conversations/{id}"), path("/messages")] {
        assert_eq!(api.send(Method::GET, &p, Some(&admin), None).await.0, StatusCode::NOT_FOUND, "{p}");
    }
    let (status, _) = api.send(Method::POST, &format!("/api/v1/contacts/{contact}/erase"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, sync) = api.send(Method::GET, "/api/v1/sync?since=0&limit=5000", Some(&admin), None).await;
    let events = sync["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["seq"], head + 1, "one event more: the erasure");
    assert_eq!(last["type"], "contact.erased");
    assert_eq!(last["conversation_ids"], json!([id]));
    let text = sync.to_string();
    for gone in ["Lena", "15112345678", "invoice", "HYPERLINK"] {
        assert!(!text.contains(gone), "the log names {gone}");
    }
    assert!(events.iter().filter(|e| e["type"] == "redacted").count() >= 5, "her events are redacted in place");
    let (_, audit) = api.send(Method::GET, "/api/v1/audit?limit=500", Some(&admin), None).await;
    let text = audit.to_string();
    assert!(!text.contains("invoice-lena") && !text.contains("15112345678"), "{text}");
    let entry = &audit["items"][0];
    assert_eq!(entry["action"], "contact.erase");
    assert_eq!(entry["summary"], "Erased a contact: 1 conversation, 4 messages and notes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_access_is_told_apart_from_a_plain_sign_out_and_stays_in_its_workspace() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (ana, ana_token) = api.user(&admin, "ana@test.local", "agent").await;
    let (ben, ben_token) = api.user(&admin, "ben@test.local", "agent").await;
    // Ana also works in a second workspace: her session there is not touched.
    let (_, other) = api.send(Method::POST, "/api/v1/workspaces", Some(&admin), Some(json!({"name": "Retail"}))).await;
    let login = json!({"email": "admin@test.local", "password": common::PASSWORD, "workspace_id": other["id"]});
    let (_, signed_in) = api.send(Method::POST, "/api/v1/auth/login", None, Some(login)).await;
    let retail_admin = signed_in["token"].as_str().unwrap().to_string();
    let member = json!({"email": "ana@test.local", "role": "agent"});
    let (status, _) = api
        .send(
            Method::POST,
            &format!("/api/v1/workspaces/{}/members", other["id"].as_str().unwrap()),
            Some(&retail_admin),
            Some(member),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let login = json!({"email": "ana@test.local", "password": common::PASSWORD, "workspace_id": other["id"]});
    let (_, signed_in) = api.send(Method::POST, "/api/v1/auth/login", None, Some(login)).await;
    let ana_in_retail = signed_in["token"].as_str().unwrap().to_string();

    // Deactivated here: her token here is told "access removed"; there it works.
    let (status, _) = api
        .send(Method::PATCH, &format!("/api/v1/users/{}", ana.id), Some(&admin), Some(json!({"active": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = api.send(Method::GET, "/api/v1/me", Some(&ana_token), None).await;
    assert_eq!((status, code(&error)), (StatusCode::UNAUTHORIZED, "access_removed"));
    assert_eq!(api.send(Method::GET, "/api/v1/me", Some(&ana_in_retail), None).await.0, StatusCode::OK);

    // Ben signed out everywhere and wiped: two sessions end, each told "access removed"; he
    // signs in again, and a plain sign-out stays a plain 401.
    let second = api.login("ben@test.local").await;
    let (status, wiped) = api.send(Method::POST, &format!("/api/v1/users/{}/wipe", ben.id), Some(&admin), None).await;
    assert_eq!((status, wiped), (StatusCode::OK, json!({"sessions": 2})));
    for token in [&ben_token, &second] {
        let (status, error) = api.send(Method::GET, "/api/v1/me", Some(token), None).await;
        assert_eq!((status, code(&error)), (StatusCode::UNAUTHORIZED, "access_removed"));
    }
    let fresh = api.login("ben@test.local").await;
    assert_eq!(api.send(Method::POST, "/api/v1/auth/logout", Some(&fresh), None).await.0, StatusCode::NO_CONTENT);
    let (status, error) = api.send(Method::GET, "/api/v1/me", Some(&fresh), None).await;
    assert_eq!((status, code(&error)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (_, audit) = api.send(Method::GET, "/api/v1/audit?action=user.wipe", Some(&admin), None).await;
    assert_eq!(
        audit["items"][0]["summary"],
        "Signed ben out everywhere and had each computer delete its copy (2 sessions)"
    );

    // Not an API key's user, not someone of another workspace, not for an Agent.
    let (_, key) =
        api.send(Method::POST, "/api/v1/api-keys", Some(&admin), Some(json!({"name": "bot", "role": "agent"}))).await;
    let (status, _) = api
        .send(
            Method::POST,
            &format!("/api/v1/users/{}/wipe", key["api_key"]["user_id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        api.send(Method::POST, &format!("/api/v1/users/{}/wipe", ben.id), Some(&retail_admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.send(Method::POST, &format!("/api/v1/users/{}/wipe", ben.id), Some(&fresh), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_number_keeps_messages_for_a_period_of_its_own() {
    let clock = handoff_server::ManualClock::new(chrono::Utc::now());
    let manual = clock.clone();
    let api = Api::start_with(move |config| config.clock = handoff_server::Clock::Manual(manual)).await;
    let admin = api.login("admin@test.local").await;
    let (short, short_conversation) = api.conversation(&admin).await;
    let (long, long_conversation) = api.conversation(&admin).await;

    let patch = |body: Value| api.send(Method::PATCH, "/api/v1/settings", Some(&admin), Some(body));
    let (status, settings) = patch(json!({"numbers": [{"device_id": short.id, "retention_days": 30}]})).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(
        settings["numbers"],
        json!([{"device_id": short.id, "retention_days": 30}, {"device_id": long.id, "retention_days": null}])
    );
    let (status, error) = patch(json!({"numbers": [{"device_id": short.id, "retention_days": 0}]})).await;
    assert_eq!((status, error["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("numbers")), "0 days");
    let (status, error) = patch(json!({"numbers": [{"device_id": uuid::Uuid::now_v7(), "retention_days": 30}]})).await;
    assert_eq!((status, code(&error)), (StatusCode::NOT_FOUND, "not_found"), "a number of no one's");

    // A month on: the first number's messages go, the other's (no period) stay.
    let now = clock.now() + chrono::Duration::days(31);
    let done = handoff_server::privacy::retention_once(&api.server.state, now).await.unwrap();
    assert_eq!(done.messages, 1);
    for (id, kept) in [(short_conversation.id, 0), (long_conversation.id, 1)] {
        let path = format!("/api/v1/conversations/{id}/messages");
        let (_, page) = api.send(Method::GET, &path, Some(&admin), None).await;
        assert_eq!(page["items"].as_array().unwrap().len(), kept);
    }
    let (_, conversation) =
        api.send(Method::GET, &format!("/api/v1/conversations/{}", short_conversation.id), Some(&admin), None).await;
    assert_eq!(conversation["last_message_preview"], "", "its preview went with it");
    let (_, sync) = api.send(Method::GET, "/api/v1/sync?since=0&limit=5000", Some(&admin), None).await;
    let purges: Vec<&Value> =
        sync["events"].as_array().unwrap().iter().filter(|e| e["type"] == "messages.purged").collect();
    assert_eq!(purges.len(), 1);
    assert_eq!(purges[0]["device_id"], json!(short.id));
    // Back to the workspace's (none): nothing more goes.
    patch(json!({"numbers": [{"device_id": short.id, "retention_days": null}]})).await;
    let later =
        handoff_server::privacy::retention_once(&api.server.state, now + chrono::Duration::days(400)).await.unwrap();
    assert_eq!(later.messages, 0);
}
