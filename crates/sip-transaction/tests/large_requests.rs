//! RFC 3261 §18.1.1: "if it is larger than 1300 bytes and the path MTU is unknown, the request
//! MUST be sent using an RFC 2914 congestion controlled transport protocol, such as TCP. If this
//! causes a change in the transport protocol from the one indicated in the top Via, the value in
//! the top Via MUST be changed."

mod common;

use common::*;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_transaction::{
    Event, FlowId, Output, Target, TransactionConfig, TransactionState, Transport,
};

/// A request whose serialised form is exactly `size` bytes, with a given branch so that the
/// table adds nothing, or without one (the table then adds `;branch=` and 23 characters).
fn sized(method: Method, size: usize, branch: Option<&str>) -> Message {
    let build = |pad: usize| {
        let via = match branch {
            Some(b) => format!("SIP/2.0/UDP client.example.com:5060;branch={b}"),
            None => "SIP/2.0/UDP client.example.com:5060".to_owned(),
        };
        MessageBuilder::request(&method, "sip:bob@example.com")
            .header(H::Via, via)
            .header(H::MaxForwards, "70")
            .header(H::To, "Bob <sip:bob@example.com>")
            .header(H::From, "Alice <sip:alice@example.com>;tag=a1")
            .header(H::CallId, "big-1@example.com")
            .header(H::CSeq, format!("1 {method}"))
            .body("text/plain", "x".repeat(pad))
            .build()
            .unwrap()
    };
    // The Content-Length's digits grow with the body: converge on the size.
    let mut pad = 100;
    for _ in 0..4 {
        let len = build(pad).to_bytes().len();
        pad = (pad + size).checked_sub(len).unwrap();
    }
    let request = build(pad);
    assert_eq!(request.to_bytes().len(), size);
    request
}

fn top_via(out: &[Output]) -> String {
    let sent = sent_messages(out);
    String::from_utf8(sent[0].top_via().unwrap().to_vec()).unwrap()
}

#[test]
fn a_request_over_1300_bytes_for_udp_goes_over_tcp_with_its_via_changed() {
    let mut run = Run::new();
    let (id, out) = run.send(sized(Method::Options, 1301, Some("z9hG4bKbig1")), udp());
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, Target::Addr(Transport::Tcp, "192.0.2.2:5060".parse().unwrap()));
    assert_eq!(sent[0].payload.len(), 1301, "UDP and TCP are the same length in a Via");
    assert_eq!(top_via(&out), "SIP/2.0/TCP client.example.com:5060;branch=z9hG4bKbig1");
    assert_eq!(run.table.target(id), Some(tcp()));
    // The request the table keeps is the one sent.
    assert_eq!(run.sent(id).top_via(), sent_messages(&out)[0].top_via());
    // A reliable transport's timers: no Timer E; Timer F at 64*T1.
    assert_eq!(run.table.poll_timeout(), Some(run.start + secs(32)));
    // The 200 comes back over the connection; Timer K is zero on TCP.
    let ok = reply(&run.sent(id), 200);
    let out = run.receive(ok, tcp());
    assert!(matches!(events(&out)[..], [Event::Final { .. }, Event::Terminated { .. }]));
    assert_eq!(run.transmit_times().len(), 1, "no retransmission");
}

#[test]
fn exactly_1300_bytes_stays_on_udp() {
    let mut run = Run::new();
    let (id, out) = run.send(sized(Method::Options, 1300, Some("z9hG4bKbig2")), udp());
    assert_eq!(transmits(&out)[0].target, udp());
    assert!(top_via(&out).starts_with("SIP/2.0/UDP "));
    assert_eq!(run.table.state(id), Some(TransactionState::Trying));
    // Timer E retransmits over UDP.
    let out = run.run_for(ms(500));
    assert_eq!(transmits(&out).len(), 1);
    run.receive(reply(&run.sent(id), 200), udp());
}

#[test]
fn the_size_counts_the_branch_the_table_adds() {
    // 1280 bytes as given, 1280 + 31 once `;branch=z9hG4bK` and 16 characters are added.
    let mut run = Run::new();
    let (id, out) = run.send(sized(Method::Options, 1280, None), udp());
    let sent = transmits(&out);
    assert_eq!(sent[0].target.transport(), Transport::Tcp);
    assert_eq!(sent[0].payload.len(), 1280 + 31);
    let via = top_via(&out);
    let branch = run.table.branch(id).unwrap().to_owned();
    assert_eq!(via, format!("SIP/2.0/TCP client.example.com:5060;branch={branch}"));
    run.receive(reply(&run.sent(id), 200), tcp());
}

#[test]
fn the_limit_is_configurable_and_none_disables_it() {
    let mut run = Run::with(TransactionConfig::default().udp_request_limit(None));
    let (id, out) = run.send(sized(Method::Options, 4000, Some("z9hG4bKbig3")), udp());
    assert_eq!(transmits(&out)[0].target, udp());
    assert!(top_via(&out).starts_with("SIP/2.0/UDP "));
    run.receive(reply(&run.sent(id), 200), udp());

    // A path MTU of 700 bytes: requests within 200 bytes of it go over TCP.
    let mut run = Run::with(TransactionConfig::default().udp_request_limit(Some(500)));
    let (small, out) = run.send(sized(Method::Options, 500, Some("z9hG4bKbig4")), udp());
    assert_eq!(transmits(&out)[0].target, udp());
    let (large, out) = run.send(sized(Method::Options, 501, Some("z9hG4bKbig5")), udp());
    assert_eq!(transmits(&out)[0].target, tcp());
    for id in [small, large] {
        let target = run.table.target(id).unwrap();
        run.receive(reply(&run.sent(id), 200), target);
    }
}

