//! The fast entry points give what the queueing ones give: `handle_datagram_direct` /
//! `handle_message_direct` (the event handed back, with its place in the output order),
//! `poll_light_output` (outputs without the message-sized `Output`) and `send_request_ref`
//! (a borrowed request). Two tables with one seed run the same inputs, one through each set of
//! entry points; their output sequences must be equal.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{reply, request, request_from, tcp, udp};
use proptest::prelude::*;
use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_transaction::{
    Direct, Event, LightOutput, Output, TransactionConfig, TransactionId, TransactionTable,
};

const STATUSES: [u16; 6] = [100, 180, 200, 404, 486, 603];

#[derive(Clone, Debug)]
enum Op {
    /// The TU starts a client transaction; `big` requests go over the UDP size limit (TCP).
    Send { invite: bool, branch: bool, big: bool, reliable: bool },
    /// A response to the n-th client transaction arrives, as bytes or parsed.
    Respond { n: usize, status: usize, bytes: bool },
    /// A request arrives (branch from a small pool, so some are retransmissions).
    Request { method: usize, branch: u8, cseq: u8, bytes: bool },
    /// The TU answers the n-th server transaction.
    Answer { n: usize, status: usize },
    /// Bytes that are no SIP.
    Garbage(Vec<u8>),
    /// Time passes.
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (any::<bool>(), any::<bool>(), proptest::bool::weighted(0.2), any::<bool>())
            .prop_map(|(invite, branch, big, reliable)| Op::Send { invite, branch, big, reliable }),
        4 => (0..8usize, 0..STATUSES.len(), any::<bool>())
            .prop_map(|(n, status, bytes)| Op::Respond { n, status, bytes }),
        3 => (0..4usize, 0..4u8, 1..3u8, any::<bool>())
            .prop_map(|(method, branch, cseq, bytes)| Op::Request { method, branch, cseq, bytes }),
        3 => (0..8usize, 0..STATUSES.len()).prop_map(|(n, status)| Op::Answer { n, status }),
        1 => proptest::collection::vec(any::<u8>(), 0..32).prop_map(Op::Garbage),
        3 => prop_oneof![0..1_000u32, 0..40_000u32].prop_map(Op::Advance),
    ]
}

/// One table and the outputs it gave, in order (as text: `Output` has no `PartialEq`).
struct Side {
    table: TransactionTable,
    direct: bool,
    log: Vec<String>,
    clients: Vec<(TransactionId, Message)>,
    servers: Vec<(TransactionId, Message)>,
}

impl Side {
    fn new(direct: bool) -> Self {
        let config = TransactionConfig::default().rng_seed(7);
        Side {
            table: TransactionTable::new(config),
            direct,
            log: Vec::new(),
            clients: Vec::new(),
            servers: Vec::new(),
        }
    }

    fn record(&mut self, output: Output) {
        if let Output::Event(Event::Request { id, request, .. }) = &output {
            self.servers.push((*id, request.clone()));
        }
        self.log.push(format!("{output:?}"));
    }

    /// The next output, through `poll_light_output` first on the direct side.
    fn next(&mut self) -> Option<Output> {
        if self.direct {
            if let Some(light) = self.table.poll_light_output() {
                let again: Output = light.clone().into();
                if let LightOutput::Transmit(t) = &light {
                    assert!(matches!(&again, Output::Transmit(u) if u == t));
                }
                return Some(again);
            }
        }
        self.table.poll_output()
    }

    fn drain(&mut self) {
        while let Some(output) = self.next() {
            self.record(output);
        }
    }

    fn take(&mut self, direct: Option<Direct>) {
        if let Some(direct) = direct {
            for _ in 0..direct.after {
                let output = self.next().expect("`after` outputs are queued");
                self.record(output);
            }
            self.record(Output::Event(direct.event));
        }
        self.drain();
    }

    fn message(&mut self, now: Instant, message: Message, bytes: bool) {
        let source = udp();
        match (self.direct, bytes) {
            (false, false) => self.table.handle_message(now, message, source),
            (false, true) => self.table.handle_datagram(now, message.to_bytes(), source),
            (true, false) => {
                let direct = self.table.handle_message_direct(now, message, source);
                self.take(direct);
            }
            (true, true) => {
                let direct = self.table.handle_datagram_direct(now, message.to_bytes(), source);
                self.take(direct);
            }
        }
        self.drain();
    }

