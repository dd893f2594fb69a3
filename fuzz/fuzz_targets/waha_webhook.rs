//! A gateway's webhook body, after its signature checked out: the envelope's stamp and the event
//! are read without panicking, and every chat an event names is a canonical WhatsApp address.
#![no_main]

use handoff_channels::waha::{parse_webhook, webhook_stamp, Webhook};
use handoff_channels::{DeviceEvent, Jid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = webhook_stamp(body);
    if let Ok(Webhook::Events { events, .. }) = parse_webhook(body) {
        for event in events {
            let chat = match &event {
                DeviceEvent::Message { chat, .. } | DeviceEvent::Typing { chat, .. } => chat,
                _ => continue,
            };
            assert_eq!(Jid::parse(chat.as_str()).as_ref(), Some(chat), "{event:?}");
        }
    }
});
