//! Transaction-layer benchmarks: whole transactions through a `TransactionTable` on a made-up
//! clock, the way a runtime drives it (bytes in, drain, timers), with real messages from
//! `benches/data/`.
//!
//! * `transaction/non_invite_client`: an OPTIONS client transaction over UDP: request out
//!   (`send_request` with a clone of a prebuilt `Message`: the table checks it, serialises it
//!   once and queues the `Transmit`), 200 in (`handle_datagram`: parsed from bytes, matched,
//!   up to the TU as `Event::Final`), Timer K (T4) run out and the transaction freed.
//! * `transaction/non_invite_client_parsed`: the same, but the 200 comes in already parsed
//!   (`handle_message` with a clone of a prebuilt `Message`): the transaction machinery alone,
//!   without the message parser.
//! * `transaction/invite_server`: an INVITE server transaction over UDP: the INVITE in (parsed
//!   from `invite_sdp.sip`, 934 bytes), the TU's 200 out (a clone of a prebuilt `Message`,
//!   serialised by the table), the ACK for the 2xx in (parsed, up to the TU), Timer L (64*T1)
//!   run out and the transaction freed.
//!
//! Each iteration is one complete transaction and drains every output (each one is looked at by
//! reference through `black_box`), so the table is back to empty after each and is reused; the clock moves past
//! the last timer between iterations. Messages are built and serialised outside the timed
//! closure; parsing the received ones, serialising the sent ones and cloning the prebuilt
//! `Message`s the TU hands in are inside it.
//!
//! Run with `cargo bench -p sip-benches --bench transaction`. For an instruction count,
//! `SIP_BENCH_ITERS=<name>:<n>` runs `n` iterations of one benchmark without Criterion (see
//! docs/PERFORMANCE.md for the callgrind command).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_transaction::{Event, Output, Target, TransactionConfig, TransactionTable};

const INVITE: &[u8] = include_bytes!("../data/invite_sdp.sip");

/// Drains the table, returning how many outputs came out. Each one is looked at where
/// `poll_output` returned it, through `black_box`, as a runtime matches on `&output` to send or
/// dispatch it (binding it by value would add a copy of the whole ~850-byte `Output` per poll to
/// the figure, which is the caller's choice, not the table's work).
fn drain(table: &mut TransactionTable) -> usize {
    let mut n = 0;
    loop {
        let output = table.poll_output();
        let Some(output) = &output else { break };
        black_box(output);
        n += 1;
    }
    n
}

/// How the 200 reaches the client transaction.
#[derive(Clone, Copy)]
enum Arrival {
    /// As bytes, parsed by the table.
    Datagram,
    /// As a `Message` the caller parsed beforehand.
    Parsed,
}

struct NonInviteClient {
    table: TransactionTable,
    now: Instant,
    t4: Duration,
    server: Target,
    options: Message,
    ok: Bytes,
    ok_parsed: Message,
}

impl NonInviteClient {
    fn new() -> Self {
        let server = Target::udp("192.0.2.7:5060".parse().unwrap());
        // The TU gives the branch, so the prebuilt 200 matches every iteration's transaction
        // (each is freed by Timer K before the next starts).
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
        let ok_parsed = Message::parse(ok.clone()).unwrap();
        let config = TransactionConfig::default();
        Self {
            t4: config.timer_t4(),
            table: TransactionTable::new(config),
            now: Instant::now(),
            server,
            options,
            ok,
            ok_parsed,
        }
    }

    /// One complete transaction; returns the outputs seen (request, final, terminated).
    fn run(&mut self, arrival: Arrival) -> usize {
        let table = &mut self.table;
        let id = table.send_request(self.now, self.options.clone(), self.server).unwrap();
        let mut outputs = drain(table);
        let later = self.now + Duration::from_millis(30);
        match arrival {
            Arrival::Datagram => table.handle_datagram(later, self.ok.clone(), self.server),
            Arrival::Parsed => table.handle_message(later, self.ok_parsed.clone(), self.server),
        }
        outputs += drain(table);
        self.now += self.t4 + Duration::from_millis(30);
        table.handle_timeout(self.now);
        outputs += drain(table);
        debug_assert!(table.is_empty() && outputs == 3, "request, final, terminated");
        black_box(id);
        outputs
    }
}

