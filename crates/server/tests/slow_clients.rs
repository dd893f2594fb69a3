//! A client that does not keep up never grows the server's memory: it is cut off, and catches up
//! from the event log when it comes back.
//!
//! Each test parks a real WebSocket client (it stops reading) while customer messages of 60 KB
//! each pour in, enough to fill the loopback connection's buffers several times over.

mod common;

use std::time::Duration;

use common::Api;
use futures_util::{SinkExt, StreamExt};
use handoff_proto::{ClientFrame, EventBody, ServerFrame, PROTOCOL_VERSION};
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A customer message this large fills a loopback connection's buffers (a few MB) in ~100.
const BODY_BYTES: usize = 60_000;

async fn connect(api: &Api, token: &str, last_seq: i64) -> Ws {
    let mut request = format!("ws://{}/api/v1/ws", api.server.addr).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = ClientFrame::Hello { protocol: PROTOCOL_VERSION, last_seq };
    ws.send(WsMessage::text(serde_json::to_string(&hello).unwrap())).await.unwrap();
    ws
}

/// The next server frame, or None when the connection ended.
async fn next(ws: &mut Ws) -> Option<ServerFrame> {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("a frame or the end within 30 s")
}

async fn slow_clients(api: &Api) -> u64 {
    let metrics = api.http.get(format!("{}/metrics", api.server.url())).send().await.unwrap().text().await.unwrap();
    let line = metrics.lines().find(|l| l.starts_with("handoff_ws_slow_clients_total ")).expect("the counter");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Customer messages until `done` says so (at most `max`); returns how many were sent.
async fn pour(
    api: &Api,
    admin: &str,
    device: handoff_proto::DeviceId,
    max: usize,
    done: impl AsyncFn(usize) -> bool,
) -> usize {
    let body = "x".repeat(BODY_BYTES);
    for n in 1..=max {
        let path = format!("/api/v1/devices/{device}/simulator/inbound");
        let message = json!({"from": "+4915112345678", "body": format!("{n} {body}")});
        let (status, answer) = api.send(Method::POST, &path, Some(admin), Some(message)).await;
        assert_eq!(status, 201, "{answer}");
        if done(n).await {
            return n;
        }
    }
    max
}

/// Reads a fresh connection from `last_seq` up to the head: the customer messages it replays.
async fn catch_up(api: &Api, token: &str, last_seq: i64) -> usize {
    let head = api.head(token).await;
    let mut ws = connect(api, token, last_seq).await;
    let mut messages = 0;
    let mut seq = last_seq;
    while seq < head {
        match next(&mut ws).await.expect("the replay") {
            ServerFrame::Event(e) => {
                assert_eq!(e.seq, seq + 1, "the replay has no gap");
                seq = e.seq;
                if matches!(e.body, EventBody::MessageCreated { .. }) {
                    messages += 1;
                }
            }
            _ => continue,
        }
    }
    messages
}

/// A client that leaves the server's frames unread is cut off once a write has waited
/// `ws_send_timeout`; nothing can be said on a connection nobody reads, so it just ends.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_then_catches_up() {
    let api = Api::start_with(|c| c.ws_send_timeout = Duration::from_millis(300)).await;
    let admin = api.login("admin@test.local").await;
    let (device, _) = api.conversation(&admin).await;
    let since = api.head(&admin).await;
    let mut parked = connect(&api, &admin, i64::MAX).await;
    assert!(matches!(next(&mut parked).await, Some(ServerFrame::Welcome { .. })));

    // Until the server gives up on it (its writes wait on full buffers), and a few more.
    let cut_after = pour(&api, &admin, device.id, 2_000, async |_| slow_clients(&api).await == 1).await;
    assert!(cut_after < 2_000, "the parked client was never cut off");
    let more = pour(&api, &admin, device.id, 5, async |_| false).await;

    // The parked connection delivers what its buffers held, then ends; nothing after the cut.
    let mut received = 0;
    while let Some(frame) = next(&mut parked).await {
        if matches!(frame, ServerFrame::Event(ref e) if matches!(e.body, EventBody::MessageCreated { .. })) {
            received += 1;
        }
    }
    assert!(received < cut_after, "it held {received} of {cut_after}: the server stopped writing to it");
    assert_eq!(catch_up(&api, &admin, since).await, cut_after + more, "every message, from the log");
}

/// A client that reads, but falls more than the hub's capacity behind, is told so
/// (`error{code: "lagged"}`) and closed.
#[tokio::test]
async fn a_client_that_falls_behind_is_told_to_catch_up_from_the_log() {
    let api = Api::start_with(|c| {
        c.hub_capacity = 8;
        c.ws_send_timeout = Duration::from_secs(600); // it is not cut off for not reading meanwhile
    })
    .await;
    let admin = api.login("admin@test.local").await;
    let (device, _) = api.conversation(&admin).await;
    let since = api.head(&admin).await;
    let mut parked = connect(&api, &admin, i64::MAX).await;
    assert!(matches!(next(&mut parked).await, Some(ServerFrame::Welcome { .. })));

    // Several times what the buffers hold: the server's write to it waits, and meanwhile more
    // than 8 frames pass it by. Then it reads again.
    let sent = pour(&api, &admin, device.id, 400, async |_| false).await;
    let mut told = None;
    while let Some(frame) = next(&mut parked).await {
        if let ServerFrame::Error { code, message } = frame {
            told = Some((code, message));
        }
    }
    let (code, message) = told.expect("told why before the close");
    assert_eq!(code, "lagged");
    assert!(message.contains("catch up from the log"), "{message}");
    assert_eq!(slow_clients(&api).await, 1);
    assert_eq!(catch_up(&api, &admin, since).await, sent, "every message, from the log");
}
