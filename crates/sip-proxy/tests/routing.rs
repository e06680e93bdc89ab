//! Validation (RFC 3261 §16.3), routing information (§16.4, §16.6 step 6), loops and spirals,
//! and the stateless mode (§16.11).

mod common;

use common::*;
use sip_message::{HeaderName as H, Method};
use sip_proxy::{Location, ProxyConfig, ProxyEvent, StaticLocations, StaticResolver};
use sip_testkit::Sim;
use sip_transaction::{Target, TransactionConfig};

/// P1 responsible for a.example, P2 for b.example, each resolving the other's domain.
fn pair(p1_locations: StaticLocations, p2_locations: StaticLocations) -> (Node, Node) {
    let mut r1 = StaticResolver::new();
    r1.add("b.example", Target::udp(addr(P2)));
    r1.add("loop.example", Target::udp(addr(P2)));
    let mut r2 = StaticResolver::new();
    r2.add("a.example", Target::udp(addr(P1)));
    r2.add("loop.example", Target::udp(addr(P1)));
    (
        Node::new(
            ProxyConfig::new(&format!("sip:{P1}")).unwrap().domain("a.example"),
            p1_locations,
            r1,
        ),
        Node::new(
            ProxyConfig::new(&format!("sip:{P2}")).unwrap().domain("b.example"),
            p2_locations,
            r2,
        ),
    )
}

#[test]
fn a_loop_through_another_proxy_is_detected() {
    // RFC 3261 §16.3 step 4: P1 -> P2 -> P1 with nothing changed is a loop: 482.
    let (p1, p2) = pair(StaticLocations::new(), StaticLocations::new());
    let alice = Ua::new("alice", ALICE, Script::answer());
    let mut sim = Sim::new(wire(), (alice, p1, p2));
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:x@loop.example", "loop", P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(482));
    assert!(sim.parties.1.events.iter().any(|e| matches!(e, ProxyEvent::LoopDetected { .. })));
    assert_eq!(sim.parties.1.proxy.proxy().stats().loops, 1);
    assert!(sim.parties.1.is_idle() && sim.parties.2.is_idle());
}

#[test]
fn a_spiral_is_not_a_loop() {
    // x@a.example -> y@b.example -> z@a.example -> Bob: P1 sees its own Via again, but the
    // Request-URI changed, so the loop hash differs and the request goes on.
    let mut l1 = StaticLocations::new();
    l1.add("sip:x@a.example", Location::new("sip:y@b.example"));
    l1.add("sip:z@a.example", Location::new(&format!("sip:bob@{BOB}")));
    let mut l2 = StaticLocations::new();
    l2.add("sip:y@b.example", Location::new("sip:z@a.example"));
    let (p1, p2) = pair(l1, l2);
    let alice = Ua::new("alice", ALICE, Script::answer());
    let bob = Ua::new("bob", BOB, Script::answer());
    let mut sim = Sim::new(wire(), (alice, p1, p2, bob));
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:x@a.example", "spiral", P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(200));
    let invite = &sim.parties.3.received[0];
    let v = vias(invite);
    assert_eq!(v.len(), 4, "{v:?}");
    assert!(v[0].contains(P1) && v[1].contains(P2) && v[2].contains(P1) && v[3].contains(ALICE));
    assert_eq!(sim.parties.1.proxy.proxy().stats().loops, 0);
    assert!(sim.parties.1.is_idle() && sim.parties.2.is_idle());
}

#[test]
fn max_forwards_exhaustion_gets_483() {
    // Max-Forwards 1: P1 forwards with 0, P2 must not forward (§16.3 step 3).
    let mut l2 = StaticLocations::new();
    l2.add("sip:bob@b.example", Location::new(&format!("sip:bob@{BOB}")));
    let (p1, p2) = pair(StaticLocations::new(), l2);
    let mut sim = Sim::new(
        wire(),
        (Ua::new("alice", ALICE, Script::answer()), p1, p2, Ua::new("bob", BOB, Script::answer())),
    );
    let now = sim.now();
    let mut invite =
        sim.parties.0.request(&Method::Invite, "sip:bob@b.example", "mf", 1).build().unwrap();
    invite.set(H::MaxForwards, "1").unwrap();
    let id = sim.parties.0.send(now, invite, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(483));
    assert!(sim.parties.3.received.is_empty());
    assert_eq!(sent(&sim, P1, P2)[0].max_forwards(), Some(0));
}

fn single() -> Sim<std::net::SocketAddr, bytes::Bytes, (Ua, Node, Ua)> {
    let p1 =
        proxy_at(P1, "example.com", &[("sip:bob@example.com", &format!("sip:bob@{BOB}"), 1000)]);
    Sim::new(
        wire(),
        (Ua::new("alice", ALICE, Script::answer()), p1, Ua::new("bob", BOB, Script::answer())),
    )
}

