//! RFC 3665 §3 session flows through proxies, checked message by message as far as the
//! proxies' behaviour goes (Via, Record-Route, Route, Max-Forwards, Request-URI).

mod common;

use common::*;
use sip_message::{HeaderName as H, Method};
use sip_proxy::{ProxyConfig, ProxyEvent, StaticLocations, StaticResolver};
use sip_testkit::Sim;
use sip_transaction::Target;

/// P1 (outbound proxy for atlanta, not responsible for biloxi) and P2 (biloxi).
fn two_proxies() -> (Node, Node) {
    let mut resolver = StaticResolver::new();
    resolver.add("biloxi.example.com", Target::udp(addr(P2)));
    let p1 = Node::new(
        ProxyConfig::new(&format!("sip:{P1}")).unwrap().domain("atlanta.example.com"),
        StaticLocations::new(),
        resolver,
    );
    let mut locations = StaticLocations::new();
    locations
        .add("sip:bob@biloxi.example.com", sip_proxy::Location::new(&format!("sip:bob@{BOB}")));
    let p2 = Node::new(
        ProxyConfig::new(&format!("sip:{P2}")).unwrap().domain("biloxi.example.com"),
        locations,
        StaticResolver::new(),
    );
    (p1, p2)
}

#[test]
fn rfc3665_3_2_session_through_two_proxies() {
    let (p1, p2) = two_proxies();
    let alice = Ua::new("alice", ALICE, Script::answer());
    let bob = Ua::new("bob", BOB, Script::answer());
    let mut sim = Sim::new(wire(), (alice, p1, p2, bob));
    let now = sim.now();
    // F4: the INVITE with a preloaded Route to Proxy 1 (its outbound proxy).
    let invite = sim
        .parties
        .0
        .request(&Method::Invite, "sip:bob@biloxi.example.com", "call-3.2", 1)
        .header(H::Route, format!("<sip:{P1};lr>"))
        .build()
        .unwrap();
    let id = sim.parties.0.send(now, invite, P1);
    sim.run_for(ms(500));

    // F5: Proxy 1 -> Proxy 2: its Route popped, Via and Record-Route added, Max-Forwards 69.
    let f5: Vec<_> =
        sent(&sim, P1, P2).into_iter().filter(|m| m.method() == Some(&Method::Invite)).collect();
    assert_eq!(summary(&f5), ["INVITE sip:bob@biloxi.example.com"]);
    let f5 = &f5[0];
    assert!(!f5.has(H::Route));
    assert_eq!(f5.max_forwards(), Some(69));
    let v = vias(f5);
    assert_eq!(v.len(), 2);
    assert!(v[0].starts_with(&format!("SIP/2.0/UDP {P1};branch=z9hG4bK")), "{v:?}");
    assert!(v[1].starts_with(&format!("SIP/2.0/UDP {ALICE};branch=z9hG4bK")));
    assert_eq!(values(f5, H::RecordRoute), [format!("<sip:{P1};lr>")]);

    // F7: Proxy 2 -> Bob: Request-URI from the location service, three Vias, two RRs.
    let f7: Vec<_> =
        sent(&sim, P2, BOB).into_iter().filter(|m| m.method() == Some(&Method::Invite)).collect();
    assert_eq!(summary(&f7), [format!("INVITE sip:bob@{BOB}")]);
    let f7 = &f7[0];
    assert_eq!(f7.max_forwards(), Some(68));
    assert_eq!(vias(f7).len(), 3);
    assert!(vias(f7)[0].starts_with(&format!("SIP/2.0/UDP {P2};branch=z9hG4bK")));
    assert_eq!(values(f7, H::RecordRoute), [format!("<sip:{P2};lr>"), format!("<sip:{P1};lr>")]);
    assert_eq!(f7.body(), f5.body());

    // F6, F11, F14 at Alice: 100 from Proxy 1, then 180 and 200 with her Via only and both RRs.
    let to_alice = sent(&sim, P1, ALICE);
    assert_eq!(summary(&to_alice), ["100", "180", "200"]);
    for m in &to_alice {
        assert_eq!(vias(m).len(), 1, "{m}");
    }
    assert_eq!(
        values(&to_alice[2], H::RecordRoute),
        [format!("<sip:{P2};lr>"), format!("<sip:{P1};lr>")]
    );
    assert_eq!(sim.parties.0.final_of(id), Some(200));
    assert_eq!(summary(&sent(&sim, P2, P1)), ["100", "180", "200"]);

    // F15-F17: the ACK follows the route set, statelessly.
    let acks = sent(&sim, P2, BOB).into_iter().filter(|m| m.method() == Some(&Method::Ack));
    let acks: Vec<_> = acks.collect();
    assert_eq!(summary(&acks), [format!("ACK sip:bob@{BOB}")]);
    assert!(!acks[0].has(H::Route));
    assert_eq!(vias(&acks[0]).len(), 3);
    // A stateful proxy's branch for a 2xx ACK has no loop part (no one checks an ACK for a
    // loop); its INVITE's has one (`z9hG4bK<unique>.<loop part>`).
    let ack_branch = acks[0].via_branch().unwrap();
    let hex = ack_branch.strip_prefix("z9hG4bK").unwrap();
    assert!(hex.len() == 16 && hex.bytes().all(|c| c.is_ascii_hexdigit()), "{ack_branch}");
    let invites = sent(&sim, P2, BOB).into_iter().filter(|m| m.method() == Some(&Method::Invite));
    let invite_branch = invites.map(|m| m.via_branch().unwrap().to_owned()).next().unwrap();
    assert!(invite_branch.contains('.'), "{invite_branch}");
    assert_eq!(sim.parties.3.received_methods(), ["INVITE", "ACK"]);

    // F18-F23: Bob hangs up along his route set (the Record-Route in order).
    let now = sim.now();
    let bye = sim
        .parties
        .3
        .request(&Method::Bye, &format!("sip:alice@{ALICE}"), "call-3.2", 2)
        .header(H::Route, format!("<sip:{P2};lr>, <sip:{P1};lr>"))
        .build()
        .unwrap();
    let bye_id = sim.parties.3.send(now, bye, P2);
    sim.run_for(ms(500));
    let f20 = sent(&sim, P1, ALICE).into_iter().filter(|m| m.method() == Some(&Method::Bye));
    let f20: Vec<_> = f20.collect();
    assert_eq!(summary(&f20), [format!("BYE sip:alice@{ALICE}")]);
    assert!(!f20[0].has(H::Route));
    assert_eq!(vias(&f20[0]).len(), 3);
    assert_eq!(sim.parties.3.final_of(bye_id), Some(200));

    // Everything ends: both proxies and all tables empty.
    assert!(sim.run_until_idle(100_000));
    assert!(sim.parties.1.is_idle() && sim.parties.2.is_idle());
    assert!(sim.parties.0.is_idle() && sim.parties.3.is_idle());
    let freed =
        sim.parties.1.events.iter().filter(|e| matches!(e, ProxyEvent::ContextFreed { .. }));
    assert_eq!(freed.count(), 2, "INVITE and BYE contexts at Proxy 1");
}

