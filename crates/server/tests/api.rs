//! The HTTP contract of docs/api.md against a real server on a loopback port: auth, roles,
//! bad input (400/404/409/413, never a 500, never a partial write), idempotency and paging.

use handoff_proto::{Conversation, Page};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

use common::{code, Api, PASSWORD};

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    let api = Api::start().await;
    let (status, body) = api.send(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    let (status, metrics) = api.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.as_str().unwrap().contains("handoff_event_log_head"));
    let (status, doc) = api.send(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/auth/login",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/sync",
        "/api/v1/devices/{id}/simulator/inbound",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from openapi.json");
    }
    assert!(doc["components"]["schemas"].get("Conversation").is_some());
}

#[tokio::test]
async fn login_logout_and_deactivation_revoke_at_once() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (status, body) = api
        .send(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": "admin@test.local", "password": "nope"})))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (status, unknown) = api
        .send(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": "who@test.local", "password": "nope"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, body, "an unknown email gets the same answer as a wrong password");

    let (_, me) = api.send(Method::GET, "/api/v1/me", Some(&admin), None).await;
    assert_eq!(me["role"], "admin");
    let (ana, ana_token) = api.user(&admin, "ana@test.local", "agent").await;
    let second = api.login("ana@test.local").await;
    let (status, _) = api.send(Method::POST, "/api/v1/auth/logout", Some(&ana_token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&ana_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logged-out token still works");
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&second), None).await;
    assert_eq!(status, StatusCode::OK, "logout ends only that session");

    let (status, _) = api
        .send(Method::PATCH, &format!("/api/v1/users/{}", ana.id), Some(&admin), Some(json!({"active": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&second), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a deactivated user's token still works");
    let (status, _) = api
        .send(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": "ana@test.local", "password": PASSWORD})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failed_logins_get_429() {
    let api = Api::start().await;
    let wrong = json!({"email": "admin@test.local", "password": "wrong"});
    for _ in 0..5 {
        let (status, _) = api.send(Method::POST, "/api/v1/auth/login", None, Some(wrong.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let right = json!({"email": "admin@test.local", "password": PASSWORD});
    let (status, body) = api.send(Method::POST, "/api/v1/auth/login", None, Some(right)).await;
    assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
}

#[tokio::test]
async fn viewers_read_everything_and_change_nothing() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, viewer) = api.user(&admin, "vic@test.local", "viewer").await;
    let (_, agent) = api.user(&admin, "ana@test.local", "agent").await;
    let (device, c) = api.conversation(&admin).await;
    let id = c.id;
    let (status, _) = api.send(Method::GET, "/api/v1/conversations", Some(&viewer), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.send(Method::GET, &format!("/api/v1/conversations/{id}/messages"), Some(&viewer), None).await;
    assert_eq!(status, StatusCode::OK);
    let writes = [
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            json!({"body": "hi", "seen_version": c.version}),
        ),
        (Method::POST, format!("/api/v1/conversations/{id}/notes"), json!({"body": "hi"})),
        (Method::POST, format!("/api/v1/conversations/{id}/claim"), json!({})),
        (Method::POST, format!("/api/v1/conversations/{id}/assign"), json!({"assignee_id": null})),
        (Method::POST, format!("/api/v1/conversations/{id}/status"), json!({"status": "resolved"})),
        (
            Method::POST,
            "/api/v1/users".to_string(),
            json!({"email": "x@y.z", "name": "X", "password": PASSWORD, "role": "admin"}),
        ),
        (Method::POST, "/api/v1/devices".to_string(), json!({"name": "n", "kind": "simulator"})),
        (Method::DELETE, format!("/api/v1/devices/{}", device.id), json!({})),
    ];
    let head_before =
        api.send(Method::GET, "/api/v1/sync?since=0&limit=1", Some(&admin), None).await.1["head_seq"].clone();
    for (method, path, body) in &writes {
        let (status, resp) = api.send(method.clone(), path, Some(&viewer), Some(body.clone())).await;
        assert_eq!((status, code(&resp)), (StatusCode::FORBIDDEN, "forbidden"), "viewer {method} {path}");
    }
    // Agents may not administer either.
    for (method, path, body) in &writes[5..] {
        let (status, _) = api.send(method.clone(), path, Some(&agent), Some(body.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "agent {method} {path}");
    }
    let head_after =
        api.send(Method::GET, "/api/v1/sync?since=0&limit=1", Some(&admin), None).await.1["head_seq"].clone();
    assert_eq!(head_before, head_after, "a refused write changed something");
    // Anonymous callers get 401 everywhere but health, metrics, docs and login.
    let (status, body) = api.send(Method::GET, "/api/v1/conversations", None, None).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, agent) = api.user(&admin, "ana@test.local", "agent").await;
    let (_, viewer) = api.user(&admin, "vic@test.local", "viewer").await;
    let viewer_id =
        api.send(Method::GET, "/api/v1/me", Some(&viewer), None).await.1["id"].as_str().unwrap().to_string();
    let (device, c) = api.conversation(&admin).await;
    let id = c.id;
    let before = api.head(&admin).await;
    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (Method::GET, "/api/v1/conversations/not-a-uuid".into(), None, StatusCode::BAD_REQUEST, "invalid_request"),
        (Method::GET, format!("/api/v1/conversations/{}", uuid::Uuid::nil()), None, StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, "/api/v1/conversations?status=weird".into(), None, StatusCode::BAD_REQUEST, "invalid_request"),
        (Method::GET, "/api/v1/conversations?limit=0".into(), None, StatusCode::BAD_REQUEST, "invalid_request"),
        (Method::GET, "/api/v1/conversations?cursor=%%%".into(), None, StatusCode::BAD_REQUEST, "invalid_request"),
        (Method::GET, "/api/v1/nowhere".into(), None, StatusCode::NOT_FOUND, "not_found"),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            Some(json!({"body": "   ", "seen_version": c.version})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            Some(json!({"body": "hi"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            Some(json!({"body": "hi", "seen_version": c.version + 5})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/messages"),
            Some(json!({"body": "x".repeat(300_000), "seen_version": c.version})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/assign"),
            Some(json!({"assignee_id": viewer_id})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/assign"),
            Some(json!({"assignee_id": uuid::Uuid::nil()})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{id}/status"),
            Some(json!({"status": "snoozed"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            format!("/api/v1/devices/{}/simulator/inbound", device.id),
            Some(json!({"from": "not a phone", "body": "hi"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        // Linking by pair code: only for whatsapp_web devices, and only with an international number.
        (
            Method::POST,
            "/api/v1/devices".to_string(),
            Some(json!({"name": "Line", "kind": "simulator", "phone": "+4915112345678"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            Method::POST,
            "/api/v1/devices".to_string(),
            Some(json!({"name": "Line", "kind": "whatsapp_web", "phone": "0151 12345678"})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (method, path, body, want, want_code) in cases {
        let token = if path.contains("simulator") || path == "/api/v1/devices" { &admin } else { &agent };
        let (status, resp) = api.send(method.clone(), &path, Some(token), body).await;
        let short = &path[..path.len().min(80)];
        assert_eq!((status, code(&resp)), (want, want_code), "{method} {short}: {resp}");
        assert!(resp["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{method} {short}: no message");
    }
    // Malformed JSON is a 400 too.
    let resp = api
        .http
        .post(format!("{}/api/v1/conversations/{id}/notes", api.server.url()))
        .bearer_auth(&agent)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(api.head(&admin).await, before, "a refused request wrote something");
}

#[tokio::test]
async fn the_send_guard_refuses_a_stale_reply_and_says_what_changed() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, ana) = api.user(&admin, "ana@test.local", "agent").await;
    let (ben_user, ben) = api.user(&admin, "ben@test.local", "agent").await;
    let (device, c) = api.conversation(&admin).await;
    let seen = c.version;
    // Ben replies and the customer writes again, after Ana looked.
    let (status, _) = api
        .send(
            Method::POST,
            &format!("/api/v1/conversations/{}/messages", c.id),
            Some(&ben),
            Some(json!({"body": "Hi from Ben", "seen_version": seen})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    api.send(
        Method::POST,
        &format!("/api/v1/devices/{}/simulator/inbound", device.id),
        Some(&admin),
        Some(json!({"from": "+4915112345678", "body": "Anyone?"})),
    )
    .await;
    let path = format!("/api/v1/conversations/{}/messages", c.id);
    let (status, body) =
        api.send(Method::POST, &path, Some(&ana), Some(json!({"body": "Hi", "seen_version": seen}))).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conversation_changed"));
    let changes = body["error"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{body}");
    assert_eq!(changes[0]["kind"], "reply");
    assert_eq!(changes[0]["author_id"], ben_user.id.to_string());
    assert_eq!(changes[1]["kind"], "inbound_message");
    assert_eq!(changes[1]["preview"], "Anyone?");
    let version = body["error"]["version"].as_i64().unwrap();
    // With the current version, or with force, it goes out.
    let (status, _) =
        api.send(Method::POST, &path, Some(&ana), Some(json!({"body": "Hi", "seen_version": version}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api
        .send(Method::POST, &path, Some(&ana), Some(json!({"body": "Hi again", "seen_version": seen, "force": true})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // A note by someone else does not stop a reply.
    let (_, now) = api.send(Method::GET, &format!("/api/v1/conversations/{}", c.id), Some(&ana), None).await;
    let v = now["version"].as_i64().unwrap();
    api.send(Method::POST, &format!("/api/v1/conversations/{}/notes", c.id), Some(&ben), Some(json!({"body": "fyi"})))
        .await;
    let (status, _) = api.send(Method::POST, &path, Some(&ana), Some(json!({"body": "Ok", "seen_version": v}))).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn idempotency_keys_return_the_first_answer_and_change_nothing() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, ana) = api.user(&admin, "ana@test.local", "agent").await;
    let (device, c) = api.conversation(&admin).await;
    let path = format!("/api/v1/conversations/{}/messages", c.id);
    let body = json!({"body": "Once only", "seen_version": c.version});
    let key = [("idempotency-key", "reply-1")];
    let (s1, first) = api.send_with(Method::POST, &path, Some(&ana), Some(body.clone()), &key).await;
    let (s2, second) = api.send_with(Method::POST, &path, Some(&ana), Some(body), &key).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first["id"], second["id"]);
    // One reply stored, and the number asked to send it once (the outbound worker sends after
    // the answer: wait for the phone to be asked).
    let (_, page) = api.send(Method::GET, &path, Some(&ana), None).await;
    let replies = page["items"].as_array().unwrap().iter().filter(|m| m["body"] == "Once only").count();
    assert_eq!(replies, 1, "stored twice: {page}");
    let sim = api.server.state.devices.get(device.id).unwrap().simulator.clone().unwrap();
    let mut asked = sim.asked();
    let sent = tokio::time::timeout(common::DEADLINE, async {
        while sim.sent().is_empty() {
            asked.changed().await.unwrap();
        }
    });
    assert!(sent.await.is_ok(), "the reply was never sent");
    let (_, sent) =
        api.send(Method::GET, &format!("/api/v1/devices/{}/simulator/sent", device.id), Some(&admin), None).await;
    assert_eq!(sent["items"].as_array().unwrap().len(), 1, "sent twice");
    let (status, body) = api
        .send_with(Method::POST, &path, Some(&ana), Some(json!({"body": "Different", "seen_version": c.version})), &key)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "idempotency_key_reused"));
}

#[tokio::test]
async fn claim_is_a_compare_and_set_and_lists_page_without_gaps() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (ana_user, ana) = api.user(&admin, "ana@test.local", "agent").await;
    let (_, ben) = api.user(&admin, "ben@test.local", "agent").await;
    let (device, c) = api.conversation(&admin).await;
    let claim = format!("/api/v1/conversations/{}/claim", c.id);
    let (status, won) = api.send(Method::POST, &claim, Some(&ana), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(won["assignee_id"], ana_user.id.to_string());
    let (status, lost) = api.send(Method::POST, &claim, Some(&ben), None).await;
    assert_eq!((status, code(&lost)), (StatusCode::CONFLICT, "already_claimed"));
    assert_eq!(lost["error"]["assignee_id"], ana_user.id.to_string());
    assert!(lost["error"]["message"].as_str().unwrap().starts_with("ana claimed this"), "{lost}");

    for i in 0..7 {
        api.send(
            Method::POST,
            &format!("/api/v1/devices/{}/simulator/inbound", device.id),
            Some(&admin),
            Some(json!({"from": format!("+491510000{i:04}"), "body": format!("m{i}")})),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/conversations?limit=3".to_string();
    loop {
        let (_, page) = api.send(Method::GET, &path, Some(&ben), None).await;
        let page: Page<Conversation> = serde_json::from_value(page).unwrap();
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(cur) => path = format!("/api/v1/conversations?limit=3&cursor={cur}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    seen.dedup();
    assert_eq!(seen.len(), 8, "a conversation appeared on two pages");
    let (_, mine) = api.send(Method::GET, "/api/v1/conversations?assignee=me", Some(&ana), None).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let (_, none) = api.send(Method::GET, "/api/v1/conversations?assignee=none&q=m3", Some(&ana), None).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn readyz_checks_the_database_and_names_the_numbers_that_are_down() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (status, body) = api.send(Method::GET, "/readyz", None, None).await;
    assert_eq!((status.as_u16(), body["status"].as_str(), body["database"].as_str()), (200, Some("ready"), Some("ok")));
    assert_eq!(body["devices_down"], json!([]));
    // A linked number drops: still ready, and named.
    let (_, device) = api
        .send(Method::POST, "/api/v1/devices", Some(&admin), Some(json!({"name": "Support line", "kind": "simulator"})))
        .await;
    let id = device["id"].as_str().unwrap().to_string();
    api.send(Method::POST, &format!("/api/v1/devices/{id}/simulator/link"), Some(&admin), None).await;
    api.send(Method::POST, &format!("/api/v1/devices/{id}/simulator/disconnect"), Some(&admin), None).await;
    let (status, body) = api.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(body["devices_down"][0]["name"], "Support line", "{body}");
    // The database stops answering: 503, while /healthz (liveness) still answers.
    api.server.state.store.close().await;
    let (status, body) = api.send(Method::GET, "/readyz", None, None).await;
    assert_eq!((status.as_u16(), body["status"].as_str()), (503, Some("unavailable")), "{body}");
    assert_eq!(api.send(Method::GET, "/healthz", None, None).await.0, 200);
}

#[tokio::test]
async fn idempotency_records_are_kept_thirty_days_then_pruned() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, c) = api.conversation(&admin).await;
    let path = format!("/api/v1/conversations/{}/notes", c.id);
    let key = [("idempotency-key", "note-1")];
    let (status, first) = api.send_with(Method::POST, &path, Some(&admin), Some(json!({"body": "Once"})), &key).await;
    assert_eq!(status, StatusCode::CREATED);
    let state = &api.server.state;
    let now = chrono::Utc::now();
    // Within the 30 days: kept, and the same key answers with the first note.
    assert_eq!(handoff_server::prune::prune_once(state, now + chrono::Duration::days(29)).await.unwrap(), 0);
    let (_, again) = api.send_with(Method::POST, &path, Some(&admin), Some(json!({"body": "Once"})), &key).await;
    assert_eq!(again["id"], first["id"]);
    // Past them: pruned, and the key is free again (another body is applied as new, not refused
    // as a reused key).
    assert_eq!(handoff_server::prune::prune_once(state, now + chrono::Duration::days(31)).await.unwrap(), 1);
    let (status, later) = api.send_with(Method::POST, &path, Some(&admin), Some(json!({"body": "Later"})), &key).await;
    assert_eq!(status, StatusCode::CREATED, "{later}");
    assert_ne!(later["id"], first["id"]);
}

#[tokio::test]
async fn a_removed_device_leaves_no_whatsapp_session_store_on_disk() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let body = json!({"name": "Sales", "kind": "simulator"});
    let (status, created) = api.send(Method::POST, "/api/v1/devices", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id: handoff_proto::DeviceId = created["id"].as_str().unwrap().parse().unwrap();
    // The files a whatsapp_web device keeps its keys in (this build may not have that adapter).
    let data_dir = &api.server.state.config.data_dir;
    let store = handoff_server::devices::session_store(data_dir, id);
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    let files = [store.clone(), store.with_extension("db-wal"), store.with_extension("db-shm")];
    for file in &files {
        std::fs::write(file, b"noise keys").unwrap();
    }
    let other = handoff_server::devices::session_store(data_dir, handoff_proto::DeviceId::new());
    std::fs::write(&other, b"another device's keys").unwrap();
    let (status, _) = api.send(Method::DELETE, &format!("/api/v1/devices/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for file in &files {
        assert!(!file.exists(), "{} is still on disk", file.display());
    }
    assert!(other.exists(), "only the removed device's store goes");
}
