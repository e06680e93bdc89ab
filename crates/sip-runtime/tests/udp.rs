//! UDP on loopback: requests in, responses out (RFC 3261 §18.2, RFC 3581), keep-alives, client
//! transmits, IPv6.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use sip_message::{HeaderName, Method};
use sip_runtime::{ReceiveError, RuntimeConfig, TransportError};
use sip_transaction::{Target, Transmit, Transport};

#[test]
fn request_is_stamped_and_answered_to_its_source() {
    // RFC 3581 §4: rport filled, received added even though sent-by is the source IP; the
    // response goes to received:rport, the address the request came from.
    let rt = start(loopback(), Recorder::answering());
    let server = rt.addr(Transport::Udp);
    let peer = udp_peer("127.0.0.1:0");
    let via = "SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKudp1";
    peer.send_to(options(via, "u1").as_bytes(), server).unwrap();

    let Seen::Message { message, source, local } = rt.next() else { panic!("expected a message") };
    let port = peer.local_addr().unwrap().port();
    assert_eq!(
        top_via(&message),
        format!("SIP/2.0/UDP 127.0.0.1:9;rport={port};branch=z9hG4bKudp1;received=127.0.0.1")
    );
    assert_eq!(source, Target::udp(peer.local_addr().unwrap()));
    assert_eq!(local, server);

    let (response, from) = recv_message(&peer);
    assert_eq!(response.status(), Some(200));
    assert_eq!(from, server, "the response leaves from the socket the request came in on");
    let stats = rt.handle.stats();
    assert_eq!((stats.datagrams_in, stats.datagrams_out, stats.messages_in), (1, 1, 1));
}