#[test]
fn tcp_tls_and_flow_targets_are_left_alone() {
    let mut run = Run::new();
    let tls = Target::Addr(Transport::Tls, "192.0.2.2:5061".parse().unwrap());
    let flow = Target::Flow(Transport::Udp, FlowId(7));
    for (target, branch) in [(tcp(), "z9hG4bKbig6"), (tls, "z9hG4bKbig7"), (flow, "z9hG4bKbig8")] {
        let (id, out) = run.send(sized(Method::Options, 3000, Some(branch)), target);
        assert_eq!(transmits(&out)[0].target, target);
        assert!(top_via(&out).starts_with("SIP/2.0/UDP "), "the Via is the TU's business here");
        run.receive(reply(&run.sent(id), 200), target);
    }
}

#[test]
fn a_large_invite_moves_to_tcp_and_its_cancel_follows_it() {
    // §9.1: "The destination address, port, and transport of the CANCEL MUST be identical to
    // those used to send the original request."
    let mut run = Run::new();
    let (invite, out) = run.send(sized(Method::Invite, 2000, Some("z9hG4bKbig9")), udp());
    assert_eq!(transmits(&out)[0].target, tcp());
    // Reliable: no Timer A, Timer B at 64*T1.
    assert_eq!(run.table.poll_timeout(), Some(run.start + secs(32)));
    run.receive(reply(&run.sent(invite), 180), tcp());
    let cancel = run.table.cancel_request(invite).unwrap();
    assert_eq!(
        cancel.top_via(),
        Some(&b"SIP/2.0/TCP client.example.com:5060;branch=z9hG4bKbig9"[..])
    );
    // The TU sends it where it sent the INVITE; the table sends it where the INVITE went.
    let (cancel_id, out) = run.send(cancel, udp());
    assert_eq!(transmits(&out)[0].target, tcp());
    run.receive(reply(&run.sent(cancel_id), 200), tcp());
    let out = run.receive(reply(&run.sent(invite), 487), tcp());
    // The ACK for the 487 goes over TCP too, with the INVITE's (TCP) Via.
    assert_eq!(transmits(&out)[0].target, tcp());
    assert!(top_via(&out).starts_with("SIP/2.0/TCP "));
}

#[test]
fn a_cancel_for_an_invite_on_udp_stays_on_udp() {
    // Only an INVITE the table moved to TCP takes its CANCEL along.
    let mut run = Run::new();
    let (invite, _) = run.send(request(Method::Invite, None), udp());
    run.receive(reply(&run.sent(invite), 180), udp());
    let cancel = run.table.cancel_request(invite).unwrap();
    let (cancel_id, out) = run.send(cancel, udp());
    assert_eq!(transmits(&out)[0].target, udp());
    run.receive(reply(&run.sent(cancel_id), 200), udp());
    run.receive(reply(&run.sent(invite), 487), udp());
}

#[test]
fn only_the_top_via_value_changes() {
    let mut run = Run::new();
    let mut request = sized(Method::Options, 1500, Some("z9hG4bKbig10"));
    let via = "SIP/2.0/UDP client.example.com:5060;branch=z9hG4bKbig10, SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp";
    request.set(H::Via, via).unwrap();
    let (id, out) = run.send(request, udp());
    let sent = &sent_messages(&out)[0];
    let vias: Vec<&[u8]> = sent.values(H::Via).collect();
    assert_eq!(
        vias,
        [
            &b"SIP/2.0/TCP client.example.com:5060;branch=z9hG4bKbig10"[..],
            &b"SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp"[..]
        ]
    );
    assert_eq!(sent.via_branch(), Some("z9hG4bKbig10"));
    run.receive(reply(&run.sent(id), 200), tcp());
}

#[test]
fn a_large_stateless_request_goes_over_tcp_and_a_large_response_does_not() {
    let mut run = Run::new();
    let ack = sized(Method::Ack, 1400, Some("z9hG4bKack"));
    run.table.send_stateless(udp(), &ack);
    let out = run.drain();
    assert_eq!(transmits(&out)[0].target, tcp());
    assert!(top_via(&out).starts_with("SIP/2.0/TCP "));
    assert_eq!(transmits(&out)[0].transaction, None);
    // Responses follow the Via (§18.2.2), not this rule.
    let response = MessageBuilder::response_to(&ack, 200, None)
        .body("text/plain", "y".repeat(1400))
        .build()
        .unwrap();
    run.table.send_stateless(udp(), &response);
    assert_eq!(transmits(&run.drain())[0].target, udp());
}

#[test]
fn stateless_bytes_go_as_they_are_unless_too_large_for_udp() {
    let mut run = Run::new();
    // At the limit: queued as it is, outside any transaction.
    let ack = sized(Method::Ack, 1300, Some("z9hG4bKack")).to_bytes();
    assert_eq!(run.table.send_stateless_bytes(udp(), ack.clone()), Ok(()));
    let out = run.drain();
    assert_eq!(transmits(&out).len(), 1);
    assert_eq!(transmits(&out)[0].target, udp());
    assert_eq!(transmits(&out)[0].payload, ack);
    assert_eq!(transmits(&out)[0].transaction, None);
    // Over it for UDP: handed back untouched, nothing queued (send_stateless moves it to TCP).
    let large = sized(Method::Ack, 1301, Some("z9hG4bKack")).to_bytes();
    assert_eq!(run.table.send_stateless_bytes(udp(), large.clone()), Err(large.clone()));
    assert!(transmits(&run.drain()).is_empty());
    // Over TCP the limit does not apply.
    assert_eq!(run.table.send_stateless_bytes(tcp(), large.clone()), Ok(()));
    let out = run.drain();
    assert_eq!((transmits(&out)[0].target, &transmits(&out)[0].payload), (tcp(), &large));
}
