//! Limits a hostile client meets beyond sign-in (docs/security.md): a WebSocket message over
//! 512 KiB ends its connection without being buffered, a flood of presence frames is folded
//! into its latest, "typing…" reaches the customer at most every two seconds, and the server's
//! files are its own.

mod common;

use common::Api;
use futures_util::{SinkExt, StreamExt};
use handoff_proto::{Activity, ClientFrame, ServerFrame, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connected(api: &Api, token: &str) -> Ws {
    let mut request = format!("ws://{}/api/v1/ws", api.server.addr).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq: 0 };
    ws.send(WsMessage::text(serde_json::to_string(&hello).unwrap())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(common::DEADLINE, ws.next()).await.expect("welcome in time");
        if let Some(Ok(WsMessage::Text(t))) = frame {
            if let Ok(ServerFrame::Welcome { .. }) = serde_json::from_str(&t) {
                return ws;
            }
        }
    }
}

/// Reads until the connection ends; true if it did within the deadline.
async fn ends(ws: &mut Ws) -> bool {
    let read = async {
        while let Some(frame) = ws.next().await {
            match frame {
                Ok(WsMessage::Close(_)) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(common::DEADLINE, read).await.is_ok()
}

#[tokio::test]
async fn a_websocket_message_over_512_kib_ends_the_connection() {
    let api = Api::start().await;
    let token = api.login("admin@test.local").await;
    // Just under the limit: read, and answered (not a valid frame, so a bad_frame error).
    let mut ws = connected(&api, &token).await;
    ws.send(WsMessage::text("x".repeat(500 * 1024))).await.unwrap();
    let answer = loop {
        match tokio::time::timeout(common::DEADLINE, ws.next()).await.expect("an answer") {
            Some(Ok(WsMessage::Text(t))) => match serde_json::from_str::<ServerFrame>(&t) {
                Ok(ServerFrame::Error { code, .. }) => break code,
                _ => continue,
            },
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => panic!("the connection ended on a message under the limit: {other:?}"),
        }
    };
    assert_eq!(answer, "bad_frame");
    // Over it: the connection ends.
    let _ = ws.send(WsMessage::text("x".repeat(600 * 1024))).await;
    assert!(ends(&mut ws).await, "a 600 KiB message ended the connection");
    // Nothing else is affected.
    let _again = connected(&api, &token).await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_and_database_files_are_the_servers_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // The database files are in the folder when the database is SQLite (on PostgreSQL the folder
    // holds only this node's own files: the lock, WhatsApp Web sessions).
    let sqlite = handoff_server::Config::for_tests("x").database.sqlite_file().is_some();
    let check = |dir: &std::path::Path| {
        assert_eq!(mode(dir), 0o700, "the data folder");
        for name in ["handoff.db", "handoff.db-wal", "handoff.db-shm"].into_iter().filter(|_| sqlite) {
            let file = dir.join(name);
            assert!(file.exists(), "{name}");
            assert_eq!(mode(&file), 0o600, "{name}");
        }
    };
    // A new folder, made as an operator might (world-readable), and the server in it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = handoff_server::Config::for_tests(&dir);
    config.bootstrap_admin = Some(("admin@test.local".into(), common::PASSWORD.into()));
    let server = handoff_server::start(config).await.unwrap();
    check(&dir);
    server.stop().await;
    // An existing database someone loosened is tightened at the next start.
    for name in ["handoff.db", "handoff.db-wal", "handoff.db-shm"] {
        if dir.join(name).exists() {
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = handoff_server::start(handoff_server::Config::for_tests(&dir)).await.unwrap();
    check(&dir);
    server.stop().await;
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    use reqwest::Method;
    let open = Api::start().await;
    assert_eq!(open.send(Method::GET, "/metrics", None, None).await.0, 200, "open by default");
    let api = Api::start_with(|c| c.metrics_token = Some("scrape-me-0123456789".into())).await;
    let (status, body) = api.send(Method::GET, "/metrics", None, None).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (401, Some("unauthenticated")));
    assert_eq!(api.send(Method::GET, "/metrics", Some("scrape-me-012345678X"), None).await.0, 401);
    assert_eq!(api.send(Method::GET, "/metrics", Some("short"), None).await.0, 401);
    let (status, body) = api.send(Method::GET, "/metrics", Some("scrape-me-0123456789"), None).await;
    assert_eq!(status, 200);
    assert!(body.as_str().unwrap_or_default().contains("handoff_ws_sessions_total"));
}

#[tokio::test]
async fn one_account_holds_a_bounded_number_of_connections() {
    let api = Api::start_with(|c| c.ws_per_user = 3).await;
    let token = api.login("admin@test.local").await;
    let request = || {
        let mut r = format!("ws://{}/api/v1/ws", api.server.addr).into_client_request().unwrap();
        r.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    };
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(tokio_tungstenite::connect_async(request()).await.expect("within the cap").0);
    }
    match tokio_tungstenite::connect_async(request()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 429),
        other => panic!("a fourth connection was not refused: {:?}", other.map(|_| ())),
    }
    // One closes: its slot is given back once the server has seen it go.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    while first.next().await.is_some() {}
    // The server gives the slot back as its task ends, just after it answered the close: a
    // refused attempt in between is answered at once, so this asks again until it is let in.
    let again = tokio::time::timeout(common::DEADLINE, async {
        loop {
            if let Ok((ws, _)) = tokio_tungstenite::connect_async(request()).await {
                return ws;
            }
        }
    });
    assert!(again.await.is_ok(), "a slot was given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_presence_frames_is_folded_into_its_latest_and_the_customer_sees_typing_once() {
    let api = Api::start().await;
    let admin = api.login("admin@test.local").await;
    let (device, conversation) = api.conversation(&admin).await;
    let (_, watcher) = api.user(&admin, "vic@test.local", "viewer").await;
    let (ana, ana_token) = api.user(&admin, "ana@test.local", "agent").await;
    let mut watcher = connected(&api, &watcher).await;
    let mut flood = connected(&api, &ana_token).await;

    // 300 "typing a reply" frames at once, then "idle".
    let frame = |activity| {
        let presence = ClientFrame::Presence { conversation_id: Some(conversation.id), activity };
        WsMessage::text(serde_json::to_string(&presence).unwrap())
    };
    for _ in 0..300 {
        flood.feed(frame(Activity::ComposingReply)).await.unwrap();
    }
    flood.send(frame(Activity::Idle)).await.unwrap();

    // Everyone else hears a burst's worth, then the last word: Ana is idle.
    let mut composing = 0;
    loop {
        let next = tokio::time::timeout(common::DEADLINE, watcher.next()).await.expect("Ana's idle, in time");
        let Some(Ok(WsMessage::Text(text))) = next else { continue };
        if let Ok(ServerFrame::Presence { user_id, activity, .. }) = serde_json::from_str(&text) {
            if user_id != ana.id {
                continue;
            }
            match activity {
                Activity::ComposingReply => composing += 1,
                Activity::Idle => break,
                _ => {}
            }
        }
    }
    assert!(composing <= 15, "{composing} of 300 frames were fanned out");

    // The customer was shown "typing…" once, and it cleared.
    let handle = api.server.state.devices.get(device.id).unwrap();
    let (ws, sim) = (handle.workspace, handle.simulator.clone().unwrap());
    let chat = handoff_channels::Jid::parse("+4915112345678").unwrap();
    let (on, off) = ((chat.clone(), true), (chat, false));
    typing_until(&sim, |shown| shown == [on.clone(), off.clone()]).await;
    // 51 quick changes, ending in "typing": the phone is told once; then the stop, once.
    for k in 0..51 {
        handoff_server::outbound::dispatch::typing(&api.server.state, ws, conversation.id, k % 2 == 0);
    }
    typing_until(&sim, |shown| shown.len() > 2 && shown.last() == Some(&on)).await;
    handoff_server::outbound::dispatch::typing(&api.server.state, ws, conversation.id, false);
    typing_until(&sim, |shown| shown.len() > 3 && shown.last() == Some(&off)).await;
    assert_eq!(sim.typing_shown(), [on.clone(), off.clone(), on, off], "two calls each time, however many changes");
}

/// Waits until what the simulated phone was shown of "typing…" satisfies `done`.
async fn typing_until(sim: &handoff_channels::Simulator, done: impl Fn(&[(handoff_channels::Jid, bool)]) -> bool) {
    let mut asked = sim.asked();
    let wait = async {
        while !done(&sim.typing_shown()) {
            asked.changed().await.unwrap();
        }
    };
    let waited = tokio::time::timeout(common::DEADLINE, wait).await;
    assert!(waited.is_ok(), "typing shown as expected in time; shown: {:?}", sim.typing_shown());
}
