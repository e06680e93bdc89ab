//! RFC 3261 §17.1.2, Figure 6: every transition of the client non-INVITE transaction, with exact
//! timer schedules.

mod common;

use common::*;
use sip_message::Method;
use sip_transaction::{Event, Timer, TransactionConfig, TransactionState};

#[test]
fn trying_retransmits_on_timer_e_doubling_to_t2_until_timer_f() {
    // §17.1.2.2: "intervals of 500 ms, 1 s, 2 s, 4 s, 4 s, 4 s, etc."; Timer F at 64*T1.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.run_for(secs(40));
    assert_eq!(
        gaps(&run.transmit_times()),
        ms_list(&[500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000])
    );
    assert_eq!(run.timed_out(id), Some((secs(32), Timer::F)));
    assert_eq!(run.terminated_at(id), Some(secs(32)));
}

#[test]
fn timer_e_caps_at_the_configured_t2() {
    // §17.1.2.2: MIN(2^n*T1, T2) with T2 = 1 s.
    let mut run = Run::with(TransactionConfig::default().t2(secs(1)));
    run.send(request(Method::Register, None), udp());
    run.run_for(ms(5600));
    assert_eq!(gaps(&run.transmit_times()), ms_list(&[500, 1000, 1000, 1000, 1000, 1000]));
}

#[test]
fn reliable_transport_arms_no_timer_e_and_times_out_at_timer_f() {
    // §17.1.2.2: Timer E only for unreliable transports; Timer F always.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), tcp());
    run.run_for(secs(40));
    assert_eq!(run.transmit_times(), [ms(0)]);
    assert_eq!(run.timed_out(id), Some((secs(32), Timer::F)));
}

#[test]
fn trying_to_proceeding_on_1xx_reports_provisional() {
    // Figure 6: Trying --1xx / resp. to TU--> Proceeding.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    let out = run.receive(reply(&run.sent(id), 100), udp());
    assert!(matches!(events(&out)[..], [Event::Provisional { id: p, .. }] if *p == id));
    assert_eq!(run.table.state(id), Some(TransactionState::Proceeding));
}

#[test]
fn proceeding_retransmits_every_t2() {
    // §17.1.2.2: "If Timer E fires while in the Proceeding state, the request MUST be passed to
    // the transport layer for retransmission, and Timer E MUST be reset with a value of T2".
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.run_for(ms(700)); // sent at 0 and 500; Timer E next at 1500
    run.receive(reply(&run.sent(id), 100), udp());
    run.run_for(ms(12_000));
    assert_eq!(run.transmit_times(), ms_list(&[0, 500, 1500, 5500, 9500]));
}

#[test]
fn proceeding_passes_further_1xx_to_the_tu() {
    // Figure 6: Proceeding --1xx / resp. to TU--> Proceeding.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.receive(reply(&run.sent(id), 100), udp());
    let out = run.receive(reply(&run.sent(id), 180), udp());
    assert!(matches!(events(&out)[..], [Event::Provisional { .. }]));
}

#[test]
fn proceeding_times_out_at_timer_f() {
    // §17.1.2.2: "If timer F fires while in the Proceeding state, the TU MUST be informed of a
    // timeout, and the client transaction MUST transition to the terminated state."
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.receive(reply(&run.sent(id), 100), udp());
    run.run_for(secs(40));
    assert_eq!(run.timed_out(id), Some((secs(32), Timer::F)));
}

#[test]
fn trying_to_completed_on_final_reports_it_once() {
    // Figure 6: Trying --200-699 / resp. to TU--> Completed.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    let out = run.receive(reply(&run.sent(id), 404), udp());
    assert!(transmits(&out).is_empty());
    assert!(
        matches!(events(&out)[..], [Event::Final { response, .. }] if response.status() == Some(404))
    );
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
}

#[test]
fn proceeding_to_completed_on_final() {
    // Figure 6: Proceeding --200-699 / resp. to TU--> Completed.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.receive(reply(&run.sent(id), 100), udp());
    let out = run.receive(reply(&run.sent(id), 200), udp());
    assert!(matches!(events(&out)[..], [Event::Final { .. }]));
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
}

#[test]
fn completed_absorbs_retransmitted_finals_and_stops_timer_e() {
    // §17.1.2.2: Completed buffers response retransmissions; no retransmission of the request.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    let ok = reply(&run.sent(id), 200);
    run.receive(ok.clone(), udp());
    assert!(run.receive(ok.clone(), udp()).is_empty());
    assert!(run.receive(reply(&run.sent(id), 100), udp()).is_empty());
    run.run_for(ms(4000));
    assert!(run.receive(ok, udp()).is_empty());
    assert_eq!(run.transmit_times(), [ms(0)]);
    assert_eq!(run.finals(id), 1);
    assert_eq!(run.table.stats().absorbed, 3);
}

#[test]
fn completed_ends_at_timer_k_t4_on_udp() {
    // §17.1.2.2: Timer K = T4 for unreliable transports.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.run_for(ms(300));
    run.receive(reply(&run.sent(id), 200), udp());
    run.run_for(secs(10));
    assert_eq!(run.terminated_at(id), Some(ms(5300)));
}

#[test]
fn timer_k_follows_the_configured_t4() {
    let mut run = Run::with(TransactionConfig::default().t4(secs(2)));
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.receive(reply(&run.sent(id), 200), udp());
    run.run_for(secs(10));
    assert_eq!(run.terminated_at(id), Some(secs(2)));
}

#[test]
fn completed_ends_at_once_on_tcp_timer_k_zero() {
    // §17.1.2.2: Timer K is zero for reliable transports.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), tcp());
    let out = run.receive(reply(&run.sent(id), 200), tcp());
    assert!(
        matches!(events(&out)[..], [Event::Final { .. }, Event::Terminated { id: t }] if *t == id)
    );
    assert!(run.table.is_empty());
}

#[test]
fn trying_transport_error_informs_the_tu_and_terminates() {
    // §17.1.4, Figure 6: Trying --Transport Err. / inform TU--> Terminated.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(
        events(&run.drain())[..],
        [Event::TransportFailed { .. }, Event::Terminated { .. }]
    ));
    assert!(run.table.is_empty());
}

#[test]
fn proceeding_transport_error_informs_the_tu_and_terminates() {
    // §17.1.4, Figure 6: Proceeding --Transport Err. / inform TU--> Terminated.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.receive(reply(&run.sent(id), 100), udp());
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(
        events(&run.drain())[..],
        [Event::TransportFailed { .. }, Event::Terminated { .. }]
    ));
}

#[test]
fn completed_ignores_a_stale_transport_error() {
    // Nothing is sent in Completed, so an error reported then is about an earlier send.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Options, None), udp());
    run.receive(reply(&run.sent(id), 200), udp());
    run.table.handle_transport_error(run.now(), id);
    assert!(run.drain().is_empty());
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
}
