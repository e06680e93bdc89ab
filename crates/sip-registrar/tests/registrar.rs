//! Registrar behaviour through the public API (RFC 3261 §10.3).

mod common;

use std::time::{Duration, Instant};

use common::{Req, contacts, events, registrar, registrar_with, secs, status, values, wall};
use sip_message::{HeaderName, Message};
use sip_registrar::{
    Aor, Binding, BindingStore, LocationService, MemoryStore, RegisterContext, RegisterError,
    Registrar, RegistrarConfig, RegistrarEvent, Snapshot, StoreError,
};

fn bob() -> Aor {
    Aor::parse("sip:bob@biloxi.example.com").unwrap()
}

fn ctx() -> RegisterContext {
    RegisterContext::new()
}

fn send(r: &mut Registrar<MemoryStore>, now: Instant, req: &Req) -> Message {
    r.handle_register(now, wall(), &req.build(), &ctx()).unwrap()
}

fn uris(r: &Registrar<MemoryStore>, now: Instant) -> Vec<String> {
    r.lookup(&bob(), now).unwrap().into_iter().map(|l| l.uri).collect()
}

// ----- §10.3 steps 6–7: ordering -----------------------------------------------------------------

#[test]
fn same_call_id_with_lower_or_equal_cseq_fails_and_changes_nothing() {
    // RFC 3261 §10.3 step 7: "If not [higher], the update MUST be aborted and the request
    // fails", and all or nothing: the other contact of the request is not added either.
    let mut r = registrar();
    let t0 = Instant::now();
    let ok = send(&mut r, t0, &Req::new().cseq(5).contact("<sip:bob@192.0.2.4>"));
    assert_eq!(ok.status(), Some(200));
    let _ = events(&mut r);
    for cseq in [5, 4, 1] {
        let stale = Req::new()
            .cseq(cseq)
            .contact("<sip:bob@192.0.2.4>;expires=0")
            .contact("<sip:bob@192.0.2.5>");
        let refused = send(&mut r, t0, &stale);
        let (code, reason) = status(&refused);
        assert_eq!(code, 500, "CSeq {cseq}");
        assert!(reason.contains("out-of-order"), "{reason}");
        assert!(refused.to_tag().is_some());
        assert_eq!(contacts(&refused), []);
        assert_eq!(uris(&r, t0), ["sip:bob@192.0.2.4"]);
        let stored = r.bindings(&bob(), t0).unwrap();
        assert_eq!(stored[0].cseq, 5);
    }
    assert_eq!(events(&mut r), []);
    assert_eq!(r.stats().out_of_order, 3);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(3600)));
    // The next CSeq goes through.
    let ok = send(&mut r, t0, &Req::new().cseq(6).contact("<sip:bob@192.0.2.4>;expires=0"));
    assert_eq!(ok.status(), Some(200));
    assert_eq!(uris(&r, t0), Vec::<String>::new());
}

#[test]
fn a_different_call_id_replaces_the_binding_whatever_its_cseq() {
    // §10.3 step 7: a binding from another Call-ID (a rebooted UA) is updated.
    let mut r = registrar();
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().call_id("boot1").cseq(100).contact("<sip:bob@192.0.2.4>"));
    let ok = send(
        &mut r,
        t0 + secs(10),
        &Req::new().call_id("boot2").cseq(1).contact("<sip:bob@192.0.2.4>;expires=120"),
    );
    assert_eq!(contacts(&ok), [("sip:bob@192.0.2.4".to_owned(), Some(120))]);
    let b = &r.bindings(&bob(), t0).unwrap()[0];
    assert_eq!((b.call_id.as_str(), b.cseq), ("boot2", 1));
    let evs = events(&mut r);
    assert!(matches!(
        evs.as_slice(),
        [RegistrarEvent::BindingAdded { .. }, RegistrarEvent::BindingRefreshed { .. }]
    ));
}

#[test]
fn contacts_match_by_uri_equality_not_text() {
    // §10.3 step 7 "using the URI comparison rules" (§19.1.4).
    let mut r = registrar();
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().cseq(1).contact("<sip:%62ob@192.0.2.4;transport=UDP>"));
    let ok = send(
        &mut r,
        t0,
        &Req::new().cseq(2).contact("<sip:bob@192.0.2.4;transport=udp>;expires=90"),
    );
    assert_eq!(contacts(&ok), [("sip:bob@192.0.2.4;transport=udp".to_owned(), Some(90))]);
    // Port 5060 written out is a different URI.
    let ok =
        send(&mut r, t0, &Req::new().cseq(3).contact("<sip:bob@192.0.2.4:5060;transport=udp>"));
    assert_eq!(contacts(&ok).len(), 2);
}

