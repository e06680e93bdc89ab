//! RFC 3261 §17.2.2, Figure 8: every transition of the server non-INVITE transaction.

mod common;

use common::*;
use sip_message::Method;
use sip_transaction::{Event, ResponseError, TransactionId, TransactionState};

const BRANCH: &str = "z9hG4bKnoninvite1";

fn incoming(
    run: &mut Run,
    target: sip_transaction::Target,
) -> (TransactionId, sip_message::Message) {
    let req = request(Method::Options, Some(BRANCH));
    let out = run.receive(req.clone(), target);
    match events(&out)[..] {
        [Event::Request { id, .. }] => (*id, req),
        _ => panic!("expected a new server transaction, got {out:?}"),
    }
}

#[test]
fn new_request_goes_to_the_tu_in_trying() {
    // §17.2.2: the request is passed to the TU; the machine starts in Trying; nothing is sent.
    let mut run = Run::new();
    let out = run.receive(request(Method::Options, Some(BRANCH)), udp());
    let [Event::Request { id, request: r, source }] = events(&out)[..] else { panic!() };
    assert_eq!((r.method(), *source), (Some(&Method::Options), udp()));
    assert_eq!(run.table.state(*id), Some(TransactionState::Trying));
    assert!(transmits(&out).is_empty());
}

#[test]
fn trying_absorbs_retransmitted_requests() {
    // §17.2.2: "any further request retransmissions are discarded" while Trying.
    let mut run = Run::new();
    let (_, req) = incoming(&mut run, udp());
    assert!(run.receive(req, udp()).is_empty());
    assert_eq!(run.table.stats().absorbed, 1);
}

#[test]
fn trying_to_proceeding_on_1xx_from_the_tu() {
    // Figure 8: Trying --1xx from TU / send response--> Proceeding.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    let out = run.respond(id, reply(&req, 100)).unwrap();
    assert_eq!(transmits(&out)[0].target, udp());
    assert_eq!(run.table.state(id), Some(TransactionState::Proceeding));
}

#[test]
fn proceeding_sends_further_1xx_from_the_tu() {
    // Figure 8: Proceeding --1xx from TU / send response--> Proceeding.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 100)).unwrap();
    let out = run.respond(id, reply(&req, 180)).unwrap();
    assert_eq!(sent_messages(&out)[0].status(), Some(180));
}

#[test]
fn proceeding_answers_a_retransmission_with_the_latest_provisional() {
    // Figure 8: Proceeding --Request / send response--> Proceeding.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 100)).unwrap();
    let latest = run.respond(id, reply(&req, 180)).unwrap();
    let out = run.receive(req, udp());
    assert_eq!(transmits(&out)[0].payload, transmits(&latest)[0].payload);
    assert!(events(&out).is_empty());
}

#[test]
fn trying_to_completed_on_final_from_the_tu() {
    // Figure 8: Trying --200-699 from TU / send response--> Completed.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    let out = run.respond(id, reply(&req, 200)).unwrap();
    assert_eq!(sent_messages(&out)[0].status(), Some(200));
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
}

#[test]
fn proceeding_to_completed_on_final_from_the_tu() {
    // Figure 8: Proceeding --200-699 from TU / send response--> Completed.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 100)).unwrap();
    run.respond(id, reply(&req, 404)).unwrap();
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
}

#[test]
fn completed_answers_each_retransmission_with_the_final() {
    // Figure 8: Completed --Request / send response--> Completed.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    let fin = run.respond(id, reply(&req, 200)).unwrap();
    let again = run.receive(req.clone(), udp());
    let third = run.receive(req, udp());
    assert_eq!(transmits(&again)[0].payload, transmits(&fin)[0].payload);
    assert_eq!(transmits(&third).len(), 1);
    assert_eq!(run.table.stats().retransmissions, 2);
}

#[test]
fn completed_refuses_a_second_final() {
    // §17.2.2: "Any other final responses passed by the TU to the server transaction MUST be
    // discarded while in the Completed state" (here: refused with a typed error).
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    assert_eq!(
        run.respond(id, reply(&req, 500)).unwrap_err(),
        ResponseError::AlreadyFinal(TransactionState::Completed)
    );
}

#[test]
fn completed_ends_at_timer_j_64_t1_on_udp() {
    // §17.2.2: Timer J = 64*T1 for unreliable transports.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.run_for(secs(1));
    run.respond(id, reply(&req, 200)).unwrap();
    run.run_for(secs(40));
    assert_eq!(run.terminated_at(id), Some(secs(33)));
}

#[test]
fn completed_ends_at_once_on_tcp_timer_j_zero() {
    // §17.2.2: Timer J is zero for reliable transports.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, tcp());
    let out = run.respond(id, reply(&req, 200)).unwrap();
    assert!(matches!(events(&out)[..], [Event::Terminated { id: t }] if *t == id));
    assert!(run.table.is_empty());
}

#[test]
fn proceeding_transport_error_informs_the_tu_and_terminates() {
    // Figure 8: Proceeding --Transport Err. / Inform TU--> Terminated.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 100)).unwrap();
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(
        events(&run.drain())[..],
        [Event::TransportFailed { .. }, Event::Terminated { .. }]
    ));
}

#[test]
fn completed_transport_error_informs_the_tu_and_terminates() {
    // Figure 8: Completed --Transport Err. / Inform TU--> Terminated.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(
        events(&run.drain())[..],
        [Event::TransportFailed { .. }, Event::Terminated { .. }]
    ));
    assert!(run.table.is_empty());
}

#[test]
fn trying_ignores_a_transport_error_as_nothing_was_sent() {
    // Figure 8 has no arc from Trying: nothing was sent, so the error is not this transaction's.
    let mut run = Run::new();
    let (id, _) = incoming(&mut run, udp());
    run.table.handle_transport_error(run.now(), id);
    assert!(run.drain().is_empty());
    assert_eq!(run.table.state(id), Some(TransactionState::Trying));
}