struct InviteServer {
    table: TransactionTable,
    now: Instant,
    timer_l: Duration,
    client: Target,
    invite: Bytes,
    ok: Message,
    ack: Bytes,
}

impl InviteServer {
    fn new() -> Self {
        let client = Target::udp("192.0.2.101:5060".parse().unwrap());
        let invite = Bytes::from_static(INVITE);
        let parsed = Message::parse(invite.clone()).unwrap();
        let ok = MessageBuilder::response_to(&parsed, 200, None)
            .to_tag("8321234356")
            .header(H::Contact, "<sip:bob@192.0.2.4:5060>")
            .body(
                "application/sdp",
                "v=0\r\no=bob 1 1 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\n\
                 m=audio 3456 RTP/AVP 0\r\n",
            )
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
        Self {
            timer_l: config.timer_b(),
            table: TransactionTable::new(config),
            now: Instant::now(),
            client,
            invite,
            ok,
            ack,
        }
    }

    /// One complete transaction; returns the outputs seen after the request event (200, ACK to
    /// the TU, terminated).
    fn run(&mut self) -> usize {
        let table = &mut self.table;
        table.handle_datagram(self.now, self.invite.clone(), self.client);
        let mut id = None;
        loop {
            let output = table.poll_output();
            let Some(output) = &output else { break };
            if let Output::Event(Event::Request { id: new, .. }) = output {
                id = Some(*new);
            }
            black_box(output);
        }
        let id = id.unwrap();
        table.send_response(self.now, id, self.ok.clone()).unwrap();
        let mut outputs = drain(table);
        table.handle_datagram(self.now + Duration::from_millis(40), self.ack.clone(), self.client);
        outputs += drain(table);
        self.now += self.timer_l + Duration::from_millis(40);
        table.handle_timeout(self.now);
        outputs += drain(table);
        debug_assert!(table.is_empty() && outputs == 3, "200, ACK to the TU, terminated");
        outputs
    }
}

fn non_invite_client(c: &mut Criterion) {
    let mut group = c.benchmark_group("transaction");
    group.throughput(Throughput::Elements(1));
    let mut bench = NonInviteClient::new();
    group.bench_function("non_invite_client", |b| b.iter(|| bench.run(Arrival::Datagram)));
    let mut bench = NonInviteClient::new();
    group.bench_function("non_invite_client_parsed", |b| b.iter(|| bench.run(Arrival::Parsed)));
    group.finish();
}

fn invite_server(c: &mut Criterion) {
    let mut group = c.benchmark_group("transaction");
    group.throughput(Throughput::Elements(1));
    let mut bench = InviteServer::new();
    group.bench_function("invite_server", |b| b.iter(|| bench.run()));
    group.finish();
}

criterion_group!(benches, non_invite_client, invite_server);

/// `SIP_BENCH_ITERS=<name>:<n>` runs `n` iterations of one benchmark (`non_invite_client`,
/// `non_invite_client_parsed` or `invite_server`) without Criterion, for an instruction count
/// under `valgrind --tool=callgrind`; without it, Criterion as usual.
fn main() {
    if let Ok(spec) = std::env::var("SIP_BENCH_ITERS") {
        let (name, n) = spec.split_once(':').expect("SIP_BENCH_ITERS=<name>:<iterations>");
        let n: u64 = n.parse().expect("SIP_BENCH_ITERS: iterations");
        let mut outputs = 0;
        match name {
            "non_invite_client" | "non_invite_client_parsed" => {
                let arrival =
                    if name == "non_invite_client" { Arrival::Datagram } else { Arrival::Parsed };
                let mut bench = NonInviteClient::new();
                for _ in 0..n {
                    outputs += black_box(bench.run(arrival));
                }
            }
            "invite_server" => {
                let mut bench = InviteServer::new();
                for _ in 0..n {
                    outputs += black_box(bench.run());
                }
            }
            other => panic!("SIP_BENCH_ITERS: unknown benchmark {other}"),
        }
        assert_eq!(outputs as u64, 3 * n, "three outputs per transaction");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
