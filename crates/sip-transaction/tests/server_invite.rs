//! RFC 3261 §17.2.1, Figure 7 as RFC 6026 §8.6 replaces it: every transition of the server
//! INVITE transaction, with exact timer schedules.

mod common;

use common::*;
use sip_message::{Message, Method};
use sip_transaction::{
    Event, ResponseError, Target, Timer, TransactionConfig, TransactionId, TransactionState,
};

const BRANCH: &str = "z9hG4bKinvite1";

fn incoming(run: &mut Run, target: Target) -> (TransactionId, Message) {
    let req = request(Method::Invite, Some(BRANCH));
    let out = run.receive(req.clone(), target);
    match events(&out)[..] {
        [Event::Request { id, .. }] => (*id, req),
        _ => panic!("expected a new server transaction, got {out:?}"),
    }
}

/// The ACK for a non-2xx: same branch (§17.1.1.3), To with the response's tag.
fn ack_for(_req: &Message) -> Message {
    let mut ack = request(Method::Ack, Some(BRANCH));
    ack.set(sip_message::HeaderName::To, "Bob <sip:bob@example.com>;tag=b1").unwrap();
    ack
}

#[test]
fn new_invite_goes_to_the_tu_in_proceeding() {
    // §17.2.1: "The request MUST be passed to the TU"; the machine starts in Proceeding.
    let mut run = Run::new();
    let (id, _) = incoming(&mut run, udp());
    assert_eq!(run.table.state(id), Some(TransactionState::Proceeding));
}

#[test]
fn proceeding_sends_100_trying_when_the_tu_is_silent_for_200_ms() {
    // §17.2.1: "MUST generate a 100 (Trying) response unless it knows that the TU will generate
    // a provisional or final response within 200 ms"; no To tag added.
    let mut run = Run::new();
    incoming(&mut run, udp());
    let out = run.run_for(secs(1));
    let sent = sent_messages(&out);
    assert_eq!(run.transmit_times(), [ms(200)]);
    assert_eq!(sent[0].status(), Some(100));
    assert_eq!(sent[0].to_tag(), None);
    assert_eq!(sent[0].via_branch(), Some(BRANCH));
}

#[test]
fn proceeding_sends_no_100_when_the_tu_answers_within_200_ms() {
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.run_for(ms(150));
    run.respond(id, reply(&req, 180)).unwrap();
    run.run_for(secs(1));
    assert_eq!(run.transmit_times(), [ms(150)]);
}

#[test]
fn trying_delay_is_configurable_and_can_be_off() {
    let mut run = Run::with(TransactionConfig::default().trying_delay(None));
    incoming(&mut run, udp());
    run.run_for(secs(1));
    assert!(run.transmit_times().is_empty());
}

#[test]
fn proceeding_sends_each_provisional_from_the_tu() {
    // Figure 7: Proceeding --101-199 from TU / send response--> Proceeding.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    let a = run.respond(id, reply(&req, 180)).unwrap();
    let b = run.respond(id, reply(&req, 183)).unwrap();
    assert_eq!(sent_messages(&a)[0].status(), Some(180));
    assert_eq!(sent_messages(&b)[0].status(), Some(183));
    assert_eq!(run.table.state(id), Some(TransactionState::Proceeding));
}

#[test]
fn proceeding_answers_a_retransmitted_invite_with_the_latest_provisional() {
    // §17.2.1: "the most recent provisional response ... MUST be passed to the transport layer
    // for retransmission"; Figure 7: Proceeding --INVITE / send response--> Proceeding.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 180)).unwrap();
    let latest = run.respond(id, reply(&req, 183)).unwrap();
    let out = run.receive(req, udp());
    assert_eq!(transmits(&out)[0].payload, transmits(&latest)[0].payload);
    assert!(events(&out).is_empty());
}

#[test]
fn proceeding_absorbs_a_retransmitted_invite_before_any_response() {
    let mut run = Run::new();
    let (_, req) = incoming(&mut run, udp());
    assert!(run.receive(req, udp()).is_empty());
}

#[test]
fn proceeding_to_completed_on_300_699_from_the_tu() {
    // Figure 7: Proceeding --300-699 from TU / send response--> Completed.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    let out = run.respond(id, reply(&req, 486)).unwrap();
    assert_eq!(sent_messages(&out)[0].status(), Some(486));
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
}

#[test]
fn completed_retransmits_on_timer_g_doubling_to_t2_until_timer_h() {
    // §17.2.1: Timer G at T1, then MIN(2*T1, T2), ...; Timer H at 64*T1 tells the TU.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 486)).unwrap();
    run.run_for(secs(40));
    assert_eq!(
        gaps(&run.transmit_times()),
        ms_list(&[500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000])
    );
    assert_eq!(run.timed_out(id), Some((secs(32), Timer::H)));
    assert_eq!(run.terminated_at(id), Some(secs(32)));
}

#[test]
fn reliable_transport_arms_no_timer_g_but_timer_h() {
    // §17.2.1: Timer G only for unreliable transports; Timer H for all.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, tcp());
    run.respond(id, reply(&req, 486)).unwrap();
    run.run_for(secs(40));
    assert_eq!(run.transmit_times(), [ms(0)]);
    assert_eq!(run.timed_out(id), Some((secs(32), Timer::H)));
}

#[test]
fn completed_answers_a_retransmitted_invite_with_the_final() {
    // Figure 7: Completed --INVITE / send response--> Completed.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    let fin = run.respond(id, reply(&req, 486)).unwrap();
    let out = run.receive(req, udp());
    assert_eq!(transmits(&out)[0].payload, transmits(&fin)[0].payload);
}

