//! RFC 3665 §3 session flows between two in-memory user agents, message by message. The
//! flows the RFC draws through proxies are run here between the two user agents directly
//! (the proxy part belongs to sip-proxy's tests).

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use sip_message::{HeaderName as H, Message, Method};
use sip_testkit::{Sim, Wire, ms, secs};
use sip_transaction::{Target, Transport};
use sip_ua::{Body, Invite};

const ALICE: &str = "192.0.2.101:5060";
const BOB: &str = "192.0.2.201:5060";

fn pair(transport: Transport, answer: Answer) -> Sim<SocketAddr, Bytes, (Phone, Phone)> {
    let mut alice = Phone::new("alice", addr(ALICE), transport, 1);
    let mut bob = Phone::new("bob", addr(BOB), transport, 2);
    bob.policy = answer;
    // Bob answers quickly: no 100 Trying, as in the RFC's direct flows.
    bob.ua = {
        let mut config = bob.ua.core().config().clone();
        config.send_trying = false;
        sip_ua::UserAgent::new(config, sip_transaction::TransactionConfig::default().rng_seed(2))
    };
    let target = Target::Addr(transport, addr(BOB));
    alice.ua.core_mut().add_host("biloxi.example.com", target);
    Sim::new(Wire::seeded(7).latency(ms(20)).record(true), (alice, bob))
}

fn call(sim: &mut Sim<SocketAddr, Bytes, (Phone, Phone)>) -> sip_ua::CallId {
    let now = sim.now();
    sim.parties
        .0
        .act(now, |ua, now| {
            ua.invite(now, Invite::to("sip:bob@biloxi.example.com").body(Body::sdp(SDP_OFFER)))
        })
        .unwrap()
}

fn wire(sim: &Sim<SocketAddr, Bytes, (Phone, Phone)>) -> Vec<Message> {
    sim.wire.log().iter().map(|s| Message::parse(s.payload.clone()).unwrap()).collect()
}

fn summaries(sim: &Sim<SocketAddr, Bytes, (Phone, Phone)>) -> Vec<String> {
    sim.wire.log().iter().map(|s| summary(&s.payload)).collect()
}

