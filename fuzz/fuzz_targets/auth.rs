//! The auth-param grammar (RFC 3261 §25.1 with RFC 7616): arbitrary text as `WWW-Authenticate`,
//! `Proxy-Authenticate`, `Authorization` and `Authentication-Info` values, through
//! sip-message's typed parsers, the digest server's verifier and the digest client. Asserts:
//! nothing panics, a verifier never authenticates credentials it did not see a valid digest
//! for (arbitrary text is never `Authenticated`), and whatever the client writes parses back.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip_auth::{
    AuthRole, ClientConfig, Decision, DigestClient, DigestRequest, DigestServer,
    DigestServerConfig, MemoryStore, Outcome, StaticCredentials,
};
use sip_message::{Authorization, TypedHeader, WwwAuthenticate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = WwwAuthenticate::parse(text);
    let _ = Authorization::parse(text);
    let _ = sip_message::AuthenticationInfo::parse(text);

    let start = Instant::now();
    let mut server =
        DigestServer::new(DigestServerConfig::new("example.com", b"0123456789abcdef0123456789abcdef".to_vec()), start)
            .unwrap();
    let mut store = MemoryStore::new();
    store.add_password("alice", "example.com", "secret");
    let request = DigestRequest::new("REGISTER", "sip:example.com", b"");
    let outcome = server.verify_parts(start + Duration::from_secs(1), &request, [text], &store);
    assert!(!matches!(outcome, Outcome::Authenticated(_)), "authenticated arbitrary text: {text:?}");

    let mut client = DigestClient::new(ClientConfig::default().rng_seed(1));
    let mut creds = StaticCredentials::new().fallback("alice", "secret");
    let decision = client.on_challenge_parts(&mut creds, &request, [], [(AuthRole::Uas, text), (AuthRole::Proxy, text)]);
    if let Decision::Retry(headers) = decision {
        for h in &headers {
            assert!(Authorization::parse(h.value()).is_ok(), "unparsable credentials: {:?}", h.value());
        }
    }
});
