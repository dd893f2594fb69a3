//! Accounts: changing your password, an Admin's reset to a temporary one, sessions that expire
//! (idle and absolute, on the server's injected clock), the session list, and an API key's
//! logout that no longer pretends.

use futures_util::{SinkExt, StreamExt};
use handoff_proto::{ClientFrame, PROTOCOL_VERSION};
use handoff_server::{Clock, ManualClock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

mod common;

use common::{code, Api, DEADLINE, PASSWORD};

const NEW_PASSWORD: &str = "a much longer passphrase";

async fn login_with(api: &Api, email: &str, password: &str, agent: &str) -> (StatusCode, Value) {
    api.send_with(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
        &[("user-agent", agent)],
    )
    .await
}

#[tokio::test]
async fn changing_your_password_ends_your_other_sessions_only() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, ana) = api.user(&admin, "ana@test.local", "agent").await;
    let ana_laptop = api.login("ana@test.local").await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let (status, body) =
        api.send(Method::POST, "/api/v1/me/password", Some(&ana), Some(change("wrong one!", NEW_PASSWORD))).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("current_password")));
    let (status, body) =
        api.send(Method::POST, "/api/v1/me/password", Some(&ana), Some(change(PASSWORD, "short"))).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("new_password")));
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&ana_laptop), None).await;
    assert_eq!(status, StatusCode::OK, "refused changes end nothing");

    let (status, body) =
        api.send(Method::POST, "/api/v1/me/password", Some(&ana), Some(change(PASSWORD, NEW_PASSWORD))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&ana), None).await;
    assert_eq!(status, StatusCode::OK, "the session that changed it stays");
    let (status, body) = api.send(Method::GET, "/api/v1/me", Some(&ana_laptop), None).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthenticated"), "other sessions end");
    assert_eq!(login_with(&api, "ana@test.local", PASSWORD, "t").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login_with(&api, "ana@test.local", NEW_PASSWORD, "t").await.0, StatusCode::OK);

    let (_, audit) = api.send(Method::GET, "/api/v1/audit", Some(&admin), None).await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"user.change_password"), "{actions:?}");
}