/// Alice and Bob through one proxy responsible for example.com.
fn one_proxy(bob: Script) -> Sim<std::net::SocketAddr, bytes::Bytes, (Ua, Node, Ua)> {
    let p1 =
        proxy_at(P1, "example.com", &[("sip:bob@example.com", &format!("sip:bob@{BOB}"), 1000)]);
    Sim::new(wire(), (Ua::new("alice", ALICE, Script::answer()), p1, Ua::new("bob", BOB, bob)))
}

#[test]
fn rfc3665_3_9_busy_through_a_proxy() {
    let mut sim = one_proxy(Script::busy());
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "busy", P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(486));
    // The proxy ACKs the 486 hop by hop; Alice's ACK ends at the proxy.
    assert_eq!(
        summary(&sent(&sim, P1, BOB)),
        [format!("INVITE sip:bob@{BOB}"), format!("ACK sip:bob@{BOB}")]
    );
    assert_eq!(summary(&sent(&sim, P1, ALICE)), ["100", "486"]);
    let busy = &sent(&sim, P1, ALICE)[1];
    assert_eq!(busy.to_tag(), Some("bob-tag"), "the To tag of a forwarded 486 is preserved");
    assert_eq!(
        summary(&sent(&sim, ALICE, P1)),
        ["INVITE sip:bob@example.com", "ACK sip:bob@example.com"]
    );
    assert!(sim.parties.1.is_idle());
}

#[test]
fn rfc3665_3_8_no_answer_cancelled() {
    let mut sim = one_proxy(Script::ring());
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "noanswer", P1);
    sim.run_for(ms(2_000));
    let now = sim.now();
    sim.parties.0.cancel(now, id, P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(487));
    let to_bob = summary(&sent(&sim, P1, BOB));
    assert_eq!(
        to_bob,
        [
            format!("INVITE sip:bob@{BOB}"),
            format!("CANCEL sip:bob@{BOB}"),
            format!("ACK sip:bob@{BOB}")
        ]
    );
    // The proxy answers the CANCEL itself at once (§16.10), then relays the 487.
    assert_eq!(summary(&sent(&sim, P1, ALICE)), ["100", "180", "200", "487"]);
    let cancel_200 = &sent(&sim, P1, ALICE)[2];
    assert_eq!(cancel_200.cseq_method(), Some(&Method::Cancel));
    assert!(sim.parties.1.is_idle());
}

#[test]
fn rfc3665_3_11_temporarily_unavailable_is_relayed() {
    let mut sim = one_proxy(Script::status(480));
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "480", P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(480));
    assert!(sim.parties.1.is_idle());
}

#[test]
fn unknown_user_gets_404_from_the_proxy_itself() {
    let mut sim = one_proxy(Script::answer());
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:nobody@example.com", "404", P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(404));
    let answer = &sent(&sim, P1, ALICE)[0];
    assert_eq!(answer.status(), Some(404));
    assert!(answer.to_tag().is_some(), "§8.2.6.2: a To tag on the proxy's own response");
    assert!(sent(&sim, P1, BOB).is_empty());
    assert!(sim.parties.1.events.contains(&ProxyEvent::Answered {
        server: match sim.parties.1.events[0] {
            ProxyEvent::Answered { server, .. } => server,
            _ => panic!("{:?}", sim.parties.1.events),
        },
        status: 404
    }));
    assert!(sim.parties.1.is_idle());
}

#[test]
fn lone_503_becomes_500() {
    // RFC 3261 §16.7 step 6.
    let mut sim = one_proxy(Script::status(503));
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "503", P1);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(500));
    assert!(sim.parties.1.is_idle());
}