#[test]
fn domain_sent_by_gets_received() {
    // RFC 3261 §18.2.1: a sent-by that is a name gets received=<source IP>.
    let rt = start(loopback(), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    let port = peer.local_addr().unwrap().port();
    let via = format!("SIP/2.0/UDP client.invalid:{port};branch=z9hG4bKudp2");
    peer.send_to(options(&via, "u2").as_bytes(), rt.addr(Transport::Udp)).unwrap();
    let Seen::Message { message, .. } = rt.next() else { panic!("expected a message") };
    assert_eq!(top_via(&message), format!("{via};received=127.0.0.1"));
    assert_eq!(message.values(HeaderName::Via).count(), 1);
}

#[test]
fn without_rport_the_response_goes_to_the_sent_by_port() {
    // RFC 3261 §18.2.2: no rport, so the response goes to the source IP and the sent-by port,
    // here another socket than the one that sent the request.
    let rt = start(loopback(), Recorder::answering());
    let sender = udp_peer("127.0.0.1:0");
    let listener = udp_peer("127.0.0.1:0");
    let listen_port = listener.local_addr().unwrap().port();
    let via = format!("SIP/2.0/UDP 127.0.0.1:{listen_port};branch=z9hG4bKudp3");
    sender.send_to(options(&via, "u3").as_bytes(), rt.addr(Transport::Udp)).unwrap();

    let Seen::Message { message, source, .. } = rt.next() else { panic!("expected a message") };
    assert_eq!(top_via(&message), via, "same IP as the source: no received (§18.2.1)");
    assert_eq!(source, Target::udp(sender.local_addr().unwrap()));
    let (response, _) = recv_message(&listener);
    assert_eq!(response.status(), Some(200));
    sender.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    assert!(sender.recv_from(&mut [0; 1500]).is_err(), "nothing goes to the source port");
}

#[test]
fn crlf_keepalives_are_dropped_silently() {
    let rt = start(loopback(), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    let server = rt.addr(Transport::Udp);
    peer.send_to(b"\r\n\r\n", server).unwrap();
    peer.send_to(b"\r\n", server).unwrap();
    peer.send_to(options("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKka", "k1").as_bytes(), server)
        .unwrap();
    let Seen::Message { message, .. } = rt.next() else { panic!("keep-alives reached the stack") };
    assert_eq!(message.call_id(), Some("k1"));
    let stats = rt.handle.stats();
    assert_eq!((stats.keepalives_in, stats.datagrams_in, stats.parse_errors), (2, 3, 0));
    peer.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    assert!(peer.recv_from(&mut [0; 64]).is_err(), "keep-alives over UDP are not answered");
}

#[test]
fn a_backlog_of_datagrams_is_reported_to_the_stack_until_read_empty() {
    // More datagrams than one turn reads (256) pile up while the stack is busy: the stack
    // learns the loop is behind (with a fill threshold of 0, whatever the buffer holds), then
    // that it caught up, once each.
    let rt = start(loopback().backlog_fill(0.0), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    let server = rt.addr(Transport::Udp);
    rt.send(Cmd::Stall(Duration::from_millis(500)));
    std::thread::sleep(Duration::from_millis(100)); // the loop is in the stall before anything arrives
    let count = 600;
    for i in 0..count {
        let via = format!("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbl{i}");
        peer.send_to(options(&via, &format!("bl{i}")).as_bytes(), server).unwrap();
    }
    let mut seen = Vec::new();
    let mut messages = 0;
    while messages < count {
        match rt.next() {
            Seen::Message { .. } => messages += 1,
            Seen::Backlog(behind) => seen.push((behind, messages)),
            _ => {}
        }
    }
    if !matches!(seen.last(), Some((false, _))) {
        let Seen::Backlog(false) = rt.next() else { panic!("expected the end of the backlog") };
        seen.push((false, messages));
    }
    assert_eq!(seen.len(), 2, "one change each way: {seen:?}");
    assert_eq!(seen, [(true, 256), (false, count)], "behind after one budget, then caught up");
    assert!(rt.handle.stats().udp_backlogs >= 1);
}

#[test]
fn a_backlog_that_fills_little_of_the_buffer_is_not_reported() {
    // The default threshold: 600 small datagrams are a fraction of a 4 MiB buffer, a burst it
    // absorbs, not overload.
    let rt = start(loopback(), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    let server = rt.addr(Transport::Udp);
    rt.send(Cmd::Stall(Duration::from_millis(300)));
    std::thread::sleep(Duration::from_millis(100));
    let count = 600;
    for i in 0..count {
        let via = format!("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKsb{i}");
        peer.send_to(options(&via, &format!("sb{i}")).as_bytes(), server).unwrap();
    }
    let mut messages = 0;
    while messages < count {
        match rt.next() {
            Seen::Message { .. } => messages += 1,
            Seen::Backlog(behind) => panic!("reported behind={behind} after {messages}"),
            _ => {}
        }
    }
    assert_eq!(rt.handle.stats().udp_backlogs, 0);
}

#[test]
fn garbage_goes_to_the_parse_error_hook() {
    let rt = start(loopback(), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    peer.send_to(b"HELLO\r\n\r\n", rt.addr(Transport::Udp)).unwrap();
    let Seen::ParseError { error, payload, source } = rt.next() else {
        panic!("expected an error")
    };
    assert!(matches!(error, ReceiveError::Parse(_)));
    assert_eq!(payload, Bytes::from_static(b"HELLO\r\n\r\n"));
    assert_eq!(source, Target::udp(peer.local_addr().unwrap()));
    assert_eq!(rt.handle.stats().parse_errors, 1);
}

#[test]
fn client_requests_leave_from_the_listening_socket() {
    // RFC 3261 §18.1.1: the request leaves from the bound address, so a Via naming it works.
    let rt = start(loopback(), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    let server = rt.addr(Transport::Udp);
    let request = options(&format!("SIP/2.0/UDP {server};branch=z9hG4bKcli"), "c1");
    rt.send(Cmd::Send(Transmit {
        target: Target::udp(peer.local_addr().unwrap()),
        payload: Bytes::from(request),
        transaction: None,
    }));
    let (message, from) = recv_message(&peer);
    assert_eq!(message.method(), Some(&Method::Options));
    assert_eq!(from, server);
}

#[test]
fn no_socket_of_the_family_is_a_transport_error() {
    let rt = start(loopback(), Recorder::default());
    let t = Transmit {
        target: Target::udp("[::1]:5060".parse().unwrap()),
        payload: Bytes::from_static(b"x"),
        transaction: None,
    };
    rt.send(Cmd::Send(t.clone()));
    let Seen::TransportError { transmit, error } = rt.next() else { panic!("expected an error") };
    assert_eq!((transmit, error), (t, TransportError::NoSocket));
}

#[test]
fn ipv6_request_and_response() {
    let Ok(peer) = UdpSocket::bind("[::1]:0") else {
        eprintln!("skipped: ::1 unavailable");
        return;
    };
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let rt =
        start(RuntimeConfig::new().listen("udp:[::1]:0".parse().unwrap()), Recorder::answering());
    let via = "SIP/2.0/UDP [::1]:9;rport;branch=z9hG4bKv6";
    peer.send_to(options(via, "v6").as_bytes(), rt.addr(Transport::Udp)).unwrap();
    let Seen::Message { message, source, .. } = rt.next() else { panic!("expected a message") };
    let port = peer.local_addr().unwrap().port();
    assert_eq!(
        top_via(&message),
        format!("SIP/2.0/UDP [::1]:9;rport={port};branch=z9hG4bKv6;received=::1")
    );
    assert_eq!(source, Target::udp(peer.local_addr().unwrap()));
    let (response, _) = recv_message(&peer);
    assert_eq!(response.status(), Some(200));
}

#[test]
fn with_two_sockets_each_answers_from_itself_and_requests_follow_their_via() {
    // RFC 3581 §4: the response leaves from the address and port the request arrived on.
    // RFC 3261 §18.1.1: a request leaves from the socket its Via sent-by names.
    let config = RuntimeConfig::new()
        .listen("udp:127.0.0.1:0".parse().unwrap())
        .listen("udp:127.0.0.1:0".parse().unwrap());
    let rt = start(config, Recorder::answering());
    let (first, second) = (rt.local[0].addr, rt.local[1].addr);
    let peer = udp_peer("127.0.0.1:0");
    peer.send_to(
        options("SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK2s", "2s").as_bytes(),
        second,
    )
    .unwrap();
    let Seen::Message { local, .. } = rt.next() else { panic!("expected a message") };
    assert_eq!(local, second);
    let (response, from) = recv_message(&peer);
    assert_eq!((response.status(), from), (Some(200), second));

    for (socket, call_id) in [(second, "via-second"), (first, "via-first")] {
        let request = options(&format!("SIP/2.0/UDP {socket};branch=z9hG4bK{call_id}"), call_id);
        rt.send(Cmd::Send(Transmit {
            target: Target::udp(peer.local_addr().unwrap()),
            payload: Bytes::from(request),
            transaction: None,
        }));
        let (message, from) = recv_message(&peer);
        assert_eq!((message.call_id(), from), (Some(call_id), socket));
    }
}
