//! URI parse: never panics; a parsed URI equals itself and its accessors stay in bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = Uri::parse_bytes(data) else { return };
    assert_eq!(uri.as_str().len(), data.len());
    if let Some(sip) = uri.as_sip() {
        assert!(sip == sip);
        let _ = sip.user();
        let _ = sip.host();
        let _ = sip.port();
        let _ = sip.params().count();
        let _ = sip.headers().count();
    }
});
