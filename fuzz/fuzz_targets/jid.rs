//! A WhatsApp address or phone number as typed or as a device names it: parsed without
//! panicking, canonical (parsing a parsed address gives it back) and with a phone form.
#![no_main]

use handoff_channels::Jid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Some(jid) = Jid::parse(input) {
        assert_eq!(Jid::parse(jid.as_str()).as_ref(), Some(&jid), "{input:?}");
        let _ = jid.phone();
    }
});
