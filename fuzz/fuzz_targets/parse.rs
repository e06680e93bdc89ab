//! Datagram parse: never panics; whatever parses validates without panicking, every typed view
//! of every header can be requested, and the parse respects the input's bounds.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_message::{HeaderName, Message};

fuzz_target!(|data: &[u8]| {
    let len = data.len();
    let Ok(msg) = Message::parse(Bytes::copy_from_slice(data)) else { return };
    assert!(msg.body().len() <= len);
    let _ = msg.validate();
    let _ = msg.request_uri();
    for name in HeaderName::ALL {
        for v in msg.values(*name) {
            assert!(v.len() <= len);
        }
    }
    let _ = msg.typed::<sip_message::Via>();
    let _ = msg.typed::<sip_message::From>();
    let _ = msg.typed::<sip_message::To>();
    let _ = msg.typed_all::<sip_message::Contact>().count();
});
