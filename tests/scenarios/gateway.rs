//! A WhatsApp number linked through a WAHA gateway: the real server takes signed webhooks (the
//! recorded payloads in crates/channels/tests/fixtures/waha) and calls a stand-in WAHA server
//! for everything outbound.

use handoff_channels::waha::sign;
use handoff_core::Client;
use handoff_proto::{ConversationId, CreatedDevice, Delivery, DeviceId, DeviceStatus, MessageKind, QrResponse, Role};
use handoff_tests::waha_stub::StubWaha;
use handoff_tests::{wait_delivery, wait_for, World};
use reqwest::{Method, StatusCode};
use uuid::Uuid;

const CUSTOMER_MESSAGE: &str = "false_4915112345678@c.us_3EB0A1B2C3D4E5F60718";

pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/../crates/channels/tests/fixtures/waha/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) struct Gateway {
    pub device: CreatedDevice,
    pub secret: String,
    pub stub: StubWaha,
}

pub(crate) async fn gateway_device(world: &World) -> Gateway {
    let stub = StubWaha::start().await;
    let body = serde_json::json!({
        "name": "Support (WAHA)", "kind": "gateway",
        "gateway": {"base_url": format!("{}/", stub.url), "api_key": "waha-key", "session": "support"},
    });
    let device: CreatedDevice = world.call(Method::POST, "/api/v1/devices", Some(&body)).await;
    let secret = device.webhook_secret.clone().expect("the secret is shown once, on creation");
    assert_eq!(device.device.status, DeviceStatus::PendingLink);
    Gateway { device, secret, stub }
}

impl Gateway {
    pub fn id(&self) -> DeviceId {
        self.device.device.id
    }

    /// Posts `body` to the device's webhook, signed with `signature` (or unsigned).
    async fn post(&self, world: &World, body: &str, signature: Option<String>) -> StatusCode {
        let mut req = reqwest::Client::new()
            .post(format!("{}/api/v1/devices/{}/webhook", world.url, self.id()))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(signature) = signature {
            req = req.header("X-Webhook-Hmac", signature);
        }
        req.send().await.expect("webhook request").status()
    }

    /// Posts `body` as WAHA sends it now: a fresh event id, the server clock's time, signed.
    pub async fn deliver(&self, world: &World, body: &str) -> StatusCode {
        self.deliver_raw(world, &stamped(body, &Uuid::new_v4().to_string(), world.clock.now())).await
    }

    /// Posts `body` as WAHA sends it now to the server at `base` (one of several nodes): a fresh
    /// event id, the real clock's time, signed.
    pub async fn deliver_via(&self, base: &str, body: &str) -> StatusCode {
        let body = stamped(body, &Uuid::new_v4().to_string(), chrono::Utc::now());
        reqwest::Client::new()
            .post(format!("{base}/api/v1/devices/{}/webhook", self.id()))
            .header("content-type", "application/json")
            .header("X-Webhook-Hmac", sign(self.secret.as_bytes(), body.as_bytes()))
            .body(body)
            .send()
            .await
            .map_or(StatusCode::BAD_GATEWAY, |r| r.status())
    }

    /// Where the gateway posts this device's webhooks.
    pub fn webhook_url(&self, world: &World) -> String {
        format!("{}/api/v1/devices/{}/webhook", world.url, self.id())
    }

    /// Posts `body` signed, exactly as given (its envelope's id and timestamp untouched).
    async fn deliver_raw(&self, world: &World, body: &str) -> StatusCode {
        self.post(world, body, Some(sign(self.secret.as_bytes(), body.as_bytes()))).await
    }
}

/// `body` (a recorded webhook) with its envelope's event id and send time replaced; a body that
/// is not a JSON object is left as it is.
fn stamped(body: &str, event_id: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut envelope)) => {
            envelope.insert("id".into(), event_id.into());
            envelope.insert("timestamp".into(), at.timestamp_millis().into());
            serde_json::Value::Object(envelope).to_string()
        }
        _ => body.to_string(),
    }
}

