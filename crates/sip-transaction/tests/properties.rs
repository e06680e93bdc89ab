//! Property tests over arbitrary sequences of inputs, commands and elapsed time (STYLE.md §6):
//! at most one final response reaches the TU per client transaction, every transaction is gone
//! by its RFC deadline, and nothing panics or leaks.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{reply, request, request_from, secs, tcp, udp};
use proptest::prelude::*;
use sip_message::{Message, Method};
use sip_testkit::Clock;
use sip_transaction::{
    Event, Output, TransactionConfig, TransactionId, TransactionKind, TransactionState,
    TransactionTable,
};

const STATUSES: [u16; 8] = [100, 180, 183, 200, 202, 404, 486, 603];
const T1_64: Duration = Duration::from_secs(32);
const T4: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
enum Op {
    /// The TU starts a client transaction.
    Send { invite: bool, reliable: bool },
    /// A response arrives for the n-th client transaction (live or not).
    Respond { n: usize, status: usize },
    /// A request arrives: method, branch from a small pool (collisions make retransmissions),
    /// `None` for an RFC 2543 request.
    Request { method: usize, branch: Option<u8>, cseq: u8, reliable: bool },
    /// The TU answers the n-th server transaction.
    Answer { n: usize, status: usize },
    /// The transport fails for the n-th transaction of either side.
    TransportError { n: usize },
    /// Bytes that may not be SIP.
    Garbage(Vec<u8>),
    /// Time passes.
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (any::<bool>(), any::<bool>()).prop_map(|(invite, reliable)| Op::Send { invite, reliable }),
        4 => (0..16usize, 0..STATUSES.len()).prop_map(|(n, status)| Op::Respond { n, status }),
        3 => (0..4usize, proptest::option::weighted(0.8, 0..4u8), 1..3u8, any::<bool>())
            .prop_map(|(method, branch, cseq, reliable)| Op::Request { method, branch, cseq, reliable }),
        3 => (0..16usize, 0..STATUSES.len()).prop_map(|(n, status)| Op::Answer { n, status }),
        1 => (0..32usize).prop_map(|n| Op::TransportError { n }),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Op::Garbage),
        3 => prop_oneof![0..1_000u32, 0..40_000u32].prop_map(Op::Advance),
    ]
}

#[derive(Default, Debug)]
struct Track {
    kind: Option<TransactionKind>,
    created: Option<Instant>,
    provisional: Option<Instant>,
    final_at: Option<Instant>,
    final_status: Option<u16>,
    finals: u32,
    terminated: Option<Instant>,
    transport_failed: bool,
    request: Option<Message>,
}

impl Track {
    /// RFC 3261 §17 with RFC 6026: the latest instant this transaction may still exist, or `None`
    /// if it waits for its TU (a server without a final, a client INVITE in Proceeding).
    fn deadline(&self) -> Option<Instant> {
        let created = self.created?;
        match self.kind? {
            // Timer F, then at most Timer K.
            TransactionKind::ClientNonInvite => Some(created + T1_64 + T4),
            // Timer B in Calling; Timer D or M after the final.
            TransactionKind::ClientInvite => match (self.final_at, self.provisional) {
                (Some(f), _) => Some(f + T1_64),
                (None, Some(_)) => None,
                (None, None) => Some(created + T1_64),
            },
            // Timer J after the final.
            TransactionKind::ServerNonInvite => self.final_at.map(|f| f + T1_64),
            // Timer L after a 2xx; Timer H, or the ACK then Timer I, after a non-2xx.
            TransactionKind::ServerInvite => self.final_at.map(|f| f + T1_64 + T4),
        }
    }
}

struct World {
    table: TransactionTable,
    clock: Clock,
    clients: Vec<TransactionId>,
    servers: Vec<TransactionId>,
    all: Vec<TransactionId>,
    track: HashMap<TransactionId, Track>,
}

impl World {
    fn drain(&mut self) {
        let now = self.clock.now();
        while let Some(output) = self.table.poll_output() {
            let Output::Event(event) = output else { continue };
            match event {
                Event::Request { id, request, .. } => {
                    let kind = self.table.kind(id).unwrap();
                    self.servers.push(id);
                    self.all.push(id);
                    self.track.insert(
                        id,
                        Track {
                            kind: Some(kind),
                            created: Some(now),
                            request: Some(request),
                            ..Track::default()
                        },
                    );
                }
                Event::Provisional { id, .. } => {
                    let t = self.track.get_mut(&id).unwrap();
                    t.provisional.get_or_insert(now);
                }
                Event::Final { id, response } => {
                    let t = self.track.get_mut(&id).unwrap();
                    t.finals += 1;
                    t.final_at = Some(now);
                    t.final_status = response.status();
                }
                Event::Terminated { id } => {
                    let t = self.track.get_mut(&id).unwrap();
                    assert!(t.terminated.is_none(), "terminated twice");
                    t.terminated = Some(now);
                }
                Event::TransportFailed { id } => {
                    self.track.get_mut(&id).unwrap().transport_failed = true;
                }
                Event::Additional2xx { id, .. } => {
                    let t = &self.track[&id];
                    assert!(t.final_status.is_some_and(|s| (200..300).contains(&s)));
                }
                _ => {}
            }
        }
    }

