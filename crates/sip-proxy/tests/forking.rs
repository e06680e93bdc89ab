//! Forking (RFC 3261 §16.6, §16.7): parallel and sequential branches, best-response choice,
//! 2xx relaying, CANCEL fan-out, challenge merging and Timer C.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use sip_message::{HeaderName as H, Method};
use sip_proxy::{ProxyConfig, ProxyEvent, StaticLocations, StaticResolver};
use sip_testkit::Sim;
use sip_transaction::TransactionConfig;

type Fork = Sim<SocketAddr, Bytes, (Ua, Node, Ua, Ua, Ua)>;

/// Alice calls bob@example.com, registered at Bob, Carol and Dave with the given q values.
fn fork(bob: Script, carol: Script, dave: Script, q: [u16; 3]) -> Fork {
    let aor = "sip:bob@example.com";
    let p1 = proxy_at(
        P1,
        "example.com",
        &[
            (aor, &format!("sip:bob@{BOB}"), q[0]),
            (aor, &format!("sip:carol@{CAROL}"), q[1]),
            (aor, &format!("sip:dave@{DAVE}"), q[2]),
        ],
    );
    Sim::new(
        wire(),
        (
            Ua::new("alice", ALICE, Script::answer()),
            p1,
            Ua::new("bob", BOB, bob),
            Ua::new("carol", CAROL, carol),
            Ua::new("dave", DAVE, dave),
        ),
    )
}

fn everything_idle(sim: &mut Fork) {
    assert!(sim.run_until_idle(200_000));
    let p = &sim.parties;
    assert!(p.1.is_idle(), "{:?}", p.1.proxy.proxy().stats());
    assert!(p.0.is_idle() && p.2.is_idle() && p.3.is_idle() && p.4.is_idle());
}

#[test]
fn busy_branch_and_answered_branch_give_the_caller_only_the_200() {
    let mut sim = fork(Script::busy(), Script::answer(), Script::busy(), [1000, 1000, 1000]);
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "fork-1", P1);
    everything_idle(&mut sim);
    assert_eq!(sim.parties.0.final_of(id), Some(200));
    assert_eq!(sim.parties.0.statuses(), [100, 180, 200], "the 486s are never seen upstream");
    assert_eq!(sim.parties.3.received_methods(), ["INVITE", "ACK"]);
}

#[test]
fn every_2xx_of_a_fork_is_relayed() {
    // RFC 3261 §16.7 step 5, RFC 6026 §7.2: the second 200 arrives as an additional 2xx.
    let both = Script(vec![(ms(5), 180), (ms(30), 200)]);
    let later = Script(vec![(ms(5), 180), (ms(40), 200)]);
    let mut sim = fork(both, later, Script::busy(), [1000, 1000, 1000]);
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "fork-2", P1);
    everything_idle(&mut sim);
    assert_eq!(sim.parties.0.final_of(id), Some(200));
    let oks: Vec<_> = sim.parties.0.responses.iter().filter(|r| r.status() == Some(200)).collect();
    let tags: Vec<_> = oks.iter().map(|r| r.to_tag().unwrap().to_owned()).collect();
    assert!(tags.contains(&"bob-tag".to_owned()) && tags.contains(&"carol-tag".to_owned()));
    assert_eq!(sim.parties.2.received_methods(), ["INVITE", "ACK"]);
    // Bob's 200 made the proxy cancel Carol's branch (§16.7 step 10), but her 200 had already
    // left: the CANCEL changes nothing and her 200 still reaches Alice, who acknowledges it.
    assert_eq!(sim.parties.3.received_methods(), ["INVITE", "CANCEL", "ACK"]);
    assert_eq!(sim.parties.0.acks_sent, 2);
}

#[test]
fn all_branches_fail_and_the_best_response_wins() {
    // RFC 3261 §16.7 step 6: 486, 404 and 503 -> the lowest class, 4xx; the first of them.
    let mut sim = fork(
        Script(vec![(ms(5), 486)]),
        Script(vec![(ms(20), 404)]),
        Script(vec![(ms(1), 503)]),
        [1000, 1000, 1000],
    );
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "fork-3", P1);
    everything_idle(&mut sim);
    assert_eq!(sim.parties.0.final_of(id), Some(486));
    assert_eq!(summary(&sent(&sim, P1, ALICE)), ["100", "486"]);
}

#[test]
fn a_6xx_cancels_the_other_branches_and_wins() {
    let mut sim = fork(Script::status(603), Script::ring(), Script::ring(), [1000, 1000, 1000]);
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "fork-6xx", P1);
    sim.run_for(ms(100));
    // 603 arrived at 5 ms; the ringing branches were cancelled and answered 487.
    assert_eq!(sim.parties.3.received_methods(), ["INVITE", "CANCEL"]);
    assert_eq!(sim.parties.4.received_methods(), ["INVITE", "CANCEL"]);
    everything_idle(&mut sim);
    assert_eq!(sim.parties.0.final_of(id), Some(603));
}

