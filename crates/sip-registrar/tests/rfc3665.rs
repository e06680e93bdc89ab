//! RFC 3665 §2, the five registration flows, message by message: the registrar's side of each.
//!
//! The 401 challenges (2.1 F1/F2, 2.5) come from the authentication layer above this crate;
//! here the authenticated REGISTER arrives with the user the layer verified. The requests carry
//! the `received` parameter the server transport adds to the top Via (RFC 3261 §18.2.1), which
//! is why the RFC's responses show it. Each response is compared header by header with the
//! RFC's (To tags as in the RFC, passed in the context); the RFC omits the Date header that
//! §10.3 step 8 says SHOULD be there, so it is checked on its own.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{events, status, values, wall};
use sip_message::{HeaderName, Message};
use sip_registrar::{
    Aor, Domains, LocationService, MemoryStore, RegisterContext, Registrar, RegistrarConfig,
    RegistrarEvent, SameUser, format_date,
};

/// The RFC text with LF line ends, as a message with CRLF.
fn msg(text: &str) -> Message {
    let text = text.trim_start_matches('\n').replace('\n', "\r\n");
    Message::parse(Bytes::from(text)).expect("RFC message parses")
}

/// Asserts that `actual` is the RFC's `expected` response: same status line, and for every
/// header but Content-Length and Date the same values in the same order. Date must be ours.
fn assert_flow_response(actual: &Message, expected: &Message) {
    assert_eq!(status(actual), status(expected), "status line of\n{actual}");
    let names = |m: &Message| -> Vec<HeaderName> {
        let mut names: Vec<HeaderName> = m.lines().map(|l| l.name).collect();
        names.sort_by_key(|n| n.as_str());
        names.dedup();
        names.retain(|n| !matches!(n, HeaderName::ContentLength | HeaderName::Date));
        names
    };
    assert_eq!(names(actual), names(expected), "header set of\n{actual}");
    for name in names(expected) {
        assert_eq!(values(actual, name), values(expected, name), "{name} of\n{actual}");
    }
    assert_eq!(actual.body(), expected.body());
    if actual.status() == Some(200) {
        assert_eq!(actual.header_str(HeaderName::Date), Some(format_date(wall()).as_str()));
    }
}

/// The server of the flows: ss2.biloxi.example.com, registrar for biloxi.example.com. The
/// maximum interval is lifted so that 2.2's 4294967295 can be granted.
fn server() -> Registrar<MemoryStore> {
    let config = RegistrarConfig::default()
        .domains(Domains::only(["biloxi.example.com", "ss2.biloxi.example.com"]))
        .max_expires(u32::MAX);
    Registrar::new(config, MemoryStore::new())
}

fn bob(tag: &str) -> RegisterContext {
    RegisterContext::new().authenticated_user("bob").source("tls:192.0.2.201:5061").to_tag(tag)
}

fn bob_aor() -> Aor {
    Aor::parse("sips:bob@biloxi.example.com").unwrap()
}

/// 2.1 F3 (after the F1/F2 challenge), with the Via `received` the transport adds.
const F3_2_1: &str = "
REGISTER sips:ss2.biloxi.example.com SIP/2.0
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92
 ;received=192.0.2.201
Max-Forwards: 70
From: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH
To: Bob <sips:bob@biloxi.example.com>
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 2 REGISTER
Contact: <sips:bob@client.biloxi.example.com>
Authorization: Digest username=\"bob\", realm=\"atlanta.example.com\"
 nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\",
 uri=\"sips:ss2.biloxi.example.com\",
 response=\"dfe56131d1958046689d83306477ecc\"
Content-Length: 0

";

const F4_2_1: &str = "
SIP/2.0 200 OK
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashd92
 ;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=ja743ks76zlflH
To: Bob <sips:bob@biloxi.example.com>;tag=37GkEhwl6
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 2 REGISTER
Contact: <sips:bob@client.biloxi.example.com>;expires=3600
Content-Length: 0

";

