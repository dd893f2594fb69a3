//! Recorded WAHA webhooks, one of each kind Handoff uses (shaped as WAHA documents them, in
//! `fixtures/waha/`), mapped to device events; and the bodies that must be refused.

use chrono::{TimeZone, Utc};
use handoff_channels::waha::{parse_webhook, webhook_stamp, Malformed, Stamp, Webhook};
use handoff_channels::{Attachment, DeviceEvent, Jid, LinkState};
use handoff_proto::{Delivery, MediaKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/waha/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn events(name: &str) -> Vec<DeviceEvent> {
    match parse_webhook(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}")) {
        Webhook::Events { session, events } => {
            assert_eq!(session, "support", "{name}");
            events
        }
        other => panic!("{name}: {other:?}"),
    }
}

fn customer() -> Jid {
    Jid::parse("4915112345678@s.whatsapp.net").unwrap()
}

#[test]
fn a_customer_message_becomes_an_inbound_message_with_the_phone_jid() {
    assert_eq!(
        events("message-text"),
        [DeviceEvent::Message {
            wa_message_id: "false_4915112345678@c.us_3EB0A1B2C3D4E5F60718".into(),
            chat: customer(),
            push_name: Some("Lena Hoffmann".into()),
            body: "Hello, my order has not arrived".into(),
            at: Utc.timestamp_opt(1764400000, 0).unwrap(),
            from_me: false,
            media: None,
            alt: None,
            participant: None,
        }]
    );
}

#[test]
fn media_arrives_as_a_typed_placeholder_with_its_caption() {
    let [DeviceEvent::Message { body, media: Some(Attachment { media, locator }), .. }] =
        &events("message-document")[..]
    else {
        panic!("one message with media")
    };
    assert_eq!(body, "The invoice");
    assert_eq!(media.kind, MediaKind::Document);
    assert_eq!((media.filename.as_deref(), media.mime.as_deref()), (Some("invoice-2231.pdf"), Some("application/pdf")));
    assert!(locator.as_deref().is_some_and(|u| u.ends_with(".pdf")), "where the gateway keeps the file");
    assert!(media.downloadable);
}

#[test]
fn a_group_message_belongs_to_the_group_chat_and_names_its_writer() {
    let [DeviceEvent::Message { chat, push_name, participant: Some(member), .. }] = &events("message-group")[..] else {
        panic!("one message with its writer")
    };
    assert_eq!(chat.as_str(), "120363025555555555@g.us");
    assert_eq!(member.jid, customer());
    assert_eq!(*push_name, None, "a member's name does not rename the group");
}

#[test]
fn status_updates_are_not_customer_chats() {
    assert_eq!(events("message-status-broadcast"), []);
}

#[test]
fn a_message_typed_on_the_phone_is_outbound_in_the_customers_chat() {
    let [DeviceEvent::Message { chat, from_me, body, .. }] = &events("message-any-from-phone")[..] else {
        panic!("one message")
    };
    assert_eq!((chat, *from_me), (&customer(), true));
    assert_eq!(body, "Typed on the phone: we are on it");
    assert_eq!(events("message-any-empty"), [], "an empty message.any stores nothing");
}

#[test]
fn acks_become_receipts_and_an_error_ack_a_failure() {
    assert_eq!(
        events("message-ack-read"),
        [DeviceEvent::Receipt {
            wa_message_id: "true_4915112345678@c.us_3EB0C0FFEE0000000001".into(),
            state: Delivery::Read
        }]
    );
    assert_eq!(
        events("message-ack-error"),
        [DeviceEvent::Receipt {
            wa_message_id: "true_4915112345678@c.us_3EB0C0FFEE0000000002".into(),
            state: Delivery::Failed
        }]
    );
}

#[test]
fn session_statuses_become_link_states() {
    assert_eq!(
        events("session-status-working"),
        [DeviceEvent::Connection { state: LinkState::Connected, phone: Some("+4930123456".into()) }]
    );
    assert_eq!(
        events("session-status-scan-qr"),
        [DeviceEvent::Connection { state: LinkState::PendingLink, phone: None }]
    );
    assert_eq!(
        events("session-status-failed"),
        [DeviceEvent::Connection { state: LinkState::Disconnected, phone: None }]
    );
}

#[test]
fn presence_updates_become_typing_on_and_off() {
    assert_eq!(events("presence-typing"), [DeviceEvent::Typing { chat: customer(), composing: true }]);
    assert_eq!(events("presence-paused"), [DeviceEvent::Typing { chat: customer(), composing: false }]);
}

#[test]
fn event_kinds_handoff_does_not_use_are_ignored() {
    assert_eq!(
        parse_webhook(&fixture("message-reaction")),
        Ok(Webhook::Ignored { session: "support".into(), event: "message.reaction".into() })
    );
}

#[test]
fn bodies_that_are_not_webhooks_are_malformed() {
    let malformed = |body: &str| matches!(parse_webhook(body.as_bytes()), Err(Malformed(_)));
    assert!(malformed("not json"));
    assert!(malformed(r#"{"session": "support", "payload": {}}"#), "no event");
    assert!(malformed(r#"{"event": "message", "session": "support", "payload": {"from": "1@c.us"}}"#), "no id");
    assert!(malformed(
        r#"{"event": "message", "session": "support",
            "payload": {"id": "x", "timestamp": 1, "from": "not a chat", "body": "hi"}}"#
    ));
    assert!(malformed(r#"{"event": "message.ack", "session": "support", "payload": {"id": "x"}}"#), "no ack");
    assert!(malformed(r#"{"event": "session.status", "session": "support", "payload": {"status": "DANCING"}}"#));
    assert!(malformed(r#"{"event": "presence.update", "session": "support", "payload": {"id": "1@c.us"}}"#));
}

#[test]
fn every_webhook_is_stamped_with_its_event_id_and_time() {
    let stamp = webhook_stamp(&fixture("message-text")).expect("a recorded webhook has both");
    let sent_at = chrono::DateTime::from_timestamp_millis(1_764_400_000_123).unwrap();
    assert_eq!(stamp, Stamp { id: "evt_01jh0000000000000000000001".into(), sent_at });
    let refused = |body: &str| matches!(webhook_stamp(body.as_bytes()), Err(Malformed(_)));
    assert!(refused(r#"{"timestamp": 1764400000123, "event": "message"}"#), "no id");
    assert!(refused(r#"{"id": "", "timestamp": 1764400000123}"#), "an empty id");
    assert!(refused(&format!(r#"{{"id": "{}", "timestamp": 1764400000123}}"#, "e".repeat(129))), "an id too long");
    assert!(refused(r#"{"id": "evt_1", "event": "message"}"#), "no timestamp");
    assert!(refused(r#"{"id": "evt_1", "timestamp": "yesterday"}"#), "a timestamp that is not a number");
    assert!(refused("not json"));
}
