//! Races RFC 3261 names: glare (§14.1), CANCEL crossing 200 (§9.1), forked 2xx (§13.2.2.4),
//! BYE in an early dialog (§15), late and lost ACK (§13.3.1.4).

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use common::*;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_testkit::{Clock, Sim, Wire, ms, secs};
use sip_transaction::{Target, TransactionConfig, Transport};
use sip_ua::{Body, Invite, UaConfig, UaOutput, UserAgent};

const ALICE: &str = "192.0.2.1:5060";
const BOB: &str = "192.0.2.2:5060";

fn pair(answer: Answer, wire: Wire<SocketAddr, Bytes>) -> Sim<SocketAddr, Bytes, (Phone, Phone)> {
    let alice = Phone::new("alice", addr(ALICE), Transport::Udp, 1);
    let mut bob = Phone::new("bob", addr(BOB), Transport::Udp, 2);
    bob.policy = answer;
    Sim::new(wire.record(true), (alice, bob))
}

fn call(sim: &mut Sim<SocketAddr, Bytes, (Phone, Phone)>) -> sip_ua::CallId {
    let now = sim.now();
    sim.parties
        .0
        .act(now, |ua, now| {
            ua.invite(now, Invite::to(format!("sip:bob@{BOB}")).body(Body::sdp(SDP_OFFER)))
        })
        .unwrap()
}

fn summaries(sim: &Sim<SocketAddr, Bytes, (Phone, Phone)>) -> Vec<String> {
    sim.wire.log().iter().map(|s| summary(&s.payload)).collect()
}

