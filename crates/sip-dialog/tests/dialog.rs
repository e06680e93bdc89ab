//! RFC 3261 §12 through the public API.

use proptest::prelude::*;
use sip_dialog::{Dialog, DialogChange, DialogError, DialogSet, DialogState, Role};
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};

fn invite(record_routes: &[&str]) -> Message {
    let mut b = MessageBuilder::request(&Method::Invite, "sip:bob@biloxi.example.com")
        .header(H::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8");
    for rr in record_routes {
        b = b.header(H::RecordRoute, rr);
    }
    b.header(H::MaxForwards, "70")
        .header(H::To, "Bob <sip:bob@biloxi.example.com>")
        .header(H::From, "\"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774")
        .header(H::CallId, "a84b4c76e66710")
        .header(H::CSeq, "314159 INVITE")
        .header(H::Contact, "<sip:alice@pc33.atlanta.example.com>")
        .build()
        .unwrap()
}

fn response(
    req: &Message,
    status: u16,
    tag: Option<&str>,
    rr: &[&str],
    contact: Option<&str>,
) -> Message {
    let mut b = MessageBuilder::response_to(req, status, None);
    if let Some(t) = tag {
        b = b.to_tag(t);
    }
    for r in rr {
        b = b.header(H::RecordRoute, r);
    }
    if let Some(c) = contact {
        b = b.header(H::Contact, c);
    }
    b.build().unwrap()
}

// RFC 3261 §12.1.2: the UAC's route set is the Record-Route of the response, reversed.
#[test]
fn uac_route_set_reversed_and_loose_routing() {
    let rr = ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"];
    let inv = invite(&rr);
    let ok = response(&inv, 200, Some("a6c85cf"), &rr, Some("<sip:bob@192.0.2.4>"));
    let mut d = Dialog::uac(&inv, &ok).unwrap();
    assert_eq!(d.role(), Role::Uac);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(
        d.route_set().collect::<Vec<_>>(),
        ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.4");
    assert_eq!(d.local_seq(), Some(314159));
    assert_eq!(d.remote_seq(), None);
    assert!(!d.is_secure());

    let (b, target) = d.request(&Method::Bye, "SIP/2.0/UDP pc33.atlanta.example.com", None);
    let bye = b.build().unwrap();
    assert_eq!(bye.request_uri_str(), Some("sip:bob@192.0.2.4"));
    assert_eq!(
        bye.values(H::Route).collect::<Vec<_>>(),
        [&b"<sip:p1.example.com;lr>"[..], b"<sip:p2.example.com;lr>"]
    );
    assert_eq!(bye.cseq_number(), Some(314160));
    assert_eq!(bye.cseq_method(), Some(&Method::Bye));
    assert_eq!(bye.from_tag(), Some("1928301774"));
    assert_eq!(bye.to_tag(), Some("a6c85cf"));
    assert_eq!(bye.call_id(), Some("a84b4c76e66710"));
    assert_eq!(
        bye.header_str(H::From),
        Some("\"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774")
    );
    assert_eq!(bye.header_str(H::To), Some("Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"));
    assert_eq!(target.next_hop(), "sip:p1.example.com;lr");

    // An ACK for the 2xx reuses the INVITE's CSeq number and does not move the counter.
    let (b, _) = d.request(&Method::Ack, "SIP/2.0/UDP pc33.atlanta.example.com", Some(314159));
    assert_eq!(b.build().unwrap().cseq_number(), Some(314159));
    assert_eq!(d.local_seq(), Some(314160));
}

// RFC 3261 §12.2.1.1: the strict-routing example (route set sip:proxy1, sip:proxy2,
// sip:proxy3;lr, sip:proxy4 and remote target sip:user@remoteua).
#[test]
fn strict_router_first_moves_request_uri_into_route() {
    let rr = ["<sip:proxy4>", "<sip:proxy3;lr>", "<sip:proxy2>", "<sip:proxy1;method=INVITE>"];
    let inv = invite(&rr);
    let ok = response(&inv, 200, Some("t"), &rr, Some("<sip:user@remoteua>"));
    let d = Dialog::uac(&inv, &ok).unwrap();
    let t = d.request_target();
    assert_eq!(t.request_uri, "sip:proxy1");
    assert_eq!(
        t.routes,
        ["<sip:proxy2>", "<sip:proxy3;lr>", "<sip:proxy4>", "<sip:user@remoteua>"]
    );
    assert_eq!(t.next_hop(), "sip:proxy2");
}

// RFC 3261 §12.1.1: the UAS's route set is the request's Record-Route in order, and it
// checks CSeq order (§12.2.2).
#[test]
fn uas_dialog_and_cseq_order() {
    let rr = ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"];
    let inv = invite(&rr);
    let mut d = Dialog::uas(&inv, "b0b", 180).unwrap();
    assert_eq!(d.state(), DialogState::Early);
    assert_eq!(d.route_set().collect::<Vec<_>>(), rr);
    assert_eq!(d.remote_target(), "sip:alice@pc33.atlanta.example.com");
    assert_eq!(d.remote_seq(), Some(314159));
    assert_eq!(d.local_seq(), None);
    assert_eq!(d.local_uri(), "Bob <sip:bob@biloxi.example.com>");
    assert_eq!(d.remote_uri(), "\"Alice\" <sip:alice@atlanta.example.com>");
    d.confirm();
    assert_eq!(d.state(), DialogState::Confirmed);

    // Bob's own first request starts at CSeq 1, To is Alice with her tag.
    let (b, t) = d.request(&Method::Bye, "SIP/2.0/UDP bob.example.com", None);
    let bye = b.build().unwrap();
    assert_eq!(bye.cseq_number(), Some(1));
    assert_eq!(bye.to_tag(), Some("1928301774"));
    assert_eq!(bye.from_tag(), Some("b0b"));
    assert_eq!(t.routes, rr);

    let in_dialog = |cseq: &str, method: Method, contact: Option<&str>| {
        let mut b = MessageBuilder::request(&method, "sip:bob@192.0.2.4")
            .header(H::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKx")
            .header(H::MaxForwards, "70")
            .header(H::To, "Bob <sip:bob@biloxi.example.com>;tag=b0b")
            .header(H::From, "<sip:alice@atlanta.example.com>;tag=1928301774")
            .header(H::CallId, "a84b4c76e66710")
            .header(H::CSeq, format!("{cseq} {method}"));
        if let Some(c) = contact {
            b = b.header(H::Contact, c);
        }
        b.build().unwrap()
    };
    // A re-INVITE with a higher CSeq refreshes the target.
    d.receive_request(&in_dialog("314160", Method::Invite, Some("<sip:alice@198.51.100.9>")))
        .unwrap();
    assert_eq!(d.remote_target(), "sip:alice@198.51.100.9");
    assert_eq!(d.remote_seq(), Some(314160));
    // An INFO does not refresh the target.
    d.receive_request(&in_dialog("314161", Method::Info, Some("<sip:x@203.0.113.1>"))).unwrap();
    assert_eq!(d.remote_target(), "sip:alice@198.51.100.9");
    // A lower CSeq is refused with 500.
    let err = d.receive_request(&in_dialog("314150", Method::Bye, None)).unwrap_err();
    assert_eq!(err, DialogError::CSeqOutOfOrder { received: 314150, last: 314161 });
    assert_eq!(err.status(), 500);
    assert!(err.reason().contains("CSeq"));
    assert_eq!(d.remote_seq(), Some(314161));
    // ACK and CANCEL carry an older CSeq and pass.
    d.receive_request(&in_dialog("314159", Method::Ack, None)).unwrap();
}

// RFC 3261 §13.2.2.4: a 2xx confirms the early dialog and recomputes its route set.
#[test]
fn early_dialog_confirmed_by_2xx_recomputes_route_set() {
    let inv = invite(&[]);
    let ringing =
        response(&inv, 180, Some("x1"), &["<sip:old.example.com;lr>"], Some("<sip:bob@early>"));
    let mut set = DialogSet::new();
    assert_eq!(set.on_response(&inv, &ringing).unwrap(), DialogChange::Created(0));
    assert_eq!(set.get(0).unwrap().state(), DialogState::Early);
    assert_eq!(set.get(0).unwrap().remote_target(), "sip:bob@early");
    let ok =
        response(&inv, 200, Some("x1"), &["<sip:new.example.com;lr>"], Some("<sip:bob@final>"));
    assert_eq!(set.on_response(&inv, &ok).unwrap(), DialogChange::Confirmed(0));
    let d = set.get(0).unwrap();
    assert_eq!(d.route_set().collect::<Vec<_>>(), ["<sip:new.example.com;lr>"]);
    assert_eq!(d.remote_target(), "sip:bob@final");
    // A retransmitted 2xx changes nothing.
    assert_eq!(set.on_response(&inv, &ok).unwrap(), DialogChange::Updated(0));
}

// RFC 3261 §12.1.2 and §13.2.2.3: forks make one early dialog per To tag; a non-2xx final
// terminates the early ones.
#[test]
fn forked_provisionals_make_a_dialog_set() {
    let inv = invite(&[]);
    let mut set = DialogSet::new();
    let trying = response(&inv, 100, None, &[], None);
    assert_eq!(set.on_response(&inv, &trying).unwrap(), DialogChange::None);
    let no_tag = response(&inv, 180, None, &[], None);
    assert_eq!(set.on_response(&inv, &no_tag).unwrap(), DialogChange::None);
    for (i, tag) in ["f1", "f2", "f3"].iter().enumerate() {
        let r = response(&inv, 183, Some(tag), &[], Some("<sip:b@x>"));
        assert_eq!(set.on_response(&inv, &r).unwrap(), DialogChange::Created(i));
    }
    assert_eq!(set.len(), 3);
    assert_eq!(set.position("f2"), Some(1));
    let ok = response(&inv, 200, Some("f2"), &[], Some("<sip:b@y>"));
    assert_eq!(set.on_response(&inv, &ok).unwrap(), DialogChange::Confirmed(1));
    let busy = response(&inv, 486, Some("f3"), &[], None);
    assert_eq!(set.on_response(&inv, &busy).unwrap(), DialogChange::None);
    let states: Vec<_> = set.iter().map(Dialog::state).collect();
    assert_eq!(states, [DialogState::Terminated, DialogState::Confirmed, DialogState::Terminated]);
    set.prune();
    assert_eq!(set.len(), 1);
    assert_eq!(set.get(0).unwrap().id().remote_tag(), "f2");
}

#[test]
fn sips_request_uri_makes_a_secure_dialog() {
    let inv = MessageBuilder::request(&Method::Invite, "sips:bob@biloxi.example.com")
        .header(H::Via, "SIP/2.0/TLS a;branch=z9hG4bK1")
        .header(H::To, "<sips:bob@biloxi.example.com>")
        .header(H::From, "<sips:alice@atlanta.example.com>;tag=1")
        .header(H::CallId, "c")
        .header(H::CSeq, "1 INVITE")
        .header(H::Contact, "<sips:alice@a>")
        .build()
        .unwrap();
    assert!(Dialog::uas(&inv, "t", 200).unwrap().is_secure());
}

#[test]
fn errors_are_typed() {
    let inv = invite(&[]);
    let no_tag_ringing = response(&inv, 180, None, &[], None);
    assert_eq!(Dialog::uac(&inv, &no_tag_ringing).unwrap_err(), DialogError::MissingTag(H::To));
    let busy = response(&inv, 486, Some("t"), &[], None);
    assert_eq!(Dialog::uac(&inv, &busy).unwrap_err(), DialogError::NoDialogStatus(486));
    assert_eq!(Dialog::uas(&inv, "", 200).unwrap_err(), DialogError::MissingTag(H::To));
    let star = response(&inv, 200, Some("t"), &[], Some("*"));
    assert!(Dialog::uac(&inv, &star).is_err());
    // RFC 2543 peer: a 2xx without a To tag makes a dialog with an empty remote tag.
    let old = response(&inv, 200, None, &[], Some("<sip:b@x>"));
    assert_eq!(Dialog::uac(&inv, &old).unwrap().id().remote_tag(), "");
}

#[test]
fn an_established_dialog_is_small() {
    let rr = ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"];
    let inv = invite(&rr);
    let ok = response(&inv, 200, Some("a6c85cf"), &rr, Some("<sip:bob@192.0.2.4>"));
    let d = Dialog::uac(&inv, &ok).unwrap();
    let total = std::mem::size_of::<Dialog>() + d.heap_bytes();
    assert!(total < 512, "{total} bytes");
}

proptest! {
    // Arbitrary header values never panic dialog creation or request checks.
    #[test]
    fn arbitrary_headers_never_panic(rr in "[ -~]{0,40}", contact in "[ -~]{0,40}", cseq in "[ -~]{0,12}") {
        let inv = invite(&[]);
        let built = MessageBuilder::response_to(&inv, 200, None)
            .to_tag("t")
            .header(H::RecordRoute, &rr)
            .header(H::Contact, &contact)
            .build();
        if let Ok(ok) = built {
            if let Ok(mut d) = Dialog::uac(&inv, &ok) {
                let _ = d.request_target();
                let (b, _) = d.request(&Method::Bye, "SIP/2.0/UDP a", None);
                let _ = b.build();
            }
            let _ = Dialog::uas(&ok, "t", 200);
        }
        let req = MessageBuilder::request(&Method::Invite, "sip:a@b")
            .header(H::CSeq, &cseq)
            .header(H::Contact, &contact)
            .build();
        if let Ok(req) = req {
            if let Ok(mut d) = Dialog::uas(&inv, "t", 200) {
                let _ = d.receive_request(&req);
            }
        }
    }

    // `request_builder` writes the same request as `request`, and `next_hop` names the same
    // URI as `request_target().next_hop()`, for any route set (loose, strict, one or more
    // routes, none), contact and method, on both sides of the dialog.
    #[test]
    fn request_builder_and_next_hop_match_request_and_request_target(
        routes in proptest::collection::vec(
            prop_oneof![
                Just("<sip:p1.example.com;lr>"),
                Just("<sip:p2.example.com>"),
                Just("<sip:p3.example.com;lr;method=INVITE?x=y>"),
                Just("Proxy <sip:192.0.2.9:5070;transport=tcp;lr>;x=1"),
                Just("<sips:p4.example.com;maddr=192.0.2.1>"),
            ],
            0..4,
        ),
        contact in prop_oneof![
            Just(None),
            Just(Some("<sip:bob@192.0.2.4>")),
            Just(Some("sip:bob@192.0.2.4:5062;transport=tcp")),
            Just(Some("\"Bob\" <sips:bob@biloxi.example.com;ob>;expires=60")),
        ],
        uas in any::<bool>(),
        method in prop_oneof![Just(Method::Bye), Just(Method::Ack), Just(Method::Invite),
            Just(Method::Cancel), Just(Method::Info)],
        cseq in proptest::option::of(0u32..=u32::MAX),
    ) {
        let inv = invite(&routes);
        let ok = response(&inv, 200, Some("a6c85cf"), &routes, contact);
        let mut d = if uas {
            Dialog::uas(&inv, "a6c85cf", 200).unwrap()
        } else {
            Dialog::uac(&inv, &ok).unwrap()
        };
        let mut e = d.clone();
        let mut f = d.clone();
        let target = d.request_target();
        prop_assert_eq!(d.next_hop(), target.next_hop());
        let via = "SIP/2.0/UDP pc33.atlanta.example.com;rport";
        // Without a remote target (no Contact) neither builds: the same error.
        let old = d.request(&method, via, cseq).0.build().map(|m| m.buffer().clone());
        let new = e.request_builder(&method, via, cseq).build().map(|m| m.buffer().clone());
        // The bytes variant writes the same request as well.
        let bytes = f
            .request_builder_bytes(&method, via.as_bytes(), cseq)
            .build()
            .map(|m| m.buffer().clone());
        prop_assert_eq!(&old, &new);
        prop_assert_eq!(old, bytes);
        prop_assert_eq!(d.local_seq(), e.local_seq());
        prop_assert_eq!(d.local_seq(), f.local_seq());
        prop_assert_eq!(d.local_uri(), e.local_uri());
        prop_assert_eq!(d.remote_uri(), e.remote_uri());
    }
}

/// An INVITE with this To and From (no tag in the To).
fn invite_between(to: &str, from: &str) -> Message {
    MessageBuilder::request(&Method::Invite, "sip:bob@biloxi.example.com")
        .header(H::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8")
        .header(H::To, to)
        .header(H::From, from)
        .header(H::CallId, "a84b4c76e66710@pc33.atlanta.example.com")
        .header(H::CSeq, "314159 INVITE")
        .header(H::Contact, "<sip:alice@pc33.atlanta.example.com>")
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // `request_builder_branch`, which gives the builder the keys the dialog knows (the Via's
    // branch, its tags, its Call-ID), writes the request `request_builder_bytes` writes, with
    // the keys parsing its bytes finds: for display names plain, quoted or absent, URIs with
    // parameters, a remote tag or none, and local tags that are tokens or not.
    #[test]
    fn known_keys_build_the_request_indexing_builds(
        to_display in prop_oneof![Just(""), Just("Bob "), Just("\"B;o<b>\\\"x\" ")],
        from_display in prop_oneof![Just(""), Just("Alice Smith "), Just("\"\" ")],
        to_uri in prop_oneof![Just("sip:bob@biloxi.example.com"),
            Just("sip:bob@192.0.2.4:5060;transport=udp;tag=u")],
        from_tag in prop_oneof![Just(None), Just(Some("1928301774")), Just(Some("a.b-c~d"))],
        local_tag in prop_oneof![Just("a6c85cf"), Just("a b"), Just("x;tag=y")],
        uas in any::<bool>(),
        method in prop_oneof![Just(Method::Bye), Just(Method::Ack), Just(Method::Info)],
        branch in "z9hG4bK[a-zA-Z0-9]{1,10}",
        rport_after in any::<bool>(),
    ) {
        let to = format!("{to_display}<{to_uri}>");
        let from = match from_tag {
            Some(tag) => format!("{from_display}<sip:alice@atlanta.example.com>;tag={tag}"),
            None => format!("{from_display}<sip:alice@atlanta.example.com>"),
        };
        let inv = invite_between(&to, &from);
        let made = if uas {
            Dialog::uas(&inv, local_tag, 200)
        } else {
            // The peer's tag, or none (an RFC 2543 peer, §12.1.2).
            let tag = (local_tag != "x;tag=y").then_some("a6c85cf");
            Dialog::uac(&inv, &response(&inv, 200, tag, &[], Some("<sip:bob@192.0.2.4>")))
        };
        let Ok(mut d) = made else {
            // A UAC dialog needs the INVITE's From tag.
            prop_assert!(!uas && from_tag.is_none());
            return Ok(());
        };
        let mut e = d.clone();
        let (via, range) = if rport_after {
            let head = "SIP/2.0/UDP 192.0.2.1:5060;branch=";
            (format!("{head}{branch};rport"), head.len()..head.len() + branch.len())
        } else {
            let head = "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=";
            (format!("{head}{branch}"), head.len()..head.len() + branch.len())
        };
        let plain = d.request_builder_bytes(&method, via.as_bytes(), Some(7)).build().unwrap();
        let keyed =
            e.request_builder_branch(&method, via.as_bytes(), range, Some(7)).build().unwrap();
        let parsed = Message::parse(keyed.to_bytes()).unwrap();
        prop_assert_eq!(keyed.buffer(), plain.buffer());
        for m in [&plain, &parsed] {
            prop_assert_eq!(keyed.via_branch_bytes(), m.via_branch_bytes());
            prop_assert_eq!(keyed.from_tag_bytes(), m.from_tag_bytes());
            prop_assert_eq!(keyed.to_tag_bytes(), m.to_tag_bytes());
            prop_assert_eq!(keyed.call_id_bytes(), m.call_id_bytes());
            prop_assert_eq!(keyed.cseq_number(), m.cseq_number());
            prop_assert_eq!(keyed.from_header(), m.from_header());
            prop_assert_eq!(keyed.to_header(), m.to_header());
        }
        prop_assert_eq!(keyed.via_branch(), Some(branch.as_str()));
        prop_assert_eq!(d.local_seq(), e.local_seq());
    }
}
