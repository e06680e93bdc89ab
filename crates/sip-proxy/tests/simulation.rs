//! A seeded three-party simulation on a lossy wire: a caller, a forking proxy and several
//! callees; every call must end with a final response the RFC allows for what was lost, and
//! nothing may be left in the proxy or any transaction table.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use sip_testkit::{Sim, Wire};
use sip_transaction::TransactionId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Bob answers.
    Answered,
    /// Bob answers, Carol is busy: a fork.
    Forked,
    /// Dave rings forever; Alice cancels after 3 s.
    Cancelled,
}

fn run(seed: u64, loss: f64) {
    let p1 = proxy_at(
        P1,
        "example.com",
        &[
            ("sip:u1@example.com", &format!("sip:bob@{BOB}"), 1000),
            ("sip:u2@example.com", &format!("sip:bob@{BOB}"), 1000),
            ("sip:u2@example.com", &format!("sip:carol@{CAROL}"), 1000),
            ("sip:u3@example.com", &format!("sip:dave@{DAVE}"), 1000),
        ],
    );
    let wire: Wire<SocketAddr, Bytes> =
        Wire::seeded(seed).latency(ms(15)).jitter(ms(10)).loss(loss).duplicate(0.05).reorder(0.05);
    let mut sim = Sim::new(
        wire,
        (
            Ua::new("alice", ALICE, Script::answer()),
            p1,
            Ua::new("bob", BOB, Script::answer()),
            Ua::new("carol", CAROL, Script::busy()),
            Ua::new("dave", DAVE, Script::ring()),
        ),
    );
    let mut calls: Vec<(TransactionId, Kind)> = Vec::new();
    let mut cancels: Vec<(std::time::Instant, TransactionId)> = Vec::new();
    for i in 0..24_u32 {
        let now = sim.now();
        let kind = [Kind::Answered, Kind::Forked, Kind::Cancelled][i as usize % 3];
        let uri = match kind {
            Kind::Answered => "sip:u1@example.com",
            Kind::Forked => "sip:u2@example.com",
            Kind::Cancelled => "sip:u3@example.com",
        };
        let id = sim.parties.0.invite(now, uri, &format!("call-{seed}-{i}"), P1);
        if kind == Kind::Cancelled {
            cancels.push((now + Duration::from_secs(3), id));
        }
        calls.push((id, kind));
        sim.run_for(ms(400));
        let now = sim.now();
        let due: Vec<_> = cancels.iter().filter(|(at, _)| *at <= now).map(|(_, id)| *id).collect();
        cancels.retain(|(at, _)| *at > now);
        for id in due {
            if sim.parties.0.final_of(id).is_none() && sim.parties.0.table.contains(id) {
                sim.parties.0.cancel(now, id, P1);
            }
        }
    }
    // The last cancels.
    for (at, id) in cancels {
        sim.run_until(at.max(sim.now()));
        let now = sim.now();
        if sim.parties.0.final_of(id).is_none() && sim.parties.0.table.contains(id) {
            sim.parties.0.cancel(now, id, P1);
        }
    }
    assert!(sim.run_until_idle(1_000_000), "seed {seed}: the simulation never settled");

    let alice = &sim.parties.0;
    for (id, kind) in &calls {
        let outcome = alice.final_of(*id);
        let timed_out = alice.timeouts.contains(id);
        let allowed = match kind {
            // A lost INVITE or final may leave the caller with Timer B's timeout, or a 408
            // from the proxy whose branch timed out.
            Kind::Answered | Kind::Forked => matches!(outcome, Some(200 | 408)) || timed_out,
            // Cancelled: 487; 408 if the branch timed out before ringing reached the proxy.
            Kind::Cancelled => matches!(outcome, Some(487 | 408)) || timed_out,
        };
        assert!(
            allowed,
            "seed {seed}: {kind:?} call ended with {outcome:?} (timed out: {timed_out})"
        );
        assert!(outcome.is_some() || timed_out, "seed {seed}: {kind:?} call never ended");
    }
    let answered = calls.iter().filter(|(id, _)| alice.final_of(*id) == Some(200)).count();
    assert!(answered >= 8, "seed {seed}: only {answered} of 16 answerable calls answered");
    let node = &sim.parties.1;
    assert!(node.is_idle(), "seed {seed}: proxy left {:?}", node.proxy.proxy().stats());
    assert!(node.proxy.transactions().is_empty());
    for ua in [&sim.parties.0, &sim.parties.2, &sim.parties.3, &sim.parties.4] {
        assert!(ua.is_idle(), "seed {seed}: {} not idle", ua.name);
    }
}

#[test]
fn lossy_calls_all_end_cleanly() {
    for seed in [1, 2, 3] {
        run(seed, 0.25);
    }
}

#[test]
fn heavy_loss_still_leaves_nothing_behind() {
    run(11, 0.3);
}