#[test]
fn options_to_the_proxy_with_max_forwards_0_is_answered_others_get_483() {
    let mut sim = single();
    let now = sim.now();
    let mut to_proxy =
        sim.parties.0.request(&Method::Options, &format!("sip:{P1}"), "o1", 1).build().unwrap();
    to_proxy.set(H::MaxForwards, "0").unwrap();
    let mut to_bob =
        sim.parties.0.request(&Method::Options, "sip:bob@example.com", "o2", 1).build().unwrap();
    to_bob.set(H::MaxForwards, "0").unwrap();
    let plain =
        sim.parties.0.request(&Method::Options, &format!("sip:{P1}"), "o3", 1).build().unwrap();
    let a = sim.parties.0.send(now, to_proxy, P1);
    let b = sim.parties.0.send(now, to_bob, P1);
    let c = sim.parties.0.send(now, plain, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(a), Some(200));
    assert_eq!(sim.parties.0.final_of(b), Some(483));
    assert_eq!(sim.parties.0.final_of(c), Some(200));
    let ok = sent(&sim, P1, ALICE).into_iter().find(|m| m.status() == Some(200)).unwrap();
    assert!(ok.has(H::Allow));
    assert!(sim.parties.2.received.is_empty());
}

/// §16.3 step 1: only the parts a proxy uses must be well-formed; "any other components,
/// well-formed or not, SHOULD be ignored and remain unchanged when the message is forwarded".
/// A malformed Contact and Content-Type reach Bob as they were sent; a malformed Max-Forwards
/// (which the proxy decrements, §16.6 step 3) gets 400 naming it.
#[test]
fn headers_the_proxy_does_not_use_are_forwarded_as_they_came_and_its_own_are_checked() {
    let mut sim = single();
    let now = sim.now();
    let odd = sim
        .parties
        .0
        .request(&Method::Invite, "sip:bob@example.com", "odd", 1)
        .header(H::Contact, "<sip:alice@192.0.2.1")
        .header(H::ContentType, "not a media type")
        .build()
        .unwrap();
    assert!(odd.validate().is_err(), "a UAS would reject it");
    let mut bad_mf =
        sim.parties.0.request(&Method::Invite, "sip:bob@example.com", "mf", 1).build().unwrap();
    bad_mf.set(H::MaxForwards, "seventy").unwrap();
    let a = sim.parties.0.send(now, odd, P1);
    let b = sim.parties.0.send(now, bad_mf, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(a), Some(200));
    assert_eq!(sim.parties.0.final_of(b), Some(400));
    let rejected = sim.parties.0.responses.iter().find(|r| r.status() == Some(400)).unwrap();
    assert!(rejected.reason().unwrap().contains("Max-Forwards"), "{:?}", rejected.reason());
    let at_bob = sent(&sim, P1, BOB);
    let forwarded = at_bob.iter().find(|m| m.call_id() == Some("odd")).unwrap();
    let contacts = values(forwarded, H::Contact);
    assert!(contacts.iter().any(|c| c == "<sip:alice@192.0.2.1"), "{contacts:?}");
    assert_eq!(forwarded.header_str(H::ContentType), Some("not a media type"));
    assert!(at_bob.iter().all(|m| m.call_id() != Some("mf")), "the 400 ends it at the proxy");
}

#[test]
fn unsupported_proxy_require_gets_420_with_unsupported() {
    let mut sim = single();
    let now = sim.now();
    let invite = sim
        .parties
        .0
        .request(&Method::Invite, "sip:bob@example.com", "pr", 1)
        .header(H::ProxyRequire, "foo, bar")
        .build()
        .unwrap();
    let id = sim.parties.0.send(now, invite, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(420));
    let response = sim.parties.0.responses.last().unwrap();
    assert_eq!(values(response, H::Unsupported), ["foo", "bar"]);
}

#[test]
fn unsupported_scheme_gets_416_and_a_known_user_without_bindings_480() {
    let mut locations = StaticLocations::new();
    locations.add_user("sip:carol@example.com");
    let p1 = Node::new(
        ProxyConfig::new(&format!("sip:{P1}")).unwrap().domain("example.com"),
        locations,
        StaticResolver::new(),
    );
    let mut sim = Sim::new(wire(), (Ua::new("alice", ALICE, Script::answer()), p1));
    let now = sim.now();
    let mail = sim
        .parties
        .0
        .request(&Method::Message, "mailto:carol@example.com", "m", 1)
        .build()
        .unwrap();
    let a = sim.parties.0.send(now, mail, P1);
    let b = sim.parties.0.invite(now, "sip:carol@example.com", "480", P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(a), Some(416));
    assert_eq!(sim.parties.0.final_of(b), Some(480));
    assert!(sim.parties.1.is_idle());
}

#[test]
fn strict_routing_upstream_request_uri_is_restored_from_the_route() {
    // RFC 3261 §16.4: a strict router put our Record-Route URI in the Request-URI and the
    // remote target last in Route.
    let mut sim = single();
    let now = sim.now();
    let bye = sim
        .parties
        .0
        .request(&Method::Bye, &format!("sip:{P1};lr"), "strict", 2)
        .header(H::Route, format!("<sip:bob@{BOB}>"))
        .build()
        .unwrap();
    let id = sim.parties.0.send(now, bye, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(200));
    let got = &sim.parties.2.received[0];
    assert_eq!(got.request_uri_str(), Some(&*format!("sip:bob@{BOB}")));
    assert!(!got.has(H::Route));
}