#[test]
fn a_contact_listed_twice_in_one_request_takes_the_last_values() {
    let mut r = registrar();
    let t0 = Instant::now();
    let ok = send(
        &mut r,
        t0,
        &Req::new()
            .contact("<sip:bob@192.0.2.4>;expires=100")
            .contact("<sip:bob@192.0.2.4>;expires=200"),
    );
    assert_eq!(contacts(&ok), [("sip:bob@192.0.2.4".to_owned(), Some(200))]);
    let evs = events(&mut r);
    assert_eq!(evs.len(), 1, "{evs:?}");
}

// ----- step 6: Contact: * ------------------------------------------------------------------------

#[test]
fn star_requires_expires_zero_and_to_be_alone() {
    let mut r = registrar();
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().cseq(1).contact("<sip:bob@192.0.2.4>"));
    let cases = [
        (Req::new().cseq(2).contact("*"), "Contact: * requires Expires: 0"),
        (Req::new().cseq(2).contact("*").header("Expires: 5"), "Contact: * requires Expires: 0"),
        (Req::new().cseq(2).contact("*").header("Expires: zero"), "Contact: * requires Expires: 0"),
        (
            Req::new().cseq(2).contact("*, <sip:bob@192.0.2.5>").header("Expires: 0"),
            "Contact: * must be the only Contact",
        ),
        (
            Req::new().cseq(2).contact("*").contact("*").header("Expires: 0"),
            "Contact: * must be the only Contact",
        ),
    ];
    for (req, why) in cases {
        let bad = send(&mut r, t0, &req);
        assert_eq!(status(&bad), (400, format!("Bad Request ({why})")), "{}", req.text());
        assert_eq!(uris(&r, t0), ["sip:bob@192.0.2.4"]);
    }
    let ok = send(&mut r, t0, &Req::new().cseq(2).contact("*").header("Expires: 0"));
    assert_eq!(ok.status(), Some(200));
    assert_eq!(contacts(&ok), []);
    assert_eq!(uris(&r, t0), Vec::<String>::new());
}

#[test]
fn star_removes_bindings_of_every_client_but_respects_ordering() {
    let mut r = registrar();
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().call_id("a").cseq(10).contact("<sip:bob@192.0.2.4>"));
    send(&mut r, t0, &Req::new().call_id("b").cseq(3).contact("<sip:bob@192.0.2.5>"));
    let _ = events(&mut r);
    // Call-ID b with CSeq 3 is not above b's stored 3: all of it fails.
    let refused =
        send(&mut r, t0, &Req::new().call_id("b").cseq(3).contact("*").header("Expires: 0"));
    assert_eq!(refused.status(), Some(500));
    assert_eq!(uris(&r, t0).len(), 2);
    // A third client may remove everything.
    let ok = send(&mut r, t0, &Req::new().call_id("c").cseq(1).contact("*").header("Expires: 0"));
    assert_eq!(ok.status(), Some(200));
    assert_eq!(events(&mut r).len(), 2);
    assert!(uris(&r, t0).is_empty());
}

// ----- step 7: intervals -------------------------------------------------------------------------

#[test]
fn too_brief_intervals_get_423_with_min_expires() {
    // §10.3 step 7, §21.4.17, §20.23.
    let mut r = registrar(); // minimum 60 s
    let t0 = Instant::now();
    for req in [
        Req::new().contact("<sip:bob@192.0.2.4>;expires=59"),
        Req::new().contact("<sip:bob@192.0.2.4>").header("Expires: 1"),
        Req::new().contact("<sip:bob@192.0.2.5>").contact("<sip:bob@192.0.2.4>;expires=30"),
    ] {
        let brief = send(&mut r, t0, &req);
        assert_eq!(status(&brief), (423, "Interval Too Brief".to_owned()));
        assert_eq!(values(&brief, HeaderName::MinExpires), ["60"]);
        assert!(brief.to_tag().is_some());
        assert!(uris(&r, t0).is_empty(), "all or nothing");
    }
    // The contact's own expires wins over the Expires header.
    let ok = send(
        &mut r,
        t0,
        &Req::new().contact("<sip:bob@192.0.2.4>;expires=60").header("Expires: 1"),
    );
    assert_eq!(contacts(&ok), [("sip:bob@192.0.2.4".to_owned(), Some(60))]);
}