    fn apply(&mut self, now: Instant, op: &Op, sends: usize) {
        match op {
            Op::Send { invite, branch, big, reliable } => {
                let method = if *invite { Method::Invite } else { Method::Options };
                let given = format!("z9hG4bKsend{sends}");
                let branch = branch.then_some(given.as_str());
                let request = if *big {
                    big_request(method, branch)
                } else {
                    request_from(method, branch, "client.example.com:5060", 1)
                };
                let target = if *reliable { tcp() } else { udp() };
                let sent = if self.direct {
                    self.table.send_request_ref(now, &request, target)
                } else {
                    self.table.send_request(now, request.clone(), target)
                };
                self.log.push(format!("{sent:?}"));
                if let Ok(id) = sent {
                    // The response must carry the branch the table sent.
                    let kept = self.table.request(id).cloned().unwrap_or(request);
                    self.clients.push((id, kept));
                }
            }
            Op::Respond { n, status, bytes } => {
                let Some((_, request)) = self.clients.get(n % self.clients.len().max(1)).cloned()
                else {
                    return;
                };
                self.message(now, reply(&request, STATUSES[*status]), *bytes);
            }
            Op::Request { method, branch, cseq, bytes } => {
                let method =
                    [Method::Invite, Method::Options, Method::Ack, Method::Bye][*method].clone();
                let branch = format!("z9hG4bKpool{branch}");
                let req = request_from(method, Some(&branch), "peer.example.com", (*cseq).into());
                self.message(now, req, *bytes);
            }
            Op::Answer { n, status } => {
                let Some((id, request)) = self.servers.get(n % self.servers.len().max(1)).cloned()
                else {
                    return;
                };
                let sent = self.table.send_response(now, id, reply(&request, STATUSES[*status]));
                self.log.push(format!("{sent:?}"));
                self.drain();
            }
            Op::Garbage(bytes) => {
                let payload = Bytes::from(bytes.clone());
                if self.direct {
                    let direct = self.table.handle_datagram_direct(now, payload, udp());
                    self.take(direct);
                } else {
                    self.table.handle_datagram(now, payload, udp());
                }
                self.drain();
            }
            Op::Advance(_) => {
                self.table.handle_timeout(now);
                self.drain();
            }
        }
    }
}

/// A request over the default UDP limit (1300 bytes): §18.1.1 moves it to TCP.
fn big_request(method: Method, branch: Option<&str>) -> Message {
    let via = match branch {
        Some(b) => format!("SIP/2.0/UDP client.example.com:5060;branch={b}"),
        None => "SIP/2.0/UDP client.example.com:5060".to_string(),
    };
    MessageBuilder::request(&method, "sip:bob@example.com")
        .header(H::Via, via)
        .header(H::MaxForwards, "70")
        .header(H::To, "Bob <sip:bob@example.com>")
        .header(H::From, "Alice <sip:alice@example.com>;tag=a1")
        .header(H::CallId, "call-big@example.com")
        .header(H::CSeq, format!("1 {method}"))
        .header(H::Subject, "x".repeat(1400))
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_direct_entry_points_give_what_the_queueing_ones_give(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut queued = Side::new(false);
        let mut direct = Side::new(true);
        let mut now = Instant::now();
        for (sends, op) in ops.iter().enumerate() {
            if let Op::Advance(ms) = op {
                now += Duration::from_millis((*ms).into());
            }
            queued.apply(now, op, sends);
            direct.apply(now, op, sends);
            prop_assert_eq!(&queued.log, &direct.log);
            prop_assert_eq!(queued.table.stats(), direct.table.stats());
        }
    }
}

#[test]
fn a_direct_event_comes_after_the_outputs_queued_before_it() {
    // A client INVITE answered 486: the table sends the ACK (queued) before the TU hears the
    // final (handed back), and nothing is queued after it on UDP (Timer D runs).
    let mut table = TransactionTable::new(TransactionConfig::default());
    let now = Instant::now();
    let invite = request(Method::Invite, Some("z9hG4bKdirect1"));
    let id = table.send_request_ref(now, &invite, udp()).unwrap();
    assert!(matches!(table.poll_light_output(), Some(LightOutput::Transmit(_))));
    assert!(table.poll_light_output().is_none() && table.poll_output().is_none());
    let busy = reply(&invite, 486).to_bytes();
    let direct = table.handle_datagram_direct(now, busy, udp()).expect("the final goes up");
    assert_eq!(direct.after, 1);
    assert!(matches!(direct.event, Event::Final { id: got, .. } if got == id));
    let Some(LightOutput::Transmit(ack)) = table.poll_light_output() else { panic!("no ACK") };
    assert!(ack.payload.starts_with(b"ACK "));
    assert!(table.poll_output().is_none());
    // Garbage hands nothing back and is counted.
    assert!(table.handle_datagram_direct(now, Bytes::from_static(b"\x00\x01"), udp()).is_none());
    assert_eq!(table.stats().malformed, 1);
}

#[test]
fn a_borrowed_request_without_branch_is_sent_with_one_and_left_as_it_was() {
    let mut table = TransactionTable::new(TransactionConfig::default());
    let now = Instant::now();
    let options = request(Method::Options, None);
    let id = table.send_request_ref(now, &options, udp()).unwrap();
    assert!(options.via_branch_bytes().is_none(), "the caller's request is untouched");
    let branch = table.branch(id).expect("a branch was added").to_string();
    assert!(branch.starts_with("z9hG4bK"));
    let Some(LightOutput::Transmit(t)) = table.poll_light_output() else { panic!("not sent") };
    let sent = Message::parse(t.payload).unwrap();
    assert_eq!(sent.via_branch_bytes(), Some(branch.as_bytes()));
}
