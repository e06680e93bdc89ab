//! Shared helpers: requests and responses as the wire would carry them, a provider that counts
//! how often it is asked, and a registrar with a virtual clock.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use sip_auth::{
    AuthHeader, AuthRole, ChallengeHeaders, CredentialProvider, DigestServer, DigestServerConfig,
    MemoryStore, StaticCredentials, UserCredentials,
};
use sip_message::Message;
use sip_testkit::Clock;

pub const REALM: &str = "example.com";
pub const KEY: &[u8] = b"32 bytes of secret nonce key....";

/// A request with the usual headers, a CSeq and a body.
pub fn request(method: &str, uri: &str, cseq: u32, body: &[u8]) -> Message {
    let mut text = format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK{cseq}x\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: call-1\r\nCSeq: {cseq} {method}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    text.extend_from_slice(body);
    Message::parse(Bytes::from(text)).unwrap()
}

/// `msg` with its credentials replaced by `headers`.
pub fn with_auth(mut msg: Message, headers: &[AuthHeader]) -> Message {
    AuthHeader::apply_all(headers, &mut msg).unwrap();
    msg
}

/// A 401/407 carrying `challenges` (several sets merge, as a forking proxy would).
pub fn challenge_response(challenges: &[&ChallengeHeaders]) -> Message {
    let status = challenges.first().map_or(401, |c| c.status());
    let mut msg = Message::parse(Bytes::from(format!(
        "SIP/2.0 {status} Auth\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )))
    .unwrap();
    for c in challenges {
        c.apply_to(&mut msg).unwrap();
    }
    msg
}

/// A 200 OK with an optional `Authentication-Info` and body.
pub fn ok_response(info: Option<&str>, body: &[u8]) -> Message {
    let mut text = String::from("SIP/2.0 200 OK\r\nCSeq: 2 REGISTER\r\n");
    if let Some(info) = info {
        text.push_str(&format!("Authentication-Info: {info}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    Message::parse(Bytes::from(bytes)).unwrap()
}

/// A provider that counts how often it is asked.
#[derive(Debug)]
pub struct Counting {
    pub inner: StaticCredentials,
    pub calls: usize,
}

impl Counting {
    pub fn new(username: &str, password: &str) -> Counting {
        Counting { inner: StaticCredentials::new().fallback(username, password), calls: 0 }
    }
}

impl CredentialProvider for Counting {
    fn credentials(&mut self, realm: &str, role: AuthRole) -> Option<UserCredentials> {
        self.calls += 1;
        self.inner.credentials(realm, role)
    }
}

/// A store with alice (password "secret") in example.com.
pub fn store() -> MemoryStore {
    let mut store = MemoryStore::new();
    store.add_password("alice", REALM, "secret");
    store
}

/// A server built at the clock's start.
pub fn server(config: DigestServerConfig, clock: &Clock) -> DigestServer {
    DigestServer::new(config.rng_seed(11), clock.now()).unwrap()
}

pub fn config() -> DigestServerConfig {
    DigestServerConfig::new(REALM, KEY)
}