#[tokio::test]
async fn a_reset_password_must_be_changed_before_anything_else() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (ana, ana_token) = api.user(&admin, "ana@test.local", "agent").await;
    let (_, vic) = api.user(&admin, "vic@test.local", "agent").await;
    let reset = format!("/api/v1/users/{}/reset-password", ana.id);
    let (status, _) = api.send(Method::POST, &reset, Some(&vic), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only an Admin resets");

    let (status, body) = api.send(Method::POST, &reset, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let temporary = body["temporary_password"].as_str().unwrap().to_string();
    assert!(temporary.len() >= 16, "{temporary}");
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&ana_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a reset signs the person out everywhere");
    assert_eq!(login_with(&api, "ana@test.local", PASSWORD, "t").await.0, StatusCode::UNAUTHORIZED);

    let (status, login) = login_with(&api, "ana@test.local", &temporary, "t").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login["user"]["must_change_password"], true);
    let token = login["token"].as_str().unwrap();
    let (status, body) = api.send(Method::GET, "/api/v1/conversations", Some(token), None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "password_change_required"));
    let (status, me) = api.send(Method::GET, "/api/v1/me", Some(token), None).await;
    assert_eq!((status, me["must_change_password"].as_bool()), (StatusCode::OK, Some(true)));

    let body = json!({"current_password": temporary, "new_password": NEW_PASSWORD});
    let (status, _) = api.send(Method::POST, "/api/v1/me/password", Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.send(Method::GET, "/api/v1/conversations", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "changed: the session may work");
    let (_, users) = api.send(Method::GET, "/api/v1/users", Some(&admin), None).await;
    let ana_now = users["items"].as_array().unwrap().iter().find(|u| u["email"] == "ana@test.local").unwrap().clone();
    assert_eq!(ana_now["must_change_password"], false);

    let (status, key) =
        api.send(Method::POST, "/api/v1/api-keys", Some(&admin), Some(json!({"name": "bot", "role": "agent"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let key_user = key["api_key"]["user_id"].as_str().unwrap();
    let (status, _) =
        api.send(Method::POST, &format!("/api/v1/users/{key_user}/reset-password"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an API key has no password");
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_absolute_end() {
    let clock = ManualClock::new(chrono::Utc::now());
    let api = Api::start_with(|c| {
        c.clock = Clock::Manual(clock.clone());
        c.session_idle = std::time::Duration::from_secs(3600);
        c.session_max_age = std::time::Duration::from_secs(4 * 3600);
    })
    .await;
    let minutes = |m| clock.advance(chrono::Duration::minutes(m));
    let token = api.login("admin@test.local").await;
    let me = |t: String| {
        let api = &api;
        async move { api.send(Method::GET, "/api/v1/me", Some(&t), None).await }
    };
    // Used every 50 minutes, it lives on past its first idle hour ...
    for _ in 0..4 {
        minutes(50);
        assert_eq!(me(token.clone()).await.0, StatusCode::OK);
    }
    // ... until its absolute end, 4 hours after sign-in.
    minutes(50);
    let (status, body) = me(token.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "session_expired"), "{body}");

    // Left alone for over an hour, a new one ends.
    let token = api.login("admin@test.local").await;
    minutes(59);
    assert_eq!(me(token.clone()).await.0, StatusCode::OK);
    minutes(61);
    let (status, body) = me(token.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "session_expired"));
    let (status, _) = api.send(Method::GET, "/api/v1/me/sessions", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An open WebSocket is use, but not past the absolute end: it is closed with the reason.
    let token = api.login("admin@test.local").await;
    let mut request = format!("ws://{}/api/v1/ws", api.server.addr).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq: 0 };
    ws.send(WsMessage::Text(serde_json::to_string(&hello).unwrap().into())).await.unwrap();
    let welcomed = tokio::time::timeout(DEADLINE, ws.next()).await.expect("welcome").unwrap().unwrap();
    assert!(welcomed.to_text().unwrap().contains("welcome"), "{welcomed}");
    minutes(4 * 60 + 1);
    let closed = tokio::time::timeout(DEADLINE, async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(WsMessage::Text(t)) if t.contains("session_expired") => return true,
                Ok(WsMessage::Close(Some(c))) => return c.reason.contains("expired"),
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
        false
    })
    .await
    .expect("the connection is closed within the re-check interval");
    assert!(closed, "closed with session_expired");
}

#[tokio::test]
async fn people_see_and_end_their_sessions() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, ana) = api.user(&admin, "ana@test.local", "agent").await;
    let (_, laptop) = login_with(&api, "ana@test.local", PASSWORD, "Handoff-Desktop/0.1.0 (linux)").await;
    let laptop = laptop["token"].as_str().unwrap().to_string();

    let (status, list) = api.send(Method::GET, "/api/v1/me/sessions", Some(&ana), None).await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let other = items.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["client"], "Handoff-Desktop/0.1.0 (linux)");
    assert_eq!(other["address"], "127.0.0.1");
    assert!(other["expires_at"].as_str().unwrap() > other["last_used_at"].as_str().unwrap());
    assert!(items.iter().all(|s| s.get("token_hash").is_none()), "no secret is shown");

    let other_id = other["id"].as_str().unwrap();
    let (status, _) = api.send(Method::DELETE, &format!("/api/v1/me/sessions/{other_id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nobody ends someone else's session");
    let (status, _) = api.send(Method::DELETE, &format!("/api/v1/me/sessions/{other_id}"), Some(&ana), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.send(Method::GET, "/api/v1/me", Some(&laptop), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.send(Method::GET, "/api/v1/me", Some(&ana), None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_api_key_is_not_signed_out_by_logout() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (_, key) =
        api.send(Method::POST, "/api/v1/api-keys", Some(&admin), Some(json!({"name": "bot", "role": "agent"}))).await;
    let key = key["key"].as_str().unwrap();
    let (status, body) = api.send(Method::POST, "/api/v1/auth/logout", Some(key), None).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "not_a_session"));
    assert_eq!(api.send(Method::GET, "/api/v1/me", Some(key), None).await.0, StatusCode::OK, "and it says so");
}
