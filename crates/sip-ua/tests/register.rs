//! The registration client (RFC 3261 §10.2) against a scripted registrar that challenges with
//! sip-auth's digest server (§22).

mod common;

use std::time::Instant;

use common::*;
use sip_auth::{DigestServer, DigestServerConfig, MemoryStore, Reply};
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_testkit::{Clock, ms, secs};
use sip_transaction::{Target, TransactionConfig};
use sip_ua::{Register, RegistrationState, StaticCredentials, UaConfig, UaOutput, UserAgent};

const ALICE: &str = "192.0.2.1:5060";
const REGISTRAR: &str = "192.0.2.5:5060";

fn drain(ua: &mut UserAgent) -> (Vec<Message>, Vec<String>) {
    let (mut msgs, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = ua.poll_output() {
        match o {
            UaOutput::Transmit(t) => msgs.push(Message::parse(t.payload).unwrap()),
            UaOutput::Event(e) => events.push(event_name(&e)),
        }
    }
    (msgs, events)
}

fn ua(password: &str) -> (UserAgent, Instant) {
    let mut ua = UserAgent::new(
        UaConfig::new("alice", ALICE).rng_seed(3),
        TransactionConfig::default().rng_seed(3),
    );
    ua.set_credentials(StaticCredentials::new().realm("atlanta.example.com", "alice", password));
    (ua, Clock::new().now())
}

/// A registrar that challenges once per request without credentials and grants 60 s.
struct Registrar {
    digest: DigestServer,
    store: MemoryStore,
    min_expires: u32,
}

impl Registrar {
    fn new(now: Instant) -> Self {
        let digest = DigestServer::new(
            DigestServerConfig::new(
                "atlanta.example.com",
                b"0123456789abcdef0123456789abcdef".to_vec(),
            ),
            now,
        )
        .unwrap();
        let mut store = MemoryStore::new();
        store.add_password("alice", "atlanta.example.com", "secret");
        Registrar { digest, store, min_expires: 0 }
    }

    fn answer(&mut self, now: Instant, request: &Message) -> Message {
        match self.digest.verify(now, request, &self.store).reply() {
            Reply::Proceed => {}
            Reply::Challenge { stale } => {
                let mut r =
                    MessageBuilder::response_to(request, 401, None).to_tag("reg").build().unwrap();
                self.digest.challenge(now, stale).apply_to(&mut r).unwrap();
                return r;
            }
            Reply::BadRequest => {
                return MessageBuilder::response_to(request, 400, None).build().unwrap();
            }
        }
        let asked: u32 = request.header_str(H::Expires).unwrap().trim().parse().unwrap();
        if asked != 0 && asked < self.min_expires {
            return MessageBuilder::response_to(request, 423, None)
                .to_tag("reg")
                .header(H::MinExpires, self.min_expires.to_string())
                .build()
                .unwrap();
        }
        let granted = asked.min(60);
        let contact = request.header_str(H::Contact).unwrap().to_string();
        let mut b = MessageBuilder::response_to(request, 200, None).to_tag("reg");
        if granted > 0 {
            b = b.header(H::Contact, format!("{contact};expires={granted}"));
        }
        b.build().unwrap()
    }
}

// §10.2 with §22: 401, the REGISTER again with credentials, 200 granting 60 s of the 3600
// asked; the refresh goes out at 54 s with the same Call-ID and the next CSeq, and carries
// credentials preemptively.
#[test]
fn register_answers_the_challenge_and_refreshes_at_the_granted_expiry() {
    let (mut ua, now) = ua("secret");
    let mut registrar = Registrar::new(now);
    let source = Target::udp(addr(REGISTRAR));
    let reg = ua
        .register(
            now,
            Register::new(format!("sip:{REGISTRAR}"), "sip:alice@atlanta.example.com", 3600),
        )
        .unwrap();
    let (sent, _) = drain(&mut ua);
    let f1 = &sent[0];
    assert_eq!(f1.method(), Some(&Method::Register));
    assert_eq!(f1.request_uri_str(), Some("sip:192.0.2.5:5060"));
    assert_eq!(f1.header_str(H::To), Some("<sip:alice@atlanta.example.com>"));
    assert_eq!(f1.header_str(H::Expires), Some("3600"));
    assert_eq!(f1.cseq_number(), Some(1));
    assert_eq!(ua.registration(reg), Some(RegistrationState::Registering));
    ua.handle(now + ms(10), registrar.answer(now + ms(10), f1), source);
    let (sent, events) = drain(&mut ua);
    assert!(events.is_empty());
    let f3 = &sent[0];
    assert!(f3.has(H::Authorization));
    assert_eq!(f3.cseq_number(), Some(2));
    assert_eq!(f3.call_id(), f1.call_id());
    ua.handle(now + ms(20), registrar.answer(now + ms(20), f3), source);
    let (_, events) = drain(&mut ua);
    assert_eq!(events.len(), 1);
    assert!(matches!(ua.registration(reg), Some(RegistrationState::Registered { .. })));
    // The refresh at 90% of the granted 60 s.
    let mut refresh = None;
    while let Some(at) = ua.poll_timeout() {
        ua.handle_timeout(at);
        let (sent, _) = drain(&mut ua);
        if let Some(m) = sent.into_iter().find(|m| m.method() == Some(&Method::Register)) {
            refresh = Some((at, m));
            break;
        }
    }
    let (at, f5) = refresh.unwrap();
    assert_eq!(at - (now + ms(20)), secs(54));
    assert_eq!(f5.call_id(), f1.call_id());
    assert_eq!(f5.cseq_number(), Some(3));
    assert!(f5.has(H::Authorization), "credentials sent preemptively");
    ua.handle(at + ms(10), registrar.answer(at + ms(10), &f5), source);
    let (_, events) = drain(&mut ua);
    assert_eq!(events.len(), 1, "{events:?}");
    // Unregister: Expires 0, then Unregistered.
    ua.unregister(at + secs(1), reg).unwrap();
    let (sent, _) = drain(&mut ua);
    let f7 = &sent[0];
    assert_eq!(f7.header_str(H::Expires), Some("0"));
    ua.handle(at + secs(1) + ms(10), registrar.answer(at + secs(1) + ms(10), f7), source);
    let (_, events) = drain(&mut ua);
    assert_eq!(
        events,
        ["Unregistered { registration: RegistrationId { index: 0, generation: 0 } }"]
    );
    assert_eq!(ua.registration(reg), None);
}

// §22.1: a wrong password is tried once, then the failure is reported, no loop.
#[test]
fn wrong_password_fails_after_one_retry() {
    let (mut ua, now) = ua("wrong");
    let mut registrar = Registrar::new(now);
    let source = Target::udp(addr(REGISTRAR));
    let reg = ua
        .register(
            now,
            Register::new(format!("sip:{REGISTRAR}"), "sip:alice@atlanta.example.com", 3600),
        )
        .unwrap();
    let mut registers = 0;
    let mut t = now;
    let mut events = Vec::new();
    for _ in 0..5 {
        let (sent, ev) = drain(&mut ua);
        events.extend(ev);
        let Some(m) = sent.into_iter().find(|m| m.method() == Some(&Method::Register)) else {
            break;
        };
        registers += 1;
        t += ms(10);
        ua.handle(t, registrar.answer(t, &m), source);
    }
    assert_eq!(registers, 2);
    assert_eq!(ua.registration(reg), Some(RegistrationState::Failed(401)));
    assert!(events.iter().any(|e| e.contains("RegistrationFailed")), "{events:?}");
}

// §10.2.8: 423 Interval Too Brief: registered again with Min-Expires.
#[test]
fn interval_too_brief_reregisters_with_min_expires() {
    let (mut ua, now) = ua("secret");
    let mut registrar = Registrar::new(now);
    registrar.min_expires = 30;
    let source = Target::udp(addr(REGISTRAR));
    let reg = ua
        .register(
            now,
            Register::new(format!("sip:{REGISTRAR}"), "sip:alice@atlanta.example.com", 10),
        )
        .unwrap();
    let mut t = now;
    let mut expires = Vec::new();
    for _ in 0..5 {
        let (sent, _) = drain(&mut ua);
        let Some(m) = sent.into_iter().find(|m| m.method() == Some(&Method::Register)) else {
            break;
        };
        expires.push(m.header_str(H::Expires).unwrap().to_string());
        t += ms(10);
        ua.handle(t, registrar.answer(t, &m), source);
    }
    assert_eq!(expires, ["10", "10", "30"]);
    assert!(matches!(ua.registration(reg), Some(RegistrationState::Registered { .. })));
}
