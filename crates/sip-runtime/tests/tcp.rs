//! TCP on loopback: framing (RFC 3261 §18.3), keep-alives (RFC 5626 §4.4.1), responses over the
//! same connection and connection reuse (§18, §18.2.2), failures, bounds.

mod common;

use std::net::TcpListener;
use std::thread::sleep;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use sip_message::{FrameError, Method};
use sip_runtime::{ReceiveError, RuntimeConfig, TransportError};
use sip_transaction::{FlowId, Target, Transmit, Transport};

fn transmit(target: Target, payload: &str) -> Transmit {
    Transmit { target, payload: Bytes::from(payload.to_owned()), transaction: None }
}

fn flow_of(source: Target) -> FlowId {
    match source {
        Target::Flow(Transport::Tcp, flow) => flow,
        other => panic!("expected a TCP flow, got {other}"),
    }
}

#[test]
fn a_message_split_over_writes_is_framed_and_answered_on_the_same_connection() {
    let rt = start(loopback(), Recorder::answering());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    let request = options("SIP/2.0/TCP client.invalid;branch=z9hG4bKtcp1", "t1");
    let bytes = request.as_bytes();
    for piece in [&bytes[..10], &bytes[10..70], &bytes[70..]] {
        write_all(&mut client, piece);
        sleep(Duration::from_millis(20));
    }
    let Seen::Message { message, source, local } = rt.next() else { panic!("expected a message") };
    assert_eq!(message.call_id(), Some("t1"));
    flow_of(source);
    assert_eq!(local, rt.addr(Transport::Tcp));
    assert_eq!(
        top_via(&message),
        "SIP/2.0/TCP client.invalid;branch=z9hG4bKtcp1;received=127.0.0.1",
        "§18.2.1 applies to every transport"
    );
    // §18.2.2: the response comes back over the connection the request came on.
    let response = read_message(&mut client);
    assert_eq!(response.status(), Some(200));
    assert_eq!(response.call_id(), Some("t1"));
    let stats = rt.handle.stats();
    assert_eq!((stats.connections_accepted, stats.connections_open), (1, 1));
}

#[test]
fn two_messages_in_one_write_arrive_in_order() {
    let rt = start(loopback(), Recorder::default());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    let both = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKa", "first")
        + &options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKb", "second");
    write_all(&mut client, both.as_bytes());
    let Seen::Message { message: a, source: sa, .. } = rt.next() else {
        panic!("expected a message")
    };
    let Seen::Message { message: b, source: sb, .. } = rt.next() else {
        panic!("expected a message")
    };
    assert_eq!((a.call_id(), b.call_id()), (Some("first"), Some("second")));
    assert_eq!(sa, sb, "one connection, one flow");
}

#[test]
fn a_framing_error_is_answered_then_closes_the_connection() {
    // RFC 3261 §18.3: Content-Length is mandatory on streams; the stream cannot be resynced.
    let rt = start(loopback(), Recorder::default());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    write_all(
        &mut client,
        b"OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP x;branch=z9hG4bKf\r\n\r\n",
    );
    let Seen::ParseError { error, payload, source } = rt.next() else {
        panic!("expected an error")
    };
    assert_eq!(error, ReceiveError::Frame(FrameError::MissingContentLength));
    assert!(payload.starts_with(b"OPTIONS sip:b@127.0.0.1"));
    // The Recorder answered 400 to the flow: it is written before the close.
    let response = read_message(&mut client);
    assert_eq!(response.status(), Some(400));
    assert!(closed_by_peer(&mut client));
    // A lingering close: the runtime shut its write side and reads on until the peer closes
    // too (what it sends meanwhile is dropped).
    write_all(&mut client, b"more bytes nobody reads");
    drop(client);
    let Seen::Closed(flow, _) = rt.next() else { panic!("expected the close") };
    assert_eq!(flow, flow_of(source));
    assert_eq!(rt.handle.stats().frame_errors, 1);
}