#[test]
fn cancel_reaches_every_ringing_branch() {
    let mut sim = fork(Script::ring(), Script::ring(), Script::ring(), [1000, 1000, 1000]);
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "fork-cancel", P1);
    sim.run_for(ms(1000));
    let now = sim.now();
    sim.parties.0.cancel(now, id, P1);
    everything_idle(&mut sim);
    assert_eq!(sim.parties.0.final_of(id), Some(487));
    for ua in [&sim.parties.2, &sim.parties.3, &sim.parties.4] {
        assert_eq!(ua.received_methods(), ["INVITE", "CANCEL"], "{}", ua.name);
    }
    let finals: Vec<_> = sent(&sim, P1, ALICE)
        .into_iter()
        .filter(|m| m.cseq_method() == Some(&Method::Invite))
        .collect();
    assert_eq!(summary(&finals), ["100", "180", "180", "180", "487"]);
}

#[test]
fn cancel_waits_for_a_provisional_on_a_silent_branch() {
    // RFC 3261 §9.1: no CANCEL before a provisional; Bob's 180 comes at 3 s.
    let late = Script(vec![(Duration::from_secs(3), 180)]);
    let silent = TransactionConfig::default().trying_delay(None);
    let p1 =
        proxy_at(P1, "example.com", &[("sip:bob@example.com", &format!("sip:bob@{BOB}"), 1000)]);
    let mut sim = Sim::new(
        wire(),
        (Ua::new("alice", ALICE, Script::answer()), p1, Ua::with_config("bob", BOB, late, silent)),
    );
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "late", P1);
    sim.run_for(ms(1000));
    let now = sim.now();
    sim.parties.0.cancel(now, id, P1);
    sim.run_for(ms(1000));
    assert_eq!(sim.parties.2.received_methods(), ["INVITE"], "CANCEL held back");
    sim.run_for(ms(2000));
    assert_eq!(sim.parties.2.received_methods(), ["INVITE", "CANCEL"]);
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(487));
    assert!(sim.parties.1.is_idle());
}

#[test]
fn sequential_q_groups_try_the_next_group_only_after_the_first_failed() {
    // Bob q=1.0 and Dave q=1.0 first, in parallel; Carol q=0.5 only after both failed.
    let mut sim = fork(Script::busy(), Script::answer(), Script::status(480), [1000, 500, 1000]);
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "seq", P1);
    everything_idle(&mut sim);
    assert_eq!(sim.parties.0.final_of(id), Some(200));
    let log = sim.wire.log();
    let sent_at = |from: &str, to: &str, what: &str| {
        log.iter()
            .find(|s| {
                s.from == addr(from) && s.to == addr(to) && s.payload.starts_with(what.as_bytes())
            })
            .map(|s| s.at)
            .unwrap()
    };
    let busy = sent_at(BOB, P1, "SIP/2.0 486");
    let unavailable = sent_at(DAVE, P1, "SIP/2.0 480");
    let carol = sent_at(P1, CAROL, "INVITE");
    assert!(carol > busy && carol > unavailable);
    assert_eq!(sim.parties.0.statuses(), [100, 180, 200]);
}

#[test]
fn challenges_of_401_and_407_are_merged() {
    // RFC 3261 §16.7 step 7.
    let mut sim =
        fork(Script::status(407), Script::status(401), Script::status(486), [1000, 1000, 1000]);
    sim.parties.2.response_headers.push((
        407,
        H::ProxyAuthenticate,
        "Digest realm=\"b\", nonce=\"1\"".into(),
    ));
    sim.parties.3.response_headers.push((
        401,
        H::WwwAuthenticate,
        "Digest realm=\"c\", nonce=\"2\"".into(),
    ));
    let now = sim.now();
    let id = sim.parties.0.invite(now, "sip:bob@example.com", "auth", P1);
    everything_idle(&mut sim);
    let status = sim.parties.0.final_of(id).unwrap();
    assert!(status == 401 || status == 407, "{status}");
    let last = sim.parties.0.responses.last().unwrap();
    assert_eq!(values(last, H::ProxyAuthenticate), ["Digest realm=\"b\", nonce=\"1\""]);
    assert_eq!(values(last, H::WwwAuthenticate), ["Digest realm=\"c\", nonce=\"2\""]);
}