#[test]
fn no_423_for_an_hour_or_more_even_below_a_larger_minimum() {
    // §10.3 step 7: 423 "If and only if the requested expiration interval is greater than zero
    // AND smaller than one hour AND less than a registrar-configured minimum".
    let mut r = registrar_with(RegistrarConfig::default().min_expires(7200).max_expires(10_000));
    let t0 = Instant::now();
    let ok = send(&mut r, t0, &Req::new().contact("<sip:bob@192.0.2.4>;expires=3600"));
    assert_eq!(contacts(&ok), [("sip:bob@192.0.2.4".to_owned(), Some(3600))]);
    let brief = send(&mut r, t0, &Req::new().cseq(2).contact("<sip:bob@192.0.2.4>;expires=3599"));
    assert_eq!(values(&brief, HeaderName::MinExpires), ["7200"]);
    // Asking for nothing gets the default, raised to the minimum.
    let ok = send(&mut r, t0, &Req::new().cseq(3).contact("<sip:bob@192.0.2.4>"));
    assert_eq!(contacts(&ok), [("sip:bob@192.0.2.4".to_owned(), Some(7200))]);
}

#[test]
fn intervals_default_cap_and_tolerate_malformed_values() {
    // §10.3 step 7; §10.2.1: malformed → 3600, beyond 2^32-1 → 2^32-1 (then capped).
    let mut r = registrar_with(RegistrarConfig::default().default_expires(1800).max_expires(7200));
    let t0 = Instant::now();
    let ok = send(
        &mut r,
        t0,
        &Req::new()
            .contact("<sip:bob@h1>")
            .contact("<sip:bob@h2>;expires=99999999999999")
            .contact("<sip:bob@h3>;expires=soon")
            .contact("<sip:bob@h4>;expires=5000"),
    );
    assert_eq!(
        contacts(&ok),
        [
            ("sip:bob@h1".to_owned(), Some(1800)),
            ("sip:bob@h2".to_owned(), Some(7200)),
            ("sip:bob@h3".to_owned(), Some(3600)),
            ("sip:bob@h4".to_owned(), Some(5000)),
        ]
    );
    // A malformed Expires header (RFC 2543's date form) counts as 3600 too.
    let ok = send(
        &mut r,
        t0,
        &Req::new()
            .cseq(2)
            .contact("<sip:bob@h5>")
            .header("Expires: Thu, 01 Dec 1994 16:00:00 GMT"),
    );
    assert_eq!(contacts(&ok)[4], ("sip:bob@h5".to_owned(), Some(3600)));
}

// ----- expiry on the clock -----------------------------------------------------------------------

#[test]
fn bindings_expire_exactly_at_their_interval() {
    let mut r = registrar();
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().contact("<sip:bob@192.0.2.4>;expires=60"));
    let _ = events(&mut r);
    let expiry = t0 + secs(60);
    assert_eq!(r.poll_timeout(), Some(expiry));
    let just_before = expiry - Duration::from_nanos(1);
    assert_eq!(uris(&r, just_before), ["sip:bob@192.0.2.4"]);
    assert_eq!(r.lookup(&bob(), just_before).unwrap()[0].remaining_secs(just_before), 1);
    // Gone at expiry, before any timer has run.
    assert!(uris(&r, expiry).is_empty());
    let query = send(&mut r, expiry, &Req::new().cseq(2));
    assert_eq!(contacts(&query), []);
    // handle_register fired the due timer first.
    let evs = events(&mut r);
    assert!(
        matches!(evs.as_slice(), [RegistrarEvent::BindingExpired { binding, .. }] if binding.uri == "sip:bob@192.0.2.4")
    );
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.stats().expired, 1);
}

#[test]
fn handle_timeout_fires_only_what_is_due() {
    let mut r = registrar();
    let t0 = Instant::now();
    send(
        &mut r,
        t0,
        &Req::new().contact("<sip:bob@h1>;expires=60").contact("<sip:bob@h2>;expires=120"),
    );
    let _ = events(&mut r);
    r.handle_timeout(t0 + secs(59));
    assert_eq!(events(&mut r), []);
    r.handle_timeout(t0 + secs(60));
    let evs = events(&mut r);
    assert!(
        matches!(evs.as_slice(), [RegistrarEvent::BindingExpired { aor, binding }] if *aor == bob() && binding.uri == "sip:bob@h1")
    );
    assert_eq!(r.poll_timeout(), Some(t0 + secs(120)));
    // An earlier now is treated as the last one: nothing comes back.
    r.handle_timeout(t0);
    assert_eq!(uris(&r, t0 + secs(60)), ["sip:bob@h2"]);
    r.handle_timeout(t0 + secs(500));
    assert_eq!(events(&mut r).len(), 1);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn a_refresh_extends_the_expiry() {
    let mut r = registrar();
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().cseq(1).contact("<sip:bob@192.0.2.4>;expires=60"));
    let t30 = t0 + secs(30);
    let ok = send(&mut r, t30, &Req::new().cseq(2).contact("<sip:bob@192.0.2.4>;expires=60"));
    assert_eq!(contacts(&ok), [("sip:bob@192.0.2.4".to_owned(), Some(60))]);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(90)));
    r.handle_timeout(t0 + secs(60));
    assert_eq!(uris(&r, t0 + secs(60)), ["sip:bob@192.0.2.4"]);
    let evs = events(&mut r);
    assert!(matches!(
        evs.as_slice(),
        [RegistrarEvent::BindingAdded { .. }, RegistrarEvent::BindingRefreshed { binding, .. }]
            if binding.expires_at == t0 + secs(90) && binding.cseq == 2
    ));
    // Remaining time in a later query counts down.
    let q = send(&mut r, t0 + secs(80), &Req::new().cseq(3));
    assert_eq!(contacts(&q), [("sip:bob@192.0.2.4".to_owned(), Some(10))]);
}