/// 2.2 F1, plus `Expires: 4294967295`: the RFC's F2 grants the mailto contact 4294967295 s,
/// which a registrar can only do if asked (this one's default is 3600, as F4 of 2.1 shows).
const F1_2_2: &str = "
REGISTER sips:ss2.biloxi.example.com SIP/2.0
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
Max-Forwards: 70
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Contact: mailto:bob@biloxi.example.com
Expires: 4294967295
Authorization: Digest username=\"bob\", realm=\"atlanta.example.com\",
 qop=\"auth\", nonce=\"1cec4341ae6cbe5a359ea9c8e88df84f\", opaque=\"\",
 uri=\"sips:ss2.biloxi.example.com\",
 response=\"71ba27c64bd01de719686aa4590d5824\"
Content-Length: 0

";

const F2_2_2: &str = "
SIP/2.0 200 OK
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>;tag=34095828jh
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Contact: <sips:bob@client.biloxi.example.com>;expires=3600
Contact: <mailto:bob@biloxi.example.com>;expires=4294967295
Content-Length: 0

";

const F1_2_3: &str = "
REGISTER sips:ss2.biloxi.example.com SIP/2.0
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
Max-Forwards: 70
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Authorization: Digest username=\"bob\", realm=\"atlanta.example.com\",
 nonce=\"df84f1cec4341ae6cbe5ap359a9c8e88\", opaque=\"\",
 uri=\"sips:ss2.biloxi.example.com\",
 response=\"aa7ab4678258377c6f7d4be6087e2f60\"
Content-Length: 0

";

const F2_2_3: &str = "
SIP/2.0 200 OK
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>;tag=jqoiweu75
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Contact: <sips:bob@client.biloxi.example.com>;expires=3600
Contact: <mailto:bob@biloxi.example.com>;expires=4294967295
Content-Length: 0

";

/// 2.4 F1 with the CSeq of the RFC, 1.
const F1_2_4: &str = "
REGISTER sips:ss2.biloxi.example.com SIP/2.0
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
Max-Forwards: 70
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Expires: 0
Contact: *
Authorization: Digest username=\"bob\", realm=\"atlanta.example.com\",
 nonce=\"88df84f1cac4341aea9c8ee6cbe5a359\", opaque=\"\",
 uri=\"sips:ss2.biloxi.example.com\",
 response=\"ff0437c51696f9a76244f0cf1dbabbea\"
Content-Length: 0

";

const F2_2_4: &str = "
SIP/2.0 200 OK
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>;tag=1418nmdsrf
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Content-Length: 0

";

/// Runs 2.1 F3/F4 on `r` at `now`.
fn flow_2_1(r: &mut Registrar<MemoryStore>, now: Instant) {
    let ok = r.handle_register(now, wall(), &msg(F3_2_1), &bob("37GkEhwl6")).unwrap();
    assert_flow_response(&ok, &msg(F4_2_1));
}

#[test]
fn flow_2_1_successful_new_registration() {
    let mut r = server();
    let t0 = Instant::now();
    flow_2_1(&mut r, t0);
    let evs = events(&mut r);
    assert_eq!(evs.len(), 1);
    let RegistrarEvent::BindingAdded { aor, binding } = &evs[0] else { panic!("{evs:?}") };
    assert_eq!(aor, &bob_aor());
    assert_eq!(binding.uri, "sips:bob@client.biloxi.example.com");
    assert_eq!(
        (binding.call_id.as_str(), binding.cseq),
        ("1j9FpLxk3uxtm8tn@biloxi.example.com", 2)
    );
    assert_eq!(binding.source.as_deref(), Some("tls:192.0.2.201:5061"));
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(3600)));
}

#[test]
fn flow_2_2_update_of_contact_list() {
    let mut r = server();
    let t0 = Instant::now();
    flow_2_1(&mut r, t0);
    // CSeq 1 is below the binding's 2 with the same Call-ID, but 2.2 adds a different contact,
    // so the ordering check (which is per binding) does not apply.
    let t1 = t0 + Duration::from_millis(300);
    let ok = r.handle_register(t1, wall(), &msg(F1_2_2), &bob("34095828jh")).unwrap();
    assert_flow_response(&ok, &msg(F2_2_2));
    let locations = r.lookup(&bob_aor(), t1).unwrap();
    let uris: Vec<_> = locations.iter().map(|l| l.uri.as_str()).collect();
    assert_eq!(uris, ["sips:bob@client.biloxi.example.com", "mailto:bob@biloxi.example.com"]);
}

