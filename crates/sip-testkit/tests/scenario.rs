//! The testkit driven through its public API only, the way protocol crates use it: socket
//! addresses, `Bytes` payloads, and a retransmission schedule like RFC 3261 Timer E.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_testkit::{Fate, Party, Sim, Wire, ms, secs};

const T1: Duration = ms(500);
const T2: Duration = secs(4);

fn uac_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 5060))
}

fn uas_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 2], 5060))
}

/// A toy non-INVITE client: sends a request, retransmits on T1 doubling up to T2 (RFC 3261
/// §17.1.2.2), gives up after 64*T1, stops once any response arrives.
#[derive(Debug, Default)]
struct Uac {
    request: Option<Bytes>,
    interval: Duration,
    retransmit_at: Option<Instant>,
    give_up_at: Option<Instant>,
    out: Option<Bytes>,
    answered_at: Option<Instant>,
    timed_out: bool,
}

impl Uac {
    fn send(&mut self, now: Instant, request: Bytes) {
        self.out = Some(request.clone());
        self.request = Some(request);
        self.interval = T1;
        self.retransmit_at = Some(now + T1);
        self.give_up_at = Some(now + T1 * 64);
    }
}

impl Party<SocketAddr, Bytes> for Uac {
    fn address(&self) -> SocketAddr {
        uac_addr()
    }
    fn receive(&mut self, now: Instant, _from: SocketAddr, _payload: Bytes) {
        if self.answered_at.is_none() && !self.timed_out {
            self.answered_at = Some(now);
            self.retransmit_at = None;
            self.give_up_at = None;
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.give_up_at.is_some_and(|at| at <= now) {
            self.timed_out = true;
            self.retransmit_at = None;
            self.give_up_at = None;
        }
        if self.retransmit_at.is_some_and(|at| at <= now) {
            self.interval = (self.interval * 2).min(T2);
            self.retransmit_at = Some(now + self.interval);
            self.out = self.request.clone();
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit_at, self.give_up_at].into_iter().flatten().min()
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.out.take().map(|request| (uas_addr(), request))
    }
}

/// Answers every request at once.
#[derive(Debug, Default)]
struct Uas {
    out: Vec<(SocketAddr, Bytes)>,
    requests: usize,
}

impl Party<SocketAddr, Bytes> for Uas {
    fn address(&self) -> SocketAddr {
        uas_addr()
    }
    fn receive(&mut self, _now: Instant, from: SocketAddr, _payload: Bytes) {
        self.requests += 1;
        self.out.push((from, Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n")));
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Bytes)> {
        self.out.pop()
    }
}

fn register() -> Bytes {
    Bytes::from_static(b"REGISTER sip:example.com SIP/2.0\r\n\r\n")
}

#[test]
fn register_retransmits_on_t1_doubling_until_answered() {
    let wire = Wire::seeded(7).latency(ms(20)).drop_next(uas_addr(), 3).record(true);
    let mut sim = Sim::new(wire, (Uac::default(), Uas::default()));
    let start = sim.now();
    sim.parties.0.send(sim.now(), register());
    sim.run_for(secs(10));

    assert_eq!(sim.wire.gaps(uac_addr(), uas_addr()), [ms(500), ms(1000), ms(2000)]);
    // Fourth send at 3500 ms, answered 40 ms later.
    assert_eq!(sim.parties.0.answered_at, Some(start + ms(3540)));
    assert_eq!(sim.parties.1.requests, 1);
    assert_eq!(sim.now(), start + secs(10));
}

#[test]
fn unanswered_request_times_out_after_64_t1() {
    let mut sim =
        Sim::new(Wire::seeded(7).loss(1.0).record(true), (Uac::default(), Uas::default()));
    let start = sim.now();
    sim.parties.0.send(start, register());
    assert!(sim.run_until_idle(1_000));
    assert!(sim.parties.0.timed_out);
    assert_eq!(sim.now(), start + secs(32));
    let gaps = sim.wire.gaps(uac_addr(), uas_addr());
    let expected: Vec<Duration> =
        [500, 1000, 2000].into_iter().map(ms).chain([ms(4000); 7]).collect();
    assert_eq!(gaps, expected); // sends at 0, .5, 1.5, 3.5, 7.5, ..., 31.5 s
}

#[test]
fn same_seed_gives_identical_bytes_on_a_bad_network() {
    let run = |seed: u64| {
        let wire = Wire::seeded(seed)
            .latency(ms(20))
            .jitter(ms(30))
            .loss(0.4)
            .duplicate(0.2)
            .reorder(0.2)
            .record(true);
        let mut sim = Sim::new(wire, (Uac::default(), Uas::default()));
        for i in 0..20 {
            let request = Bytes::from(format!("OPTIONS sip:{i}@example.com SIP/2.0\r\n\r\n"));
            let now = sim.now();
            sim.parties.0 = Uac::default();
            sim.parties.0.send(now, request);
            sim.run_for(secs(40));
        }
        (sim.wire.log().to_vec(), sim.wire.stats())
    };
    let (log, stats) = run(2024);
    assert_eq!(run(2024), (log.clone(), stats));
    assert!(log.iter().any(|s| s.fate == Fate::Dropped));
    assert!(log.iter().any(|s| s.fate == Fate::Duplicated));
    assert_ne!(run(2025).0, log);
}
