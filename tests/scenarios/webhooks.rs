//! Outbound webhooks against a real receiving HTTP server (docs/api.md, "Webhooks"): signed
//! deliveries (checked by the receiver and by the verification example in docs/api.md), one
//! conversation's events in order, a failing phase retried with backoff across a restart of the
//! server, the delivery log and "send again", an endpoint paused after a day of failures and its
//! Admins told, and an erasure that takes the contact's deliveries with it.

use std::future::Future;

use handoff_proto::{CreatedWebhook, Page, SyncResponse, Webhook, WebhookDelivery};
use handoff_tests::webhook_receiver::{Delivery, WebhookReceiver};
use handoff_tests::{World, DEADLINE};
use reqwest::Method;
use serde_json::json;

/// Waits until `check` holds, asking again every 20 ms, at most [`DEADLINE`]: for what the
/// server records after the receiver has answered (the delivery log), which nothing announces.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn log(world: &World, hook: &Webhook) -> Vec<WebhookDelivery> {
    let page: Page<WebhookDelivery> =
        world.call(Method::GET, &format!("/api/v1/webhooks/{}/deliveries?limit=500", hook.id), None::<&()>).await;
    page.items
}

fn body_of(d: &Delivery) -> &str {
    d.body["data"]["message"]["body"].as_str().unwrap_or("")
}