#[test]
fn timer_c_cancels_a_branch_that_rings_too_long() {
    // RFC 3261 §16.8: Timer C (181 s) after the last provisional: CANCEL, then the 487.
    let p1 =
        proxy_at(P1, "example.com", &[("sip:bob@example.com", &format!("sip:bob@{BOB}"), 1000)]);
    let mut sim = Sim::new(
        wire(),
        (Ua::new("alice", ALICE, Script::answer()), p1, Ua::new("bob", BOB, Script::ring())),
    );
    let start = sim.now();
    let id = sim.parties.0.invite(start, "sip:bob@example.com", "timer-c", P1);
    sim.run_for(Duration::from_secs(180));
    assert_eq!(sim.parties.2.received_methods(), ["INVITE"]);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.parties.2.received_methods(), ["INVITE", "CANCEL"]);
    let cancel_at = sim.wire.log().iter().find(|s| s.payload.starts_with(b"CANCEL")).unwrap().at;
    // The INVITE reached Bob at 20 ms, his 180 left at 25 ms and reached the proxy at 35 ms:
    // Timer C fired 181 s after that.
    assert_eq!(cancel_at - start, Duration::from_secs(181) + ms(35));
    assert!(sim.run_until_idle(100_000));
    assert_eq!(sim.parties.0.final_of(id), Some(487));
    assert_eq!(sim.parties.1.proxy.proxy().stats().timer_c_fired, 1);
    assert!(sim.parties.1.is_idle());
}

#[test]
fn timer_c_without_a_provisional_acts_as_408() {
    // RFC 3261 §16.8; T1 = 5 s makes Timer B (320 s) later than Timer C.
    let slow = TransactionConfig::default().t1(Duration::from_secs(5)).trying_delay(None);
    let mut locations = StaticLocations::new();
    locations.add("sip:bob@example.com", sip_proxy::Location::new(&format!("sip:bob@{BOB}")));
    let config =
        ProxyConfig::new(&format!("sip:{P1}")).unwrap().domain("example.com").send_trying(false);
    let p1 = Node::with_transactions(config, locations, StaticResolver::new(), slow.clone());
    let mut sim = Sim::new(
        wire(),
        (
            Ua::with_config("alice", ALICE, Script::answer(), slow.clone()),
            p1,
            Ua::with_config("bob", BOB, Script::silent(), slow),
        ),
    );
    let start = sim.now();
    let id = sim.parties.0.invite(start, "sip:bob@example.com", "timer-c-408", P1);
    sim.run_for(Duration::from_secs(200));
    assert_eq!(sim.parties.0.final_of(id), Some(408));
    assert!(
        sim.parties.1.events.iter().any(|e| matches!(e, ProxyEvent::Finished { status: 408, .. }))
    );
    assert!(sim.run_until_idle(100_000));
    assert!(sim.parties.1.is_idle());
}

#[test]
fn the_direct_and_the_queued_entry_points_behave_alike() {
    // `handle_datagram` takes the received message straight from the table, `handle` through
    // its queue: the same wire traffic at the same instants, the same proxy events.
    type Run = fn(&mut Fork);
    let answer: Run = |sim| {
        let now = sim.now();
        sim.parties.0.invite(now, "sip:bob@example.com", "same-1", P1);
        assert!(sim.run_until_idle(200_000));
    };
    let cancel: Run = |sim| {
        let now = sim.now();
        let id = sim.parties.0.invite(now, "sip:bob@example.com", "same-2", P1);
        sim.run_for(ms(1000));
        let now = sim.now();
        sim.parties.0.cancel(now, id, P1);
        assert!(sim.run_until_idle(200_000));
    };
    let scenarios: [(Script, Script, Script, Run); 4] = [
        (Script::busy(), Script::answer(), Script::busy(), answer),
        (Script::status(603), Script::ring(), Script::ring(), answer),
        (Script::ring(), Script::ring(), Script::ring(), cancel),
        (Script(vec![(ms(5), 180), (ms(30), 200)]), Script::answer(), Script::busy(), answer),
    ];
    // A clean wire, then lossy, duplicating, jittery ones (retransmissions meet due timers).
    let runs = scenarios.iter().flat_map(|s| (0..6u64).map(move |seed| (s, seed)));
    for (i, ((bob, carol, dave, run), seed)) in runs.enumerate() {
        let traces: Vec<_> = [false, true]
            .into_iter()
            .map(|queued| {
                let mut sim = fork(bob.clone(), carol.clone(), dave.clone(), [1000, 1000, 1000]);
                if seed > 0 {
                    sim.wire = sip_testkit::Wire::seeded(seed)
                        .latency(ms(10))
                        .jitter(ms(300))
                        .loss(0.2)
                        .duplicate(0.3)
                        .record(true);
                }
                sim.parties.1.queued = queued;
                let start = sim.now();
                run(&mut sim);
                let wire: Vec<_> = sim
                    .wire
                    .log()
                    .iter()
                    .map(|s| (s.at - start, s.from, s.to, s.payload.clone()))
                    .collect();
                (wire, format!("{:?}", sim.parties.1.events))
            })
            .collect();
        assert!(traces[0].0.len() > 3, "scenario {i}");
        assert_eq!(traces[0], traces[1], "scenario {i}");
    }
}
