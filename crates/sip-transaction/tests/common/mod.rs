//! Shared helpers for the scenario tests: a table on a virtual clock that logs every output with
//! its time, and message factories.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
use sip_testkit::Clock;
use sip_transaction::{
    Event, Output, ResponseError, Target, Timer, TransactionConfig, TransactionId,
    TransactionTable, Transmit,
};

pub use sip_testkit::{ms, secs};

/// The remote UDP peer.
pub fn udp() -> Target {
    Target::udp("192.0.2.2:5060".parse().unwrap())
}

/// The remote TCP peer.
pub fn tcp() -> Target {
    Target::tcp("192.0.2.2:5060".parse().unwrap())
}

/// A request as a UAC builds it, without branch (the table adds one) unless `branch` is given.
pub fn request(method: Method, branch: Option<&str>) -> Message {
    request_from(method, branch, "client.example.com:5060", 1)
}

pub fn request_from(method: Method, branch: Option<&str>, sent_by: &str, cseq: u32) -> Message {
    let via = match branch {
        Some(b) => format!("SIP/2.0/UDP {sent_by};branch={b}"),
        None => format!("SIP/2.0/UDP {sent_by}"),
    };
    MessageBuilder::request(&method, "sip:bob@example.com")
        .header(H::Via, via)
        .header(H::Route, "<sip:proxy.example.com;lr>")
        .header(H::MaxForwards, "70")
        .header(H::To, "Bob <sip:bob@example.com>")
        .header(H::From, "Alice <sip:alice@example.com>;tag=a1")
        .header(H::CallId, "call-1@example.com")
        .header(H::CSeq, format!("{cseq} {method}"))
        .build()
        .unwrap()
}

/// A response to `request` (To tag `b1` unless 100).
pub fn reply(request: &Message, status: u16) -> Message {
    reply_tagged(request, status, "b1")
}

pub fn reply_tagged(request: &Message, status: u16, tag: &str) -> Message {
    let b = MessageBuilder::response_to(request, status, None);
    let b = if status == 100 { b } else { b.to_tag(tag) };
    b.build().unwrap()
}

/// A table on a virtual clock; every output is logged with the time it came out.
pub struct Run {
    pub table: TransactionTable,
    pub clock: Clock,
    pub start: Instant,
    pub log: Vec<(Duration, Output)>,
}

impl Run {
    pub fn new() -> Self {
        Self::with(TransactionConfig::default())
    }

    pub fn with(config: TransactionConfig) -> Self {
        let clock = Clock::new();
        let start = clock.now();
        Self { table: TransactionTable::new(config), clock, start, log: Vec::new() }
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    pub fn elapsed(&self) -> Duration {
        self.clock.now() - self.start
    }

    /// Drains the table, logging and returning what came out.
    pub fn drain(&mut self) -> Vec<Output> {
        let at = self.elapsed();
        let mut out = Vec::new();
        while let Some(o) = self.table.poll_output() {
            self.log.push((at, o.clone()));
            out.push(o);
        }
        out
    }

    /// Fires every timer up to `elapsed + d` at its own instant, then moves the clock there.
    pub fn run_for(&mut self, d: Duration) -> Vec<Output> {
        let end = self.now() + d;
        let mut out = self.drain();
        let mut guard = 0;
        while let Some(at) = self.table.poll_timeout().filter(|at| *at <= end) {
            guard += 1;
            assert!(guard < 100_000, "timer livelock");
            self.clock.advance_to(at);
            self.table.handle_timeout(at);
            out.extend(self.drain());
        }
        self.clock.advance_to(end);
        out
    }

    /// Runs until `d` after the start.
    pub fn run_to(&mut self, since_start: Duration) -> Vec<Output> {
        let d = since_start.saturating_sub(self.elapsed());
        self.run_for(d)
    }

    pub fn send(&mut self, request: Message, target: Target) -> (TransactionId, Vec<Output>) {
        let id = self.table.send_request(self.now(), request, target).unwrap();
        (id, self.drain())
    }

    pub fn receive(&mut self, message: Message, source: Target) -> Vec<Output> {
        self.table.handle_message(self.now(), message, source);
        self.drain()
    }

    pub fn respond(
        &mut self,
        id: TransactionId,
        response: Message,
    ) -> Result<Vec<Output>, ResponseError> {
        self.table.send_response(self.now(), id, response)?;
        Ok(self.drain())
    }

    /// The request transaction `id` sent (with its branch).
    pub fn sent(&self, id: TransactionId) -> Message {
        self.table.request(id).unwrap().clone()
    }

    /// Times (since start) of every logged transmit.
    pub fn transmit_times(&self) -> Vec<Duration> {
        self.log
            .iter()
            .filter(|(_, o)| matches!(o, Output::Transmit(_)))
            .map(|(at, _)| *at)
            .collect()
    }

    /// When `id` was freed, if it was.
    pub fn terminated_at(&self, id: TransactionId) -> Option<Duration> {
        self.log.iter().find_map(|(at, o)| match o {
            Output::Event(Event::Terminated { id: t }) if *t == id => Some(*at),
            _ => None,
        })
    }

    pub fn timed_out(&self, id: TransactionId) -> Option<(Duration, Timer)> {
        self.log.iter().find_map(|(at, o)| match o {
            Output::Event(Event::TimedOut { id: t, timer }) if *t == id => Some((*at, *timer)),
            _ => None,
        })
    }

    pub fn finals(&self, id: TransactionId) -> usize {
        self.log
            .iter()
            .filter(|(_, o)| matches!(o, Output::Event(Event::Final { id: t, .. }) if *t == id))
            .count()
    }
}

pub fn transmits(out: &[Output]) -> Vec<&Transmit> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(t) => Some(t),
            Output::Event(_) => None,
        })
        .collect()
}

pub fn events(out: &[Output]) -> Vec<&Event> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            Output::Transmit(_) => None,
        })
        .collect()
}

/// The messages in the transmits of `out`, parsed.
pub fn sent_messages(out: &[Output]) -> Vec<Message> {
    transmits(out).iter().map(|t| Message::parse(t.payload.clone()).unwrap()).collect()
}

/// Gaps between consecutive times.
pub fn gaps(times: &[Duration]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

pub fn ms_list(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&n| ms(n)).collect()
}

impl Drop for Run {
    /// Every test ends with the live count back to zero: transactions waiting on their TU (a
    /// server transaction without a final, a client INVITE in Proceeding) get one, and every
    /// timer runs out.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let ids: Vec<TransactionId> = self
            .log
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Event(Event::Request { id, .. }) => Some(*id),
                Output::Transmit(t) => t.transaction,
                Output::Event(_) => None,
            })
            .collect();
        for id in ids {
            let Some(state) = self.table.state(id) else { continue };
            let kind = self.table.kind(id).unwrap();
            use sip_transaction::{TransactionKind as K, TransactionState as S};
            match (kind, state) {
                (K::ServerInvite | K::ServerNonInvite, S::Trying | S::Proceeding) => {
                    let request = self.table.request(id).unwrap().clone();
                    let _ = self.table.send_response(self.now(), id, reply(&request, 500));
                }
                (K::ClientInvite, S::Proceeding) => {
                    self.table.terminate(self.now(), id);
                }
                _ => {}
            }
        }
        self.run_for(secs(300));
        assert_eq!(self.table.stats().live(), 0, "transactions leaked: {:?}", self.table.stats());
        assert!(self.table.is_empty() && self.table.poll_timeout().is_none());
    }
}
