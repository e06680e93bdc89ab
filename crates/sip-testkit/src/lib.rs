//! Test-only helpers for the SIP stack: a virtual clock, a seeded lossy in-memory network, and a
//! driver that runs sans-IO state machines over them.
//!
//! Nothing here knows SIP: addresses are any `Copy + Ord` type (an enum of hosts, a
//! `SocketAddr`) and payloads any `Clone` type (usually `bytes::Bytes`), so transaction, dialog,
//! UA and proxy tests all use it without dependency cycles.
//!
//! - [`Clock`]: a base [`Instant`](std::time::Instant) plus an offset that only the test moves;
//!   [`ms`] and [`secs`] keep timings short.
//! - [`Wire`]: a seeded network with latency, jitter, loss, duplication and reordering, plus
//!   scripted faults ([`Wire::drop_next`], [`Wire::drop_nth`], [`Wire::drop_matching`]) for the
//!   clearest tests, which name the packet they lose. It can log every send
//!   ([`Wire::record`]) so a test asserts exact retransmission gaps ([`Wire::gaps`]) or that
//!   the same seed replays the same bytes.
//! - [`Sim`]: runs a set of [`Party`] adapters over a wire, jumping straight to the next timer or
//!   delivery, like quinn's `Pair` and str0m's `progress`. Minutes of SIP run in milliseconds,
//!   identically every time, so tests assert timings exactly.
//!
//! # Driving a state machine
//!
//! A test wraps each machine in a [`Party`]: `receive` feeds it a packet, `handle_timeout` and
//! `poll_timeout` pass its timers through, and `poll_transmit` yields what it wants to send. The
//! parties go into a [`Sim`] as a tuple (each keeps its concrete type: `sim.parties.0`) or a
//! `Vec`. [`Sim::step`] drains their transmits into the wire, jumps to the earliest timer or
//! delivery, delivers what is due, fires due timers and drains again; [`Sim::run_for`],
//! [`Sim::run_until`] and [`Sim::run_until_idle`] repeat it, always bounded by a step limit so a
//! livelock fails the test instead of hanging it.
//!
//! # Determinism
//!
//! The wire draws from ChaCha8 seeded by [`Wire::seeded`] and keeps everything in ordered
//! structures, and every [`Clock::new`] in a process starts at the same instant. So a run is a
//! function of its seed and its calls: two runs compare equal, logs, instants and all.
//!
//! # Example
//!
//! A pinger retransmits every 500 ms until a ponger answers; the wire loses the first two pings.
//!
//! ```
//! use std::time::Instant;
//!
//! use sip_testkit::{Party, Sim, Wire, ms, secs};
//!
//! #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
//! enum Host {
//!     Pinger,
//!     Ponger,
//! }
//!
//! /// Sends "ping" at once and every 500 ms after, until it hears "pong".
//! #[derive(Default)]
//! struct Pinger {
//!     retransmit_at: Option<Instant>,
//!     out: Option<&'static str>,
//!     pings: u32,
//!     ponged_at: Option<Instant>,
//! }
//!
//! impl Party<Host, &'static str> for Pinger {
//!     fn address(&self) -> Host {
//!         Host::Pinger
//!     }
//!     fn receive(&mut self, now: Instant, _from: Host, payload: &'static str) {
//!         if payload == "pong" && self.ponged_at.is_none() {
//!             self.ponged_at = Some(now);
//!             self.retransmit_at = None;
//!         }
//!     }
//!     fn handle_timeout(&mut self, now: Instant) {
//!         if self.retransmit_at.is_some_and(|at| at <= now) {
//!             self.out = Some("ping");
//!             self.pings += 1;
//!             self.retransmit_at = Some(now + ms(500));
//!         }
//!     }
//!     fn poll_timeout(&self) -> Option<Instant> {
//!         self.retransmit_at
//!     }
//!     fn poll_transmit(&mut self) -> Option<(Host, &'static str)> {
//!         self.out.take().map(|payload| (Host::Ponger, payload))
//!     }
//! }
//!
//! /// Answers every "ping" with a "pong".
//! #[derive(Default)]
//! struct Ponger {
//!     out: Vec<(Host, &'static str)>,
//! }
//!
//! impl Party<Host, &'static str> for Ponger {
//!     fn address(&self) -> Host {
//!         Host::Ponger
//!     }
//!     fn receive(&mut self, _now: Instant, from: Host, payload: &'static str) {
//!         if payload == "ping" {
//!             self.out.push((from, "pong"));
//!         }
//!     }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_timeout(&self) -> Option<Instant> {
//!         None
//!     }
//!     fn poll_transmit(&mut self) -> Option<(Host, &'static str)> {
//!         self.out.pop()
//!     }
//! }
//!
//! let wire = Wire::seeded(7).latency(ms(20)).drop_next(Host::Ponger, 2).record(true);
//! let mut sim = Sim::new(wire, (Pinger::default(), Ponger::default()));
//! let start = sim.now();
//! sim.parties.0.retransmit_at = Some(start); // first ping now
//!
//! assert!(sim.run_until_idle(1_000));
//! // Pings at 0 and 500 ms are lost; the one at 1000 ms gets through and back.
//! assert_eq!(sim.parties.0.pings, 3);
//! assert_eq!(sim.parties.0.ponged_at, Some(start + ms(1040)));
//! assert_eq!(sim.wire.gaps(Host::Pinger, Host::Ponger), [ms(500), ms(500)]);
//!
//! // Random loss instead: the outcome depends only on the seed, so it is the same every run.
//! let lossy = Wire::seeded(7).latency(ms(20)).loss(0.5);
//! let mut sim = Sim::new(lossy, (Pinger::default(), Ponger::default()));
//! sim.parties.0.retransmit_at = Some(sim.now());
//! sim.run_for(secs(30));
//! assert!(sim.parties.0.ponged_at.is_some());
//! ```
#![forbid(unsafe_code)]

mod clock;
mod sim;
mod wire;

pub use clock::{Clock, ms, secs};
pub use sim::{DEFAULT_MAX_STEPS, Parties, Party, Sim, StepLimit};
pub use wire::{DEFAULT_REORDER_WINDOW, Delivery, Fate, Sent, Wire, WireStats};
