//! User-agent benchmarks: complete calls between two in-memory user agents.
//!
//! * `calls/complete_call`: Alice's `UserAgent` calls Bob's over UDP on a made-up clock:
//!   INVITE, 180, 200, ACK, BYE, 200 (Bob sends no 100: he rings at once), every message
//!   serialised by its sender and parsed by its receiver, through both transaction tables,
//!   both UA cores and both dialogs; then the clock is moved past every timer (Timer K, J, L,
//!   M...) so both agents are empty again. One iteration is one whole call, both sides.
//!
//! Run with `cargo bench -p sip-benches --bench calls`. `SIP_BENCH_ITERS=<n>` runs `n` calls
//! without Criterion (for callgrind; see docs/PERFORMANCE.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use sip_transaction::{Target, TransactionConfig};
use sip_ua::{Body, Invite, UaConfig, UaEvent, UaOutput, UserAgent};

const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const ANSWER: &str = "v=0\r\no=bob 2890844527 2890844527 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

struct Pair {
    alice: UserAgent,
    bob: UserAgent,
    alice_addr: Target,
    bob_addr: Target,
    now: Instant,
    offer: Body,
    answer: Body,
}

impl Pair {
    fn new() -> Pair {
        let alice =
            UserAgent::new(UaConfig::new("alice", "192.0.2.1:5060"), TransactionConfig::default());
        // Each agent its own seed: tags and Call-IDs must differ between them (RFC 3261 §19.3).
        let mut config = UaConfig::new("bob", "192.0.2.2:5060").rng_seed(2);
        config.send_trying = false;
        let bob = UserAgent::new(config, TransactionConfig::default().rng_seed(2));
        Pair {
            alice,
            bob,
            alice_addr: Target::udp("192.0.2.1:5060".parse().expect("address")),
            bob_addr: Target::udp("192.0.2.2:5060".parse().expect("address")),
            now: Instant::now(),
            offer: Body::sdp(OFFER),
            answer: Body::sdp(ANSWER),
        }
    }

    /// Moves transmits both ways until both are quiet; Bob rings and answers each new call.
    fn exchange(&mut self) -> usize {
        let mut messages = 0;
        loop {
            let mut moved = false;
            while let Some(out) = self.alice.poll_output() {
                if let UaOutput::Transmit(t) = out {
                    self.bob.handle_datagram(self.now, t.payload, self.alice_addr);
                    moved = true;
                    messages += 1;
                } else {
                    black_box(out);
                }
            }
            while let Some(out) = self.bob.poll_output() {
                match out {
                    UaOutput::Transmit(t) => {
                        self.alice.handle_datagram(self.now, t.payload, self.bob_addr);
                        moved = true;
                        messages += 1;
                    }
                    UaOutput::Event(UaEvent::IncomingCall { call, .. }) => {
                        self.bob.ring(self.now, call, 180, None).expect("ring");
                        self.bob.answer(self.now, call, Some(self.answer.clone())).expect("answer");
                    }
                    other => {
                        black_box(other);
                    }
                }
            }
            if !moved {
                return messages;
            }
        }
    }

    fn call(&mut self) -> usize {
        let call = self
            .alice
            .invite(self.now, Invite::to("sip:bob@192.0.2.2:5060").body(self.offer.clone()))
            .expect("invite");
        let mut messages = self.exchange();
        self.alice.bye(self.now, call).expect("bye");
        messages += self.exchange();
        // Past every timer: both sides empty again.
        self.now += Duration::from_secs(100);
        self.alice.handle_timeout(self.now);
        self.bob.handle_timeout(self.now);
        messages += self.exchange();
        assert!(self.alice.is_idle() && self.bob.is_idle(), "state left behind");
        messages
    }
}

fn calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("calls");
    group.throughput(Throughput::Elements(1));
    let mut pair = Pair::new();
    assert_eq!(pair.call(), 6, "INVITE, 180, 200, ACK, BYE, 200");
    group.bench_function("complete_call", |b| b.iter(|| black_box(pair.call())));
    group.finish();
}

criterion_group!(benches, calls);

fn main() {
    if let Some(n) = std::env::var("SIP_BENCH_ITERS").ok().and_then(|v| v.parse::<u64>().ok()) {
        let mut pair = Pair::new();
        for _ in 0..n {
            black_box(pair.call());
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
