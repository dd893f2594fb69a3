//! The role x action matrix: every HTTP route and every WebSocket mutation, called as an Admin,
//! an Agent, a Viewer, a deactivated user, an anonymous caller and an API key of each role.
//! Each cell is asserted, and `docs/roles.md` is this same table rendered (the test fails when
//! the committed page differs; `HANDOFF_WRITE_DOCS=1` rewrites it).

mod common;

use std::fmt::Write as _;

use common::{Api, PASSWORD};
use futures_util::{SinkExt, StreamExt};
use handoff_proto::{
    ClientFrame, ConversationId, DeviceId, MessageId, MutationId, Op, SavedReplyId, ServerFrame, TeamId, UserId,
    WebhookId, PROTOCOL_VERSION,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use uuid::Uuid;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Public,
    SignedIn,
    Write,
    Admin,
    /// The installation's owner (a person: the Admin of the matrix).
    Owner,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    Allowed,
    Forbidden,
    Unauthenticated,
}

impl Cell {
    fn mark(self) -> &'static str {
        match self {
            Cell::Allowed => "yes",
            Cell::Forbidden => "403",
            Cell::Unauthenticated => "401",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Admin,
    Agent,
    Viewer,
    Deactivated,
    Anonymous,
    AdminKey,
    AgentKey,
    ViewerKey,
}

const CALLERS: [Caller; 8] = [
    Caller::Admin,
    Caller::Agent,
    Caller::Viewer,
    Caller::Deactivated,
    Caller::Anonymous,
    Caller::AdminKey,
    Caller::AgentKey,
    Caller::ViewerKey,
];

impl Caller {
    fn title(self) -> &'static str {
        match self {
            Caller::Admin => "Admin",
            Caller::Agent => "Agent",
            Caller::Viewer => "Viewer",
            Caller::Deactivated => "Deactivated",
            Caller::Anonymous => "Anonymous",
            Caller::AdminKey => "Admin key",
            Caller::AgentKey => "Agent key",
            Caller::ViewerKey => "Viewer key",
        }
    }

    fn expected(self, need: Need) -> Cell {
        use Caller::*;
        match (need, self) {
            (Need::Public, _) => Cell::Allowed,
            (_, Deactivated | Anonymous) => Cell::Unauthenticated,
            (Need::SignedIn, _) => Cell::Allowed,
            (Need::Write, Viewer | ViewerKey) => Cell::Forbidden,
            (Need::Write, _) => Cell::Allowed,
            (Need::Admin, Admin | AdminKey) => Cell::Allowed,
            (Need::Admin, _) => Cell::Forbidden,
            (Need::Owner, Admin) => Cell::Allowed,
            (Need::Owner, _) => Cell::Forbidden,
        }
    }
}

/// What the matrix calls things with.
struct Fixture {
    admin: String,
    tokens: Vec<(Caller, Option<String>)>,
    conversation: ConversationId,
    team: TeamId,
    user: UserId,
    sim: DeviceId,
    /// A customer message with an attachment.
    attachment: MessageId,
    /// The customer of `conversation`, and the linked number they wrote to.
    contact: String,
    line: DeviceId,
    /// The workspace the tokens act in.
    workspace: String,
    /// A registered webhook endpoint (https://hooks.example.com/handoff).
    webhook: WebhookId,
    /// A saved reply of the workspace's library (`/thanks`).
    saved_reply: SavedReplyId,
}

impl Fixture {
    fn token(&self, caller: Caller) -> Option<&str> {
        self.tokens.iter().find(|(c, _)| *c == caller).and_then(|(_, t)| t.as_deref())
    }
}

struct Route {
    method: Method,
    path: &'static str,
    need: Need,
}

fn route(method: Method, path: &'static str, need: Need) -> Route {
    Route { method, path, need }
}