#[test]
fn flow_2_3_request_for_current_contact_list() {
    let mut r = server();
    let t0 = Instant::now();
    flow_2_1(&mut r, t0);
    r.handle_register(t0, wall(), &msg(F1_2_2), &bob("34095828jh")).unwrap();
    let _ = events(&mut r);
    let ok = r
        .handle_register(t0 + Duration::from_millis(600), wall(), &msg(F1_2_3), &bob("jqoiweu75"))
        .unwrap();
    assert_flow_response(&ok, &msg(F2_2_3));
    assert_eq!(events(&mut r), [], "a query changes nothing");
}

#[test]
fn flow_2_4_cancellation_of_registration() {
    let mut r = server();
    let t0 = Instant::now();
    flow_2_1(&mut r, t0);
    r.handle_register(t0, wall(), &msg(F1_2_2), &bob("34095828jh")).unwrap();
    let _ = events(&mut r);

    // As printed, F1 reuses CSeq 1 with the Call-ID whose CSeq 2 made the sips binding: RFC 3261
    // §10.3 step 6 then requires the request to fail, and nothing to change.
    let refused = r.handle_register(t0, wall(), &msg(F1_2_4), &bob("1418nmdsrf")).unwrap();
    assert_eq!(refused.status(), Some(500));
    assert_eq!(r.lookup(&bob_aor(), t0).unwrap().len(), 2);
    assert_eq!(events(&mut r), []);

    // With the CSeq a UA must use (§10.2: incremented by one per REGISTER), the flow's F2.
    let f1 = F1_2_4.replace("CSeq: 1 REGISTER", "CSeq: 3 REGISTER");
    let ok = r.handle_register(t0, wall(), &msg(&f1), &bob("1418nmdsrf")).unwrap();
    let f2 = F2_2_4.replace("CSeq: 1 REGISTER", "CSeq: 3 REGISTER");
    assert_flow_response(&ok, &msg(&f2));
    assert_eq!(r.lookup(&bob_aor(), t0).unwrap(), []);
    let removed: Vec<_> = events(&mut r)
        .into_iter()
        .map(|e| match e {
            RegistrarEvent::BindingRemoved { binding, .. } => binding.uri,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(removed, ["sips:bob@client.biloxi.example.com", "mailto:bob@biloxi.example.com"]);
    assert_eq!(r.poll_timeout(), None);
}

/// 2.5 F1, which carries no credentials.
const F1_2_5: &str = "
REGISTER sips:ss2.biloxi.example.com SIP/2.0
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Contact: <sips:bob@client.biloxi.example.com>
Content-Length: 0

";

/// 2.5 F2 with the registrar's status: the headers it shares with the RFC's 401.
const F2_2_5_AS_403: &str = "
SIP/2.0 403 Forbidden (not authorized for this address-of-record)
Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7
 ;received=192.0.2.201
From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl
To: Bob <sips:bob@biloxi.example.com>;tag=1410948204
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com
CSeq: 1 REGISTER
Content-Length: 0

";

#[test]
fn flow_2_5_unsuccessful_registration() {
    // The 401s are the authentication layer's. What reaches the registrar when credentials do
    // not verify is a request with no authenticated user; with an authorizer that requires one
    // (§10.3 step 4), the registration fails and nothing is bound.
    let mut r = server().with_authorizer(SameUser);
    let t0 = Instant::now();
    let ctx = RegisterContext::new().to_tag("1410948204");
    let refused = r.handle_register(t0, wall(), &msg(F1_2_5), &ctx).unwrap();
    assert_flow_response(&refused, &msg(F2_2_5_AS_403));
    assert_eq!(r.lookup(&bob_aor(), t0).unwrap(), []);
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(events(&mut r), []);
    assert!(!LocationService::is_known(&r, &bob_aor()).unwrap());

    // Another user's credentials do not help either; Bob's own do.
    let mallory = ctx.clone().authenticated_user("mallory");
    assert_eq!(r.handle_register(t0, wall(), &msg(F1_2_5), &mallory).unwrap().status(), Some(403));
    let ok = r.handle_register(t0, wall(), &msg(F1_2_5), &bob("37GkEhwl6")).unwrap();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(r.lookup(&bob_aor(), t0).unwrap().len(), 1);
}
