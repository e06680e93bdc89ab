//! Hostile peers (issue 8): oversized input refused within the limits, slow and trickling
//! connections closed, the last response before a close delivered, answers to unparsable
//! requests sent where RFC 3261 §18.2.2 says.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use sip_message::{FrameError, Limits, ParseErrorKind};
use sip_runtime::{ReceiveError, RuntimeConfig, reject_unparsable};
use sip_transaction::{Target, Transmit, Transport};

fn small_limits() -> RuntimeConfig {
    loopback().limits(Limits::default().max_message_size(4096).max_stream_buffer(16 * 1024))
}

/// A datagram above the message size limit is refused with a typed error (the runtime's
/// receive buffer is 64 KiB, so nothing larger is ever allocated for it).
#[test]
fn an_oversized_datagram_is_a_typed_parse_error() {
    let rt = start(small_limits(), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    let body = "x".repeat(60_000);
    let big = format!("{}{body}", options("SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbig", "big"))
        .replace("Content-Length: 0", &format!("Content-Length: {}", body.len()));
    peer.send_to(big.as_bytes(), rt.addr(Transport::Udp)).unwrap();
    let Seen::ParseError { error, payload, .. } = rt.next() else { panic!("expected an error") };
    assert_eq!(
        error,
        ReceiveError::Parse(sip_message::ParseError::new(ParseErrorKind::MessageTooLarge, 4096))
    );
    assert_eq!(payload.len(), big.len());
    // 70 KB cannot even leave: the largest UDP payload is 65,507 bytes over IPv4.
    assert!(peer.send_to(&vec![b'x'; 70_000], rt.addr(Transport::Udp)).is_err());
}

/// A 200 KB header line over TCP: the framer gives up at the limit, the stack's answer is
/// written, and the connection is closed with a lingering close, so the peer reads the answer
/// although it was still sending (no reset destroys it).
#[test]
fn an_oversized_stream_gets_its_answer_before_the_close() {
    let rt = start(small_limits(), Recorder::default());
    let mut client = tcp_client(rt.addr(Transport::Tcp));
    let mut writer = client.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(b"OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nSubject: ");
        for _ in 0..50 {
            if writer.write_all(&[b'a'; 4096]).is_err() {
                break;
            }
        }
        let _ = writer.shutdown(Shutdown::Write);
    });
    let Seen::ParseError { error, payload, .. } = rt.next() else { panic!("expected an error") };
    assert_eq!(error, ReceiveError::Frame(FrameError::MessageTooLarge));
    assert!(payload.len() <= 16 * 1024, "bounded by the stream buffer: {}", payload.len());
    let response = read_message(&mut client);
    assert_eq!(response.status(), Some(400));
    // A clean end of stream (the runtime shut its write side), not a reset: closing with
    // our unread bytes in its buffer would have reset the connection.
    let mut rest = [0u8; 64];
    assert_eq!(client.read(&mut rest).map_err(|e| e.kind()), Ok(0));
    sender.join().unwrap();
    assert!(matches!(rt.next(), Seen::Closed(..)));
}

/// A peer trickling a message byte by byte keeps its connection busy but never completes a
/// message: `message_timeout` closes it, while a peer sending whole messages as slowly is
/// served all along.
#[test]
fn a_trickling_peer_is_closed_by_the_message_timeout() {
    let config = loopback()
        .idle_timeout(Some(Duration::from_secs(30)))
        .message_timeout(Some(Duration::from_millis(400)));
    let rt = start(config, Recorder::answering());
    let mut slow = tcp_client(rt.addr(Transport::Tcp));
    let mut good = tcp_client(rt.addr(Transport::Tcp));
    let request = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKslow", "slow");
    let started = Instant::now();
    let mut closed_after = None;
    for (i, byte) in request.bytes().enumerate().take(20) {
        if slow.write_all(&[byte]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        if i % 4 == 0 {
            let ok = options(&format!("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKg{i}"), "good");
            write_all(&mut good, ok.as_bytes());
            assert_eq!(read_message(&mut good).status(), Some(200));
        }
        sleep(Duration::from_millis(50));
    }
    let closed_after = closed_after.unwrap_or_else(|| {
        assert!(closed_by_peer(&mut slow));
        started.elapsed()
    });
    assert!(closed_after >= Duration::from_millis(400), "{closed_after:?}");
    assert!(closed_after < Duration::from_secs(2), "{closed_after:?}");
    let stats = rt.handle.stats();
    assert_eq!((stats.connections_slow, stats.connections_reaped), (1, 0));
    // The good connection lives on.
    let ok = options("SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKlast", "good");
    write_all(&mut good, ok.as_bytes());
    assert_eq!(read_message(&mut good).status(), Some(200));
}

/// The answer [`reject_unparsable`] builds goes back to the sender's address and port
/// (received and rport, RFC 3581), not to the address its Via names.
#[test]
fn the_answer_to_an_unparsable_request_returns_to_its_source() {
    let rt = start(loopback(), Recorder::default());
    let peer = udp_peer("127.0.0.1:0");
    // The Via names a port nobody listens on.
    let bad = options("SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKr", "r")
        .replace("Content-Length: 0", "Content-Length: zero");
    peer.send_to(bad.as_bytes(), rt.addr(Transport::Udp)).unwrap();
    let Seen::ParseError { error, payload, source } = rt.next() else { panic!("expected one") };
    let Target::Addr(_, from) = source else { panic!("a UDP source") };
    let response = reject_unparsable(&error, &payload, Some(from)).expect("answerable");
    rt.send(Cmd::Send(Transmit {
        target: source,
        payload: response.to_bytes(),
        transaction: None,
    }));
    let (got, _) = recv_message(&peer);
    assert_eq!(got.status(), Some(400));
    assert_eq!(got.reason(), Some("Bad Request (Bad Content-Length)"));
    assert_eq!(got.call_id(), Some("r"));
    assert_eq!(got.to_tag(), response.to_tag());
}