/// The verification example of docs/api.md, run by Python on a delivery as it arrived.
fn docs_example_verifies(secret: &str, d: &Delivery, tamper: bool) -> bool {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).expect("docs/api.md");
    let start = doc.find("<!-- webhook-verification -->").expect("the example's marker in docs/api.md");
    let code = doc[start..].split("```python\n").nth(1).and_then(|s| s.split("```").next()).expect("a python block");
    let mut body = d.raw.clone();
    if tamper {
        body.push(b' ');
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), &body).unwrap();
    let script = format!(
        "{code}\nimport os, sys\nbody = open(os.environ['BODY'], 'rb').read()\n\
         sys.exit(0 if verify(os.environ['SECRET'], os.environ['TS'], os.environ['SIG'], body) else 1)\n"
    );
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("BODY", dir.path().join("body"))
        .env("SECRET", secret)
        .env("TS", d.timestamp.as_deref().unwrap_or(""))
        .env("SIG", d.signature.as_deref().unwrap_or(""))
        .status()
        .expect("python3 runs");
    status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_ordered_retried_across_a_restart_and_paused_after_a_day() {
    let mut world = World::start().await;
    let receiver = WebhookReceiver::start().await;
    let created: CreatedWebhook = world
        .call(
            Method::POST,
            "/api/v1/webhooks",
            Some(&json!({"url": receiver.url, "events": [
            "message.received", "message.sent", "message.delivery", "conversation.assigned",
            "conversation.escalated", "conversation.resolved", "note.created", "device.down"]})),
        )
        .await;
    assert!(created.secret.starts_with("whsec_") && created.secret.len() > 40, "{}", created.secret);
    receiver.set_secret(&created.secret);
    let hook = created.webhook;
    let listed: Page<serde_json::Value> = world.call(Method::GET, "/api/v1/webhooks", None::<&()>).await;
    assert_eq!(listed.items.len(), 1);
    assert!(listed.items[0].get("secret").is_none(), "the secret is shown once: {:?}", listed.items[0]);

    // A customer writes: the endpoint hears of it, signed.
    let hello = world.inbound("+447700900101", "Hello from Ana's customer", None).await;
    let first = receiver.wait_for(1).await.remove(0);
    assert_eq!(first.kind(), "message.received");
    assert!(first.valid, "signed with the endpoint's secret: {first:?}");
    assert_eq!(body_of(&first), "Hello from Ana's customer");
    assert_eq!(first.body["data"]["conversation"]["id"], json!(hello.conversation_id));
    assert_eq!(first.body["workspace_id"], json!(world.first_workspace().await));
    let stamp: i64 = first.timestamp.as_deref().unwrap().parse().unwrap();
    assert!((stamp - world.clock.now().timestamp()).abs() <= 5, "the timestamp is the time of sending");
    assert!(docs_example_verifies(&created.secret, &first, false), "the docs' example accepts a real delivery");
    assert!(!docs_example_verifies(&created.secret, &first, true), "... and refuses a changed body");
    assert!(!docs_example_verifies("whsec_wrong", &first, false), "... and another secret");

    // A failing phase: the receiver answers 500. Two messages of one conversation and one of
    // another: the first of each is tried; the second waits for the first.
    receiver.answer_with(500);
    world.inbound("+447700900101", "one", None).await;
    world.inbound("+447700900101", "two", None).await;
    world.inbound("+447700900202", "three", None).await;
    let tried = receiver.wait_for(3).await;
    let failing: Vec<&str> = tried[1..].iter().map(body_of).collect();
    assert!(failing.contains(&"one") && failing.contains(&"three"), "{failing:?}");
    let entries = eventually("the failed attempts in the delivery log", || async {
        let entries = log(&world, &hook).await;
        let failed = entries.iter().filter(|d| d.attempts == 1 && d.status_code == Some(500)).count();
        (failed == 2).then_some(entries)
    })
    .await;
    let waiting: Vec<&WebhookDelivery> = entries.iter().filter(|d| d.attempts == 0).collect();
    assert_eq!(waiting.len(), 1, "'two' waits behind 'one': {entries:#?}");
    assert!(waiting[0].body.contains("\"two\""));
    // The worker's next wake-up is the retry's time, not the waiting delivery's (already past):
    // it would otherwise go round without a pause until the retry.
    let state = &world.server.as_ref().expect("in this process").state;
    let next = handoff_server::store::webhooks::next_due(&mut state.store.reader().await.unwrap()).await.unwrap();
    assert!(next.expect("a retry is due") > world.clock.now(), "the next wake-up is in the future: {next:?}");
    let failed = entries.iter().find(|d| d.body.contains("\"one\"")).unwrap();
    assert_eq!(failed.response.as_deref(), Some("receiver says no (500)"), "the answer's first bytes are kept");
    assert_eq!(failed.error.as_deref(), Some("answered 500 Internal Server Error"));
    assert!(failed.next_attempt_at.unwrap() > world.clock.now(), "retried later, not at once");
    assert!(failed.latency_ms.is_some());

    // The server stops (SIGTERM) and starts again mid-retry; the receiver comes back; the
    // retries go out once they are due, 'one' before 'two'.
    world.restart().await;
    receiver.answer_with(200);
    world.clock.advance(chrono::Duration::minutes(2));
    let all = receiver.wait_for(6).await;
    let after: Vec<&str> = all[3..].iter().map(body_of).collect();
    let (one, two) = (after.iter().position(|b| *b == "one").unwrap(), after.iter().position(|b| *b == "two").unwrap());
    assert!(one < two, "one conversation's events in order: {after:?}");
    assert!(all.iter().all(|d| d.valid), "every attempt signed");
    let retried_one = all[3..].iter().find(|d| body_of(d) == "one").unwrap();
    assert!(
        all[1..3].iter().any(|d| d.id() == retried_one.id()),
        "a retry carries the same delivery id as the failed attempt"
    );
    let entries = eventually("the retries recorded", || async {
        let entries = log(&world, &hook).await;
        entries.iter().all(|d| d.status == handoff_proto::DeliveryStatus::Delivered).then_some(entries)
    })
    .await;
    let one = entries.iter().find(|d| d.body.contains("\"one\"")).unwrap();
    assert_eq!((one.attempts, one.status_code, one.response.as_deref()), (2, Some(200), Some("ok")));
    assert!(one.delivered_at.is_some());

    // "Send again": the same delivery, the same id, once more.
    let again: WebhookDelivery = world
        .call(Method::POST, &format!("/api/v1/webhooks/{}/deliveries/{}/retry", hook.id, one.id), None::<&()>)
        .await;
    assert_eq!(again.status, handoff_proto::DeliveryStatus::Pending);
    let all = receiver.wait_for(7).await;
    assert_eq!(all[6].id(), one.id.to_string());

    // An agent's work is heard too: a note and a resolution.
    let conversation = hello.conversation_id;
    let _: serde_json::Value = world
        .call(Method::POST, &format!("/api/v1/conversations/{conversation}/notes"), Some(&json!({"body": "VIP"})))
        .await;
    let _: serde_json::Value = world
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/status"),
            Some(&json!({"status": "resolved"})),
        )
        .await;
    let all = receiver.wait_for(9).await;
    assert_eq!([all[7].kind(), all[8].kind()], ["note.created", "conversation.resolved"]);
    assert_eq!(all[8].body["data"]["conversation"]["status"], "resolved");

    // A day of failures pauses the endpoint and tells the workspace; its last delivery is
    // given up.
    receiver.answer_with(503);
    world.inbound("+447700900303", "nobody hears this", None).await;
    let mut seen = receiver.wait_for(10).await.len();
    let failing_since = world.clock.now();
    while world.clock.now() - failing_since < chrono::Duration::hours(24) {
        // Every wait between attempts is at most 2 h 12 min: one attempt per step.
        world.clock.advance(chrono::Duration::minutes(135));
        seen = receiver.wait_for(seen + 1).await.len();
    }
    let paused = eventually("the endpoint paused", || async {
        let hooks: Page<Webhook> = world.call(Method::GET, "/api/v1/webhooks", None::<&()>).await;
        (hooks.items[0].status == handoff_proto::WebhookStatus::Paused).then(|| hooks.items[0].clone())
    })
    .await;
    assert!(paused.paused_at.is_some() && paused.failing_since.is_some());
    let attempts = seen - 9;
    assert!((12..=25).contains(&attempts), "{attempts} attempts in the day");
    let entries = log(&world, &hook).await;
    let given_up = entries.iter().find(|d| d.body.contains("nobody hears this")).unwrap();
    assert_eq!(given_up.status, handoff_proto::DeliveryStatus::Failed, "given up after 24 hours");
    let sync: SyncResponse = world.call(Method::GET, "/api/v1/sync?since=0&limit=1000", None::<&()>).await;
    let told = sync.events.iter().find(|e| e.body.type_name() == "webhook.paused").expect("the pause is an event");
    assert_eq!(
        serde_json::to_value(&told.body).unwrap(),
        json!({"type": "webhook.paused", "webhook_id": hook.id, "host": "127.0.0.1"}),
        "the host only: the rest of the address may hold a secret"
    );
    let audit = world.audit().await;
    assert!(audit.iter().any(
        |e| e.action == "webhook.pause" && e.summary == "Paused webhook 127.0.0.1: every delivery failed for a day"
    ));

    // While paused: nothing is posted, "send again" is refused; resumed, what happens next is.
    let refused = world
        .raw(
            Method::POST,
            &format!("/api/v1/webhooks/{}/deliveries/{}/retry", hook.id, given_up.id),
            &world.admin_token,
            None::<&()>,
        )
        .await;
    assert_eq!(refused.status(), 409);
    world.inbound("+447700900303", "while paused", None).await;
    receiver.answer_with(200);
    let resumed: Webhook =
        world.call(Method::PATCH, &format!("/api/v1/webhooks/{}", hook.id), Some(&json!({"status": "active"}))).await;
    assert_eq!((resumed.status, resumed.failing_since), (handoff_proto::WebhookStatus::Active, None));
    world.inbound("+447700900303", "after the resume", None).await;
    let all = receiver.wait_for(seen + 1).await;
    assert_eq!(body_of(&all[seen]), "after the resume", "what happened while paused is not sent later");

    // Erasing a customer erases their deliveries.
    let contact = world.conversation(conversation).await.contact.id;
    let erase =
        world.raw(Method::POST, &format!("/api/v1/contacts/{contact}/erase"), &world.admin_token, None::<&()>).await;
    assert_eq!(erase.status(), 202);
    let entries = log(&world, &hook).await;
    assert!(entries.iter().all(|d| d.conversation_id != Some(conversation)), "no delivery about them is kept");
    assert!(!entries.iter().any(|d| d.body.contains("+447700900101") || d.body.contains("Hello from Ana")));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_the_admins_and_their_addresses_checked() {
    let world = World::start_with(|c| c.webhooks_to_private_addresses = false).await;
    let agent = world.create_user("ana@test.local", "Ana", handoff_proto::Role::Agent).await;
    let agent_token = world.login(&agent.email).await.token;
    let register = |token: String, body: serde_json::Value| {
        let world = &world;
        async move {
            let resp = world.raw(Method::POST, "/api/v1/webhooks", &token, Some(&body)).await;
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let admin = world.admin_token.clone();
    let ok = json!({"url": "https://hooks.example.com/handoff", "events": ["message.received"]});
    assert_eq!(register(agent_token.clone(), ok.clone()).await.0, 403, "an Agent may not");
    for (body, field) in [
        (json!({"url": "http://127.0.0.1:9/x", "events": ["message.received"]}), "url"),
        (json!({"url": "http://169.254.169.254/latest/meta-data", "events": ["message.received"]}), "url"),
        (json!({"url": "http://localhost:8080/", "events": ["message.received"]}), "url"),
        (json!({"url": "ftp://example.com/", "events": ["message.received"]}), "url"),
        (json!({"url": "not an address", "events": ["message.received"]}), "url"),
        (json!({"url": "https://hooks.example.com/", "events": []}), "events"),
    ] {
        let (status, error) = register(admin.clone(), body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    let (status, error) =
        register(admin.clone(), json!({"url": "https://hooks.example.com/", "events": ["message.exploded"]})).await;
    assert_eq!(status, 400, "an unknown event type: {error}");
    let (status, created) = register(admin.clone(), ok).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let paused: Webhook =
        world.call(Method::PATCH, &format!("/api/v1/webhooks/{id}"), Some(&json!({"status": "paused"}))).await;
    assert_eq!(paused.status, handoff_proto::WebhookStatus::Paused);
    let gone = world.raw(Method::DELETE, &format!("/api/v1/webhooks/{id}"), &admin, None::<&()>).await;
    assert_eq!(gone.status(), 204);
    let again = world.raw(Method::DELETE, &format!("/api/v1/webhooks/{id}"), &admin, None::<&()>).await;
    assert_eq!(again.status(), 404);
    let audit: Vec<String> =
        world.audit().await.into_iter().filter(|e| e.action.starts_with("webhook.")).map(|e| e.summary).collect();
    assert_eq!(audit.len(), 3, "registered, paused, deleted: {audit:?}");
    assert!(audit.iter().all(|s| s.contains("hooks.example.com") && !s.contains("/handoff")), "{audit:?}");
    world.stop().await;
}
