//! Round trip: any message that parses serialises to bytes that parse to an equal message,
//! and serialising again gives the same bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_message::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(Bytes::copy_from_slice(data)) else { return };
    let bytes = msg.to_bytes();
    let again = Message::parse(bytes.clone()).expect("serialised message parses");
    assert_eq!(again, msg);
    assert_eq!(again.to_bytes(), bytes);
});