// RFC 3665 §3.1: Successful Session Establishment, F1–F6 (Bob hangs up).
#[test]
fn rfc3665_3_1_successful_session() {
    let mut sim = pair(Transport::Tcp, Answer::RingThenAnswer(secs(2)));
    sim.parties.1.hangup_after = Some(secs(5));
    call(&mut sim);
    sim.run_for(secs(40));
    assert_eq!(summaries(&sim), ["INVITE", "180/INVITE", "200/INVITE", "ACK", "BYE", "200/BYE"]);
    let m = wire(&sim);
    let (f1, f2, f3, f4, f5, f6) = (&m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
    // F1 INVITE Alice -> Bob
    assert_eq!(f1.request_uri_str(), Some("sip:bob@biloxi.example.com"));
    assert!(
        f1.header_str(H::Via)
            .unwrap()
            .starts_with("SIP/2.0/TCP 192.0.2.101:5060;rport;branch=z9hG4bK")
    );
    assert_eq!(f1.max_forwards(), Some(70));
    assert_eq!(f1.header_str(H::To), Some("<sip:bob@biloxi.example.com>"));
    let alice_tag = f1.from_tag().unwrap().to_string();
    assert!(alice_tag.len() >= 8);
    assert_eq!((f1.cseq_number(), f1.cseq_method()), (Some(1), Some(&Method::Invite)));
    assert_eq!(f1.header_str(H::Contact), Some("<sip:alice@192.0.2.101:5060;transport=tcp>"));
    assert_eq!(f1.header_str(H::ContentType), Some("application/sdp"));
    assert_eq!(f1.body(), SDP_OFFER.as_bytes());
    assert!(f1.header_str(H::Allow).unwrap().contains("INVITE"));
    // F2 180 Ringing Bob -> Alice: To tag, Contact, same transaction.
    let bob_tag = f2.to_tag().unwrap().to_string();
    assert_eq!(f2.via_branch(), f1.via_branch());
    assert_eq!(f2.from_tag(), Some(alice_tag.as_str()));
    assert_eq!(f2.header_str(H::Contact), Some("<sip:bob@192.0.2.201:5060;transport=tcp>"));
    // F3 200 OK: same tag, the answer.
    assert_eq!(f3.to_tag(), Some(bob_tag.as_str()));
    assert_eq!(f3.body(), SDP_ANSWER.as_bytes());
    assert_eq!(f3.call_id(), f1.call_id());
    // F4 ACK: to Bob's Contact, a new branch, CSeq 1 ACK, both tags.
    assert_eq!(f4.request_uri_str(), Some("sip:bob@192.0.2.201:5060;transport=tcp"));
    assert_ne!(f4.via_branch(), f1.via_branch());
    assert!(f4.via_branch().unwrap().starts_with("z9hG4bK"));
    assert_eq!((f4.cseq_number(), f4.cseq_method()), (Some(1), Some(&Method::Ack)));
    assert_eq!((f4.from_tag(), f4.to_tag()), (Some(alice_tag.as_str()), Some(bob_tag.as_str())));
    assert_eq!(f4.max_forwards(), Some(70));
    // F5 BYE Bob -> Alice: Bob's own CSeq count starts at 1, tags swapped.
    assert_eq!(f5.request_uri_str(), Some("sip:alice@192.0.2.101:5060;transport=tcp"));
    assert_eq!((f5.cseq_number(), f5.cseq_method()), (Some(1), Some(&Method::Bye)));
    assert_eq!((f5.from_tag(), f5.to_tag()), (Some(bob_tag.as_str()), Some(alice_tag.as_str())));
    assert_eq!(
        f5.header_str(H::From),
        Some("<sip:bob@biloxi.example.com>;tag=".to_string() + &bob_tag).as_deref()
    );
    // F6 200 OK to the BYE.
    assert_eq!(f6.via_branch(), f5.via_branch());
    assert_eq!(f6.to_tag(), Some(alice_tag.as_str()));

    assert_eq!(sim.parties.0.event_names(), ["Progress(180)", "Answered", "Ended(RemoteBye)"]);
    assert_eq!(sim.parties.1.event_names(), ["IncomingCall", "Confirmed", "Ended(LocalBye)"]);
    assert!(sim.run_until_idle(10_000));
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// RFC 3665 §3.8: Unsuccessful No Answer: Alice cancels a ringing call (F1 INVITE, F2 180,
// CANCEL, 200 to the CANCEL, 487 to the INVITE, ACK).
#[test]
fn rfc3665_3_8_no_answer_ends_in_cancel() {
    let mut sim = pair(Transport::Udp, Answer::RingOnly);
    let call = call(&mut sim);
    sim.run_for(secs(10));
    let now = sim.now();
    sim.parties.0.act(now, |ua, now| ua.cancel(now, call)).unwrap();
    sim.run_for(secs(40));
    assert_eq!(
        summaries(&sim),
        ["INVITE", "180/INVITE", "CANCEL", "200/CANCEL", "487/INVITE", "ACK"]
    );
    let m = wire(&sim);
    let (invite, cancel, terminated, ack) = (&m[0], &m[2], &m[4], &m[5]);
    // §9.1: the CANCEL copies the INVITE's Request-URI, Call-ID, From, To, top Via and CSeq
    // number.
    assert_eq!(cancel.request_uri_str(), invite.request_uri_str());
    assert_eq!(cancel.via_branch(), invite.via_branch());
    assert_eq!(cancel.cseq_number(), invite.cseq_number());
    assert_eq!(cancel.to_tag(), None);
    // §17.1.1.3: the ACK for the 487 is hop-by-hop: same branch, the 487's To.
    assert_eq!(ack.via_branch(), invite.via_branch());
    assert_eq!(ack.to_tag(), terminated.to_tag());
    assert_eq!(ack.cseq_method(), Some(&Method::Ack));
    assert_eq!(sim.parties.0.event_names(), ["Progress(180)", "Failed(487)"]);
    assert_eq!(sim.parties.1.event_names(), ["IncomingCall", "Cancelled"]);
    assert!(sim.run_until_idle(10_000));
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// RFC 3665 §3.9: Unsuccessful Busy: 486 Busy Here, ACKed by the transaction layer.
#[test]
fn rfc3665_3_9_busy() {
    let mut sim = pair(Transport::Udp, Answer::Reject(486));
    call(&mut sim);
    sim.run_for(secs(40));
    assert_eq!(summaries(&sim), ["INVITE", "486/INVITE", "ACK"]);
    let m = wire(&sim);
    assert!(m[1].to_tag().is_some());
    assert_eq!(sim.parties.0.event_names(), ["Failed(486)"]);
    assert!(sim.run_until_idle(10_000));
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// RFC 3665 §3.10: Unsuccessful No Response from User Agent: nothing answers; Timer A
// retransmits at 0.5, 1, 2, 4, 8, 16 s and Timer B ends the call with a synthesised 408 at
// 32 s (§8.1.3.1).
#[test]
fn rfc3665_3_10_no_response_times_out() {
    let mut sim = pair(Transport::Udp, Answer::Ignore);
    sim.wire.add_drop_matching(|_, to, _| *to == addr(BOB), usize::MAX);
    let start = sim.now();
    call(&mut sim);
    sim.run_for(secs(40));
    let times: Vec<u128> = sim
        .wire
        .send_times(addr(ALICE), addr(BOB))
        .iter()
        .map(|t| (*t - start).as_millis())
        .collect();
    assert_eq!(times, [0, 500, 1500, 3500, 7500, 15500, 31500]);
    let events = &sim.parties.0.events;
    assert_eq!(sim.parties.0.event_names(), ["Failed(408)"]);
    assert_eq!(events[0].0 - start, secs(32));
    assert!(sim.run_until_idle(10_000));
    assert!(sim.parties.0.is_idle());
}

// RFC 3665 §3.11: Unsuccessful Temporarily Unavailable: 180, then 480.
#[test]
fn rfc3665_3_11_temporarily_unavailable() {
    let mut sim = pair(Transport::Udp, Answer::RingThenReject(480, secs(3)));
    call(&mut sim);
    sim.run_for(secs(40));
    assert_eq!(summaries(&sim), ["INVITE", "180/INVITE", "480/INVITE", "ACK"]);
    assert_eq!(sim.parties.0.event_names(), ["Progress(180)", "Failed(480)"]);
    assert!(sim.run_until_idle(10_000));
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// RFC 3665 §3.7: Session with re-INVITE (IP address change): Alice re-INVITEs with a new
// offer and a new Contact; Bob's dialog targets the new Contact.
#[test]
fn rfc3665_3_7_reinvite_refreshes_target() {
    let mut sim = pair(Transport::Udp, Answer::Now);
    let call = call(&mut sim);
    sim.run_for(secs(1));
    let now = sim.now();
    sim.parties.0.act(now, |ua, now| ua.reinvite(now, call, Some(Body::sdp(SDP_OFFER)))).unwrap();
    sim.run_for(secs(1));
    assert_eq!(summaries(&sim), ["INVITE", "200/INVITE", "ACK", "INVITE", "200/INVITE", "ACK"]);
    let m = wire(&sim);
    assert_eq!(m[3].cseq_number(), Some(2));
    assert_eq!(m[3].to_tag(), m[1].to_tag());
    assert_eq!(m[5].cseq_number(), Some(2));
    assert_eq!(sim.parties.0.event_names(), ["Answered", "ReinviteResult(200)"]);
    assert_eq!(sim.parties.1.event_names(), ["IncomingCall", "Confirmed", "Reinvite"]);
    let now = sim.now();
    sim.parties.0.act(now, |ua, now| ua.bye(now, call)).unwrap();
    assert!(sim.run_until_idle(10_000));
    assert!(sim.parties.0.is_idle() && sim.parties.1.is_idle());
}

// Issue bar: at most 2 KiB per established idle dialog, besides message buffers. Measured
// on both sides once the INVITE transactions are gone (after Timer M / L).
#[test]
fn an_established_idle_call_holds_under_2_kib() {
    let mut sim = pair(Transport::Udp, Answer::Now);
    let call = call(&mut sim);
    sim.run_for(secs(60));
    let alice = sim.parties.0.ua.core().call_bytes(call).unwrap();
    let bob_call = sim.parties.1.ua.core().dialog_calls()[0];
    let bob = sim.parties.1.ua.core().call_bytes(bob_call).unwrap();
    eprintln!("established idle call: Alice {alice} bytes, Bob {bob} bytes");
    assert!(alice <= 2048 && bob <= 2048, "Alice {alice}, Bob {bob}");
    assert!(sim.parties.0.ua.transactions().is_empty());
}