// ----- several contacts --------------------------------------------------------------------------

#[test]
fn lookup_orders_by_q_then_registration_order() {
    let mut r = registrar();
    let t0 = Instant::now();
    send(
        &mut r,
        t0,
        &Req::new()
            .contact("<sip:bob@h1>;q=0.5, <sip:bob@h2>, <sip:bob@h3>;q=0.9")
            .contact("<sip:bob@h4>;q=0.5"),
    );
    let found = r.lookup(&bob(), t0).unwrap();
    let got: Vec<_> =
        found.iter().map(|l| (l.uri.as_str(), l.q.map(|q| q.thousandths()))).collect();
    assert_eq!(
        got,
        [
            ("sip:bob@h2", None),
            ("sip:bob@h3", Some(900)),
            ("sip:bob@h1", Some(500)),
            ("sip:bob@h4", Some(500))
        ]
    );
    // The 200 lists them in registration order, q preserved.
    let q = send(&mut r, t0, &Req::new().cseq(2));
    assert_eq!(
        values(&q, HeaderName::Contact),
        [
            "<sip:bob@h1>;q=0.5;expires=3600",
            "<sip:bob@h2>;expires=3600",
            "<sip:bob@h3>;q=0.9;expires=3600",
            "<sip:bob@h4>;q=0.5;expires=3600"
        ]
    );
}

#[test]
fn contact_parameters_and_display_names_are_kept() {
    let mut r = registrar();
    let t0 = Instant::now();
    let ok = send(
        &mut r,
        t0,
        &Req::new().contact(
            "\"Bob's phone\" <sip:bob@192.0.2.4;transport=tcp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1;expires=600",
        ),
    );
    assert_eq!(
        values(&ok, HeaderName::Contact),
        [
            "\"Bob's phone\" <sip:bob@192.0.2.4;transport=tcp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1;expires=600"
        ]
    );
}

#[test]
fn the_binding_limit_refuses_additions_only() {
    let mut r = registrar_with(RegistrarConfig::default().max_bindings(Some(2)));
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().cseq(1).contact("<sip:bob@h1>").contact("<sip:bob@h2>"));
    let full = send(&mut r, t0, &Req::new().cseq(2).contact("<sip:bob@h3>"));
    assert_eq!(status(&full), (403, "Forbidden (Too Many Bindings)".to_owned()));
    assert_eq!(uris(&r, t0), ["sip:bob@h1", "sip:bob@h2"]);
    // Refreshing is fine, and so is swapping one for another in one request.
    assert_eq!(send(&mut r, t0, &Req::new().cseq(3).contact("<sip:bob@h1>")).status(), Some(200));
    let swap = Req::new().cseq(4).contact("<sip:bob@h1>;expires=0").contact("<sip:bob@h3>");
    assert_eq!(send(&mut r, t0, &swap).status(), Some(200));
    assert_eq!(uris(&r, t0), ["sip:bob@h2", "sip:bob@h3"]);
    // One request adding more than the limit at once.
    let mut r = registrar_with(RegistrarConfig::default().max_bindings(Some(1)));
    let two = send(&mut r, t0, &Req::new().contact("<sip:bob@h1>, <sip:bob@h2>"));
    assert_eq!(two.status(), Some(403));
    assert!(uris(&r, t0).is_empty());
}

#[test]
fn removing_one_contact_leaves_the_others() {
    let mut r = registrar();
    let t0 = Instant::now();
    send(&mut r, t0, &Req::new().cseq(1).contact("<sip:bob@h1>").contact("<sip:bob@h2>"));
    let _ = events(&mut r);
    let ok = send(&mut r, t0, &Req::new().cseq(2).contact("<sip:bob@h1>").header("Expires: 0"));
    assert_eq!(contacts(&ok), [("sip:bob@h2".to_owned(), Some(3600))]);
    let evs = events(&mut r);
    assert!(
        matches!(evs.as_slice(), [RegistrarEvent::BindingRemoved { binding, .. }] if binding.uri == "sip:bob@h1" && binding.cseq == 1)
    );
    // Removing what is not there is no error and no event.
    let ok = send(&mut r, t0, &Req::new().cseq(3).contact("<sip:bob@h9>;expires=0"));
    assert_eq!(ok.status(), Some(200));
    assert_eq!(events(&mut r), []);
}

