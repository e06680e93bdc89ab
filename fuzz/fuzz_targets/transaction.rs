//! The transaction table fed an arbitrary sequence of received messages (templates with
//! fuzzer-chosen branches, methods and statuses, or raw bytes), client requests, TU responses,
//! transport errors and clock jumps. Asserts: nothing panics, at most one final response reaches
//! the TU per client transaction, and every transaction is gone once the clock has run far past
//! the longest RFC 3261 timer.
#![no_main]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_message::{HeaderName as H, MessageBuilder, Method};
use sip_transaction::{Event, Output, Target, TransactionConfig, TransactionId, TransactionTable};

const METHODS: [&str; 6] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"];
const STATUSES: [u16; 7] = [100, 180, 183, 200, 302, 486, 603];

fn request(method: &str, branch: u8, cseq: u8) -> Bytes {
    Bytes::from(format!(
        "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f{branch}\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: c{branch}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn response(status: u16, method: &str, branch: u8, cseq: u8) -> Bytes {
    Bytes::from(format!(
        "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKc{branch}\r\n\
         From: <sip:a@example.com>;tag=f\r\nTo: <sip:bob@example.com>;tag=t{status}\r\n\
         Call-ID: c{branch}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ))
}

fuzz_target!(|data: &[u8]| {
    let peer: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let source = Target::udp(peer);
    let mut table = TransactionTable::new(TransactionConfig::default().rng_seed(1));
    let start = Instant::now();
    let mut now = start;
    let mut server_ids: Vec<TransactionId> = Vec::new();
    let mut client_ids: Vec<TransactionId> = Vec::new();
    let mut finals: HashSet<TransactionId> = HashSet::new();
    let mut ops = data.chunks(3);

    let mut drain = |table: &mut TransactionTable, server_ids: &mut Vec<TransactionId>| {
        while let Some(out) = table.poll_output() {
            match out {
                Output::Event(Event::Request { id, .. }) => server_ids.push(id),
                Output::Event(Event::Final { id, .. }) => {
                    assert!(finals.insert(id), "two finals for {id:?}");
                }
                _ => {}
            }
        }
    };

    while let Some(op) = ops.next() {
        let [code, a, b] = match op {
            [c, a, b] => [*c, *a, *b],
            _ => break,
        };
        match code % 7 {
            0 => now += Duration::from_millis(u64::from(a) * 100 + u64::from(b)),
            1 => {
                let method = METHODS[usize::from(a) % METHODS.len()];
                table.handle_datagram(now, request(method, b % 4, a % 3 + 1), source);
            }
            2 => {
                let status = STATUSES[usize::from(a) % STATUSES.len()];
                let method = METHODS[usize::from(b / 4) % METHODS.len()];
                table.handle_datagram(now, response(status, method, b % 4, 1), source);
            }
            3 => {
                if let Some(&id) = server_ids.get(usize::from(a) % server_ids.len().max(1)) {
                    if let Some(req) = table.request(id).cloned() {
                        let status = STATUSES[usize::from(b) % STATUSES.len()];
                        if let Ok(resp) = MessageBuilder::response_to(&req, status, None).to_tag("t").build() {
                            let _ = table.send_response(now, id, resp);
                        }
                    }
                }
            }
            4 => {
                let method = Method::from_bytes(METHODS[usize::from(a) % METHODS.len()].as_bytes()).unwrap();
                if method == Method::Ack || method == Method::Cancel {
                    continue;
                }
                let req = MessageBuilder::request(&method, "sip:bob@example.com")
                    .header(H::Via, "SIP/2.0/UDP 192.0.2.9:5060")
                    .header(H::MaxForwards, "70")
                    .header(H::From, "<sip:a@example.com>;tag=f")
                    .header(H::To, "<sip:bob@example.com>")
                    .header(H::CallId, format!("c{b}"))
                    .header(H::CSeq, format!("1 {method}"))
                    .build()
                    .unwrap();
                let target = if b % 2 == 0 { Target::udp(peer) } else { Target::tcp(peer) };
                if let Ok(id) = table.send_request(now, req, target) {
                    client_ids.push(id);
                }
            }
            5 => {
                let ids = if a % 2 == 0 { &client_ids } else { &server_ids };
                if let Some(&id) = ids.get(usize::from(b) % ids.len().max(1)) {
                    table.handle_transport_error(now, id);
                }
            }
            _ => {
                let len = usize::from(a).min(data.len());
                let raw: Vec<u8> = ops.by_ref().take(len / 3 + 1).flatten().copied().collect();
                table.handle_datagram(now, Bytes::from(raw), source);
            }
        }
        table.handle_timeout(now);
        drain(&mut table, &mut server_ids);
    }

    // Unanswered server transactions get a final response so that they can end; then run the
    // clock far beyond the longest timer (64*T1 plus margins): nothing may be left.
    for &id in &server_ids {
        if let Some(req) = table.request(id).cloned() {
            if let Ok(resp) = MessageBuilder::response_to(&req, 486, None).to_tag("t").build() {
                let _ = table.send_response(now, id, resp);
            }
        }
    }
    drain(&mut table, &mut server_ids);
    for _ in 0..20 {
        now += Duration::from_secs(60);
        table.handle_timeout(now);
        drain(&mut table, &mut server_ids);
    }
    assert_eq!(table.len(), 0, "live transactions left: {:?}", table.stats());
});