async fn message_count(world: &World) -> usize {
    let mut n = 0;
    for c in world.conversations().await {
        n += world.messages(c.id).await.len();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_are_stored_once_and_everything_else_is_refused() {
    let world = World::start().await;
    let gw = gateway_device(&world).await;

    // Linking: WAHA asks for a QR scan; the Devices screen gets WAHA's QR code.
    assert_eq!(gw.deliver(&world, &fixture("session-status-scan-qr")).await, StatusCode::OK);
    let asked = gw.stub.wait_requests(1).await;
    assert_eq!(asked[0].path, "/api/support/auth/qr");
    assert_eq!(asked[0].api_key.as_deref(), Some("waha-key"));
    let qr_path = format!("/api/v1/devices/{}/qr", gw.id());
    // The QR is kept right after WAHA's answer (recorded above) arrives: ask until it is there.
    let ask = async {
        loop {
            let resp = world.raw(Method::GET, &qr_path, &world.admin_token, None::<&()>).await;
            if resp.status() == StatusCode::OK {
                return resp.json::<QrResponse>().await.expect("qr body");
            }
            tokio::task::yield_now().await;
        }
    };
    let qr = tokio::time::timeout(handoff_tests::DEADLINE, ask).await.expect("the QR code in time");
    assert_eq!(qr.qr, gw.stub.qr);

    assert_eq!(gw.deliver(&world, &fixture("session-status-working")).await, StatusCode::OK);
    let devices: handoff_proto::Page<handoff_proto::Device> =
        world.call(Method::GET, "/api/v1/devices", None::<&()>).await;
    let device = devices.items.iter().find(|d| d.id == gw.id()).expect("listed");
    assert_eq!((device.status, device.phone.as_deref()), (DeviceStatus::Connected, Some("+4930123456")));

    // A customer writes; WAHA retries the webhook (and sends it again as message.any): one message.
    let before = message_count(&world).await;
    let text = fixture("message-text");
    assert_eq!(gw.deliver(&world, &text).await, StatusCode::OK);
    assert_eq!(gw.deliver(&world, &text).await, StatusCode::OK);
    let as_any = text.replace("\"event\": \"message\"", "\"event\": \"message.any\"");
    assert_eq!(gw.deliver(&world, &as_any).await, StatusCode::OK);
    assert_eq!(message_count(&world).await, before + 1);
    let conversation = world
        .conversations()
        .await
        .into_iter()
        .find(|c| c.device_id == gw.id())
        .expect("a conversation on the gateway number");
    assert_eq!(conversation.contact.phone, "+4915112345678");
    assert_eq!(conversation.contact.name.as_deref(), Some("Lena Hoffmann"));

    // Typed on the phone: outbound in the same conversation.
    assert_eq!(gw.deliver(&world, &fixture("message-any-from-phone")).await, StatusCode::OK);
    let thread = world.messages(conversation.id).await;
    let kinds: Vec<_> = thread.iter().map(|m| (m.kind, m.body.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (MessageKind::Inbound, "Hello, my order has not arrived"),
            (MessageKind::Outbound, "Typed on the phone: we are on it")
        ]
    );
    assert_eq!(thread[0].wa_message_id.as_deref(), Some(CUSTOMER_MESSAGE));
    let stored = message_count(&world).await;

    // Refused, and nothing stored: no signature, a wrong one, another device's secret.
    let doc = fixture("message-document");
    assert_eq!(gw.post(&world, &doc, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(gw.post(&world, &doc, Some("00ff".into())).await, StatusCode::UNAUTHORIZED);
    assert_eq!(gw.post(&world, &doc, Some(sign(b"another secret", doc.as_bytes()))).await, StatusCode::UNAUTHORIZED);
    let tampered = doc.replace("The invoice", "The invoice, changed on the way");
    assert_eq!(
        gw.post(&world, &tampered, Some(sign(gw.secret.as_bytes(), doc.as_bytes()))).await,
        StatusCode::UNAUTHORIZED
    );
    // Signed but malformed, or for another WAHA session: 400.
    assert_eq!(gw.deliver(&world, "{\"event\": \"message\"").await, StatusCode::BAD_REQUEST);
    assert_eq!(gw.deliver(&world, &doc.replace("4915112345678@c.us", "not-a-chat")).await, StatusCode::BAD_REQUEST);
    assert_eq!(gw.deliver(&world, &doc.replace("\"support\"", "\"sales\"")).await, StatusCode::BAD_REQUEST);
    // An event kind Handoff does not use: accepted (so WAHA does not retry it) and ignored.
    assert_eq!(gw.deliver(&world, &fixture("message-reaction")).await, StatusCode::OK);
    assert_eq!(message_count(&world).await, stored, "nothing refused or ignored was stored");
    // A simulator has no webhook.
    let sim_hook = format!("{}/api/v1/devices/{}/webhook", world.url, world.device.id);
    let resp = reqwest::Client::new().post(sim_hook).body("{}").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Lena writes from a chat WhatsApp shows by her LID: WAHA knows her number, so it is her conversation.
    gw.stub.know_lid("184467440737095@lid", "4915112345678@c.us");
    let by_lid = text
        .replace("false_4915112345678@c.us_3EB0A1B2C3D4E5F60718", "false_184467440737095@lid_3EB0LID0000000000001")
        .replace("\"from\": \"4915112345678@c.us\"", "\"from\": \"184467440737095@lid\"")
        .replace("Hello, my order has not arrived", "Writing from my LID");
    assert_eq!(gw.deliver(&world, &by_lid).await, StatusCode::OK);
    let last = world.messages(conversation.id).await.pop().expect("stored");
    assert_eq!(last.body, "Writing from my LID", "the LID's message is in Lena's conversation");
    assert_eq!(world.conversations().await.iter().filter(|c| c.device_id == gw.id()).count(), 1);
    // Her next message from the LID: the number is known, WAHA is not asked again.
    let again = by_lid
        .replace("3EB0LID0000000000001", "3EB0LID0000000000002")
        .replace("Writing from my LID", "Still writing from my LID");
    assert_eq!(gw.deliver(&world, &again).await, StatusCode::OK);
    assert_eq!(world.messages(conversation.id).await.pop().expect("stored").body, "Still writing from my LID");
    let asked = gw.stub.requests().iter().filter(|r| r.path.contains("/lids/")).count();
    assert_eq!(asked, 1, "one LID lookup for two messages");

    // The document, signed: a typed placeholder with its caption.
    assert_eq!(gw.deliver(&world, &doc).await, StatusCode::OK);
    let last = world.messages(conversation.id).await.pop().expect("stored");
    assert_eq!(last.body, "The invoice");
    let media = last.media.expect("a placeholder");
    assert_eq!((media.kind, media.filename.as_deref()), (handoff_proto::MediaKind::Document, Some("invoice-2231.pdf")));
    let listed = world.conversations().await.into_iter().find(|c| c.id == conversation.id).unwrap();
    assert_eq!(listed.last_message_preview, "📄 Document · invoice-2231.pdf · The invoice");

    // Downloaded on demand from WAHA's file store, with the API key, through a 503 (retried).
    assert!(media.downloadable);
    let media_path = format!("/api/v1/messages/{}/media", last.id);
    let file = "/api/files/false_4915112345678@c.us_3EB0A1B2C3D4E5F60719.pdf";
    let gone = world.raw(Method::GET, &media_path, &world.admin_token, None::<&()>).await;
    assert_eq!(gone.status(), StatusCode::GONE, "WAHA no longer has the file: said so, not retried");
    gw.stub.put_file(file, b"%PDF-1.4 invoice 2231");
    gw.stub.fail_next(&[StatusCode::SERVICE_UNAVAILABLE]);
    let resp = world.raw(Method::GET, &media_path, &world.admin_token, None::<&()>).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"%PDF-1.4 invoice 2231");
    let asked: Vec<_> = gw.stub.requests().into_iter().filter(|r| r.path.starts_with("/api/files/")).collect();
    assert_eq!(asked.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), [file; 3], "404, then 503 and its retry");
    assert!(asked.iter().all(|r| r.api_key.as_deref() == Some("waha-key")));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_or_stale_webhook_is_not_processed() {
    let world = World::start().await;
    let gw = gateway_device(&world).await;
    assert_eq!(gw.deliver(&world, &fixture("session-status-working")).await, StatusCode::OK);
    let before = message_count(&world).await;
    let now = world.clock.now();
    let text = fixture("message-text");

    // Sent a minute ago (a slow gateway): taken.
    let first = stamped(&text, "evt_replay_1", now - chrono::Duration::minutes(1));
    assert_eq!(gw.deliver_raw(&world, &first).await, StatusCode::OK);
    assert_eq!(message_count(&world).await, before + 1);
    // The same event id again, even carrying another message: answered (WAHA stops retrying)
    // and not processed. The message's own id differs, so only the event id can have stopped it.
    let replay = first
        .replace("3EB0A1B2C3D4E5F60718", "3EB0A1B2C3D4E5F6FFFF")
        .replace("Hello, my order has not arrived", "Replayed with another text");
    assert_eq!(gw.deliver_raw(&world, &replay).await, StatusCode::OK);
    assert_eq!(message_count(&world).await, before + 1, "a seen event id is not processed again");

    // Outside five minutes of the server's clock, either way: refused, nothing stored.
    let other = text.replace("3EB0A1B2C3D4E5F60718", "3EB0A1B2C3D4E5F60720").replace("not arrived", "still not here");
    for (id, at) in [("evt_old", now - chrono::Duration::minutes(6)), ("evt_ahead", now + chrono::Duration::minutes(6))]
    {
        let resp = gw.post(&world, &stamped(&other, id, at), None).await;
        assert_eq!(resp, StatusCode::UNAUTHORIZED, "unsigned: refused before the time is even read");
        let body = stamped(&other, id, at);
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/devices/{}/webhook", world.url, gw.id()))
            .header("X-Webhook-Hmac", sign(gw.secret.as_bytes(), body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let error: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(error["error"]["code"], "stale_webhook", "{error}");
    }
    // Without an event id or a timestamp a replay cannot be told: refused.
    let mut bare: serde_json::Value = serde_json::from_str(&other).unwrap();
    bare.as_object_mut().unwrap().remove("id");
    assert_eq!(gw.deliver_raw(&world, &bare.to_string()).await, StatusCode::BAD_REQUEST);
    assert_eq!(message_count(&world).await, before + 1, "nothing refused was stored");

    // The refused event, sent again by the gateway in time: taken.
    assert_eq!(gw.deliver_raw(&world, &stamped(&other, "evt_old", now)).await, StatusCode::OK);
    assert_eq!(message_count(&world).await, before + 2);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_out_through_waha_with_retries_and_receipts_only_move_forward() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let gw = gateway_device(&world).await;
    assert_eq!(gw.deliver(&world, &fixture("session-status-working")).await, StatusCode::OK);
    assert_eq!(gw.deliver(&world, &fixture("message-text")).await, StatusCode::OK);
    let ana = world.client("ana@test.local").await;
    let conversation = world.conversations().await.into_iter().find(|c| c.device_id == gw.id()).unwrap();
    wait_for("the conversation", &ana, |c| async move { c.thread(conversation.id).await.ok().flatten().is_some() })
        .await;

    // WAHA is briefly unavailable: two failures, then the send goes through, once.
    gw.stub.fail_next(&[StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE]);
    ana.reply(conversation.id, "Let me check that for you", None, false).await.unwrap();
    let wa_id = delivered(&ana, conversation.id, "Let me check that for you", Delivery::Sent).await;
    let sends: Vec<_> = gw.stub.requests().into_iter().filter(|r| r.path == "/api/sendText").collect();
    assert_eq!(sends.len(), 3, "two failures and one success");
    for send in &sends {
        assert_eq!(send.api_key.as_deref(), Some("waha-key"));
        assert_eq!(send.body["session"], "support");
        assert_eq!(send.body["chatId"], "4915112345678@c.us");
        assert_eq!(send.body["text"], "Let me check that for you");
        assert_eq!(send.body["id"], sends[0].body["id"], "a retry is the same message, not a second one");
    }
    assert_eq!(wa_id, format!("true_4915112345678@c.us_{}", sends[0].body["id"].as_str().unwrap()));

    // Receipts: read, then a late "delivered" that must not move it back.
    let ack = |n: i64, name: &str| {
        serde_json::json!({
            "event": "message.ack", "session": "support", "engine": "WEBJS",
            "payload": {"id": wa_id, "from": "4915112345678@c.us", "to": "4930123456@c.us",
                        "participant": null, "fromMe": true, "ack": n, "ackName": name},
        })
        .to_string()
    };
    assert_eq!(gw.deliver(&world, &ack(3, "READ")).await, StatusCode::OK);
    delivered(&ana, conversation.id, "Let me check that for you", Delivery::Read).await;
    assert_eq!(gw.deliver(&world, &ack(2, "DEVICE")).await, StatusCode::OK);
    let stored = world.messages(conversation.id).await;
    let reply = stored.iter().find(|m| m.body == "Let me check that for you").unwrap();
    assert_eq!(reply.delivery, Some(Delivery::Read), "delivery never moves backwards");

    // WAHA refuses (a 4xx is final): the reply fails with the reason, after one attempt.
    let before = gw.stub.requests().len();
    gw.stub.fail_next(&[StatusCode::UNPROCESSABLE_ENTITY]);
    ana.reply(conversation.id, "This one is refused", None, true).await.unwrap();
    delivered(&ana, conversation.id, "This one is refused", Delivery::Failed).await;
    assert_eq!(gw.stub.requests().len(), before + 1, "a refusal is not retried");

    // WAHA (or something posing as it) answers with a redirect: not followed, so the API key
    // goes nowhere else, and the reply fails with the reason.
    gw.stub.fail_next(&[StatusCode::TEMPORARY_REDIRECT]);
    ana.reply(conversation.id, "This one meets a redirect", None, true).await.unwrap();
    delivered(&ana, conversation.id, "This one meets a redirect", Delivery::Failed).await;
    assert!(gw.stub.requests().iter().all(|r| r.path != "/elsewhere"), "the redirect was not followed");
    world.stop().await;
}

/// The WhatsApp id of the reply with `body`, once it shows `state`.
async fn delivered(client: &Client, conversation_id: ConversationId, body: &str, state: Delivery) -> String {
    wait_delivery(client, conversation_id, body, state).await.wa_message_id.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_stream_through_and_one_person_runs_four_downloads_at_a_time() {
    let world = World::start().await;
    world.create_user("vic@test.local", "Vic", Role::Viewer).await;
    let vic = world.login("vic@test.local").await.token;
    let gw = gateway_device(&world).await;
    assert_eq!(gw.deliver(&world, &fixture("session-status-working")).await, StatusCode::OK);
    assert_eq!(gw.deliver(&world, &fixture("message-document")).await, StatusCode::OK);
    let conversation = world.conversations().await.into_iter().find(|c| c.device_id == gw.id()).unwrap();
    let document = world.messages(conversation.id).await.pop().expect("the document");
    let media_path = format!("/api/v1/messages/{}/media", document.id);
    let file: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    gw.stub.put_file("/api/files/false_4915112345678@c.us_3EB0A1B2C3D4E5F60719.pdf", &file);

    // The gateway sends half of the file and waits: each download has its first half already,
    // so the server passes bytes on as they come instead of holding the whole file.
    gw.stub.hold_files(true);
    let mut running = Vec::new();
    for _ in 0..4 {
        let mut resp = world.raw(Method::GET, &media_path, &world.admin_token, None::<&()>).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let mut got = Vec::new();
        while got.len() < file.len() / 2 {
            let chunk =
                tokio::time::timeout(handoff_tests::DEADLINE, resp.chunk()).await.expect("the first half in time");
            got.extend_from_slice(&chunk.unwrap().expect("more bytes while the gateway holds the rest"));
        }
        assert_eq!(got, file[..file.len() / 2], "the first half, streamed through");
        running.push((resp, got));
    }
    // A fifth at once, by the same person: refused for now; someone else is not held up.
    let fifth = world.raw(Method::GET, &media_path, &world.admin_token, None::<&()>).await;
    assert_eq!(fifth.status(), StatusCode::TOO_MANY_REQUESTS);
    let refusal: handoff_proto::ErrorBody = fifth.json().await.unwrap();
    assert_eq!(refusal.error.code, "rate_limited");
    let others = world.raw(Method::GET, &media_path, &vic, None::<&()>).await;
    assert_eq!(others.status(), StatusCode::OK);

    // The gateway sends the rest: every download completes, and the next one may start.
    gw.stub.hold_files(false);
    for (resp, mut got) in running {
        got.extend_from_slice(&resp.bytes().await.unwrap());
        assert_eq!(got, file);
    }
    assert_eq!(others.bytes().await.unwrap().as_ref(), file.as_slice());
    let again = world.raw(Method::GET, &media_path, &world.admin_token, None::<&()>).await;
    assert_eq!(again.status(), StatusCode::OK, "the finished downloads gave their places back");
    assert_eq!(again.bytes().await.unwrap().as_ref(), file.as_slice());
    world.stop().await;
}