// ----- steps 1, 2, 4, 5 --------------------------------------------------------------------------

#[test]
fn aors_are_canonical() {
    // §10.3 step 5: parameters removed, escapes decoded; host case-insensitive; port and user
    // case kept.
    let mut r = registrar();
    let t0 = Instant::now();
    send(
        &mut r,
        t0,
        &Req::new().to("<sip:%62ob@BILOXI.Example.COM;user=phone>;x=y").contact("<sip:bob@h1>"),
    );
    assert_eq!(uris(&r, t0), ["sip:bob@h1"]);
    let ok = send(
        &mut r,
        t0,
        &Req::new().to("<sip:bob@biloxi.example.com:5060>").contact("<sip:bob@h2>"),
    );
    assert_eq!(contacts(&ok), [("sip:bob@h2".to_owned(), Some(3600))]);
    let port = Aor::parse("sip:bob@biloxi.example.com:5060").unwrap();
    assert_eq!(r.lookup(&port, t0).unwrap().len(), 1);
    send(&mut r, t0, &Req::new().to("<sip:Bob@biloxi.example.com>").contact("<sip:bob@h3>"));
    assert_eq!(uris(&r, t0), ["sip:bob@h1"]);
    let store = r.store();
    let mut aors = Vec::new();
    store.for_each(&mut |aor, _| aors.push(aor.as_str().to_owned())).unwrap();
    assert_eq!(
        aors,
        [
            "sip:Bob@biloxi.example.com",
            "sip:bob@biloxi.example.com",
            "sip:bob@biloxi.example.com:5060"
        ]
    );
}

#[test]
fn request_uri_and_aor_domains_are_checked() {
    let mut r = registrar();
    let t0 = Instant::now();
    let cases = [
        (Req::new().ruri("sip:atlanta.example.com"), 404, "Not Found (domain not served here)"),
        (Req::new().ruri("tel:+15551234"), 416, "Unsupported URI Scheme"),
        (
            Req::new().ruri("sip:biloxi.example.com").to("<sip:bob@atlanta.example.com>"),
            404,
            "Not Found (address-of-record not in a domain served here)",
        ),
        (
            Req::new().to("<tel:+15551234>"),
            404,
            "Not Found (address-of-record must be a SIP or SIPS URI)",
        ),
    ];
    for (req, code, reason) in cases {
        let req = req.contact("<sip:bob@h1>");
        let resp = send(&mut r, t0, &req);
        assert_eq!(status(&resp), (code, reason.to_owned()), "{}", req.text());
        assert!(resp.to_tag().is_some());
    }
    assert_eq!(r.store().len(), 0);
    // A Request-URI with a user part (§10.2 says clients must not send one) is tolerated.
    let ok =
        send(&mut r, t0, &Req::new().ruri("sip:bob@BILOXI.example.com").contact("<sip:bob@h1>"));
    assert_eq!(ok.status(), Some(200));
}

#[test]
fn unknown_required_extensions_get_420_with_unsupported() {
    // §8.2.2.3, §10.3 step 2.
    let mut r = registrar_with(RegistrarConfig::default().supported("outbound"));
    let t0 = Instant::now();
    let req = Req::new()
        .contact("<sip:bob@h1>")
        .header("Require: path, foo, Outbound")
        .header("Require: bar, foo");
    let bad = send(&mut r, t0, &req);
    assert_eq!(bad.status(), Some(420));
    assert_eq!(values(&bad, HeaderName::Unsupported), ["foo", "bar"]);
    assert_eq!(r.store().len(), 0);
    let ok =
        send(&mut r, t0, &Req::new().contact("<sip:bob@h1>").header("Require: PATH, outbound"));
    assert_eq!(ok.status(), Some(200));
    // Without Path support, `path` is unknown too.
    let mut r = registrar_with(RegistrarConfig::default().path(false));
    let bad = send(&mut r, t0, &Req::new().contact("<sip:bob@h1>").header("Require: path"));
    assert_eq!(values(&bad, HeaderName::Unsupported), ["path"]);
}

