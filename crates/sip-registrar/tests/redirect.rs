//! The redirect server (RFC 3261 §8.3) over a registrar's bindings.

mod common;

use std::time::Instant;

use common::{Req, registrar, secs, status, values, wall};
use sip_message::{HeaderName, Message};
use sip_registrar::{
    Aor, Domains, Location, LocationService, MemoryStore, RedirectConfig, RedirectServer,
    RegisterContext, Registrar, StoreError,
};

fn invite(ruri: &str) -> Message {
    Req::new().method("INVITE").ruri(ruri).to(&format!("<{ruri}>")).build()
}

fn redirect() -> RedirectServer {
    RedirectServer::new(RedirectConfig::default().domains(Domains::only(["biloxi.example.com"])))
}

fn register(r: &mut Registrar<MemoryStore>, now: Instant, req: Req) {
    let resp = r.handle_register(now, wall(), &req.build(), &RegisterContext::new()).unwrap();
    assert_eq!(resp.status(), Some(200), "{resp}");
}

#[test]
fn a_registered_user_is_redirected_to_its_contacts_by_q() {
    let mut r = registrar();
    let t0 = Instant::now();
    register(
        &mut r,
        t0,
        Req::new()
            .contact("\"Bob\" <sip:bob@192.0.2.4>;q=0.1;+sip.instance=\"<urn:uuid:1>\";expires=600")
            .contact("<sip:bob@192.0.2.5;transport=tcp>;q=0.9")
            .contact("<tel:+15551234>"),
    );
    let mut server = redirect();
    let t1 = t0 + secs(100);
    let resp =
        server.handle_request(t1, &invite("sip:bob@biloxi.example.com"), &r).unwrap().unwrap();
    assert_eq!(status(&resp), (302, "Moved Temporarily".to_owned()));
    assert_eq!(
        values(&resp, HeaderName::Contact),
        [
            "<tel:+15551234>;expires=3500",
            "<sip:bob@192.0.2.5;transport=tcp>;q=0.9;expires=3500",
            "<sip:bob@192.0.2.4>;q=0.1;expires=500",
        ]
    );
    assert!(resp.to_tag().is_some());
    assert_eq!(resp.call_id(), Some("843817637684230@998sdasdh09"));
    assert_eq!(server.stats().redirected, 1);
    // The Request-URI is canonicalised like an AOR.
    let resp = server
        .handle_request(t1, &invite("sip:%62ob@BILOXI.example.com;user=phone"), &r)
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), Some(302));
}

#[test]
fn unknown_users_get_404_and_known_users_without_bindings_480() {
    let mut r = registrar();
    let t0 = Instant::now();
    register(&mut r, t0, Req::new().contact("<sip:bob@192.0.2.4>;expires=60"));
    r.store_mut().add_user(Aor::parse("sip:carol@biloxi.example.com").unwrap());
    let mut server = redirect();
    let cases = [
        ("sip:alice@biloxi.example.com", t0, 404, "Not Found"),
        ("sip:carol@biloxi.example.com", t0, 480, "Temporarily Unavailable"),
        ("sip:bob@atlanta.example.com", t0, 404, "Not Found (domain not served here)"),
        ("tel:+15551234", t0, 416, "Unsupported URI Scheme"),
        // Bob's binding expired (nothing removed it yet): he is known, and unavailable.
        ("sip:bob@biloxi.example.com", t0 + secs(60), 480, "Temporarily Unavailable"),
    ];
    for (ruri, now, code, reason) in cases {
        let resp = server.handle_request(now, &invite(ruri), &r).unwrap().unwrap();
        assert_eq!(status(&resp), (code, reason.to_owned()), "{ruri}");
        assert!(resp.to_tag().is_some());
        assert_eq!(values(&resp, HeaderName::Contact), Vec::<String>::new());
    }
    let stats = server.stats();
    assert_eq!((stats.requests, stats.not_found, stats.unavailable, stats.failed), (5, 2, 2, 1));
}

#[test]
fn never_redirects_to_the_request_uri_itself() {
    // §8.3: "redirect servers MUST NOT redirect a request to a URI equal to the one in the
    // Request-URI"; this one rejects with 404 when nothing else is left.
    let mut r = registrar();
    let t0 = Instant::now();
    register(&mut r, t0, Req::new().contact("<sip:bob@BILOXI.example.com>"));
    let mut server = redirect();
    let resp =
        server.handle_request(t0, &invite("sip:bob@biloxi.example.com"), &r).unwrap().unwrap();
    assert_eq!(resp.status(), Some(404));
    register(&mut r, t0, Req::new().cseq(2).contact("<sip:bob@192.0.2.4>"));
    let resp =
        server.handle_request(t0, &invite("sip:bob@biloxi.example.com"), &r).unwrap().unwrap();
    assert_eq!(values(&resp, HeaderName::Contact), ["<sip:bob@192.0.2.4>;expires=3600"]);
}

#[test]
fn ack_and_cancel_get_no_response_and_unknown_features_are_ignored() {
    let r = registrar();
    let t0 = Instant::now();
    let mut server = redirect();
    for m in ["ACK", "CANCEL"] {
        let req = Req::new().method(m).ruri("sip:bob@biloxi.example.com").build();
        assert_eq!(server.handle_request(t0, &req, &r).unwrap(), None);
    }
    // §8.3: unknown option tags in Require and unknown methods do not stop the redirection.
    let req = Req::new()
        .method("FOO")
        .ruri("sip:bob@biloxi.example.com")
        .header("Require: weird")
        .build();
    let resp = server.handle_request(t0, &req, &r).unwrap().unwrap();
    assert_eq!(resp.status(), Some(404));
    assert_eq!(server.stats().requests, 1);
    // A To tag in the request is kept.
    let req = Req::new()
        .method("INVITE")
        .ruri("sip:bob@biloxi.example.com")
        .to("<sip:bob@biloxi.example.com>;tag=xyz")
        .build();
    let resp = server.handle_request(t0, &req, &r).unwrap().unwrap();
    assert_eq!(resp.to_tag(), Some("xyz"));
}

/// A location service that cannot answer.
struct Down;

impl LocationService for Down {
    fn lookup(&self, _: &Aor, _: Instant) -> Result<Vec<Location>, StoreError> {
        Err(StoreError::new("down"))
    }
    fn is_known(&self, _: &Aor) -> Result<bool, StoreError> {
        Err(StoreError::new("down"))
    }
}

#[test]
fn a_failing_location_service_gives_500() {
    let mut server = redirect();
    let resp = server
        .handle_request(Instant::now(), &invite("sip:bob@biloxi.example.com"), &Down)
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), Some(500));
}

#[test]
fn works_over_a_bare_store_too() {
    let mut r = registrar();
    let t0 = Instant::now();
    register(&mut r, t0, Req::new().contact("<sip:bob@192.0.2.4>"));
    let store: &MemoryStore = r.store();
    let resp = redirect()
        .handle_request(t0, &invite("sip:bob@biloxi.example.com"), store)
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), Some(302));
}
