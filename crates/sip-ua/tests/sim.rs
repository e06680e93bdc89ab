//! Many calls between two user agents over a seeded lossy network: every call ends the way
//! its faults explain, nothing is left behind, and the same seed replays the same bytes.

mod common;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use common::*;
use sip_testkit::{Sim, Wire, ms, secs};
use sip_transaction::Transport;
use sip_ua::{Body, CallId, EndReason, Invite, UaEvent};

const ALICE: &str = "192.0.2.1:5060";
const BOB: &str = "192.0.2.2:5060";

struct Outcome {
    wire_hash: u64,
    established: usize,
    failed: usize,
}

fn run(calls: usize, seed: u64, record: bool) -> Outcome {
    let mut alice = Phone::new("alice", addr(ALICE), Transport::Udp, seed);
    let mut bob = Phone::new("bob", addr(BOB), Transport::Udp, seed + 1);
    bob.policy = Answer::RingThenAnswer(ms(100));
    alice.hangup_after = Some(secs(1));
    let wire = Wire::seeded(seed)
        .latency(ms(15))
        .jitter(ms(10))
        .loss(0.2)
        .duplicate(0.2)
        .reorder(0.2)
        .reorder_window(ms(60))
        .record(record);
    let mut sim = Sim::new(wire, (alice, bob)).max_steps(50_000_000);
    let start = sim.now();
    let mut placed = Vec::with_capacity(calls);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for i in 0..calls {
        sim.run_until(start + ms(i as u64));
        let now = sim.now();
        let id = sim.parties.0.act(now, |ua, now| {
            ua.invite(now, Invite::to(format!("sip:bob@{BOB}")).body(Body::sdp(SDP_OFFER)))
        });
        placed.push(id.expect("invite"));
    }
    assert!(sim.run_until_idle(50_000_000), "the simulation did not settle");

    // Nothing is left behind on either side.
    for phone in [&sim.parties.0, &sim.parties.1] {
        assert!(
            phone.ua.is_idle(),
            "calls {} requests {} txns {}",
            phone.ua.core().calls(),
            phone.ua.core().requests(),
            phone.ua.transactions().len()
        );
        assert_eq!(phone.ua.core().dialogs(), 0);
    }

    // Alice: each call is answered then ended by her BYE, or failed with a status loss explains.
    let mut per_call: HashMap<CallId, Vec<String>> = HashMap::new();
    for (_, e) in &sim.parties.0.events {
        let call = match e {
            UaEvent::Progress { call, .. }
            | UaEvent::Answered { call, .. }
            | UaEvent::Failed { call, .. }
            | UaEvent::Ended { call, .. } => *call,
            other => panic!("unexpected event at Alice: {other:?}"),
        };
        per_call.entry(call).or_default().push(event_name(e));
    }
    let (mut established, mut failed) = (0, 0);
    for id in &placed {
        let events: Vec<String> = per_call
            .get(id)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !e.starts_with("Progress"))
            .collect();
        match events.as_slice() {
            [a, e] if a == "Answered" && e == &format!("Ended({:?})", EndReason::LocalBye) => {
                established += 1
            }
            // Timer B: every copy of the INVITE, or every response, was lost.
            [f] if f == "Failed(408)" => failed += 1,
            other => panic!("call {id}: {other:?}"),
        }
    }
    // Bob: every incoming call is confirmed (or its ACK was overtaken by the BYE, or lost) and
    // ended by Alice's BYE, or given up with a BYE of its own after 64*T1 without ACK.
    let mut bob_calls: HashMap<CallId, Vec<String>> = HashMap::new();
    for (_, e) in &sim.parties.1.events {
        let call = match e {
            UaEvent::IncomingCall { call, .. }
            | UaEvent::Confirmed { call, .. }
            | UaEvent::Ended { call, .. }
            | UaEvent::Cancelled { call } => *call,
            other => panic!("unexpected event at Bob: {other:?}"),
        };
        bob_calls.entry(call).or_default().push(event_name(e));
    }
    for (id, events) in &bob_calls {
        let ok = matches!(
            events.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
            ["IncomingCall", "Confirmed", "Ended(RemoteBye)"]
                | ["IncomingCall", "Ended(RemoteBye)"]
                | ["IncomingCall", "Ended(NoAck)"]
                | ["IncomingCall", "Confirmed", "Ended(NoAck)"]
        );
        assert!(ok, "Bob's call {id}: {events:?}");
    }
    assert!(bob_calls.len() >= established);

    for s in sim.wire.log() {
        s.payload.hash(&mut hasher);
    }
    Outcome { wire_hash: hasher.finish(), established, failed }
}

// Issue bar: 10,000 calls at 20% loss, duplication and reordering. SIP_SIM_CALLS overrides
// the count.
#[test]
fn ten_thousand_calls_over_a_lossy_network() {
    let calls = std::env::var("SIP_SIM_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let outcome = run(calls, 42, false);
    eprintln!("{calls} calls: {} established, {} failed", outcome.established, outcome.failed);
    assert_eq!(outcome.established + outcome.failed, calls);
    assert!(
        outcome.established as f64 > calls as f64 * 0.99,
        "{} established",
        outcome.established
    );
}

#[test]
fn the_same_seed_replays_the_same_bytes() {
    let a = run(200, 9, true);
    let b = run(200, 9, true);
    assert_eq!(a.wire_hash, b.wire_hash);
    let c = run(200, 10, true);
    assert_ne!(a.wire_hash, c.wire_hash);
}
