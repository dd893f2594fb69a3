//! Workspaces, first step: an installation's accounts are in its first workspace; a sign-in
//! names the workspace its session acts in and lists the caller's; a sign-in into a workspace
//! the account is not in is refused.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

use common::{code, Api, PASSWORD};

async fn login(api: &Api, email: &str, workspace: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(id) = workspace {
        body["workspace_id"] = json!(id);
    }
    api.send(Method::POST, "/api/v1/auth/login", None, Some(body)).await
}

#[tokio::test]
async fn a_sign_in_names_its_workspace_and_lists_the_callers() {
    let api = Api::start().await;
    let (status, admin) = login(&api, "admin@test.local", None).await;
    assert_eq!(status, StatusCode::OK, "{admin}");
    let workspace = admin["workspace"].clone();
    assert_eq!(workspace["name"], "Main", "{admin}");
    let id = workspace["id"].as_str().expect("an id").to_string();
    assert_eq!(admin["workspaces"], json!([{"id": id, "name": "Main", "role": "admin"}]));
    let admin_token = admin["token"].as_str().unwrap().to_string();

    // Someone the Admin adds is in the same workspace, with their own role.
    let (_, ana_token) = api.user(&admin_token, "ana@test.local", "agent").await;
    let (status, listed) = api.send(Method::GET, "/api/v1/workspaces", Some(&ana_token), None).await;
    assert_eq!((status, listed), (StatusCode::OK, json!([{"id": id, "name": "Main", "role": "agent"}])));

    // Naming the workspace: the same; naming one the account is not in: refused, no session.
    let (status, ana) = login(&api, "ana@test.local", Some(&id)).await;
    assert_eq!((status, &ana["workspace"]["id"]), (StatusCode::OK, &json!(id)));
    let elsewhere = uuid::Uuid::now_v7().to_string();
    let (status, refused) = login(&api, "ana@test.local", Some(&elsewhere)).await;
    assert_eq!((status, code(&refused)), (StatusCode::FORBIDDEN, "not_a_member"), "{refused}");
    assert!(refused.get("token").is_none());
    let (_, sessions) = api.send(Method::GET, "/api/v1/me/sessions", Some(&ana_token), None).await;
    assert_eq!(sessions["items"].as_array().map(Vec::len), Some(2), "the two sign-ins that worked: {sessions}");
    // A malformed id is the request's fault.
    let (status, bad) = login(&api, "ana@test.local", Some("not-an-id")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    // A wrong password says nothing about workspaces.
    let (status, wrong) = api
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ana@test.local", "password": "not it at all", "workspace_id": elsewhere})),
        )
        .await;
    assert_eq!((status, code(&wrong)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}