#[test]
fn the_authorizer_decides_who_may_register_what() {
    // §10.3 step 4: 403 and nothing else happens.
    let mut r = registrar().with_authorizer(|user: Option<&str>, aor: &Aor| {
        user == Some("admin") || aor.user() == user
    });
    let t0 = Instant::now();
    let req = Req::new().contact("<sip:bob@h1>").build();
    let alice = RegisterContext::new().authenticated_user("alice");
    let denied = r.handle_register(t0, wall(), &req, &alice).unwrap();
    assert_eq!(
        status(&denied),
        (403, "Forbidden (not authorized for this address-of-record)".to_owned())
    );
    let nobody = r.handle_register(t0, wall(), &req, &RegisterContext::new()).unwrap();
    assert_eq!(nobody.status(), Some(403));
    assert_eq!(r.store().len(), 0);
    let admin = RegisterContext::new().authenticated_user("admin");
    assert_eq!(r.handle_register(t0, wall(), &req, &admin).unwrap().status(), Some(200));
    // Fetching is guarded too.
    let query = Req::new().cseq(2).build();
    assert_eq!(r.handle_register(t0, wall(), &query, &alice).unwrap().status(), Some(403));
}

#[test]
fn malformed_requests_get_400_naming_the_problem() {
    let mut r = registrar();
    let t0 = Instant::now();
    let cases = [
        (Req::new().contact("<sip:bob@h1"), "malformed Contact"),
        (Req::new().contact("<sip:bob@h1>,,<sip:bob@h2>"), "malformed Contact"),
        (Req::new().to("Bob <sip:bob@biloxi.example.com"), "malformed To"),
        (Req::new().contact("<sip:bob@h1>").header("Require: a b"), "malformed Require"),
        (Req::new().contact("<sip:bob@h1>").header("Path: not an address"), "malformed Path"),
    ];
    for (req, why) in cases {
        let bad = send(&mut r, t0, &req);
        assert_eq!(status(&bad), (400, format!("Bad Request ({why})")), "{}", req.text());
    }
    let no_call_id = Req::new().text().replace("Call-ID: 843817637684230@998sdasdh09\r\n", "");
    let msg = Message::parse(bytes::Bytes::from(no_call_id)).unwrap();
    let bad = r.handle_register(t0, wall(), &msg, &ctx()).unwrap();
    assert_eq!(status(&bad), (400, "Bad Request (missing or malformed Call-ID)".to_owned()));
    let wrong_method = Req::new().text().replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE");
    let msg = Message::parse(bytes::Bytes::from(wrong_method)).unwrap();
    let bad = r.handle_register(t0, wall(), &msg, &ctx()).unwrap();
    assert_eq!(bad.status(), Some(400));
    assert_eq!(r.store().len(), 0);
    assert_eq!(r.stats().rejected, 7);
}

// ----- Path, source, tags, methods ---------------------------------------------------------------

#[test]
fn path_is_stored_and_echoed_only_when_supported() {
    // RFC 3327.
    let mut r = registrar();
    let t0 = Instant::now();
    let ctx = RegisterContext::new().source("udp:198.51.100.7:5060");
    let req = Req::new()
        .contact("<sip:bob@192.0.2.4>")
        .header("Path: <sip:P3.EXAMPLEHOME.COM;lr>,<sip:P1.EXAMPLEVISITED.COM;lr>");
    let ok = r.handle_register(t0, wall(), &req.build(), &ctx).unwrap();
    assert_eq!(values(&ok, HeaderName::Path), Vec::<String>::new(), "no Supported: path");
    let found = r.lookup(&bob(), t0).unwrap();
    assert_eq!(found[0].path, ["<sip:P3.EXAMPLEHOME.COM;lr>", "<sip:P1.EXAMPLEVISITED.COM;lr>"]);
    assert_eq!(found[0].source.as_deref(), Some("udp:198.51.100.7:5060"));
    let ok = r
        .handle_register(t0, wall(), &req.clone().cseq(2).header("Supported: path").build(), &ctx)
        .unwrap();
    assert_eq!(
        values(&ok, HeaderName::Path),
        ["<sip:P3.EXAMPLEHOME.COM;lr>", "<sip:P1.EXAMPLEVISITED.COM;lr>"]
    );
    // Path support off: ignored.
    let mut r = registrar_with(RegistrarConfig::default().path(false));
    let ok = r.handle_register(t0, wall(), &req.header("Supported: path").build(), &ctx).unwrap();
    assert_eq!(values(&ok, HeaderName::Path), Vec::<String>::new());
    assert_eq!(r.lookup(&bob(), t0).unwrap()[0].path, Vec::<String>::new());
}

