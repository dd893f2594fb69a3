//! A client's WebSocket text frame: decoded without panicking, and a frame that decodes is read
//! back the same after the server's own encoding (nothing is lost or changed on the way).
#![no_main]

use handoff_proto::ClientFrame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(frame) = ClientFrame::decode(text) {
        let again = serde_json::to_string(&frame).expect("a decoded frame encodes");
        assert_eq!(ClientFrame::decode(&again).as_ref(), Ok(&frame));
    }
});