#[test]
fn strict_router_downstream_gets_the_request_uri_appended() {
    // RFC 3261 §16.6 step 6 (§16.12.1.2): the next Route has no lr.
    let mut sim = single();
    let now = sim.now();
    let bye = sim
        .parties
        .0
        .request(&Method::Bye, "sip:carol@192.0.2.202:5060", "strict2", 2)
        .header(H::Route, format!("<sip:{P1};lr>, <sip:{BOB}>"))
        .build()
        .unwrap();
    sim.parties.0.send(now, bye, P1);
    sim.run_for(ms(100));
    let got = &sim.parties.2.received[0];
    assert_eq!(got.request_uri_str(), Some(&*format!("sip:{BOB}")));
    assert_eq!(values(got, H::Route), ["<sip:carol@192.0.2.202:5060>"]);
}

#[test]
fn every_own_route_value_on_top_is_removed() {
    // RFC 3261 §16.4: the proxy's own URI may head the Route set more than once (a request
    // record-routed by it twice): each such value goes, in one line or across lines, and the
    // first other value and everything after it stay.
    let mut sim = single();
    let now = sim.now();
    let bye = sim
        .parties
        .0
        .request(&Method::Bye, "sip:carol@192.0.2.202:5060", "own-routes", 2)
        .header(H::Route, format!("<sip:{P1};lr>, <sip:{P1};lr>"))
        .header(H::Route, format!("<sip:{P1};lr>, <sip:{BOB};lr>, <sip:{P1};lr>"))
        .build()
        .unwrap();
    sim.parties.0.send(now, bye, P1);
    sim.run_for(ms(100));
    let got = &sim.parties.2.received[0];
    assert_eq!(values(got, H::Route), [format!("<sip:{BOB};lr>"), format!("<sip:{P1};lr>")]);
}

#[test]
fn an_unmatched_cancel_gets_481() {
    let mut sim = single();
    let now = sim.now();
    let cancel = sim
        .parties
        .0
        .request(&Method::Cancel, "sip:bob@example.com", "nothing", 1)
        .build()
        .unwrap();
    let id = sim.parties.0.send(now, cancel, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(481));
    assert!(sim.parties.2.received.is_empty());
}

#[test]
fn stateless_mode_forwards_with_a_stable_branch_and_relays_responses_by_via() {
    // RFC 3261 §16.11: retransmissions and the CANCEL get the branch of the first forward.
    let mut locations = StaticLocations::new();
    locations.add("sip:bob@example.com", Location::new(&format!("sip:bob@{BOB}")));
    let config =
        ProxyConfig::new(&format!("sip:{P1}")).unwrap().domain("example.com").stateless(true);
    let p1 = Node::new(config, locations, StaticResolver::new());
    let quiet = TransactionConfig::default().trying_delay(None);
    let late = Script(vec![(ms(1600), 180)]);
    let mut sim = Sim::new(
        wire(),
        (Ua::new("alice", ALICE, Script::answer()), p1, Ua::with_config("bob", BOB, late, quiet)),
    );
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "stateless", P1);
    sim.run_for(ms(2000));
    let now = sim.now();
    sim.parties.0.cancel(now, id, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(487));
    let forwarded = sent(&sim, P1, BOB);
    let invites: Vec<_> =
        forwarded.iter().filter(|m| m.method() == Some(&Method::Invite)).collect();
    assert!(invites.len() >= 3, "Alice's retransmissions are forwarded too");
    let branch = invites[0].via_branch().unwrap();
    assert!(invites.iter().all(|m| m.via_branch() == Some(branch)));
    let cancel = forwarded.iter().find(|m| m.method() == Some(&Method::Cancel)).unwrap();
    assert_eq!(cancel.via_branch(), Some(branch));
    // The ACK for Bob's 487 is routed like its INVITE (the location service, not its
    // Request-URI) and carries the INVITE's branch, so Bob's INVITE server transaction gets it
    // and stops retransmitting the 487 (RFC 3261 §17.2.1).
    let acks: Vec<_> = forwarded.iter().filter(|m| m.method() == Some(&Method::Ack)).collect();
    assert_eq!(acks.len(), 1, "one 487, one ACK reaching Bob");
    assert!(acks.iter().all(|m| m.via_branch() == Some(branch)));
    let finals = sent(&sim, BOB, P1).iter().filter(|m| m.status() == Some(487)).count();
    assert_eq!(finals, 1, "Bob's 487 is not retransmitted");
    // No 100 from a stateless proxy; everything Alice got was relayed from Bob.
    assert!(!sent(&sim, P1, ALICE).iter().any(|m| m.status() == Some(100)));
    assert!(sim.parties.1.is_idle());
    assert_eq!(sim.parties.1.proxy.proxy().stats().contexts, 0);
}