#[test]
fn every_response_has_a_to_tag_and_a_request_tag_is_kept() {
    let mut r = registrar();
    let t0 = Instant::now();
    let a = send(&mut r, t0, &Req::new().contact("<sip:bob@h1>"));
    let b = send(&mut r, t0, &Req::new().cseq(2));
    let (ta, tb) = (a.to_tag().unwrap(), b.to_tag().unwrap());
    assert_ne!(ta, tb);
    let tagged =
        send(&mut r, t0, &Req::new().cseq(3).to("Bob <sip:bob@biloxi.example.com>;tag=abc"));
    assert_eq!(tagged.to_tag(), Some("abc"));
    // A caller-chosen tag that is not a token is replaced by a generated one.
    let odd = RegisterContext::new().to_tag("not a token");
    let resp = r.handle_register(t0, wall(), &Req::new().cseq(4).build(), &odd).unwrap();
    assert!(resp.to_tag().is_some_and(|t| t != "not a token"));
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let run = || {
        let mut r = registrar_with(RegistrarConfig::default().rng_seed(42));
        let t0 = Instant::now();
        (1..=3)
            .map(|n| send(&mut r, t0, &Req::new().cseq(n).contact("<sip:bob@h1>")).to_bytes())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn other_methods_are_refused_or_not_answered() {
    let mut r = registrar();
    let t0 = Instant::now();
    let invite = Req::new().method("INVITE").ruri("sip:bob@biloxi.example.com").build();
    let resp = r.handle_register(t0, wall(), &invite, &ctx()).unwrap();
    assert_eq!(resp.status(), Some(405));
    assert_eq!(values(&resp, HeaderName::Allow), ["REGISTER"]);
    for m in ["ACK", "CANCEL"] {
        let req = Req::new().method(m).build();
        assert!(matches!(
            r.handle_register(t0, wall(), &req, &ctx()),
            Err(RegisterError::NoResponse(_))
        ));
    }
    let response =
        Message::parse(bytes::Bytes::from_static(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"))
            .unwrap();
    assert_eq!(r.handle_register(t0, wall(), &response, &ctx()), Err(RegisterError::NotARequest));
    assert_eq!(r.stats().requests, 0);
}

// ----- stores ------------------------------------------------------------------------------------

/// A store whose writes fail, as a database that is down.
#[derive(Debug, Default)]
struct BrokenStore(MemoryStore);

impl BindingStore for BrokenStore {
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        self.0.bindings(aor)
    }
    fn update(
        &mut self,
        _: &Aor,
        _: &mut dyn FnMut(&mut Vec<Binding>) -> bool,
    ) -> Result<bool, StoreError> {
        Err(StoreError::new("database unavailable"))
    }
    fn next_expiry(&self) -> Option<Instant> {
        self.0.next_expiry()
    }
    fn remove_expired(
        &mut self,
        now: Instant,
        out: &mut Vec<(Aor, Binding)>,
    ) -> Result<(), StoreError> {
        self.0.remove_expired(now, out)
    }
    fn for_each(&self, visit: &mut dyn FnMut(&Aor, &[Binding])) -> Result<(), StoreError> {
        self.0.for_each(visit)
    }
}

#[test]
fn a_failing_store_gives_500_and_no_events() {
    // §10.3 step 7: "If any one of them fails (for example, because the back-end database
    // commit failed), the request MUST fail with a 500 (Server Error) response".
    let mut r = Registrar::new(RegistrarConfig::default(), BrokenStore::default());
    let t0 = Instant::now();
    let resp =
        r.handle_register(t0, wall(), &Req::new().contact("<sip:bob@h1>").build(), &ctx()).unwrap();
    assert_eq!(status(&resp), (500, "Server Internal Error (binding store failed)".to_owned()));
    assert_eq!(r.poll_event(), None);
    assert_eq!(r.stats().store_errors, 1);
    // Queries only read, and work.
    let resp = r.handle_register(t0, wall(), &Req::new().build(), &ctx()).unwrap();
    assert_eq!(resp.status(), Some(200));
}

#[test]
fn a_boxed_store_works() {
    let store: Box<dyn BindingStore> = Box::new(MemoryStore::new());
    let mut r = Registrar::new(RegistrarConfig::default(), store);
    let t0 = Instant::now();
    let resp =
        r.handle_register(t0, wall(), &Req::new().contact("<sip:bob@h1>").build(), &ctx()).unwrap();
    assert_eq!(resp.status(), Some(200));
    assert_eq!(r.lookup(&bob(), t0).unwrap().len(), 1);
}

#[test]
fn snapshot_and_restore_round_trip_through_text() {
    let mut r = registrar();
    let t0 = Instant::now();
    let ctx = RegisterContext::new().source("tcp:192.0.2.4:40312");
    let req = Req::new()
        .cseq(7)
        .contact("\"Bob\" <sip:bob@h1>;q=0.7;expires=600")
        .contact("<sip:bob@h2>;expires=60")
        .header("Path: <sip:edge.example.com;lr>");
    r.handle_register(t0, wall(), &req.build(), &ctx).unwrap();
    send(&mut r, t0, &Req::new().to("<sip:carol@biloxi.example.com>").contact("<sip:carol@h3>"));
    let t100 = t0 + secs(100); // h2 has expired by now: not saved
    let text = r.store().snapshot(t100, wall()).to_text();
    let snapshot = Snapshot::from_text(&text).unwrap();
    assert_eq!(snapshot.bindings.len(), 2);

    // A new process, started 50 s after the snapshot was written.
    let t1 = t0 + secs(10_000);
    let mut fresh = registrar();
    let report = fresh.store_mut().restore(&snapshot, t1, wall() + secs(50));
    assert_eq!((report.restored, report.expired, report.invalid), (2, 0, 0));
    let bob_now = fresh.bindings(&bob(), t1).unwrap();
    assert_eq!(bob_now.len(), 1);
    let b = &bob_now[0];
    assert_eq!(b.remaining_secs(t1), 600 - 100 - 50);
    assert_eq!(
        (b.uri.as_str(), b.contact.as_str(), b.call_id.as_str(), b.cseq),
        ("sip:bob@h1", "\"Bob\" <sip:bob@h1>;q=0.7", "843817637684230@998sdasdh09", 7)
    );
    assert_eq!(b.q.map(|q| q.thousandths()), Some(700));
    assert_eq!(b.path, ["<sip:edge.example.com;lr>"]);
    assert_eq!(b.source.as_deref(), Some("tcp:192.0.2.4:40312"));
    assert_eq!(fresh.poll_timeout(), Some(t1 + secs(450)));
    // The ordering state survived: a replay of CSeq 7 is still refused.
    let replay = fresh.handle_register(t1, wall(), &req.build(), &ctx).unwrap();
    assert_eq!(replay.status(), Some(500));
    // Restored too late, everything has expired.
    let mut late = MemoryStore::new();
    let report = late.restore(&snapshot, t1, wall() + secs(100_000));
    assert_eq!((report.restored, report.expired), (0, 2));
    assert!(late.is_empty());
}

#[test]
fn a_refreshing_client_stays_bound_until_it_stops() {
    // A UA refreshes a 60 s registration every 50 s for ten minutes, then goes quiet. Driven
    // by a virtual clock the way a runtime would: sleep until the earlier of the client's next
    // refresh and the registrar's poll_timeout.
    let mut clock = sip_testkit::Clock::new();
    let start = clock.now();
    let mut r = registrar();
    let mut cseq = 0;
    let mut next_refresh = Some(start);
    let mut log = Vec::new();
    for _ in 0..100 {
        let Some(at) = [next_refresh, r.poll_timeout()].into_iter().flatten().min() else { break };
        let now = clock.advance_to(at);
        r.handle_timeout(now);
        if next_refresh == Some(now) {
            cseq += 1;
            let ok =
                send(&mut r, now, &Req::new().cseq(cseq).contact("<sip:bob@192.0.2.4>;expires=60"));
            assert_eq!(ok.status(), Some(200));
            next_refresh = (now < start + secs(600)).then(|| now + secs(50));
        }
        for e in events(&mut r) {
            let kind = match e {
                RegistrarEvent::BindingAdded { .. } => "added",
                RegistrarEvent::BindingRefreshed { .. } => "refreshed",
                RegistrarEvent::BindingExpired { .. } => "expired",
                _ => "other",
            };
            log.push((clock.elapsed().as_secs(), kind));
        }
        assert_eq!(uris(&r, now).is_empty(), log.last().is_some_and(|(_, k)| *k == "expired"));
    }
    // Refreshes at 0, 50, ..., 600 (13 REGISTERs), expiry 60 s after the last.
    assert_eq!(cseq, 13);
    assert_eq!(log.first(), Some(&(0, "added")));
    assert_eq!(log.iter().filter(|(_, k)| *k == "refreshed").count(), 12);
    assert_eq!(log.last(), Some(&(660, "expired")));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn record_route_is_ignored_and_never_returned() {
    // RFC 3261 §10.3: "Registrars MUST ignore the Record-Route header field ... MUST NOT include
    // a Record-Route header field in any response to a REGISTER request."
    let mut r = registrar();
    let t0 = Instant::now();
    let req = Req::new().header("Record-Route: <sip:proxy.example.com;lr>").contact("<sip:bob@h1>");
    let ok = send(&mut r, t0, &req);
    assert_eq!(ok.status(), Some(200));
    assert!(!ok.has(HeaderName::RecordRoute));
    assert_eq!(r.lookup(&bob(), t0).unwrap()[0].path, Vec::<String>::new());
}
