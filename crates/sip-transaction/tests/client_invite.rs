//! RFC 3261 §17.1.1, Figure 5 as RFC 6026 §8.4 replaces it: every transition of the client INVITE
//! transaction, with exact timer schedules.

mod common;

use common::*;
use sip_message::{HeaderName as H, Method};
use sip_transaction::{Event, Output, Timer, TransactionConfig, TransactionState};

#[test]
fn calling_retransmits_on_timer_a_doubling_until_timer_b() {
    // §17.1.1.2: Timer A at T1, doubling each time; Timer B at 64*T1 informs the TU.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.run_for(secs(40));
    assert_eq!(gaps(&run.transmit_times()), ms_list(&[500, 1000, 2000, 4000, 8000, 16000]));
    assert_eq!(run.timed_out(id), Some((secs(32), Timer::B)));
    assert_eq!(run.terminated_at(id), Some(secs(32)));
    assert_eq!(run.table.stats().retransmissions, 6);
    assert!(run.table.is_empty());
}

#[test]
fn timer_a_and_b_follow_the_configured_t1() {
    // §17.1.1.2: "Whatever the value of T1, the exponential backoffs ... MUST be used."
    let mut run = Run::with(TransactionConfig::default().t1(ms(100)));
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.run_for(secs(10));
    assert_eq!(gaps(&run.transmit_times()), ms_list(&[100, 200, 400, 800, 1600, 3200]));
    assert_eq!(run.timed_out(id), Some((ms(6400), Timer::B)));
}

#[test]
fn calling_on_reliable_transport_arms_no_timer_a_but_timer_b() {
    // §17.1.1.2: "If a reliable transport is being used, the client transaction SHOULD NOT start
    // timer A"; Timer B is started for any transport.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), tcp());
    run.run_for(secs(40));
    assert_eq!(run.transmit_times(), [ms(0)]);
    assert_eq!(run.timed_out(id), Some((secs(32), Timer::B)));
    assert!(run.table.is_empty());
}

#[test]
fn calling_to_proceeding_on_1xx_stops_retransmissions_and_timer_b() {
    // §17.1.1.2: in Proceeding no retransmissions; Timer B only acts in Calling.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.run_for(ms(700));
    let out = run.receive(reply(&run.sent(id), 180), udp());
    assert!(matches!(events(&out)[..], [Event::Provisional { id: p, .. }] if *p == id));
    assert_eq!(run.table.state(id), Some(TransactionState::Proceeding));
    run.run_for(secs(100));
    assert_eq!(run.transmit_times(), [ms(0), ms(500)]);
    assert_eq!(run.table.state(id), Some(TransactionState::Proceeding));
    assert!(run.table.terminate(run.now(), id));
}

#[test]
fn proceeding_passes_every_1xx_to_the_tu() {
    // §17.1.1.2: "Any further provisional responses MUST be passed up to the TU".
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(id), 100), udp());
    let out = run.receive(reply(&run.sent(id), 180), udp());
    let out2 = run.receive(reply(&run.sent(id), 183), udp());
    assert!(matches!(events(&out)[..], [Event::Provisional { .. }]));
    assert!(
        matches!(events(&out2)[..], [Event::Provisional { response, .. }] if response.status() == Some(183))
    );
    assert!(run.table.terminate(run.now(), id));
}

#[test]
fn calling_to_completed_on_300_699_sends_the_ack_of_17_1_1_3() {
    // §17.1.1.3: ACK with the original Request-URI, Call-ID, From, a single Via equal to the
    // original top Via, To of the response, the original Route, CSeq number with ACK; sent to
    // where the INVITE went.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    let original = run.sent(id);
    let out = run.receive(reply_tagged(&original, 486, "busy7"), udp());
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, udp());
    let ack = sip_message::Message::parse(sent[0].payload.clone()).unwrap();
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.request_uri_str(), original.request_uri_str());
    assert_eq!(ack.header_lines(H::Via).collect::<Vec<_>>(), [original.top_via().unwrap()]);
    assert_eq!(ack.via_branch(), original.via_branch());
    assert_eq!(ack.to_tag(), Some("busy7"));
    assert_eq!(ack.to_header(), Some(&b"Bob <sip:bob@example.com>;tag=busy7"[..]));
    assert_eq!(ack.from_header(), original.from_header());
    assert_eq!(ack.call_id(), original.call_id());
    assert_eq!(ack.cseq_number(), Some(1));
    assert_eq!(ack.cseq_method(), Some(&Method::Ack));
    assert_eq!(
        ack.header_lines(H::Route).collect::<Vec<_>>(),
        original.header_lines(H::Route).collect::<Vec<_>>()
    );
    assert_eq!(ack.max_forwards(), Some(70));
    assert!(
        matches!(events(&out)[..], [Event::Final { response, .. }] if response.status() == Some(486))
    );
}

