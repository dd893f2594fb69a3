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

async fn sign_in(api: &Api, email: &str, password: &str, workspace: &Value) -> String {
    let body = json!({"email": email, "password": password, "workspace_id": workspace});
    let (status, answer) = api.send(Method::POST, "/api/v1/auth/login", None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{email}: {answer}");
    answer["token"].as_str().unwrap().to_string()
}

/// The owner creates a workspace and is its first Admin; its Admin adds people: a new address
/// gets an account with a temporary password, an account of another workspace joins with a
/// role of its own there. Only the owner creates workspaces; members are added signed in to
/// the workspace they join; an account shared with another workspace is not another
/// workspace's Admin's to rename or reset; deactivation is per workspace.
#[tokio::test]
async fn the_owner_creates_workspaces_and_their_admins_add_people() {
    let api = Api::start().await;
    let owner = api.login("admin@test.local").await;
    let (ana, ana_token) = api.user(&owner, "ana@test.local", "agent").await;

    // No other Admin takes over the owner, who alone creates workspaces (while Main is the
    // only workspace, so nothing else refuses it first).
    let (max, _) = api.user(&owner, "max@test.local", "admin").await;
    let max_token = api.login("max@test.local").await;
    let (_, owner_user) = api.send(Method::GET, "/api/v1/me", Some(&owner), None).await;
    let reset = format!("/api/v1/users/{}/reset-password", owner_user["id"].as_str().unwrap());
    let (status, refused) = api.send(Method::POST, &reset, Some(&max_token), None).await;
    assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "owner"), "{refused}");
    let (status, _) =
        api.send(Method::POST, &format!("/api/v1/users/{}/reset-password", max.id), Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK, "the owner resets another Admin's");

    // Only the owner creates workspaces, and a workspace needs a name.
    let create = |token: String, name: &'static str| {
        let api = &api;
        async move { api.send(Method::POST, "/api/v1/workspaces", Some(&token), Some(json!({"name": name}))).await }
    };
    let (status, refused) = create(ana_token.clone(), "Mine").await;
    assert_eq!((status, code(&refused)), (StatusCode::FORBIDDEN, "forbidden"), "{refused}");
    let (status, refused) = create(owner.clone(), "  ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, acme) = create(owner.clone(), "Acme").await;
    assert_eq!(status, StatusCode::CREATED, "{acme}");
    assert_eq!(acme["name"], "Acme");
    let acme_id = acme["id"].clone();
    let (_, listed) = api.send(Method::GET, "/api/v1/workspaces", Some(&owner), None).await;
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Main", "Acme"], "the owner is in both: {listed}");

    // Members are added signed in to the workspace they join.
    let members = format!("/api/v1/workspaces/{}/members", acme_id.as_str().unwrap());
    let (status, elsewhere) =
        api.send(Method::POST, &members, Some(&owner), Some(json!({"email": "olga@acme.test", "role": "admin"}))).await;
    assert_eq!((status, code(&elsewhere)), (StatusCode::FORBIDDEN, "other_workspace"), "a token of Main: {elsewhere}");
    let (status, elsewhere) = api
        .send(Method::POST, &members, Some(&ana_token), Some(json!({"email": "olga@acme.test", "role": "admin"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "Acme is nothing to someone outside it: {elsewhere}");
    let acme_owner = sign_in(&api, "admin@test.local", PASSWORD, &acme_id).await;
    let (_, me) = api.send(Method::GET, "/api/v1/me", Some(&acme_owner), None).await;
    assert_eq!(me["role"], "admin", "the creator is Acme's first Admin");

    // A new address: an account, a temporary password to change at the first sign-in.
    let (status, olga) = api
        .send(
            Method::POST,
            &members,
            Some(&acme_owner),
            Some(json!({"email": "olga@acme.test", "role": "admin", "name": "Olga"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{olga}");
    assert_eq!((olga["user"]["name"].as_str(), olga["user"]["role"].as_str()), (Some("Olga"), Some("admin")));
    let temporary = olga["temporary_password"].as_str().expect("a temporary password").to_string();
    let olga_token = sign_in(&api, "olga@acme.test", &temporary, &acme_id).await;
    let (status, _) = api.send(Method::GET, "/api/v1/conversations", Some(&olga_token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the temporary password must be changed first");
    let (status, again) = api
        .send(Method::POST, &members, Some(&acme_owner), Some(json!({"email": "olga@acme.test", "role": "agent"})))
        .await;
    assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "already_a_member"), "{again}");

    // Olga, Acme's Admin once her password is her own, cannot claim Main's people: someone who
    // works in another workspace is added by the installation's owner.
    let change = json!({"current_password": temporary, "new_password": "olga's own passphrase"});
    let (status, _) = api.send(Method::POST, "/api/v1/me/password", Some(&olga_token), Some(change)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let olga_token = sign_in(&api, "olga@acme.test", "olga's own passphrase", &acme_id).await;
    let (status, refused) = api
        .send(Method::POST, &members, Some(&olga_token), Some(json!({"email": "ana@test.local", "role": "agent"})))
        .await;
    assert_eq!((status, code(&refused)), (StatusCode::FORBIDDEN, "forbidden"), "{refused}");

    // The owner adds Ana of Main to Acme as a Viewer; she stays an Agent in Main.
    let (status, joined) = api
        .send(Method::POST, &members, Some(&acme_owner), Some(json!({"email": "ana@test.local", "role": "viewer"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{joined}");
    assert!(joined.get("temporary_password").is_none(), "an existing account keeps its password: {joined}");
    let ana_in_acme = sign_in(&api, "ana@test.local", PASSWORD, &acme_id).await;
    let (_, me) = api.send(Method::GET, "/api/v1/me", Some(&ana_in_acme), None).await;
    assert_eq!(me["role"], "viewer");
    let (_, me) = api.send(Method::GET, "/api/v1/me", Some(&ana_token), None).await;
    assert_eq!(me["role"], "agent");
    let (_, listed) = api.send(Method::GET, "/api/v1/workspaces", Some(&ana_token), None).await;
    let roles: Vec<(&str, &str)> =
        listed.as_array().unwrap().iter().map(|w| (w["name"].as_str().unwrap(), w["role"].as_str().unwrap())).collect();
    assert_eq!(roles, [("Main", "agent"), ("Acme", "viewer")]);

    // Acme's Admin may not rename Ana or reset her password: the account is Main's too.
    let ana_path = format!("/api/v1/users/{}", ana.id);
    let (status, refused) =
        api.send(Method::PATCH, &ana_path, Some(&acme_owner), Some(json!({"name": "Someone else"}))).await;
    assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "in_other_workspaces"), "{refused}");
    let (status, refused) =
        api.send(Method::POST, &format!("{ana_path}/reset-password"), Some(&acme_owner), None).await;
    assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "in_other_workspaces"), "{refused}");

    // Deactivated in Acme: her Acme session ends, Main's goes on; Acme lists her inactive.
    let (status, _) = api.send(Method::PATCH, &ana_path, Some(&acme_owner), Some(json!({"active": false}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&ana_in_acme), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.send(Method::GET, "/api/v1/me", Some(&ana_token), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = login(&api, "ana@test.local", acme_id.as_str()).await;
    assert_eq!((status, code(&refused)), (StatusCode::FORBIDDEN, "not_a_member"), "{refused}");
    // Added again: active in Acme once more, with the role asked for.
    let (status, back) = api
        .send(Method::POST, &members, Some(&acme_owner), Some(json!({"email": "ana@test.local", "role": "agent"})))
        .await;
    assert_eq!(
        (status, back["user"]["active"].as_bool(), back["user"]["role"].as_str()),
        (StatusCode::CREATED, Some(true), Some("agent"))
    );

    // Each workspace's audit says what happened there.
    let (_, audit) = api.send(Method::GET, "/api/v1/audit", Some(&acme_owner), None).await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"workspace.create") && actions.contains(&"member.add"), "{actions:?}");
    let (_, audit) = api.send(Method::GET, "/api/v1/audit", Some(&owner), None).await;
    assert!(!audit.to_string().contains("member.add"), "Main's audit has none of Acme's: {audit}");
}

/// Live: a client of one workspace hears its own workspace's events and presence, never the
/// other's, and its sync from the start holds only its own.
#[tokio::test]
async fn a_connection_hears_only_its_own_workspace() {
    use futures_util::{SinkExt, StreamExt};
    use handoff_proto::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    let api = Api::start().await;
    let owner = api.login("admin@test.local").await;
    let (status, acme) =
        api.send(Method::POST, "/api/v1/workspaces", Some(&owner), Some(json!({"name": "Acme"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{acme}");
    let acme_owner = sign_in(&api, "admin@test.local", PASSWORD, &acme["id"]).await;
    let (_, bea) = api.user(&acme_owner, "bea@test.local", "agent").await;

    let connect = |token: String| {
        let url = format!("ws://{}/api/v1/ws", api.server.addr);
        async move {
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("connected");
            let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq: 0 };
            ws.send(WsMessage::text(serde_json::to_string(&hello).unwrap())).await.unwrap();
            ws
        }
    };
    // Bea (Acme) is connected while Main gets a customer, and Ana of Main comes online and
    // claims it.
    let mut ws = connect(bea.clone()).await;
    let (ana, main_agent) = api.user(&owner, "ana@test.local", "agent").await;
    let mut ana_online = connect(main_agent.clone()).await;
    // Each workspace's history has an epoch of its own: an app that signs in to another
    // workspace of the same server starts its cache again.
    let mut epochs = Vec::new();
    for socket in [&mut ws, &mut ana_online] {
        let welcome = tokio::time::timeout(common::DEADLINE, socket.next()).await.expect("a welcome in time");
        let WsMessage::Text(text) = welcome.expect("open").unwrap() else { panic!("a text frame") };
        match serde_json::from_str::<ServerFrame>(&text).unwrap() {
            ServerFrame::Welcome { epoch, .. } => epochs.push(epoch),
            other => panic!("welcome first, not {other:?}"),
        }
    }
    assert_ne!(epochs[0], epochs[1], "Acme's epoch is not Main's");
    let (main_device, main_conversation) = api.conversation(&owner).await;
    let (status, _) = api
        .send(Method::POST, &format!("/api/v1/conversations/{}/claim", main_conversation.id), Some(&main_agent), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Then Acme gets a customer of its own: its event is the marker that everything before it
    // has been fanned out.
    let (_, line) = api
        .send(
            Method::POST,
            "/api/v1/devices",
            Some(&acme_owner),
            Some(json!({"name": "Acme line", "kind": "simulator"})),
        )
        .await;
    let line = line["id"].as_str().unwrap().to_string();
    api.send(Method::POST, &format!("/api/v1/devices/{line}/simulator/link"), Some(&acme_owner), None).await;
    let inbound = json!({"from": "+4915199999999", "body": "Hallo"});
    let (status, acme_message) = api
        .send(Method::POST, &format!("/api/v1/devices/{line}/simulator/inbound"), Some(&acme_owner), Some(inbound))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{acme_message}");
    let marker = acme_message["id"].as_str().unwrap().to_string();

    let secrets = [
        main_device.id.to_string(),
        main_conversation.id.to_string(),
        "+4915112345678".to_string(),
        ana.id.to_string(),
    ];
    let heard_until_the_marker = async {
        loop {
            let WsMessage::Text(text) = ws.next().await.expect("open").unwrap() else { continue };
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "Acme's connection heard Main's {secret}: {text}");
            }
            if let Ok(ServerFrame::Event(event)) = serde_json::from_str::<ServerFrame>(&text) {
                if serde_json::to_string(&event).unwrap().contains(&marker) {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(common::DEADLINE, heard_until_the_marker).await.expect("Acme's own message in time");
    let (_, acme_sync) = api.send(Method::GET, "/api/v1/sync?since=0&limit=5000", Some(&bea), None).await;
    let (_, main_sync) = api.send(Method::GET, "/api/v1/sync?since=0&limit=5000", Some(&owner), None).await;
    for secret in &secrets {
        assert!(!acme_sync.to_string().contains(secret.as_str()), "Acme's sync names Main's {secret}");
    }
    assert!(!main_sync.to_string().contains(&marker), "Main's sync names Acme's message");
    // Each workspace numbers its own events from 1.
    let seqs = |sync: &Value| -> Vec<i64> {
        sync["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect()
    };
    let acme_seqs = seqs(&acme_sync);
    assert_eq!(acme_seqs, (1..=acme_seqs.len() as i64).collect::<Vec<_>>(), "Acme's log has no hole");
    assert_eq!(acme_sync["head_seq"].as_i64(), acme_seqs.last().copied());
}