    /// Runs every timer up to `d` from now at its own instant.
    fn advance(&mut self, d: Duration) {
        let end = self.clock.now() + d;
        let mut guard = 0;
        while let Some(at) = self.table.poll_timeout().filter(|at| *at <= end) {
            guard += 1;
            assert!(guard < 1_000_000, "timer livelock");
            self.clock.advance_to(at);
            self.table.handle_timeout(at);
            self.drain();
        }
        self.clock.advance_to(end);
    }

    fn apply(&mut self, op: Op) {
        let now = self.clock.now();
        match op {
            Op::Send { invite, reliable } => {
                let method = if invite { Method::Invite } else { Method::Options };
                let to = if reliable { tcp() } else { udp() };
                let id = self.table.send_request(now, request(method, None), to).unwrap();
                self.clients.push(id);
                self.all.push(id);
                let kind = self.table.kind(id);
                let request = self.table.request(id).cloned();
                self.track
                    .insert(id, Track { kind, created: Some(now), request, ..Track::default() });
            }
            Op::Respond { n, status } => {
                let Some(id) = pick(&self.clients, n) else { return };
                let request = self.track[&id].request.clone().unwrap();
                let response = reply(&request, STATUSES[status]);
                self.table.handle_message(now, response, udp());
            }
            Op::Request { method, branch, cseq, reliable } => {
                let method =
                    [Method::Invite, Method::Options, Method::Ack, Method::Cancel][method].clone();
                let branch = branch.map(|b| format!("z9hG4bKpool{b}"));
                let req = request_from(method, branch.as_deref(), "peer.example.com", cseq.into());
                self.table.handle_message(now, req, if reliable { tcp() } else { udp() });
            }
            Op::Answer { n, status } => {
                let Some(id) = pick(&self.servers, n) else { return };
                let request = self.track[&id].request.clone().unwrap();
                let status = STATUSES[status];
                if self.table.send_response(now, id, reply(&request, status)).is_ok()
                    && status >= 200
                {
                    let t = self.track.get_mut(&id).unwrap();
                    t.final_at.get_or_insert(now);
                }
            }
            Op::TransportError { n } => {
                let Some(id) = pick(&self.all, n) else { return };
                self.table.handle_transport_error(now, id);
            }
            Op::Garbage(bytes) => self.table.handle_datagram(now, Bytes::from(bytes), udp()),
            Op::Advance(ms) => self.advance(Duration::from_millis(ms.into())),
        }
        self.drain();
    }
}

fn pick(ids: &[TransactionId], n: usize) -> Option<TransactionId> {
    if ids.is_empty() { None } else { Some(ids[n % ids.len()]) }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn one_final_per_transaction_and_every_transaction_gone_by_its_deadline(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut w = World {
            table: TransactionTable::new(TransactionConfig::default()),
            clock: Clock::new(),
            clients: Vec::new(),
            servers: Vec::new(),
            all: Vec::new(),
            track: HashMap::new(),
        };
        for op in ops {
            w.apply(op);
        }
        w.advance(secs(200));

        for (id, t) in &w.track {
            prop_assert!(t.finals <= 1, "{id}: {} finals", t.finals);
            match t.deadline() {
                Some(deadline) => {
                    let gone = t.terminated;
                    prop_assert!(gone.is_some_and(|at| at <= deadline), "{id} {t:?}");
                    prop_assert!(!w.table.contains(*id));
                }
                None => {
                    // Waiting for its TU: still there, in the state that waits, unless a
                    // transport error ended it (§17.1.4, Figure 8).
                    let state = w.table.state(*id);
                    let waiting =
                        matches!(state, Some(TransactionState::Proceeding | TransactionState::Trying));
                    let failed = t.transport_failed && t.terminated.is_some() && state.is_none();
                    prop_assert!(waiting || failed, "{id} {t:?} {state:?}");
                }
            }
        }
        // The TU now does its part; then nothing may remain.
        for id in w.all.clone() {
            match (w.table.kind(id), w.table.state(id)) {
                (Some(TransactionKind::ClientInvite), Some(_)) => {
                    w.table.terminate(w.clock.now(), id);
                }
                (Some(TransactionKind::ServerInvite | TransactionKind::ServerNonInvite), Some(_)) => {
                    let request = w.track[&id].request.clone().unwrap();
                    w.table.send_response(w.clock.now(), id, reply(&request, 500)).unwrap();
                }
                _ => {}
            }
        }
        w.drain();
        w.advance(secs(200));
        prop_assert_eq!(w.table.stats().live(), 0);
        prop_assert_eq!(w.table.stats().pending, 0);
        prop_assert!(w.table.is_empty() && w.table.poll_timeout().is_none());
        let s = w.table.stats();
        prop_assert_eq!(s.created, s.terminated);
    }
}