#[test]
fn proceeding_to_completed_on_300_699_sends_ack_and_reports_final() {
    // Figure 5: Proceeding --300-699 / ACK sent, resp. to TU--> Completed.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(id), 180), udp());
    let out = run.receive(reply(&run.sent(id), 603), udp());
    assert_eq!(sent_messages(&out)[0].method(), Some(&Method::Ack));
    assert!(matches!(events(&out)[..], [Event::Final { .. }]));
    assert_eq!(run.table.state(id), Some(TransactionState::Completed));
}

#[test]
fn completed_resends_the_ack_for_each_retransmitted_final_without_telling_the_tu() {
    // RFC 6026 §8.4 (§17.1.1.2): retransmitted 300-699 re-pass the ACK; not passed up.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    let busy = reply(&run.sent(id), 486);
    let first = run.receive(busy.clone(), udp());
    let again = run.receive(busy.clone(), udp());
    let third = run.receive(busy, udp());
    assert!(events(&again).is_empty() && events(&third).is_empty());
    assert_eq!(transmits(&again)[0].payload, transmits(&first)[0].payload);
    assert_eq!(transmits(&third).len(), 1);
    assert_eq!(run.finals(id), 1);
}

#[test]
fn completed_absorbs_provisional_and_2xx() {
    // Figure 5 has no arc for them in Completed: absorbed.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(id), 486), udp());
    assert!(run.receive(reply(&run.sent(id), 180), udp()).is_empty());
    assert!(run.receive(reply(&run.sent(id), 200), udp()).is_empty());
    assert_eq!(run.finals(id), 1);
}

#[test]
fn completed_ends_at_timer_d_32_s_on_udp() {
    // §17.1.1.2: Timer D at least 32 s for unreliable transports.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.run_for(ms(100));
    run.receive(reply(&run.sent(id), 486), udp());
    run.run_for(secs(40));
    assert_eq!(run.terminated_at(id), Some(ms(32_100)));
    assert!(run.table.is_empty());
}

#[test]
fn completed_ends_at_once_on_tcp_timer_d_zero() {
    // §17.1.1.2: Timer D is zero seconds for reliable transports; the ACK is still sent.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), tcp());
    let out = run.receive(reply(&run.sent(id), 486), tcp());
    assert_eq!(sent_messages(&out)[0].method(), Some(&Method::Ack));
    assert!(matches!(events(&out)[..], [Event::Final { .. }, Event::Terminated { .. }]));
    assert!(run.table.is_empty());
}

#[test]
fn completed_transport_error_informs_the_tu_and_terminates() {
    // Figure 5 (RFC 6026): Completed --Transport Err. / Inform TU--> Terminated.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(id), 486), udp());
    run.table.handle_transport_error(run.now(), id);
    let out = run.drain();
    assert!(matches!(events(&out)[..], [Event::TransportFailed { .. }, Event::Terminated { .. }]));
    assert!(run.table.is_empty());
}

#[test]
fn calling_transport_error_informs_the_tu_and_terminates() {
    // §17.1.4: inform the TU and go straight to Terminated.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.table.handle_transport_error(run.now(), id);
    let out = run.drain();
    assert!(
        matches!(events(&out)[..], [Event::TransportFailed { id: f }, Event::Terminated { .. }] if *f == id)
    );
    assert_eq!(run.table.stats().transport_errors, 1);
    assert!(run.table.is_empty() && run.table.poll_timeout().is_none());
}

