//! Proxy benchmarks: complete calls through the `sip-proxy` core, in memory.
//!
//! Alice's `UserAgent` calls `sip:bob@example.com` through a [`StandaloneProxy`] (her outbound
//! proxy; Bob's binding comes from a static location service), over UDP on a made-up clock:
//! INVITE, 100 (the proxy's), INVITE, 180, 180, 200, 200, ACK, ACK, BYE, BYE, 200, 200: 13
//! messages, the proxy record-routing so that the ACK and the BYE come through it too. Every
//! message is serialised by its sender and parsed by its receiver; then the clock is moved past
//! every timer so that all three are empty again.
//!
//! * `proxy/proxied_call`: one iteration is one whole call, all three parties.
//! * `proxy/proxy_core`: the same calls, timing only the proxy: the time spent inside the
//!   `StandaloneProxy` calls (its parsing of the 7 messages it receives, its transaction table,
//!   the §16 logic, its serialising of the 6 it forwards and its own 100), summed with
//!   `iter_custom`. This is the per-core throughput of the proxy core.
//!
//! Run with `cargo bench -p sip-benches --bench proxy`. `SIP_BENCH_ITERS=<n>` runs `n` calls
//! without Criterion (for callgrind; see docs/PERFORMANCE.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use sip_proxy::{Location, Output, ProxyConfig, StandaloneProxy, StaticLocations, StaticResolver};
use sip_transaction::{Target, TransactionConfig, Transmit};
use sip_ua::{Body, Invite, UaConfig, UaEvent, UaOutput, UserAgent};

const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const ANSWER: &str = "v=0\r\no=bob 2890844527 2890844527 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

const ALICE: &str = "192.0.2.1:5060";
const BOB: &str = "192.0.2.2:5060";
const PROXY: &str = "192.0.2.10:5060";

struct Trio {
    alice: UserAgent,
    bob: UserAgent,
    proxy: StandaloneProxy<StaticLocations, StaticResolver>,
    addr: [Target; 3],
    now: Instant,
    offer: Body,
    answer: Body,
    /// Time spent inside the proxy's calls.
    in_proxy: Duration,
}

/// Who a transmit is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Party {
    Alice,
    Bob,
    Proxy,
}

impl Trio {
    fn new() -> Trio {
        let mut config = UaConfig::new("alice", ALICE);
        config.outbound_proxy = Some(format!("sip:{PROXY};lr"));
        let alice = UserAgent::new(config, TransactionConfig::default());
        // Each agent its own seed: tags and Call-IDs must differ between them (RFC 3261 §19.3).
        let mut config = UaConfig::new("bob", BOB).rng_seed(2);
        config.send_trying = false;
        let bob = UserAgent::new(config, TransactionConfig::default().rng_seed(2));
        let mut locations = StaticLocations::new();
        locations.add("sip:bob@example.com", Location::new(&format!("sip:bob@{BOB}")));
        let proxy_config =
            ProxyConfig::new(&format!("sip:{PROXY}")).expect("proxy URI").domain("example.com");
        let proxy = StandaloneProxy::new(
            proxy_config,
            TransactionConfig::default().rng_seed(3),
            locations,
            StaticResolver::new(),
        );
        let target = |a: &str| Target::udp(a.parse().expect("address"));
        Trio {
            alice,
            bob,
            proxy,
            addr: [target(ALICE), target(BOB), target(PROXY)],
            now: Instant::now(),
            offer: Body::sdp(OFFER),
            answer: Body::sdp(ANSWER),
            in_proxy: Duration::ZERO,
        }
    }

    fn party(&self, target: Target) -> Party {
        match self.addr.iter().position(|a| *a == target) {
            Some(0) => Party::Alice,
            Some(1) => Party::Bob,
            Some(2) => Party::Proxy,
            _ => panic!("a transmit to {target}"),
        }
    }

    /// Delivers `t`, sent by `from`, to its target.
    fn deliver(&mut self, from: Party, t: Transmit) {
        let source = self.addr[from as usize];
        match self.party(t.target) {
            Party::Alice => self.alice.handle_datagram(self.now, t.payload, source),
            Party::Bob => self.bob.handle_datagram(self.now, t.payload, source),
            Party::Proxy => {
                let started = Instant::now();
                self.proxy.handle_datagram(self.now, t.payload, source);
                self.in_proxy += started.elapsed();
            }
        }
    }

    /// Moves transmits among the three until all are quiet; Bob rings and answers each new
    /// call.
    fn exchange(&mut self) -> usize {
        let mut messages = 0;
        loop {
            let mut moved = false;
            while let Some(out) = self.alice.poll_output() {
                if let UaOutput::Transmit(t) = out {
                    self.deliver(Party::Alice, t);
                    moved = true;
                    messages += 1;
                } else {
                    black_box(out);
                }
            }
            loop {
                let started = Instant::now();
                let out = self.proxy.poll_output();
                self.in_proxy += started.elapsed();
                match out {
                    Some(Output::Transmit(t)) => {
                        self.deliver(Party::Proxy, t);
                        moved = true;
                        messages += 1;
                    }
                    Some(other) => {
                        black_box(other);
                    }
                    None => break,
                }
            }
            while let Some(out) = self.bob.poll_output() {
                match out {
                    UaOutput::Transmit(t) => {
                        self.deliver(Party::Bob, t);
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
        let invite = Invite::to("sip:bob@example.com").body(self.offer.clone());
        let call = self.alice.invite(self.now, invite).expect("invite");
        let mut messages = self.exchange();
        self.alice.bye(self.now, call).expect("bye");
        messages += self.exchange();
        // Past every timer: all three empty again.
        self.now += Duration::from_secs(100);
        self.alice.handle_timeout(self.now);
        self.bob.handle_timeout(self.now);
        let started = Instant::now();
        self.proxy.handle_timeout(self.now);
        self.in_proxy += started.elapsed();
        messages += self.exchange();
        assert!(
            self.alice.is_idle() && self.bob.is_idle() && self.proxy.is_idle(),
            "state left behind"
        );
        messages
    }
}

fn proxy(c: &mut Criterion) {
    let mut group = c.benchmark_group("proxy");
    group.throughput(Throughput::Elements(1));
    let mut trio = Trio::new();
    assert_eq!(trio.call(), 13, "INVITE, 100, INVITE, 180 x2, 200 x2, ACK x2, BYE x2, 200 x2");
    group.bench_function("proxied_call", |b| b.iter(|| black_box(trio.call())));
    group.bench_function("proxy_core", |b| {
        b.iter_custom(|iters| {
            trio.in_proxy = Duration::ZERO;
            for _ in 0..iters {
                black_box(trio.call());
            }
            trio.in_proxy
        });
    });
    group.finish();
}

criterion_group!(benches, proxy);

fn main() {
    if let Some(n) = std::env::var("SIP_BENCH_ITERS").ok().and_then(|v| v.parse::<u64>().ok()) {
        let mut trio = Trio::new();
        for _ in 0..n {
            black_box(trio.call());
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
