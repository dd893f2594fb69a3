//! The sign-in endpoint under hostile input, over real HTTP (docs/security.md): oversized input
//! refused before any work, failures spaced out for the client that failed and nobody else, and
//! password hashing capped with a transient 429 beyond the cap.

mod common;

use common::{Api, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const LOGIN: &str = "/api/v1/auth/login";

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn oversized_input_is_refused_before_any_work_and_remembered_nowhere() {
    let api = Api::start().await;
    let huge = format!("{}@example.com", "a".repeat(200_000));
    let (status, body) = api.send(Method::POST, LOGIN, None, Some(json!({"email": huge, "password": "x"}))).await;
    assert_eq!(
        (status, code(&body), body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request", Some("email"))
    );
    let long_password = "p".repeat(2_000);
    let body = json!({"email": "admin@test.local", "password": long_password});
    let (status, body) = api.send(Method::POST, LOGIN, None, Some(body)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")));
    // Many of them count as no failure: the right password still works at once.
    for _ in 0..20 {
        let body = json!({"email": format!("{}@x.io", "b".repeat(300)), "password": "x"});
        assert_eq!(api.send(Method::POST, LOGIN, None, Some(body)).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(api.server.state.limiter.keys(), 0, "nothing remembered for refused input");
    api.login("admin@test.local").await;
}

#[tokio::test]
async fn failures_from_one_address_never_lock_out_the_admin_elsewhere() {
    let api = Api::start().await;
    // Behind the proxy on this computer, clients are told apart by X-Forwarded-For.
    let attacker = [("x-forwarded-for", "203.0.113.9")];
    let wrong = json!({"email": "admin@test.local", "password": "guess"});
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(api.send_with(Method::POST, LOGIN, None, Some(wrong.clone()), &attacker).await.0);
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5], "five mistakes cost nothing");
    assert!(statuses[5..].contains(&StatusCode::TOO_MANY_REQUESTS), "then attempts wait: {statuses:?}");
    let (status, body) = api.send_with(Method::POST, LOGIN, None, Some(wrong.clone()), &attacker).await;
    assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(body["error"]["message"].as_str().unwrap().contains("try again in"), "{body}");
    // The Admin, from her own address, signs in at once.
    let right = json!({"email": "admin@test.local", "password": PASSWORD});
    let admin = [("x-forwarded-for", "198.51.100.7")];
    let (status, body) = api.send_with(Method::POST, LOGIN, None, Some(right), &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn sign_ins_beyond_the_hashing_cap_are_turned_away_at_once_as_transient() {
    let api = Api::start_with(|c| c.login_hashing_at_once = 1).await;
    let attempts =
        (0..16).map(|i| {
            let client = format!("198.51.100.{i}");
            let body = json!({"email": format!("nobody{i}@test.local"), "password": "wrong"});
            let api = &api;
            async move {
                api.send_with(Method::POST, LOGIN, None, Some(body), &[("x-forwarded-for", client.as_str())]).await
            }
        });
    let answers = futures_util::future::join_all(attempts).await;
    let busy: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(!busy.is_empty(), "16 at once past a cap of 1: some were turned away");
    for (_, body) in &busy {
        assert_eq!((code(body), body["error"]["transient"].as_bool()), ("rate_limited", Some(true)), "{body}");
    }
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    assert!(answers.iter().any(|(s, _)| *s == StatusCode::UNAUTHORIZED), "the turn that ran answered normally");
}