#[test]
fn proceeding_transport_error_informs_the_tu_and_terminates() {
    // §17.1.4 applied to Proceeding (a lost connection: the final can no longer arrive).
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), tcp());
    run.receive(reply(&run.sent(id), 180), tcp());
    run.table.handle_transport_error(run.now(), id);
    assert!(matches!(
        events(&run.drain())[..],
        [Event::TransportFailed { .. }, Event::Terminated { .. }]
    ));
}

#[test]
fn calling_to_accepted_on_2xx_reports_final_and_sends_no_ack() {
    // RFC 6026 §7.2: 2xx in Calling -> Accepted, to the TU, Timer M; "MUST NOT generate an ACK".
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    let out = run.receive(reply(&run.sent(id), 200), udp());
    assert!(transmits(&out).is_empty());
    assert!(
        matches!(events(&out)[..], [Event::Final { response, .. }] if response.status() == Some(200))
    );
    assert_eq!(run.table.state(id), Some(TransactionState::Accepted));
    run.run_for(secs(5));
    assert_eq!(run.transmit_times(), [ms(0)], "no retransmission after the 2xx");
}

#[test]
fn proceeding_to_accepted_on_2xx() {
    // RFC 6026 §7.2 (Figure 5): Proceeding --2xx / 2xx to TU--> Accepted.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(id), 180), udp());
    let out = run.receive(reply(&run.sent(id), 200), udp());
    assert!(matches!(events(&out)[..], [Event::Final { .. }]));
    assert_eq!(run.table.state(id), Some(TransactionState::Accepted));
}

#[test]
fn accepted_passes_every_further_2xx_to_the_tu() {
    // RFC 6026 §7.2: retransmissions and other forks' 2xx go up while Accepted; no ACK sent.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    let ok = reply(&run.sent(id), 200);
    run.receive(ok.clone(), udp());
    let again = run.receive(ok, udp());
    let fork = run.receive(reply_tagged(&run.sent(id), 200, "fork2"), udp());
    assert!(matches!(events(&again)[..], [Event::Additional2xx { id: a, .. }] if *a == id));
    assert!(
        matches!(events(&fork)[..], [Event::Additional2xx { response, .. }] if response.to_tag() == Some("fork2"))
    );
    assert!(transmits(&again).is_empty() && transmits(&fork).is_empty());
    assert_eq!(run.finals(id), 1);
}

#[test]
fn accepted_absorbs_non_2xx() {
    // RFC 6026 §7.2: only 2xx are passed up in Accepted.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(id), 200), udp());
    assert!(run.receive(reply(&run.sent(id), 180), udp()).is_empty());
    assert!(run.receive(reply(&run.sent(id), 486), udp()).is_empty());
}

#[test]
fn accepted_ends_at_timer_m_64_t1() {
    // RFC 6026 §7.2: Timer M = 64*T1, then Terminated (on any transport).
    for target in [udp(), tcp()] {
        let mut run = Run::new();
        let (id, _) = run.send(request(Method::Invite, None), target);
        run.run_for(ms(200));
        run.receive(reply(&run.sent(id), 200), target);
        run.run_for(secs(40));
        assert_eq!(run.terminated_at(id), Some(ms(32_200)));
        assert_eq!(run.timed_out(id), None);
        assert!(run.table.is_empty());
    }
}

#[test]
fn calling_timer_b_is_not_reset_by_retransmissions() {
    // §17.1.1.2: Timer B is 64*T1 from the first send, whatever Timer A does.
    let mut run = Run::new();
    let (id, _) = run.send(request(Method::Invite, None), udp());
    run.run_for(ms(31_999));
    assert!(run.table.contains(id));
    let out = run.run_for(ms(1));
    assert!(matches!(
        events(&out)[..],
        [Event::TimedOut { timer: Timer::B, .. }, Event::Terminated { .. }]
    ));
    assert!(!out.iter().any(|o| matches!(o, Output::Transmit(_))), "no ACK on Timer B");
}