fn routes() -> Vec<Route> {
    use Need::*;
    vec![
        route(Method::GET, "/healthz", Public),
        route(Method::GET, "/readyz", Public),
        route(Method::GET, "/metrics", Public),
        route(Method::GET, "/api/v1/openapi.json", Public),
        route(Method::POST, "/api/v1/auth/login", Public),
        route(Method::POST, "/api/v1/auth/logout", SignedIn),
        route(Method::GET, "/api/v1/me", SignedIn),
        route(Method::POST, "/api/v1/me/password", SignedIn),
        route(Method::GET, "/api/v1/me/sessions", SignedIn),
        route(Method::DELETE, "/api/v1/me/sessions/{id}", SignedIn),
        route(Method::GET, "/api/v1/users", SignedIn),
        route(Method::POST, "/api/v1/users", Admin),
        route(Method::PATCH, "/api/v1/users/{id}", Admin),
        route(Method::POST, "/api/v1/users/{id}/reset-password", Admin),
        route(Method::GET, "/api/v1/workspaces", SignedIn),
        route(Method::POST, "/api/v1/workspaces", Owner),
        route(Method::POST, "/api/v1/workspaces/{id}/members", Admin),
        route(Method::GET, "/api/v1/teams", SignedIn),
        route(Method::POST, "/api/v1/teams", Admin),
        route(Method::PATCH, "/api/v1/teams/{id}", Admin),
        route(Method::PUT, "/api/v1/teams/{id}/members", Admin),
        route(Method::GET, "/api/v1/conversations", SignedIn),
        route(Method::GET, "/api/v1/conversations/{id}", SignedIn),
        route(Method::GET, "/api/v1/conversations/{id}/messages", SignedIn),
        route(Method::POST, "/api/v1/conversations/{id}/messages", Write),
        route(Method::POST, "/api/v1/conversations/{id}/notes", Write),
        route(Method::POST, "/api/v1/conversations/{id}/claim", Write),
        route(Method::POST, "/api/v1/conversations/{id}/assign", Write),
        route(Method::POST, "/api/v1/conversations/{id}/escalate", Write),
        route(Method::POST, "/api/v1/conversations/{id}/status", Write),
        route(Method::POST, "/api/v1/conversations/{id}/labels", Write),
        route(Method::POST, "/api/v1/conversations/{id}/read", SignedIn),
        route(Method::GET, "/api/v1/messages/{id}/media", SignedIn),
        route(Method::GET, "/api/v1/sync", SignedIn),
        route(Method::GET, "/api/v1/ws", SignedIn),
        route(Method::GET, "/api/v1/devices", SignedIn),
        route(Method::POST, "/api/v1/devices", Admin),
        route(Method::DELETE, "/api/v1/devices/{id}", Admin),
        route(Method::GET, "/api/v1/devices/{id}/qr", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/inbound", Admin),
        route(Method::GET, "/api/v1/devices/{id}/simulator/sent", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/link", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/disconnect", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/receipt", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/rotate-qr", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/ban", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/reconnect", Admin),
        route(Method::POST, "/api/v1/devices/{id}/simulator/logout", Admin),
        route(Method::POST, "/api/v1/devices/{id}/relink", Admin),
        route(Method::GET, "/api/v1/routing-rules", Admin),
        route(Method::POST, "/api/v1/routing-rules", Admin),
        route(Method::POST, "/api/v1/routing-rules/test", Admin),
        route(Method::DELETE, "/api/v1/routing-rules/{id}", Admin),
        route(Method::GET, "/api/v1/api-keys", Admin),
        route(Method::POST, "/api/v1/api-keys", Admin),
        route(Method::DELETE, "/api/v1/api-keys/{id}", Admin),
        route(Method::GET, "/api/v1/webhooks", Admin),
        route(Method::POST, "/api/v1/webhooks", Admin),
        route(Method::PATCH, "/api/v1/webhooks/{id}", Admin),
        route(Method::DELETE, "/api/v1/webhooks/{id}", Admin),
        route(Method::GET, "/api/v1/webhooks/{id}/deliveries", Admin),
        route(Method::POST, "/api/v1/webhooks/{id}/deliveries/{delivery_id}/retry", Admin),
        route(Method::GET, "/api/v1/saved-replies", SignedIn),
        // An agent's own; the library's need an Admin (the fixture's reply is the library's).
        route(Method::POST, "/api/v1/saved-replies", Write),
        route(Method::PATCH, "/api/v1/saved-replies/{id}", Admin),
        route(Method::DELETE, "/api/v1/saved-replies/{id}", Admin),
        route(Method::GET, "/api/v1/audit", Admin),
        route(Method::GET, "/api/v1/agents", SignedIn),
        route(Method::GET, "/api/v1/settings", Admin),
        route(Method::PATCH, "/api/v1/settings", Admin),
        route(Method::GET, "/api/v1/contacts/{id}", SignedIn),
        route(Method::GET, "/api/v1/contacts/{id}/export", Admin),
        route(Method::POST, "/api/v1/contacts/{id}/erase", Admin),
        route(Method::POST, "/api/v1/users/{id}/wipe", Admin),
    ]
}

async fn created_id(api: &Api, admin: &str, path: &str, body: Value) -> String {
    let (status, created) = api.send(Method::POST, path, Some(admin), Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {created}");
    created["id"].as_str().unwrap().to_string()
}

/// The concrete path and body of one call. Destructive routes get a fresh target for each caller.
async fn prepare(
    api: &Api,
    fx: &Fixture,
    r: &Route,
    caller: Caller,
    n: usize,
) -> (String, Option<Value>, Option<String>) {
    let admin = fx.admin.as_str();
    let token = fx.token(caller).map(str::to_string);
    let c = fx.conversation;
    let id = match (r.method.as_str(), r.path) {
        ("DELETE", "/api/v1/devices/{id}") => {
            created_id(api, admin, "/api/v1/devices", json!({"name": format!("Spare {n}"), "kind": "simulator"})).await
        }
        ("DELETE", "/api/v1/routing-rules/{id}") => {
            let body = json!({"name": format!("r{n}"), "match": {"keyword": "x"}, "assign": {"team_id": fx.team}});
            created_id(api, admin, "/api/v1/routing-rules", body).await
        }
        ("DELETE", "/api/v1/api-keys/{id}") => {
            created_id(api, admin, "/api/v1/api-keys", json!({"name": format!("k{n}"), "role": "agent"})).await
        }
        ("DELETE", "/api/v1/webhooks/{id}") => {
            let body = json!({"url": format!("https://hooks.example.com/gone/{n}"), "events": ["device.down"]});
            created_id(api, admin, "/api/v1/webhooks", body).await
        }
        (_, p) if p.starts_with("/api/v1/webhooks/") => fx.webhook.to_string(),
        ("DELETE", "/api/v1/saved-replies/{id}") => {
            created_id(api, admin, "/api/v1/saved-replies", json!({"shortcut": format!("gone{n}"), "body": "x"})).await
        }
        (_, p) if p.starts_with("/api/v1/saved-replies/") => fx.saved_reply.to_string(),
        ("POST", "/api/v1/contacts/{id}/erase") => {
            let from = format!("+49151555{n:05}");
            let inbound = json!({"from": from, "body": "Please erase me"});
            let path = format!("/api/v1/devices/{}/simulator/inbound", fx.line);
            let (status, message) = api.send(Method::POST, &path, Some(admin), Some(inbound)).await;
            assert!(status.is_success(), "{message}");
            let path = format!("/api/v1/conversations/{}", message["conversation_id"].as_str().unwrap());
            let (_, conversation) = api.send(Method::GET, &path, Some(admin), None).await;
            conversation["contact"]["id"].as_str().unwrap().to_string()
        }
        (_, p) if p.starts_with("/api/v1/contacts/") => fx.contact.clone(),
        (_, p) if p.starts_with("/api/v1/users/") => fx.user.to_string(),
        // Nobody's session: the answer is 404 for everyone allowed to ask.
        (_, p) if p.starts_with("/api/v1/me/sessions/") => Uuid::now_v7().to_string(),
        (_, p) if p.starts_with("/api/v1/teams/") => fx.team.to_string(),
        (_, p) if p.starts_with("/api/v1/conversations/") => c.to_string(),
        (_, p) if p.starts_with("/api/v1/devices/") => fx.sim.to_string(),
        (_, p) if p.starts_with("/api/v1/messages/") => fx.attachment.to_string(),
        (_, p) if p.starts_with("/api/v1/workspaces/") => fx.workspace.clone(),
        _ => String::new(),
    };
    // No such delivery: found or not, only an Admin gets that far.
    let path = r.path.replace("{id}", &id).replace("{delivery_id}", &Uuid::now_v7().to_string());
    let body = match (r.method.as_str(), r.path) {
        ("POST", "/api/v1/auth/login") => Some(json!({"email": "admin@test.local", "password": PASSWORD})),
        ("POST", "/api/v1/users") => {
            Some(json!({"email": format!("new{n}@test.local"), "name": "New", "password": PASSWORD, "role": "agent"}))
        }
        ("PATCH", "/api/v1/users/{id}") => Some(json!({"name": "Pat"})),
        ("PATCH", "/api/v1/settings") => Some(json!({"offline_grace_days": 3})),
        // A wrong current password: allowed to ask, refused as 400, nothing changes.
        ("POST", "/api/v1/me/password") => {
            Some(json!({"current_password": "not the password", "new_password": "another long passphrase"}))
        }
        ("POST", "/api/v1/teams") => Some(json!({"name": format!("Team {n}")})),
        ("PATCH", "/api/v1/teams/{id}") => Some(json!({"agent_cap": 7})),
        ("PUT", "/api/v1/teams/{id}/members") => Some(json!({"user_ids": []})),
        ("POST", "/api/v1/conversations/{id}/messages") => {
            Some(json!({"body": "hi", "seen_version": 0, "force": true}))
        }
        ("POST", "/api/v1/conversations/{id}/notes") => Some(json!({"body": "a note"})),
        ("POST", "/api/v1/conversations/{id}/assign") => Some(json!({"assignee_id": null})),
        ("POST", "/api/v1/conversations/{id}/escalate") => Some(json!({"team_id": fx.team, "note": "over to you"})),
        ("POST", "/api/v1/conversations/{id}/status") => Some(json!({"status": "open"})),
        ("POST", "/api/v1/conversations/{id}/labels") => Some(json!({"add": ["x"]})),
        ("POST", "/api/v1/devices") => Some(json!({"name": format!("Line {n}"), "kind": "simulator"})),
        ("POST", "/api/v1/devices/{id}/simulator/inbound") => Some(json!({"from": "+4915100000009", "body": "hi"})),
        ("POST", "/api/v1/devices/{id}/simulator/receipt") => Some(json!({"wa_message_id": "none", "state": "read"})),
        ("POST", "/api/v1/routing-rules") => {
            Some(json!({"name": format!("rule {n}"), "match": {"keyword": "x"}, "assign": {"team_id": fx.team}}))
        }
        ("POST", "/api/v1/routing-rules/test") => Some(json!({"body": "x"})),
        ("POST", "/api/v1/api-keys") => Some(json!({"name": format!("key {n}"), "role": "viewer"})),
        ("POST", "/api/v1/webhooks") => {
            Some(json!({"url": format!("https://hooks.example.com/{n}"), "events": ["message.received"]}))
        }
        ("PATCH", "/api/v1/webhooks/{id}") => Some(json!({"events": ["message.received", "note.created"]})),
        ("POST", "/api/v1/saved-replies") => Some(json!({"shortcut": format!("s{n}"), "body": "Thanks!"})),
        ("PATCH", "/api/v1/saved-replies/{id}") => Some(json!({"body": format!("Thanks, {n}!")})),
        ("POST", "/api/v1/workspaces") => Some(json!({"name": format!("Workspace {n}")})),
        ("POST", "/api/v1/workspaces/{id}/members") => {
            Some(json!({"email": format!("member{n}@test.local"), "role": "agent"}))
        }
        ("POST", _) | ("PUT", _) | ("PATCH", _) => Some(json!({})),
        _ => None,
    };
    // Logging out ends the session it is called with: use a fresh one for people.
    let token = if r.path == "/api/v1/auth/logout" {
        match caller {
            Caller::Admin => Some(api.login("admin@test.local").await),
            Caller::Agent => Some(api.login("ana@test.local").await),
            Caller::Viewer => Some(api.login("vic@test.local").await),
            _ => token,
        }
    } else {
        token
    };
    (path, body, token)
}

fn observed(status: StatusCode) -> Cell {
    match status {
        StatusCode::UNAUTHORIZED => Cell::Unauthenticated,
        StatusCode::FORBIDDEN => Cell::Forbidden,
        s => {
            assert!(!s.is_server_error(), "a server error is never an answer: {s}");
            Cell::Allowed
        }
    }
}

async fn fixture(api: &Api) -> Fixture {
    let admin = api.login("admin@test.local").await;
    let (_, agent) = api.user(&admin, "ana@test.local", "agent").await;
    let (_, viewer) = api.user(&admin, "vic@test.local", "viewer").await;
    let (gone, deactivated) = api.user(&admin, "dee@test.local", "agent").await;
    let (target, _) = api.user(&admin, "pat@test.local", "agent").await;
    let (status, _) = api
        .send(Method::PATCH, &format!("/api/v1/users/{}", gone.id), Some(&admin), Some(json!({"active": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut tokens = vec![
        (Caller::Admin, Some(admin.clone())),
        (Caller::Agent, Some(agent)),
        (Caller::Viewer, Some(viewer)),
        (Caller::Deactivated, Some(deactivated)),
        (Caller::Anonymous, None),
    ];
    for (caller, role) in [(Caller::AdminKey, "admin"), (Caller::AgentKey, "agent"), (Caller::ViewerKey, "viewer")] {
        let (status, key) =
            api.send(Method::POST, "/api/v1/api-keys", Some(&admin), Some(json!({"name": role, "role": role}))).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        tokens.push((caller, Some(key["key"].as_str().unwrap().to_string())));
    }
    let (device, conversation) = api.conversation(&admin).await;
    let doc = json!({"from": "+4915112345678", "body": "", "media": {"kind": "document", "filename": "a.pdf"}});
    let attachment = created_id(api, &admin, &format!("/api/v1/devices/{}/simulator/inbound", device.id), doc)
        .await
        .parse()
        .unwrap();
    let team = created_id(api, &admin, "/api/v1/teams", json!({"name": "Billing"})).await;
    let sim = created_id(api, &admin, "/api/v1/devices", json!({"name": "Sim", "kind": "simulator"})).await;
    let (_, workspaces) = api.send(Method::GET, "/api/v1/workspaces", Some(&admin), None).await;
    let body = json!({"url": "https://hooks.example.com/handoff", "events": ["message.received"]});
    let webhook = created_id(api, &admin, "/api/v1/webhooks", body).await.parse().unwrap();
    let body = json!({"shortcut": "thanks", "body": "Thanks for writing!"});
    let saved_reply = created_id(api, &admin, "/api/v1/saved-replies", body).await.parse().unwrap();
    Fixture {
        webhook,
        saved_reply,
        workspace: workspaces[0]["id"].as_str().unwrap().to_string(),
        admin,
        tokens,
        conversation: conversation.id,
        team: team.parse().unwrap(),
        user: target.id,
        sim: sim.parse().unwrap(),
        attachment,
        contact: conversation.contact.id.to_string(),
        line: device.id,
    }
}

fn ops(fx: &Fixture) -> Vec<(&'static str, Need, Op)> {
    let c = fx.conversation;
    vec![
        ("reply", Need::Write, Op::Reply { conversation_id: c, body: "hi".into(), seen_version: 0, force: true }),
        ("note", Need::Write, Op::Note { conversation_id: c, body: "n".into() }),
        ("claim", Need::Write, Op::Claim { conversation_id: c }),
        ("assign", Need::Write, Op::Assign { conversation_id: c, assignee_id: None, team_id: None }),
        ("escalate", Need::Write, Op::Escalate { conversation_id: c, team_id: fx.team, note: "over".into() }),
        ("label", Need::Write, Op::Label { conversation_id: c, add: vec!["y".into()], remove: vec![] }),
        (
            "set_status",
            Need::Write,
            Op::SetStatus { conversation_id: c, status: handoff_proto::ConversationStatus::Open, snooze_until: None },
        ),
        ("mark_read", Need::SignedIn, Op::MarkRead { conversation_id: c }),
        ("retry", Need::Write, Op::Retry { conversation_id: c, message_id: MessageId::new() }),
    ]
}

/// Sends one mutation over a fresh WebSocket: `Ok(None)` when it is acknowledged,
/// `Ok(Some(code))` when it is rejected, `Err(status)` when the connection itself is refused.
async fn mutate(api: &Api, token: Option<&str>, op: Op) -> Result<Option<String>, StatusCode> {
    let url = format!("ws://{}/api/v1/ws", api.server.addr);
    let mut request = url.into_client_request().unwrap();
    if let Some(t) = token {
        request.headers_mut().insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let mut ws = match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => return Err(resp.status()),
        Err(e) => panic!("websocket: {e}"),
    };
    let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq: i64::MAX };
    ws.send(WsMessage::text(serde_json::to_string(&hello).unwrap())).await.unwrap();
    let mutation_id = MutationId::new();
    let frame = ClientFrame::Mutate { mutation_id, op };
    ws.send(WsMessage::text(serde_json::to_string(&frame).unwrap())).await.unwrap();
    while let Some(msg) = ws.next().await {
        let WsMessage::Text(text) = msg.unwrap() else { continue };
        match serde_json::from_str::<ServerFrame>(&text).unwrap() {
            ServerFrame::Ack { mutation_id: m, .. } if m == mutation_id => return Ok(None),
            ServerFrame::Reject { mutation_id: m, error } if m == mutation_id => return Ok(Some(error.code)),
            _ => continue,
        }
    }
    panic!("the connection closed without an answer");
}

/// The role matrix's cell for one mutation: what the server answered.
async fn ws_cell(api: &Api, token: Option<&str>, op: Op) -> Cell {
    match mutate(api, token, op).await {
        Err(status) => observed(status),
        Ok(Some(code)) if code == "forbidden" => Cell::Forbidden,
        Ok(_) => Cell::Allowed,
    }
}

fn render(http: &[(String, Vec<Cell>)], ws: &[(String, Vec<Cell>)]) -> String {
    let header = |out: &mut String, first: &str| {
        let titles: Vec<&str> = CALLERS.iter().map(|c| c.title()).collect();
        writeln!(out, "| {first} | {} |", titles.join(" | ")).unwrap();
        writeln!(out, "|---|{}", "---|".repeat(CALLERS.len())).unwrap();
    };
    let mut out = String::from(
        "# Roles\n\n\
         Who may do what, enforced by the server on every HTTP request and every WebSocket frame.\n\
         This page is generated by `crates/server/tests/roles.rs`, which calls every route and every\n\
         WebSocket mutation as each kind of caller and asserts every cell below (run it with\n\
         `HANDOFF_WRITE_DOCS=1` to rewrite the page after changing a rule).\n\n\
         - **yes**: the call is let through (it may still fail for its own reasons: 400, 404, 409).\n\
         - **403** `forbidden`: signed in, but the role does not allow it.\n\
         - **401** `unauthenticated`: no token, or a token that stopped working (signed out,\n\
           deactivated user, revoked API key).\n\n\
         Admins do everything. Agents work conversations: reply, note, claim, assign, escalate,\n\
         label, change status. Viewers read everything (conversations, notes, teams, devices) and\n\
         change nothing but their own read markers. An API key acts with the role it was created with.\n\n\
         Every call acts in the workspace its token was signed in to (or its API key was made in),\n\
         with the caller's role there; only the installation's owner (the Admin here) creates\n\
         workspaces. docs/isolation.md shows that no call reaches another workspace.\n\n\
         ## HTTP routes\n\n",
    );
    header(&mut out, "Route");
    for (name, cells) in http {
        let marks: Vec<&str> = cells.iter().map(|c| c.mark()).collect();
        writeln!(out, "| `{name}` | {} |", marks.join(" | ")).unwrap();
    }
    out.push_str("\n## WebSocket mutations (`mutate` frames)\n\n");
    header(&mut out, "Op");
    for (name, cells) in ws {
        let marks: Vec<&str> = cells.iter().map(|c| c.mark()).collect();
        writeln!(out, "| `{name}` | {} |", marks.join(" | ")).unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_mutation_enforces_the_role_matrix() {
    let api = Api::start().await;
    let fx = fixture(&api).await;
    let mut n = 0;
    let mut http = Vec::new();
    for r in routes() {
        let mut cells = Vec::new();
        for caller in CALLERS {
            n += 1;
            let (path, body, token) = prepare(&api, &fx, &r, caller, n).await;
            let (status, answer) = api.send(r.method.clone(), &path, token.as_deref(), body).await;
            let cell = observed(status);
            assert_eq!(cell, caller.expected(r.need), "{} {} as {caller:?}: {status} {answer}", r.method, r.path);
            cells.push(cell);
        }
        http.push((format!("{} {}", r.method, r.path), cells));
    }
    let mut ws = Vec::new();
    for (name, need, op) in ops(&fx) {
        let mut cells = Vec::new();
        for caller in CALLERS {
            let cell = ws_cell(&api, fx.token(caller), op.clone()).await;
            assert_eq!(cell, caller.expected(need), "websocket {name} as {caller:?}");
            cells.push(cell);
        }
        ws.push((name.to_string(), cells));
    }

    committed_as("roles.md", &render(&http, &ws));
}

/// Asserts that `docs/<name>` is `page` (`HANDOFF_WRITE_DOCS=1` writes it first).
fn committed_as(name: &str, page: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(name);
    if std::env::var_os("HANDOFF_WRITE_DOCS").is_some() {
        std::fs::write(&path, page).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == page, "docs/{name} differs from the asserted matrix: run with HANDOFF_WRITE_DOCS=1");
}

/// The callers of workspace B in the second dimension: everyone signed in to it.
const B_CALLERS: [Caller; 6] =
    [Caller::Admin, Caller::Agent, Caller::Viewer, Caller::AdminKey, Caller::AgentKey, Caller::ViewerKey];

/// What workspace A holds that no answer to B may name: its objects' ids, its customer's
/// number, its people's addresses and its team's name.
fn secrets_of(a: &Fixture, device: DeviceId) -> Vec<String> {
    let mut secrets = vec![
        a.conversation.to_string(),
        a.contact.clone(),
        a.attachment.to_string(),
        a.team.to_string(),
        a.user.to_string(),
        a.sim.to_string(),
        device.to_string(),
        "+4915112345678".into(),
        "Billing".into(),
    ];
    secrets.extend(["ana@test.local", "vic@test.local", "dee@test.local", "pat@test.local"].map(String::from));
    secrets
}

/// Where A stands: its event log's head and its newest audit entry. A call from B that changed
/// either reached A.
async fn standing(api: &Api, a_admin: &str) -> (i64, Value) {
    let (_, audit) = api.send(Method::GET, "/api/v1/audit?limit=1", Some(a_admin), None).await;
    (api.head(a_admin).await, audit["items"][0]["id"].clone())
}

/// One mutation over a fresh WebSocket: `ack`, or the code it was rejected with.
async fn ws_answer(api: &Api, token: &str, op: Op) -> String {
    mutate(api, Some(token), op).await.expect("connected").unwrap_or_else(|| "ack".into())
}

/// The second dimension of the matrix: workspace B's callers (its Admin, Agent, Viewer and API
/// keys) call every route and every WebSocket mutation with workspace A's ids. No answer names
/// anything of A, a route about one of A's objects finds nothing (404) unless the role forbids
/// it first (403), and A's event log and audit never move. The table is in docs/roles.md too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_or_mutation_reaches_another_workspace() {
    let api = Api::start().await;
    let a = fixture(&api).await;
    let (a_device, _) = {
        let (_, devices) = api.send(Method::GET, "/api/v1/devices", Some(&a.admin), None).await;
        let first = devices["items"][0]["id"].as_str().unwrap().parse::<DeviceId>().unwrap();
        (first, ())
    };
    let secrets = secrets_of(&a, a_device);

    // Workspace B: the installation's owner (A's Admin) creates it and signs in to it.
    let (status, b) = api.send(Method::POST, "/api/v1/workspaces", Some(&a.admin), Some(json!({"name": "Acme"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let sign_in_to_b = || async {
        let login = json!({"email": "admin@test.local", "password": PASSWORD, "workspace_id": b["id"]});
        let (status, signed_in) = api.send(Method::POST, "/api/v1/auth/login", None, Some(login)).await;
        assert_eq!(status, StatusCode::OK, "{signed_in}");
        signed_in["token"].as_str().unwrap().to_string()
    };
    let b_admin = sign_in_to_b().await;
    let (_, b_agent) = api.user(&b_admin, "bea@test.local", "agent").await;
    let (_, b_viewer) = api.user(&b_admin, "bob@test.local", "viewer").await;
    let mut tokens =
        vec![(Caller::Admin, Some(b_admin.clone())), (Caller::Agent, Some(b_agent)), (Caller::Viewer, Some(b_viewer))];
    for (caller, role) in [(Caller::AdminKey, "admin"), (Caller::AgentKey, "agent"), (Caller::ViewerKey, "viewer")] {
        let body = json!({"name": format!("B {role}"), "role": role});
        let (status, key) = api.send(Method::POST, "/api/v1/api-keys", Some(&b_admin), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        tokens.push((caller, Some(key["key"].as_str().unwrap().to_string())));
    }
    // B has data of its own, so that its lists are not empty by chance.
    let (_, line) = api
        .send(Method::POST, "/api/v1/devices", Some(&b_admin), Some(json!({"name": "Acme line", "kind": "simulator"})))
        .await;
    let line = line["id"].as_str().unwrap().to_string();
    api.send(Method::POST, &format!("/api/v1/devices/{line}/simulator/link"), Some(&b_admin), None).await;
    let inbound = json!({"from": "+4915199999999", "name": "Otto", "body": "Hallo"});
    let (status, _) = api
        .send(Method::POST, &format!("/api/v1/devices/{line}/simulator/inbound"), Some(&b_admin), Some(inbound))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // B's callers, A's ids (A's Admin makes the fresh targets the destructive routes need).
    let cross = Fixture { tokens, ..a };
    let mut n = 1000;
    let mut http = Vec::new();
    for r in routes() {
        if r.need == Need::Public {
            continue;
        }
        let mut cells = Vec::new();
        for caller in B_CALLERS {
            n += 1;
            let (path, body, token) = prepare(&api, &cross, &r, caller, n).await;
            // Logging out ends the session it is called with: a fresh one of B's (prepare's is A's).
            let token = match (r.path, caller) {
                ("/api/v1/auth/logout", Caller::Admin) => Some(sign_in_to_b().await),
                ("/api/v1/auth/logout", Caller::Agent) => Some(api.login("bea@test.local").await),
                ("/api/v1/auth/logout", Caller::Viewer) => Some(api.login("bob@test.local").await),
                ("/api/v1/auth/logout", _) => cross.token(caller).map(str::to_string),
                _ => token,
            };
            let before = standing(&api, &cross.admin).await;
            let (status, answer) = api.send(r.method.clone(), &path, token.as_deref(), body).await;
            let what = format!("{} {} as B's {caller:?}: {status} {answer}", r.method, r.path);
            assert!(!status.is_server_error(), "{what}");
            let text = answer.to_string();
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "{what} names A's {secret}");
            }
            if r.path.contains("{id}") && !r.path.starts_with("/api/v1/me/") {
                assert!(
                    matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                    "{what}: one of A's objects is found from B"
                );
            }
            assert_eq!(standing(&api, &cross.admin).await, before, "{what} changed workspace A");
            cells.push(status.as_u16());
        }
        http.push((format!("{} {}", r.method, r.path), cells));
    }
    let mut ws = Vec::new();
    for (name, _, op) in ops(&cross) {
        let mut cells = Vec::new();
        for caller in B_CALLERS {
            let before = standing(&api, &cross.admin).await;
            let answer = ws_answer(&api, cross.token(caller).unwrap(), op.clone()).await;
            assert!(
                matches!(answer.as_str(), "not_found" | "forbidden"),
                "websocket {name} as B's {caller:?}: {answer}"
            );
            assert_eq!(standing(&api, &cross.admin).await, before, "websocket {name} as B's {caller:?} changed A");
            cells.push(answer);
        }
        ws.push((name.to_string(), cells));
    }

    committed_as("isolation.md", &render_cross(&http, &ws));
}

fn render_cross(http: &[(String, Vec<u16>)], ws: &[(String, Vec<String>)]) -> String {
    let header = |out: &mut String, first: &str| {
        let titles: Vec<&str> = B_CALLERS.iter().map(|c| c.title()).collect();
        writeln!(out, "| {first} | {} |", titles.join(" | ")).unwrap();
        writeln!(out, "|---|{}", "---|".repeat(B_CALLERS.len())).unwrap();
    };
    let mut out = String::from(
        "# Isolation between workspaces\n\n\
         The second dimension of the role matrix (docs/roles.md): two workspaces on one server, and\n\
         every route and every WebSocket mutation called by workspace B's people and API keys with\n\
         the ids of workspace A's conversation, attachment, team, user and device. This page is\n\
         generated by `crates/server/tests/roles.rs` (`HANDOFF_WRITE_DOCS=1` rewrites it), which\n\
         asserts for every cell that:\n\n\
         - the answer names nothing of A: none of those ids, nor A's customer's number, people's\n\
           addresses or team's name;\n\
         - a route about one of A's objects answers 404 (or 403 when B's role forbids the route\n\
           before anything is looked up, and for adding members to A when the caller, the owner,\n\
           belongs to A too: \"sign in to that workspace\");\n\
         - A's event log and audit log do not move.\n\n\
         Each cell is the status B's caller got. A route without an id of A's acts on B's own\n\
         data (a list shows B's, a creation creates in B).\n\n\
         ## HTTP routes\n\n",
    );
    header(&mut out, "Route");
    for (name, cells) in http {
        let marks: Vec<String> = cells.iter().map(u16::to_string).collect();
        writeln!(out, "| `{name}` | {} |", marks.join(" | ")).unwrap();
    }
    out.push_str("\n## WebSocket mutations on A's conversation\n\n");
    header(&mut out, "Op");
    for (name, cells) in ws {
        writeln!(out, "| `{name}` | {} |", cells.join(" | ")).unwrap();
    }
    out
}