#[test]
fn completed_refuses_a_second_final() {
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 486)).unwrap();
    assert_eq!(
        run.respond(id, reply(&req, 200)).unwrap_err(),
        ResponseError::AlreadyFinal(TransactionState::Completed)
    );
}

#[test]
fn completed_to_confirmed_on_ack_stops_timer_g_and_h() {
    // §17.2.1: "If an ACK is received while ... Completed ... transition to the Confirmed state.
    // As Timer G is ignored in this state, any retransmissions of the response will cease."
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 486)).unwrap();
    run.run_for(ms(700));
    let out = run.receive(ack_for(&req), udp());
    assert!(out.is_empty(), "the ACK is absorbed: {out:?}");
    assert_eq!(run.table.state(id), Some(TransactionState::Confirmed));
    run.run_for(secs(40));
    assert_eq!(run.transmit_times(), [ms(0), ms(500)]);
    assert_eq!(run.timed_out(id), None);
}

#[test]
fn confirmed_absorbs_acks_and_invites() {
    // Figure 7: Confirmed absorbs ACK retransmissions (and late INVITEs).
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 486)).unwrap();
    run.receive(ack_for(&req), udp());
    assert!(run.receive(ack_for(&req), udp()).is_empty());
    assert!(run.receive(req, udp()).is_empty());
    assert_eq!(run.table.state(id), Some(TransactionState::Confirmed));
}

#[test]
fn confirmed_ends_at_timer_i_t4_on_udp() {
    // §17.2.1: Timer I = T4 for unreliable transports.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 486)).unwrap();
    run.run_for(secs(1));
    run.receive(ack_for(&req), udp());
    run.run_for(secs(10));
    assert_eq!(run.terminated_at(id), Some(secs(6)));
}

#[test]
fn confirmed_ends_at_once_on_tcp_timer_i_zero() {
    // §17.2.1: Timer I is zero for reliable transports.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, tcp());
    run.respond(id, reply(&req, 486)).unwrap();
    let out = run.receive(ack_for(&req), tcp());
    assert!(matches!(events(&out)[..], [Event::Terminated { id: t }] if *t == id));
}

#[test]
fn proceeding_to_accepted_on_2xx_from_the_tu() {
    // RFC 6026 §8.5: the 2xx is sent once (not retransmitted by the transaction) -> Accepted.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    assert_eq!(run.table.state(id), Some(TransactionState::Accepted));
    run.run_for(secs(10));
    assert_eq!(run.transmit_times(), [ms(0)]);
}

#[test]
fn accepted_absorbs_retransmitted_invites() {
    // RFC 6026 §7.1: "retransmissions of the INVITE ... are not passed onto the TU".
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    assert!(run.receive(req, udp()).is_empty());
}

#[test]
fn accepted_passes_acks_to_the_tu() {
    // RFC 6026 §7.1: "Any ACKs received ... while in the Accepted state MUST be passed directly
    // to the TU".
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    let out = run.receive(ack_for(&req), udp());
    assert!(matches!(events(&out)[..], [Event::Ack { id: Some(a), .. }] if *a == id));
    assert_eq!(run.table.state(id), Some(TransactionState::Accepted));
}

#[test]
fn accepted_sends_the_tus_2xx_retransmissions() {
    // RFC 6026 §7.1: 2xx retransmissions from the TU "MUST be passed to the transport layer".
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    let out = run.respond(id, reply(&req, 200)).unwrap();
    assert_eq!(sent_messages(&out)[0].status(), Some(200));
}

#[test]
fn accepted_refuses_a_non_2xx() {
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    assert_eq!(
        run.respond(id, reply(&req, 486)).unwrap_err(),
        ResponseError::AlreadyFinal(TransactionState::Accepted)
    );
}

#[test]
fn accepted_ends_at_timer_l_64_t1_on_every_transport() {
    // RFC 6026 §8.7: "Timer L MUST be set to fire in 64*T1 for all transports."
    for target in [udp(), tcp()] {
        let mut run = Run::new();
        let (id, req) = incoming(&mut run, target);
        run.run_for(ms(100));
        run.respond(id, reply(&req, 200)).unwrap();
        run.run_for(secs(40));
        assert_eq!(run.terminated_at(id), Some(ms(32_100)));
    }
}

#[test]
fn proceeding_transport_error_informs_the_tu_and_stays() {
    // RFC 6026 §7.1 and Figure 2: "MUST remain in its current state".
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 180)).unwrap();
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(events(&run.drain())[..], [Event::TransportFailed { id: f }] if *f == id));
    assert_eq!(run.table.state(id), Some(TransactionState::Proceeding));
}

#[test]
fn completed_transport_error_informs_the_tu_and_stays() {
    // RFC 6026 Figure 2: Completed --Transport Err. / Inform TU--> Completed; Timer H ends it.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 486)).unwrap();
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(events(&run.drain())[..], [Event::TransportFailed { .. }]));
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
    assert!(run.receive(req, udp()).len() == 1, "a retransmitted INVITE is still answered");
}

#[test]
fn accepted_transport_error_informs_the_tu_and_stays() {
    // RFC 6026 Figure 1: Accepted --Transport Err. / Inform TU--> Accepted.
    let mut run = Run::new();
    let (id, req) = incoming(&mut run, udp());
    run.respond(id, reply(&req, 200)).unwrap();
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(events(&run.drain())[..], [Event::TransportFailed { .. }]));
    assert_eq!(run.table.state(id), Some(TransactionState::Accepted));
}
