//! Transaction-layer benchmarks: whole transactions through a `TransactionTable` on a made-up
//! clock, the way a runtime drives it (bytes in, drain, timers), with real messages from
//! `benches/data/`.
//!
//! * `transaction/non_invite_client`: an OPTIONS client transaction over UDP: request out
//!   (serialised once), 200 in (parsed from bytes), Timer K (T4) run out and the transaction
//!   freed.
//! * `transaction/invite_server`: an INVITE server transaction over UDP: the INVITE in (parsed
//!   from `invite_sdp.sip`), the TU's 200 out, the ACK for the 2xx in (up to the TU), Timer L
//!   (64*T1) run out and the transaction freed.
//!
//! Each iteration is one complete transaction, so the table is back to empty after each and is
//! reused; the clock moves past the last timer between iterations. Messages are built outside
//! the timed closure.
//!
//! Run with `cargo bench -p sip-benches --bench transaction`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_transaction::{Output, Target, TransactionConfig, TransactionTable};

const INVITE: &[u8] = include_bytes!("../data/invite_sdp.sip");

/// Drains the table, returning how many outputs came out (kept alive through `black_box`).
fn drain(table: &mut TransactionTable) -> usize {
    let mut n = 0;
    while let Some(output) = table.poll_output() {
        black_box(&output);
        n += 1;
    }
    n
}

fn non_invite_client(c: &mut Criterion) {
    let server = Target::udp("192.0.2.7:5060".parse().unwrap());
    // The TU gives the branch, so the prebuilt 200 matches every iteration's transaction (each
    // is freed by Timer K before the next starts).
    let options = MessageBuilder::request(&Method::Options, "sip:bob@biloxi.example.com")
        .header(H::Via, "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKbench1")
        .header(H::MaxForwards, "70")
        .header(H::To, "<sip:bob@biloxi.example.com>")
        .header(H::From, "<sip:alice@atlanta.example.com>;tag=9fxced76sl")
        .header(H::CallId, "3848276298220188511@192.0.2.101")
        .header(H::CSeq, "1 OPTIONS")
        .header(H::Accept, "application/sdp")
        .build()
        .unwrap();
    let ok: Bytes = MessageBuilder::response_to(&options, 200, None)
        .to_tag("8321234356")
        .header(H::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS")
        .build()
        .unwrap()
        .to_bytes();

    let config = TransactionConfig::default();
    let t4 = config.timer_t4();
    let mut table = TransactionTable::new(config);
    let mut now = Instant::now();

    let mut group = c.benchmark_group("transaction");
    group.throughput(Throughput::Elements(1));
    group.bench_function("non_invite_client", |b| {
        b.iter(|| {
            let id = table.send_request(now, options.clone(), server).unwrap();
            let mut outputs = drain(&mut table);
            table.handle_datagram(now + Duration::from_millis(30), ok.clone(), server);
            outputs += drain(&mut table);
            now += t4 + Duration::from_millis(30);
            table.handle_timeout(now);
            outputs += drain(&mut table);
            debug_assert!(table.is_empty() && outputs == 3, "request, final, terminated");
            black_box((id, outputs))
        });
    });
    group.finish();
}

fn invite_server(c: &mut Criterion) {
    let client = Target::udp("192.0.2.101:5060".parse().unwrap());
    let invite = Bytes::from_static(INVITE);
    let parsed = Message::parse(invite.clone()).unwrap();
    let ok = MessageBuilder::response_to(&parsed, 200, None)
        .to_tag("8321234356")
        .header(H::Contact, "<sip:bob@192.0.2.4:5060>")
        .body("application/sdp", "v=0\r\no=bob 1 1 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n")
        .build()
        .unwrap();
    let ack: Bytes = MessageBuilder::request(&Method::Ack, "sip:bob@192.0.2.4:5060")
        .header(H::Via, "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKack2xx;rport")
        .header(H::MaxForwards, "70")
        .header(H::From, parsed.from_header().unwrap())
        .header(H::To, "Bob <sip:bob@biloxi.example.com>;tag=8321234356")
        .header(H::CallId, parsed.call_id().unwrap())
        .header(H::CSeq, "1 ACK")
        .build()
        .unwrap()
        .to_bytes();

    let config = TransactionConfig::default();
    let timer_l = config.timer_b();
    let mut table = TransactionTable::new(config);
    let mut now = Instant::now();

    let mut group = c.benchmark_group("transaction");
    group.throughput(Throughput::Elements(1));
    group.bench_function("invite_server", |b| {
        b.iter(|| {
            table.handle_datagram(now, invite.clone(), client);
            let mut id = None;
            while let Some(output) = table.poll_output() {
                if let Output::Event(sip_transaction::Event::Request { id: new, .. }) = output {
                    id = Some(new);
                }
            }
            let id = id.unwrap();
            table.send_response(now, id, ok.clone()).unwrap();
            let mut outputs = drain(&mut table);
            table.handle_datagram(now + Duration::from_millis(40), ack.clone(), client);
            outputs += drain(&mut table);
            now += timer_l + Duration::from_millis(40);
            table.handle_timeout(now);
            outputs += drain(&mut table);
            debug_assert!(table.is_empty() && outputs == 3, "200, ACK to the TU, terminated");
            black_box(outputs)
        });
    });
    group.finish();
}

criterion_group!(benches, non_invite_client, invite_server);
criterion_main!(benches);