// §14.1: both sides re-INVITE at once; each answers the other's 491 and retries after its
// random delay (the Call-ID owner 2.1–4 s, the other 0–2 s); both retries succeed.
#[test]
fn glare_is_answered_491_and_retried() {
    let mut sim = pair(Answer::Now, Wire::seeded(3).latency(ms(50)));
    let alice_call = call(&mut sim);
    sim.run_for(secs(1));
    let bob_call = match sim.parties.1.events.first() {
        Some((_, sip_ua::UaEvent::IncomingCall { call, .. })) => *call,
        other => panic!("{other:?}"),
    };
    let now = sim.now();
    sim.parties
        .0
        .act(now, |ua, now| ua.reinvite(now, alice_call, Some(Body::sdp(SDP_OFFER))))
        .unwrap();
    sim.parties
        .1
        .act(now, |ua, now| ua.reinvite(now, bob_call, Some(Body::sdp(SDP_ANSWER))))
        .unwrap();
    sim.run_for(secs(10));
    let s = summaries(&sim);
    assert_eq!(s.iter().filter(|m| *m == "491/INVITE").count(), 2, "{s:?}");
    assert_eq!(s.iter().filter(|m| *m == "200/INVITE").count(), 3, "{s:?}");
    // Bob (not the Call-ID owner) retries first, within 2 s; Alice within 2.1–4 s.
    let reinvites: Vec<(SocketAddr, Instant)> = sim
        .wire
        .log()
        .iter()
        .filter(|s| summary(&s.payload) == "INVITE")
        .map(|s| (s.from, s.at))
        .collect();
    assert_eq!(reinvites.len(), 5);
    let glare_at = reinvites[1].1;
    let bob_retry = reinvites.iter().skip(3).find(|(f, _)| *f == addr(BOB)).unwrap().1;
    let alice_retry = reinvites.iter().skip(3).find(|(f, _)| *f == addr(ALICE)).unwrap().1;
    assert!(bob_retry - glare_at <= ms(2200), "{:?}", bob_retry - glare_at);
    assert!(alice_retry - glare_at >= ms(2100) && alice_retry - glare_at <= ms(4200));
    assert!(sim.parties.0.event_names().contains(&"ReinviteResult(200)".to_string()));
    assert!(sim.parties.1.event_names().contains(&"ReinviteResult(200)".to_string()));
    let now = sim.now();
    sim.parties.0.act(now, |ua, now| ua.bye(now, alice_call)).unwrap();
    assert!(sim.run_until_idle(100_000));
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// §9.1: the CANCEL crosses the 200: the CANCEL gets 200 with no effect, the caller ACKs the
// 200 and ends the call with a BYE.
#[test]
fn cancel_crossing_200_ends_in_ack_then_bye() {
    let mut sim = pair(Answer::RingThenAnswer(secs(1)), Wire::seeded(4).latency(ms(100)));
    let call = call(&mut sim);
    // The 180 reaches Alice at 0.2 s; Bob answers at 1.1 s; Alice cancels at 1.15 s, while the
    // 200 is in flight.
    sim.run_for(ms(1150));
    let now = sim.now();
    sim.parties.0.act(now, |ua, now| ua.cancel(now, call)).unwrap();
    assert!(sim.run_until_idle(100_000));
    assert_eq!(
        summaries(&sim),
        [
            "INVITE",
            "100/INVITE",
            "180/INVITE",
            "200/INVITE",
            "CANCEL",
            "ACK",
            "BYE",
            "200/CANCEL",
            "200/BYE"
        ]
    );
    assert_eq!(sim.parties.0.event_names(), ["Progress(180)", "Answered", "Ended(LocalBye)"]);
    assert_eq!(sim.parties.1.event_names(), ["IncomingCall", "Confirmed", "Ended(RemoteBye)"]);
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// §15: the caller may BYE an early dialog; the callee answers it 200 and the INVITE 487.
#[test]
fn bye_in_an_early_dialog() {
    let mut sim = pair(Answer::RingOnly, Wire::seeded(5).latency(ms(20)));
    let call = call(&mut sim);
    sim.run_for(secs(1));
    let now = sim.now();
    sim.parties.0.act(now, |ua, now| ua.bye(now, call)).unwrap();
    assert!(sim.run_until_idle(100_000));
    assert_eq!(
        summaries(&sim),
        ["INVITE", "100/INVITE", "180/INVITE", "BYE", "200/BYE", "487/INVITE", "ACK"]
    );
    assert_eq!(sim.parties.0.event_names(), ["Progress(180)", "Failed(487)"]);
    assert_eq!(sim.parties.1.event_names(), ["IncomingCall", "Cancelled"]);
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// §13.3.1.4 / §13.2.2.4: the first ACK is lost; Bob retransmits the 200 after T1 and Alice
// answers it with the same ACK.
#[test]
fn lost_ack_is_recovered_by_the_2xx_retransmission() {
    let wire =
        Wire::seeded(6).latency(ms(10)).drop_matching(|_, _, p: &Bytes| summary(p) == "ACK", 1);
    let mut sim = pair(Answer::Now, wire);
    call(&mut sim);
    sim.run_for(secs(3));
    assert_eq!(summaries(&sim), ["INVITE", "100/INVITE", "200/INVITE", "ACK", "200/INVITE", "ACK"]);
    let log = sim.wire.log();
    assert_eq!(log[3].payload, log[5].payload, "the same ACK again");
    assert_eq!(log[2].payload, log[4].payload, "the same 200 again");
    assert_eq!(log[4].at - log[2].at, ms(500));
    assert_eq!(sim.parties.1.event_names(), ["IncomingCall", "Confirmed"]);
}

// §13.3.1.4: no ACK ever: the 200 is retransmitted at T1 doubling to T2 and at 64*T1 Bob
// ends the session with a BYE.
#[test]
fn no_ack_ends_the_session_with_bye_at_64_t1() {
    let wire = Wire::seeded(7)
        .latency(ms(10))
        .drop_matching(|_, _, p: &Bytes| summary(p) == "ACK", usize::MAX);
    let mut sim = pair(Answer::Now, wire);
    call(&mut sim);
    assert!(sim.run_until_idle(100_000));
    let sends = sim.wire.send_times(addr(BOB), addr(ALICE));
    let oks: Vec<Instant> = sim
        .wire
        .log()
        .iter()
        .filter(|s| s.from == addr(BOB) && summary(&s.payload) == "200/INVITE")
        .map(|s| s.at)
        .collect();
    let gaps: Vec<u128> = oks.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    let first = sim.wire.log().iter().find(|s| summary(&s.payload) == "200/INVITE").unwrap();
    let same = sim.wire.log().iter().filter(|s| s.payload == first.payload).count();
    assert_eq!(same, oks.len(), "every retransmission is the first 200 byte for byte");
    assert_eq!(gaps[..5], [500, 1000, 2000, 4000, 4000]);
    assert!(gaps[5..].iter().all(|g| *g == 4000));
    let bye = sim.wire.log().iter().find(|s| summary(&s.payload) == "BYE").unwrap();
    assert_eq!(bye.from, addr(BOB));
    assert_eq!(bye.at - oks[0], secs(32));
    assert!(sends.len() > oks.len());
    assert_eq!(sim.parties.1.event_names(), ["IncomingCall", "Ended(NoAck)"]);
    assert_eq!(sim.parties.0.event_names(), ["Answered", "Ended(RemoteBye)"]);
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

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

fn reply(invite: &Message, status: u16, tag: &str, contact: &str) -> Message {
    MessageBuilder::response_to(invite, status, None)
        .to_tag(tag)
        .header(H::Contact, contact)
        .body("application/sdp", SDP_ANSWER)
        .build()
        .unwrap()
}

// §13.2.2.4: two forks answer 2xx; both are ACKed and the second dialog gets a BYE.
#[test]
fn forked_2xx_are_each_acked_and_the_extra_one_gets_a_bye() {
    let clock = Clock::new();
    let now = clock.now();
    let mut ua = UserAgent::new(
        UaConfig::new("alice", ALICE).rng_seed(1),
        TransactionConfig::default().rng_seed(1),
    );
    let proxy = Target::udp(addr("192.0.2.9:5060"));
    ua.invite(now, Invite::to("sip:bob@192.0.2.9").body(Body::sdp(SDP_OFFER))).unwrap();
    let (sent, _) = drain(&mut ua);
    let invite = &sent[0];
    let ring1 = MessageBuilder::response_to(invite, 180, None)
        .to_tag("fork1")
        .header(H::Contact, "<sip:bob@192.0.2.21>")
        .build()
        .unwrap();
    let ring2 = MessageBuilder::response_to(invite, 180, None)
        .to_tag("fork2")
        .header(H::Contact, "<sip:bob@192.0.2.22>")
        .build()
        .unwrap();
    ua.handle(now + ms(100), ring1, proxy);
    ua.handle(now + ms(110), ring2, proxy);
    let (_, events) = drain(&mut ua);
    assert_eq!(events, ["Progress(180)", "Progress(180)"]);
    ua.handle(now + ms(200), reply(invite, 200, "fork1", "<sip:bob@192.0.2.21>"), proxy);
    let (sent1, events) = drain(&mut ua);
    assert_eq!(events, ["Answered"]);
    assert_eq!(sent1.len(), 1);
    assert_eq!(sent1[0].method(), Some(&Method::Ack));
    assert_eq!(sent1[0].request_uri_str(), Some("sip:bob@192.0.2.21"));
    ua.handle(now + ms(300), reply(invite, 200, "fork2", "<sip:bob@192.0.2.22>"), proxy);
    let (sent2, events) = drain(&mut ua);
    assert!(events.is_empty(), "{events:?}");
    let methods: Vec<_> = sent2.iter().map(|m| m.method().cloned().unwrap()).collect();
    assert_eq!(methods, [Method::Ack, Method::Bye]);
    assert_eq!(sent2[0].to_tag(), Some("fork2"));
    assert_eq!(sent2[1].to_tag(), Some("fork2"));
    assert_eq!(sent2[1].request_uri_str(), Some("sip:bob@192.0.2.22"));
    // A retransmission of the first 2xx gets the same ACK again.
    ua.handle(now + ms(700), reply(invite, 200, "fork1", "<sip:bob@192.0.2.21>"), proxy);
    let (again, _) = drain(&mut ua);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].buffer(), sent1[0].buffer());
    // The BYE for the extra fork is answered; the session stays with fork1.
    let bye_ok = MessageBuilder::response_to(&sent2[1], 200, None).build().unwrap();
    ua.handle(now + ms(800), bye_ok, proxy);
    let (_, events) = drain(&mut ua);
    assert!(events.is_empty());
    assert_eq!(ua.core().dialogs(), 2);
}
