//! The table's contract: branches, serialise-once, the clock rules, typed errors, stats and ids.

mod common;

use bytes::Bytes;
use common::*;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_transaction::{
    BRANCH_COOKIE, Event, FlowId, Input, Output, ResponseError, SendError, Target,
    TransactionConfig, TransactionKind, TransactionTable, Transport,
};

#[test]
fn branches_are_the_cookie_and_16_random_characters_replayed_by_the_seed() {
    // §8.1.1.7: the branch starts with z9hG4bK; the rest comes from the seeded generator.
    let branches = |seed| {
        let mut run = Run::with(TransactionConfig::default().rng_seed(seed));
        (0..3)
            .map(|_| {
                let (id, _) = run.send(request(Method::Options, None), udp());
                run.table.branch(id).unwrap().to_owned()
            })
            .collect::<Vec<_>>()
    };
    let a = branches(42);
    assert_eq!(a, branches(42));
    assert_ne!(a, branches(43));
    for b in &a {
        assert!(b.starts_with(BRANCH_COOKIE) && b.len() == BRANCH_COOKIE.len() + 16, "{b}");
        assert!(b.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
    assert_ne!(a[0], a[1]);
}

#[test]
fn the_branch_is_added_to_the_top_via_and_a_given_one_is_kept() {
    let mut run = Run::new();
    let (id, out) = run.send(request(Method::Options, None), udp());
    let sent = &sent_messages(&out)[0];
    assert_eq!(sent.via_branch(), run.table.branch(id));
    assert!(sent.top_via().unwrap().starts_with(b"SIP/2.0/UDP client.example.com:5060;branch="));
    let (id, _) = run.send(request(Method::Options, Some("z9hG4bKmine")), udp());
    assert_eq!(run.table.branch(id), Some("z9hG4bKmine"));
}

#[test]
fn retransmissions_share_the_bytes_of_the_first_send() {
    // ARCHITECTURE.md: requests are serialised once; a retransmission is a refcount clone.
    let mut run = Run::new();
    let (_, first) = run.send(request(Method::Invite, None), udp());
    let again = run.run_for(ms(600));
    let (a, b) = (&transmits(&first)[0].payload, &transmits(&again)[0].payload);
    assert_eq!(a.as_ptr(), b.as_ptr());
}

#[test]
fn send_request_refuses_what_cannot_start_a_transaction() {
    let mut table = TransactionTable::default();
    let now = sip_testkit::Clock::new().now();
    let to = udp();
    let ok = request(Method::Options, Some("z9hG4bKdup"));
    assert_eq!(
        table.send_request(now, request(Method::Ack, None), to),
        Err(SendError::AckIsNotATransaction)
    );
    assert_eq!(table.send_request(now, reply(&ok, 200), to), Err(SendError::NotARequest));
    assert_eq!(
        table.send_request(now, request(Method::Options, Some("1234")), to),
        Err(SendError::BadBranch)
    );
    let no_via = MessageBuilder::request(&Method::Options, "sip:b@example.com")
        .header(H::CallId, "x")
        .header(H::CSeq, "1 OPTIONS")
        .build()
        .unwrap();
    assert_eq!(table.send_request(now, no_via, to), Err(SendError::MissingVia));
    let mut mismatch = request(Method::Options, None);
    mismatch.set(H::CSeq, "1 INFO").unwrap();
    assert_eq!(table.send_request(now, mismatch, to), Err(SendError::CSeqMethodMismatch));
    let mut no_call_id = request(Method::Options, None);
    no_call_id.remove_all(H::CallId);
    assert_eq!(table.send_request(now, no_call_id, to), Err(SendError::MissingCallId));
    table.send_request(now, ok.clone(), to).unwrap();
    assert_eq!(table.send_request(now, ok, to), Err(SendError::DuplicateBranch));
    assert_eq!(table.len(), 1);
    assert!(!SendError::BadBranch.to_string().is_empty());
}

#[test]
fn send_response_refuses_what_does_not_belong() {
    let mut run = Run::new();
    let req = request(Method::Options, Some("z9hG4bKsr"));
    run.receive(req.clone(), udp());
    let server = run_first_id(&run);
    let (client, _) = run.send(request(Method::Options, None), udp());
    assert_eq!(
        run.respond(client, reply(&req, 200)).unwrap_err(),
        ResponseError::NotAServerTransaction
    );
    assert_eq!(run.respond(server, req.clone()).unwrap_err(), ResponseError::NotAResponse);
    let other = request(Method::Info, Some("z9hG4bKsr"));
    assert_eq!(run.respond(server, reply(&other, 200)).unwrap_err(), ResponseError::Mismatch);
    run.respond(server, reply(&req, 200)).unwrap();
    run.run_for(secs(40));
    assert_eq!(
        run.respond(server, reply(&req, 200)).unwrap_err(),
        ResponseError::UnknownTransaction
    );
}

fn run_first_id(run: &Run) -> sip_transaction::TransactionId {
    run.log
        .iter()
        .find_map(|(_, o)| match o {
            Output::Event(Event::Request { id, .. }) => Some(*id),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_now_earlier_than_the_last_is_treated_as_the_last() {
    // STYLE.md §2 (as str0m): time never runs backwards.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    let t0 = run.now();
    run.table.handle_timeout(t0 + secs(1));
    run.drain();
    run.table.handle_timeout(t0); // earlier: nothing fires twice, nothing is rescheduled
    assert!(run.table.poll_output().is_none());
    run.table.handle_message(t0, reply(&run.sent(id), 200), udp());
    run.drain();
    // Timer K counts from the last seen time (1 s), not from t0.
    assert_eq!(run.table.poll_timeout(), Some(t0 + secs(6)));
}

#[test]
fn handle_fires_due_timers_before_the_input() {
    // STYLE.md §2: a response arriving exactly at Timer F comes after the timeout.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    let ok = reply(&run.sent(id), 200);
    run.table.handle_message(run.now() + secs(32), ok, udp());
    let out = run.drain();
    let kinds: Vec<_> = events(&out).iter().map(|e| std::mem::discriminant(*e)).collect();
    assert_eq!(kinds.len(), 3, "{out:?}");
    assert!(matches!(
        events(&out)[..],
        [Event::TimedOut { .. }, Event::Terminated { .. }, Event::StrayResponse { .. }]
    ));
}

#[test]
fn stats_count_live_transactions_per_kind_and_what_happened() {
    let mut run = Run::new();
    run.send(request(Method::Invite, None), udp());
    run.send(request(Method::Options, None), udp());
    run.receive(request(Method::Invite, Some("z9hG4bKs1")), udp());
    run.receive(request(Method::Bye, Some("z9hG4bKs2")), udp());
    let s = run.table.stats();
    assert_eq!(
        (s.client_invite, s.client_non_invite, s.server_invite, s.server_non_invite),
        (1, 1, 1, 1)
    );
    assert_eq!(s.live_of(TransactionKind::ServerInvite), 1);
    assert_eq!((s.live(), s.created), (4, 4));
    run.receive(reply(&request(Method::Info, Some("z9hG4bKstray")), 200), udp());
    run.table.handle_datagram(run.now(), Bytes::from_static(b"not sip"), udp());
    run.run_for(secs(40));
    let s = run.table.stats();
    assert_eq!(s.stray_responses, 1);
    assert_eq!(s.malformed, 1);
    assert_eq!(s.timeouts, 2, "Timers B and F");
    assert_eq!(s.retransmissions, 6 + 10);
    assert_eq!(s.live(), 2, "the server transactions wait for their TU");
}

#[test]
fn pending_counts_working_transactions_and_eviction_frees_lingering_ones_oldest_first() {
    let mut run = Run::new();
    let mut ids = Vec::new();
    for (i, method) in
        [Method::Options, Method::Invite, Method::Bye, Method::Info].iter().enumerate()
    {
        let req = request(method.clone(), Some(&format!("z9hG4bKev{i}")));
        let id = match events(&run.receive(req.clone(), udp()))[..] {
            [Event::Request { id, .. }] => *id,
            _ => panic!("expected the request"),
        };
        ids.push((id, req));
    }
    let (client, _) = run.send(request(Method::Options, None), udp());
    let s = run.table.stats();
    assert_eq!((s.live(), s.pending), (5, 5), "all five still work");
    // Finals in the order BYE, OPTIONS, INVITE (a 486: Completed, waiting for the ACK); the
    // INFO stays without one.
    for i in [2, 0, 1] {
        let (id, req) = &ids[i];
        let status = if i == 1 { 486 } else { 200 };
        run.respond(*id, reply(req, status)).unwrap();
    }
    let s = run.table.stats();
    assert_eq!((s.live(), s.pending), (5, 2), "three linger: INFO and the client still work");
    assert!(run.table.state(ids[2].0).unwrap().is_lingering());
    // Evicting two frees the BYE and the OPTIONS, the first two to linger, with Terminated.
    assert_eq!(run.table.evict_lingering(run.now(), 2), 2);
    let terminated: Vec<_> = events(&run.drain())
        .iter()
        .filter_map(|e| match e {
            Event::Terminated { id } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(terminated, vec![ids[2].0, ids[0].0]);
    assert!(run.table.contains(ids[1].0), "the INVITE is the next");
    // Asking for more than linger frees only what lingers: working transactions are kept.
    assert_eq!(run.table.evict_lingering(run.now(), 10), 1);
    assert!(matches!(events(&run.drain())[..], [Event::Terminated { id }] if *id == ids[1].0));
    assert!(run.table.contains(ids[3].0) && run.table.contains(client));
    let s = run.table.stats();
    assert_eq!((s.live(), s.pending, s.evicted), (2, 2, 3));
    // A retransmission of an evicted request is new again to the TU.
    let again = run.receive(ids[0].1.clone(), udp());
    assert!(matches!(events(&again)[..], [Event::Request { .. }]), "{again:?}");
    // Timers still free what eviction did not touch, and the counts end at zero.
    let (id, req) = &ids[3];
    run.respond(*id, reply(req, 200)).unwrap();
    run.run_for(secs(70));
    let s = run.table.stats();
    assert_eq!((s.live(), s.pending), (1, 1), "the re-received OPTIONS waits for its TU");
    assert_eq!(run.table.evict_lingering(run.now(), 10), 0);
}

#[test]
fn handle_dispatches_every_input() {
    let mut run = Run::new();
    let req = request(Method::Options, Some("z9hG4bKin"));
    run.table.handle(run.now(), Input::Datagram { payload: req.to_bytes(), source: udp() });
    let id = match events(&run.drain())[..] {
        [Event::Request { id, .. }] => *id,
        _ => panic!(),
    };
    run.table.handle(run.now(), Input::Message { message: req.clone(), source: udp() });
    assert!(run.drain().is_empty());
    run.respond(id, reply(&req, 100)).unwrap();
    run.table.handle(run.now(), Input::TransportError { id });
    assert!(matches!(
        events(&run.drain())[..],
        [Event::TransportFailed { .. }, Event::Terminated { .. }]
    ));
}

#[test]
fn stale_ids_find_nothing_after_their_slot_is_reused() {
    let mut run = Run::new();
    let (old, _) = run.send(request(Method::Options, None), tcp());
    run.receive(reply(&run.sent(old), 200), tcp());
    assert!(!run.table.contains(old));
    let (new, _) = run.send(request(Method::Options, None), tcp());
    assert_ne!(old, new);
    assert!(run.table.state(old).is_none() && run.table.request(old).is_none());
    run.table.handle_transport_error(run.now(), old); // ignored
    assert!(run.drain().is_empty());
    assert!(run.table.contains(new));
    run.receive(reply(&run.sent(new), 200), tcp());
}

#[test]
fn flows_carry_their_transport_and_responses_go_back_over_them() {
    // §18.2.2: a response goes back over the connection the request came on.
    let mut run = Run::new();
    let flow = Target::Flow(Transport::Tcp, FlowId(9));
    let req = request(Method::Options, Some("z9hG4bKflow"));
    run.receive(req.clone(), flow);
    let id = run_first_id(&run);
    let out = run.respond(id, reply(&req, 200)).unwrap();
    assert_eq!(transmits(&out)[0].target, flow);
    assert_eq!(transmits(&out)[0].transaction, Some(id));
    assert!(run.table.is_empty(), "reliable: Timer J is zero");
}

#[test]
fn send_stateless_queues_a_transmit_without_a_transaction() {
    let mut run = Run::new();
    let ack = request(Method::Ack, Some("z9hG4bKack"));
    run.table.send_stateless(udp(), &ack);
    let out = run.drain();
    assert_eq!(transmits(&out)[0].transaction, None);
    assert_eq!(transmits(&out)[0].payload, ack.to_bytes());
    assert!(run.table.is_empty());
}

#[test]
fn poll_timeout_is_none_when_idle_and_exact_after_cancellations() {
    // One queue for all transactions with lazy invalidation: a timer cleared by a response
    // (Timer A and B here) never shows in poll_timeout.
    let mut run = Run::new();
    assert_eq!(run.table.poll_timeout(), None);
    let t0 = run.now();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    assert_eq!(run.table.poll_timeout(), Some(t0 + ms(500)));
    run.receive(reply(&run.sent(id), 200), udp());
    assert_eq!(run.table.poll_timeout(), Some(t0 + secs(32)), "Timer M only");
}

#[test]
fn a_drawn_branch_sends_the_same_bytes_and_leaves_the_generator_where_send_request_would() {
    // Run A lets the table add the branch; run B draws it first and writes it into the Via
    // itself (as a TU that builds its requests does). Same seed: same bytes on the wire, and
    // the generator goes on alike (the next branches agree too).
    let seed = TransactionConfig::default().rng_seed(7);
    let mut a = Run::with(seed.clone());
    let mut b = Run::with(seed);
    for method in [Method::Invite, Method::Options, Method::Bye] {
        let (_, out_a) = a.send(request(method.clone(), None), udp());
        let drawn = b.table.draw_branch();
        assert!(drawn.as_str().starts_with(BRANCH_COOKIE) && drawn.as_str().len() == 23);
        let (id_b, out_b) = b.send(request(method, Some(drawn.as_str())), udp());
        assert_eq!(b.table.branch(id_b), Some(drawn.as_str()));
        let (ta, tb) = (transmits(&out_a), transmits(&out_b));
        assert_eq!(ta.len(), 1);
        assert_eq!(ta[0].payload, tb[0].payload);
    }
    // A branch given back leaves no trace: the next draw is the same branch again, and the
    // table's next own branch is the one run A gets.
    let first = b.table.draw_branch();
    b.table.return_branch(first);
    let again = b.table.draw_branch();
    assert_eq!(first.as_str(), again.as_str());
    b.table.return_branch(again);
    let (id_a, _) = a.send(request(Method::Options, None), udp());
    let (id_b, _) = b.send(request(Method::Options, None), udp());
    assert_eq!(a.table.branch(id_a), b.table.branch(id_b));
}

#[test]
fn a_request_sent_as_written_bytes_runs_as_the_same_copy_indexed() {
    // A proxy's forwarded copy written as bytes (`Message::forwarded_request_bytes`, sent with
    // `send_request_bytes`) and the same copy indexed (`forwarded_restamped`, sent with
    // `send_request`): the same bytes on the wire and the same transaction after it, from
    // the retransmissions to the CANCEL (§9.1) and the ACK for a non-2xx (§17.1.1.3). Covered:
    // the bytes path proper, a copy over the UDP limit (parsed and moved to TCP, §18.1.1), a
    // copy whose top Via is not written in front (parsed), and one that cannot be sent.
    let seed = TransactionConfig::default().rng_seed(7);
    let rr: &[u8] = b"<sip:proxy.example.com;lr>";
    let cases = [
        (Method::Invite, 0, true, Some("z9hG4bKp1")),
        (Method::Invite, 2000, true, Some("z9hG4bKp2")),
        (Method::Bye, 0, true, Some("z9hG4bKp3")),
        (Method::Invite, 0, false, None),
        (Method::Options, 0, true, Some("no-cookie")),
    ];
    for (method, pad, front_via, branch) in cases {
        let label = format!("{method:?} pad {pad} front Via {front_via} {branch:?}");
        let (mut a, mut b) = (Run::with(seed.clone()), Run::with(seed.clone()));
        let mut base = request(method.clone(), Some("z9hG4bKupstream"));
        if pad > 0 {
            base.push_front(H::Subject, "x".repeat(pad)).unwrap();
        }
        let via = format!("SIP/2.0/UDP proxy.example.com;branch={}", branch.unwrap_or(""));
        let front: Vec<(H, &[u8])> = match front_via {
            true => vec![(H::Via, via.as_bytes()), (H::RecordRoute, rr)],
            false => vec![(H::RecordRoute, rr)],
        };
        let indexed = base.forwarded_restamped(None, &front, None, Some(69)).unwrap();
        let written = base.forwarded_request_bytes(None, &front, None, Some(69)).unwrap();
        assert_eq!(written.bytes(), &indexed.to_bytes(), "{label}");
        let sent_a = a.table.send_request(a.now(), indexed, udp());
        let sent_b = b.table.send_request_bytes(b.now(), written, udp());
        assert_eq!(sent_a, sent_b, "{label}");
        let (Ok(ida), Ok(idb)) = (sent_a, sent_b) else {
            assert!(a.table.is_empty() && b.table.is_empty(), "{label}");
            continue;
        };
        assert_eq!(a.table.branch(ida), b.table.branch(idb), "{label}");
        let (oa, ob) = (a.drain(), b.drain());
        assert_eq!(transmits(&oa), transmits(&ob), "{label}");
        if pad > 0 {
            assert_eq!(transmits(&ob)[0].target, tcp(), "{label}: §18.1.1");
        }
        assert_eq!(a.sent(ida).to_bytes(), b.sent(idb).to_bytes(), "{label}");
        // Retransmissions (over UDP) and the CANCEL.
        let (oa, ob) = (a.run_for(ms(1600)), b.run_for(ms(1600)));
        assert_eq!(transmits(&oa), transmits(&ob), "{label}");
        let (ca, cb) = (a.table.cancel_request(ida), b.table.cancel_request(idb));
        assert_eq!(ca.map(|c| c.to_bytes()), cb.map(|c| c.to_bytes()), "{label}");
        // A final response: the ACK for a non-2xx INVITE response, the events for the TU.
        let (oa, ob) = (a.receive(reply(&a.sent(ida), 486), udp()), {
            let reply = reply(&b.sent(idb), 486);
            b.receive(reply, udp())
        });
        assert_eq!(transmits(&oa), transmits(&ob), "{label}");
        if method == Method::Invite {
            let ack = Message::parse(transmits(&ob)[0].payload.clone()).unwrap();
            assert_eq!(ack.method(), Some(&Method::Ack), "{label}");
        }
        assert_eq!(format!("{:?}", events(&oa)), format!("{:?}", events(&ob)), "{label}");
        let (oa, ob) = (a.run_for(secs(64)), b.run_for(secs(64)));
        assert_eq!(format!("{oa:?}"), format!("{ob:?}"), "{label}");
        assert!(a.table.is_empty() && b.table.is_empty(), "{label}");
    }
}