#[test]
fn an_unparsable_frame_keeps_the_connection() {
    let rt = start(loopback(), Recorder::answering());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    write_all(&mut client, b"NOT SIP AT ALL\r\nContent-Length: 0\r\n\r\n");
    let Seen::ParseError { error, .. } = rt.next() else { panic!("expected an error") };
    assert!(matches!(error, ReceiveError::Parse(_)));
    write_all(&mut client, options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKp", "p").as_bytes());
    assert!(matches!(rt.next(), Seen::Message { .. }));
    assert_eq!(read_message(&mut client).status(), Some(200));
}

#[test]
fn ping_is_answered_with_pong_and_pongs_reach_the_stack() {
    // RFC 5626 §4.4.1: double-CRLF ping, single-CRLF pong.
    let rt = start(loopback(), Recorder::default());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    write_all(&mut client, b"\r\n\r\n");
    assert_eq!(read_exactly(&mut client, 2), b"\r\n");
    write_all(&mut client, b"\r\n");
    assert!(matches!(rt.next(), Seen::Pong(_)));
    let stats = rt.handle.stats();
    assert_eq!((stats.keepalives_in, stats.pongs_out, stats.pongs_in), (1, 1, 1));
}

#[test]
fn client_transmits_to_one_address_share_a_connection() {
    // RFC 3261 §18.1.1: an open connection to the destination is reused.
    let rt = start(loopback(), Recorder::default());
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = Target::tcp(peer.local_addr().unwrap());
    let first = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKr1", "r1");
    let second = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKr2", "r2");
    rt.send(Cmd::SendAll(vec![transmit(target, &first), transmit(target, &second)]));
    let (mut conn, _) = peer.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let got = read_exactly(&mut conn, first.len() + second.len());
    assert_eq!(got, (first + &second).as_bytes());
    peer.set_nonblocking(true).unwrap();
    assert!(peer.accept().is_err(), "no second connection");
    assert_eq!(rt.handle.stats().connections_opened, 1);
}

#[test]
fn an_accepted_connection_is_reused_for_its_remote_address() {
    // RFC 3261 §18: accepted connections are indexed by their source address and shared
    // with the client side.
    let rt = start(loopback(), Recorder::default());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    write_all(&mut client, options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKin", "in").as_bytes());
    assert!(matches!(rt.next(), Seen::Message { .. }));
    let back = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKback", "back");
    rt.send(Cmd::Send(transmit(Target::tcp(client.local_addr().unwrap()), &back)));
    assert_eq!(read_message(&mut client).call_id(), Some("back"));
    assert_eq!(rt.handle.stats().connections_opened, 0);
}

#[test]
fn a_refused_connect_reports_every_queued_transmit() {
    // RFC 3261 §18.4: a connection failure is reported to the transport user.
    let rt = start(loopback(), Recorder::default());
    let vacant = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let a = transmit(Target::tcp(vacant), "a");
    let b = transmit(Target::tcp(vacant), "b");
    rt.send(Cmd::SendAll(vec![a.clone(), b.clone()]));
    for want in [a, b] {
        let Seen::TransportError { transmit, error } = rt.next() else {
            panic!("expected an error")
        };
        assert_eq!(transmit, want);
        assert_eq!(error, TransportError::ConnectFailed(std::io::ErrorKind::ConnectionRefused));
    }
    let stats = rt.handle.stats();
    assert_eq!((stats.connect_failures, stats.connections_open, stats.transport_errors), (1, 0, 2));
}

#[test]
fn a_transmit_to_a_closed_flow_fails() {
    let rt = start(loopback(), Recorder::default());
    let request = transmit(Target::Flow(Transport::Tcp, FlowId(999)), "OPTIONS x");
    rt.send(Cmd::Send(request.clone()));
    let Seen::TransportError { transmit, error } = rt.next() else { panic!("expected an error") };
    assert_eq!((transmit, error), (request, TransportError::FlowGone));
}

#[test]
fn a_response_to_a_closed_flow_reconnects_to_the_via() {
    // RFC 3261 §18.2.2: the connection is gone, so open one to received (here: the sent-by
    // host, which is the source) and the sent-by port.
    let rt = start(loopback(), Recorder::default());
    let callback = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = callback.local_addr().unwrap().port();
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    let via = format!("SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKgone");
    write_all(&mut client, options(&via, "gone").as_bytes());
    let Seen::Message { message, source, .. } = rt.next() else { panic!("expected a message") };
    drop(client);
    assert!(matches!(rt.next(), Seen::Closed(..)));
    let ok = sip_message::MessageBuilder::response_to(&message, 200, None).build().unwrap();
    rt.send(Cmd::Send(Transmit { target: source, payload: ok.to_bytes(), transaction: None }));
    let (mut conn, _) = callback.accept().unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let response = read_message(&mut conn);
    assert_eq!((response.status(), response.call_id()), (Some(200), Some("gone")));
}

#[test]
fn idle_connections_are_reaped() {
    let config = loopback().idle_timeout(Some(Duration::from_millis(150)));
    let rt = start(config, Recorder::default());
    let started = Instant::now();
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    write_all(&mut client, b"\r\n\r\n");
    assert_eq!(read_exactly(&mut client, 2), b"\r\n");
    assert!(closed_by_peer(&mut client));
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(matches!(rt.next(), Seen::Closed(..)));
    let stats = rt.handle.stats();
    assert_eq!(
        (stats.connections_reaped, stats.connections_closed, stats.connections_open),
        (1, 1, 0)
    );
}

#[test]
fn keepalives_alone_do_not_hold_a_connection_open() {
    // A connection that has only ever sent CRLF (no RFC 5626 flow starts that way) is reaped
    // at the idle timeout from when it opened, however often it pings; once a SIP message has
    // gone over it, pings keep it open (§4.4.1 keep-alives refresh a flow in use).
    let idle = Duration::from_millis(300);
    let rt = start(loopback().idle_timeout(Some(idle)), Recorder::answering());
    let server = rt.addr(Transport::Tcp);
    let started = Instant::now();
    let mut scanner = tcp_client(server);
    let mut flow = tcp_client(server);
    write_all(&mut flow, options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKka1", "ka1").as_bytes());
    assert_eq!(read_message(&mut flow).status(), Some(200));
    // Both ping every 50 ms for three idle periods.
    let mut scanner_closed_at = None;
    while started.elapsed() < idle * 3 {
        if scanner_closed_at.is_none() {
            use std::io::Write;
            if scanner.write_all(b"\r\n\r\n").is_err() || closed_or_pong(&mut scanner) {
                scanner_closed_at = Some(started.elapsed());
            }
        }
        write_all(&mut flow, b"\r\n\r\n");
        assert_eq!(read_exactly(&mut flow, 2), b"\r\n", "the flow in use stays open");
        sleep(Duration::from_millis(50));
    }
    let closed_at = scanner_closed_at.expect("the CRLF-only connection was reaped");
    assert!(closed_at >= idle, "not before the idle timeout ({closed_at:?})");
    assert!(closed_at < idle * 2, "at the idle timeout from its opening ({closed_at:?})");
    let stats = rt.handle.stats();
    assert_eq!((stats.connections_reaped, stats.connections_open), (1, 1));
}

/// Reads the pong of a ping; true when the connection was closed instead.
fn closed_or_pong(stream: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut pong = [0u8; 2];
    match stream.read_exact(&mut pong) {
        Ok(()) => {
            assert_eq!(&pong, b"\r\n");
            false
        }
        Err(_) => true,
    }
}

#[test]
fn connections_beyond_the_cap_are_closed_at_once() {
    let rt = start(loopback().max_connections(1), Recorder::answering());
    let server = rt.addr(Transport::Tcp);
    let mut first = tcp_client(server);
    write_all(&mut first, options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKcap1", "cap1").as_bytes());
    assert!(matches!(rt.next(), Seen::Message { .. }));
    let mut second = tcp_client(server);
    assert!(closed_by_peer(&mut second));
    // The first still works.
    assert_eq!(read_message(&mut first).status(), Some(200));
    let stats = rt.handle.stats();
    assert_eq!((stats.connections_accepted, stats.connections_refused), (1, 1));
}

#[test]
fn a_peer_that_does_not_read_overflows_the_bounded_queue() {
    let config = loopback().max_send_queue(1024 * 1024);
    let rt = start(config, Recorder::default());
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = Target::tcp(peer.local_addr().unwrap());
    rt.send(Cmd::Send(transmit(target, "hello")));
    let (mut conn, _) = peer.accept().unwrap(); // connected; from now on never read
    conn.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_exactly(&mut conn, 5), b"hello");
    let chunk = "x".repeat(512 * 1024);
    let count = 64; // 32 MiB: more than loopback socket buffers hold
    rt.send(Cmd::SendAll((0..count).map(|_| transmit(target, &chunk)).collect()));
    let Seen::TransportError { transmit: first_failed, error } = rt.next() else {
        panic!("expected a transport error")
    };
    assert_eq!(error, TransportError::QueueFull);
    assert_eq!(first_failed.payload.len(), chunk.len());
    let stats = rt.handle.stats();
    assert!(stats.send_queue_overflows >= 1);
    assert!(stats.bytes_out < (count * chunk.len()) as u64, "not everything was written");
    drop(conn);
}

#[test]
fn ipv6_connection_answers_on_the_same_flow() {
    let Ok(probe) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: ::1 unavailable");
        return;
    };
    drop(probe);
    let rt =
        start(RuntimeConfig::new().listen("tcp:[::1]:0".parse().unwrap()), Recorder::answering());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    write_all(&mut client, options("SIP/2.0/TCP [::1]:9;branch=z9hG4bKv6t", "v6t").as_bytes());
    let Seen::Message { message, local, .. } = rt.next() else { panic!("expected a message") };
    assert_eq!(message.method(), Some(&Method::Options));
    assert!(local.is_ipv6());
    assert_eq!(read_message(&mut client).status(), Some(200));
}
