//! A driver that runs parties over a [`Wire`] on a virtual clock.

use std::fmt;
use std::time::{Duration, Instant};

use crate::{Clock, Wire};

/// The adapter a test writes around the state machine under test, so that [`Sim`] can drive it.
///
/// The methods mirror the sans-IO verbs of the protocol crates (`handle`, `handle_timeout`,
/// `poll_timeout`, `poll_output`); an adapter usually forwards them and keeps the events it
/// sees for the test to inspect afterwards.
pub trait Party<A, T> {
    /// This party's address on the wire: packets sent to it are passed to
    /// [`receive`](Party::receive). It must not change while the party is in a [`Sim`].
    fn address(&self) -> A;

    /// A packet from `from` arrived at `now`.
    fn receive(&mut self, now: Instant, from: A, payload: T);

    /// Time passed: fire whatever is due at `now`. The sim calls it when
    /// [`poll_timeout`](Party::poll_timeout) is `<= now`.
    fn handle_timeout(&mut self, now: Instant);

    /// When this party next wants [`handle_timeout`](Party::handle_timeout); `None` for no
    /// timer. Read afresh after every call that can change it.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;

    /// The next packet to send, as `(destination, payload)`; `None` when there is nothing more.
    /// The sim drains it after every input, stamping each packet with this party's address.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<(A, T)>;
}

impl<A, T, P: Party<A, T> + ?Sized> Party<A, T> for Box<P> {
    fn address(&self) -> A {
        (**self).address()
    }
    fn receive(&mut self, now: Instant, from: A, payload: T) {
        (**self).receive(now, from, payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn poll_transmit(&mut self) -> Option<(A, T)> {
        (**self).poll_transmit()
    }
}

/// Lets a [`Sim`] borrow parties the test keeps owning: `Sim::new(wire, (&mut uac, &mut uas))`.
impl<A, T, P: Party<A, T> + ?Sized> Party<A, T> for &mut P {
    fn address(&self) -> A {
        (**self).address()
    }
    fn receive(&mut self, now: Instant, from: A, payload: T) {
        (**self).receive(now, from, payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn poll_transmit(&mut self) -> Option<(A, T)> {
        (**self).poll_transmit()
    }
}

/// A fixed set of parties a [`Sim`] drives, visited by index in a fixed order.
///
/// Implemented for tuples of up to eight parties of any types (reach them as `sim.parties.0`,
/// keeping their concrete types), for `Vec<P>` and `[P; N]` of one party type, and so for
/// `Vec<Box<dyn Party<A, T>>>`. Tuples are the usual choice: a UAC, a proxy and a UAS each keep
/// their own type with no downcasting.
pub trait Parties<A, T> {
    /// How many parties there are.
    fn count(&self) -> usize;

    /// The party at `index`, if `index < count()`.
    fn party(&self, index: usize) -> Option<&dyn Party<A, T>>;

    /// The party at `index`, mutably, if `index < count()`.
    fn party_mut(&mut self, index: usize) -> Option<&mut dyn Party<A, T>>;
}

impl<A, T, P: Party<A, T>> Parties<A, T> for Vec<P> {
    fn count(&self) -> usize {
        self.len()
    }
    fn party(&self, index: usize) -> Option<&dyn Party<A, T>> {
        self.get(index).map(|p| p as &dyn Party<A, T>)
    }
    fn party_mut(&mut self, index: usize) -> Option<&mut dyn Party<A, T>> {
        self.get_mut(index).map(|p| p as &mut dyn Party<A, T>)
    }
}

impl<A, T, P: Party<A, T>, const N: usize> Parties<A, T> for [P; N] {
    fn count(&self) -> usize {
        N
    }
    fn party(&self, index: usize) -> Option<&dyn Party<A, T>> {
        self.get(index).map(|p| p as &dyn Party<A, T>)
    }
    fn party_mut(&mut self, index: usize) -> Option<&mut dyn Party<A, T>> {
        self.get_mut(index).map(|p| p as &mut dyn Party<A, T>)
    }
}

macro_rules! tuple_parties {
    ($count:literal; $($index:tt $P:ident),+) => {
        impl<A, T, $($P: Party<A, T>),+> Parties<A, T> for ($($P,)+) {
            fn count(&self) -> usize {
                $count
            }
            fn party(&self, index: usize) -> Option<&dyn Party<A, T>> {
                match index {
                    $($index => Some(&self.$index),)+
                    _ => None,
                }
            }
            fn party_mut(&mut self, index: usize) -> Option<&mut dyn Party<A, T>> {
                match index {
                    $($index => Some(&mut self.$index),)+
                    _ => None,
                }
            }
        }
    };
}

tuple_parties!(1; 0 P0);
tuple_parties!(2; 0 P0, 1 P1);
tuple_parties!(3; 0 P0, 1 P1, 2 P2);
tuple_parties!(4; 0 P0, 1 P1, 2 P2, 3 P3);
tuple_parties!(5; 0 P0, 1 P1, 2 P2, 3 P3, 4 P4);
tuple_parties!(6; 0 P0, 1 P1, 2 P2, 3 P3, 4 P4, 5 P5);
tuple_parties!(7; 0 P0, 1 P1, 2 P2, 3 P3, 4 P4, 5 P5, 6 P6);
tuple_parties!(8; 0 P0, 1 P1, 2 P2, 3 P3, 4 P4, 5 P5, 6 P6, 7 P7);

/// Runs [`Parties`] over a [`Wire`] on a virtual [`Clock`], jumping from event to event.
///
/// The wire and the parties are public fields, so a test reaches its concrete parties directly
/// (`sim.parties.0.register(sim.now(), ...)`) and changes the network mid-run
/// (`sim.wire.add_drop_next(...)`). Only the clock is private: it moves by stepping.
///
/// Each [`step`](Sim::step) does, in this order:
///
/// 1. drain every party's [`poll_transmit`](Party::poll_transmit) into the wire (commands a test
///    gave since the last step);
/// 2. find the earliest of every party's [`poll_timeout`](Party::poll_timeout) and the wire's
///    [`next_delivery`](Wire::next_delivery), and move the clock there (never backwards);
/// 3. deliver every due packet, in delivery order, to the party with its address (a packet to
///    an address no party has is counted in [`unrouted`](Sim::unrouted): a host that is down);
/// 4. call [`handle_timeout`](Party::handle_timeout) on each party, in index order, whose
///    `poll_timeout` is then `<= now`;
/// 5. drain every party's `poll_transmit` into the wire again.
///
/// Every loop is bounded: `run_*` stop after [`max_steps`](Sim::max_steps) steps (a livelock,
/// such as a timer that never clears, shows as a panic or an `Err`, not a hung test), and one
/// party producing more than 100 000 transmits in one drain panics.
pub struct Sim<A, T, P> {
    /// The network between the parties.
    pub wire: Wire<A, T>,
    /// The parties, as given to [`Sim::new`].
    pub parties: P,
    clock: Clock,
    max_steps: usize,
    steps: u64,
    unrouted: u64,
}

/// A `run_*` call reached the sim's step limit before its deadline: something keeps happening
/// without end (a timer that never clears, an endless exchange at zero latency).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepLimit {
    /// The limit that was reached.
    pub steps: usize,
    /// Virtual time elapsed since the sim's clock started, when the limit was reached.
    pub elapsed: Duration,
}

impl fmt::Display for StepLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulation took {} steps without reaching its deadline (stuck at {:?} after start)",
            self.steps, self.elapsed
        )
    }
}

impl std::error::Error for StepLimit {}

/// The default [`Sim::max_steps`].
pub const DEFAULT_MAX_STEPS: usize = 1_000_000;

/// Transmits one party may produce in one drain before the sim calls it a bug.
const MAX_TRANSMITS_PER_DRAIN: usize = 100_000;

impl<A: Copy + Ord + fmt::Debug, T: Clone, P: Parties<A, T>> Sim<A, T, P> {
    /// A sim of `parties` over `wire`, on a [`Clock::new`] clock.
    ///
    /// # Panics
    ///
    /// If two parties have the same address.
    #[must_use]
    pub fn new(wire: Wire<A, T>, parties: P) -> Self {
        Self::with_clock(Clock::new(), wire, parties)
    }

    /// A sim of `parties` over `wire`, starting at `clock`'s current time.
    ///
    /// # Panics
    ///
    /// If two parties have the same address.
    #[must_use]
    pub fn with_clock(clock: Clock, wire: Wire<A, T>, parties: P) -> Self {
        let mut addresses: Vec<A> =
            (0..parties.count()).filter_map(|i| parties.party(i)).map(|p| p.address()).collect();
        addresses.sort_unstable();
        if let Some(pair) = addresses.windows(2).find(|pair| pair[0] == pair[1]) {
            panic!("two parties share the address {:?}", pair[0]);
        }
        Self { wire, parties, clock, max_steps: DEFAULT_MAX_STEPS, steps: 0, unrouted: 0 }
    }

    /// How many steps one `run_*` call may take before it reports a [`StepLimit`]. Default
    /// [`DEFAULT_MAX_STEPS`].
    #[must_use]
    pub fn max_steps(mut self, max_steps: usize) -> Self {
        self.max_steps = max_steps;
        self
    }

    /// The current virtual time.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Virtual time passed since the sim's clock started.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Steps taken so far, by [`step`](Sim::step) and the `run_*` methods together.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Packets delivered to an address no party has; they are gone.
    #[must_use]
    pub fn unrouted(&self) -> u64 {
        self.unrouted
    }

    /// When the next thing happens: the earliest party timer or wire delivery; `None` when
    /// nothing will. Packets still waiting in a party's `poll_transmit` are not counted: call
    /// [`flush`](Sim::flush) first (every `step` and `run_*` does).
    #[must_use]
    pub fn next_event(&self) -> Option<Instant> {
        let timers = (0..self.parties.count())
            .filter_map(|i| self.parties.party(i))
            .filter_map(|p| p.poll_timeout());
        timers.chain(self.wire.next_delivery()).min()
    }

    /// Drains every party's `poll_transmit` into the wire at the current time, without moving
    /// the clock.
    ///
    /// # Panics
    ///
    /// If one party yields more than 100 000 transmits in a row (it never returns `None`).
    pub fn flush(&mut self) {
        let now = self.clock.now();
        for index in 0..self.parties.count() {
            let Some(party) = self.parties.party_mut(index) else { continue };
            let from = party.address();
            let mut drained = 0;
            while let Some((to, payload)) = party.poll_transmit() {
                drained += 1;
                assert!(
                    drained <= MAX_TRANSMITS_PER_DRAIN,
                    "party {from:?} produced over {MAX_TRANSMITS_PER_DRAIN} transmits at once"
                );
                self.wire.send(now, from, to, payload);
            }
        }
    }

    /// Runs one step (see [`Sim`]): flush, jump to the next event, deliver and fire what is
    /// due, flush. Returns `false`, without moving the clock, when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        self.flush();
        match self.next_event() {
            Some(at) => {
                self.process(at);
                true
            }
            None => false,
        }
    }

    /// Steps through every event up to and including `deadline`, then moves the clock to
    /// `deadline` (if later than now). Returns the number of steps taken.
    ///
    /// # Errors
    ///
    /// [`StepLimit`] if [`max_steps`](Sim::max_steps) steps did not reach the deadline; the
    /// clock is left where the last step put it.
    pub fn try_run_until(&mut self, deadline: Instant) -> Result<usize, StepLimit> {
        let mut taken = 0;
        loop {
            self.flush();
            let Some(at) = self.next_event().filter(|at| *at <= deadline) else { break };
            if taken == self.max_steps {
                return Err(StepLimit { steps: taken, elapsed: self.clock.elapsed() });
            }
            self.process(at);
            taken += 1;
        }
        self.clock.advance_to(deadline);
        Ok(taken)
    }

    /// Like [`try_run_until`](Sim::try_run_until), for tests that treat a livelock as a failure.
    ///
    /// # Panics
    ///
    /// On [`StepLimit`].
    pub fn run_until(&mut self, deadline: Instant) -> usize {
        match self.try_run_until(deadline) {
            Ok(steps) => steps,
            Err(limit) => panic!("{limit}"),
        }
    }

    /// Runs until `duration` from now; see [`run_until`](Sim::run_until).
    ///
    /// # Panics
    ///
    /// On [`StepLimit`].
    pub fn run_for(&mut self, duration: Duration) -> usize {
        self.run_until(self.clock.now() + duration)
    }

    /// Steps until nothing is left to happen (no timers, nothing in flight), at most `max_steps`
    /// times. Returns `true` if the sim went idle, `false` if the limit came first.
    #[must_use]
    pub fn run_until_idle(&mut self, max_steps: usize) -> bool {
        for _ in 0..max_steps {
            if !self.step() {
                return true;
            }
        }
        self.flush();
        self.next_event().is_none()
    }

    /// Moves to `at` (never backwards), delivers what is due, fires due timers, flushes.
    fn process(&mut self, at: Instant) {
        self.steps += 1;
        let now = self.clock.advance_to(at);
        while let Some(delivery) = self.wire.poll_delivery(now) {
            match self.route(delivery.to) {
                Some(party) => party.receive(now, delivery.from, delivery.payload),
                None => self.unrouted += 1,
            }
        }
        for index in 0..self.parties.count() {
            let Some(party) = self.parties.party_mut(index) else { continue };
            if party.poll_timeout().is_some_and(|t| t <= now) {
                party.handle_timeout(now);
            }
        }
        self.flush();
    }

    fn route(&mut self, to: A) -> Option<&mut dyn Party<A, T>> {
        let index = (0..self.parties.count())
            .find(|&i| self.parties.party(i).is_some_and(|p| p.address() == to))?;
        self.parties.party_mut(index)
    }
}

impl<A: fmt::Debug, T, P> fmt::Debug for Sim<A, T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("elapsed", &self.clock.elapsed())
            .field("steps", &self.steps)
            .field("unrouted", &self.unrouted)
            .field("max_steps", &self.max_steps)
            .field("wire", &self.wire)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fate, ms, secs};

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    enum Host {
        Client,
        Server,
        Nowhere,
    }

    /// Sends `request` to `peer` every `interval` from `start` until it hears anything back.
    #[derive(Debug)]
    struct Retransmitter {
        peer: Host,
        interval: Duration,
        next: Option<Instant>,
        out: Vec<(Host, u32)>,
        sent: u32,
        fired_at: Vec<Instant>,
        heard: Vec<(Instant, u32)>,
    }

    impl Retransmitter {
        fn new(peer: Host, interval: Duration) -> Self {
            Self {
                peer,
                interval,
                next: None,
                out: Vec::new(),
                sent: 0,
                fired_at: Vec::new(),
                heard: Vec::new(),
            }
        }
        fn start(&mut self, now: Instant) {
            self.next = Some(now);
        }
    }

    impl Party<Host, u32> for Retransmitter {
        fn address(&self) -> Host {
            Host::Client
        }
        fn receive(&mut self, now: Instant, _from: Host, payload: u32) {
            self.heard.push((now, payload));
            self.next = None;
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.next.is_some_and(|at| at <= now) {
                self.fired_at.push(now);
                self.sent += 1;
                self.out.push((self.peer, self.sent));
                self.next = Some(now + self.interval);
            }
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.next
        }
        fn poll_transmit(&mut self) -> Option<(Host, u32)> {
            self.out.pop()
        }
    }

    /// Answers every packet with the same payload plus 1000, after an optional delay.
    #[derive(Debug, Default)]
    struct Echo {
        delay: Duration,
        pending: Vec<(Instant, Host, u32)>,
        out: Vec<(Host, u32)>,
        received: Vec<(Instant, u32)>,
    }

    impl Party<Host, u32> for Echo {
        fn address(&self) -> Host {
            Host::Server
        }
        fn receive(&mut self, now: Instant, from: Host, payload: u32) {
            self.received.push((now, payload));
            self.pending.push((now + self.delay, from, payload + 1000));
            self.handle_timeout(now);
        }
        fn handle_timeout(&mut self, now: Instant) {
            let (due, later): (Vec<_>, Vec<_>) =
                self.pending.drain(..).partition(|(at, _, _)| *at <= now);
            self.pending = later;
            self.out.extend(due.into_iter().map(|(_, to, p)| (to, p)));
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.pending.iter().map(|(at, _, _)| *at).min()
        }
        fn poll_transmit(&mut self) -> Option<(Host, u32)> {
            if self.out.is_empty() { None } else { Some(self.out.remove(0)) }
        }
    }

    fn pair(wire: Wire<Host, u32>) -> Sim<Host, u32, (Retransmitter, Echo)> {
        let mut sim = Sim::new(
            wire.record(true),
            (Retransmitter::new(Host::Server, ms(500)), Echo::default()),
        );
        let now = sim.now();
        sim.parties.0.start(now);
        sim
    }

    #[test]
    fn retransmissions_are_exactly_500ms_apart() {
        let mut sim = pair(Wire::seeded(1).latency(ms(20)).loss(1.0));
        let start = sim.now();
        sim.run_for(ms(2600));
        let fired = &sim.parties.0.fired_at;
        let expected: Vec<Instant> = (0..6).map(|i| start + ms(500) * i).collect();
        assert_eq!(fired, &expected);
        assert_eq!(sim.wire.gaps(Host::Client, Host::Server), [ms(500); 5]);
        assert_eq!(sim.now(), start + ms(2600));
        assert!(sim.parties.1.received.is_empty());
    }

    #[test]
    fn scripted_losses_delay_the_answer_by_whole_intervals() {
        let mut sim = pair(Wire::seeded(1).latency(ms(20)).drop_next(Host::Server, 3));
        let start = sim.now();
        assert!(sim.run_until_idle(100));
        // Sends at 0, 500, 1000 lost; the one at 1500 arrives at 1520, its echo at 1540.
        assert_eq!(sim.parties.1.received, [(start + ms(1520), 4)]);
        assert_eq!(sim.parties.0.heard, [(start + ms(1540), 1004)]);
        assert_eq!(sim.wire.gaps(Host::Client, Host::Server), [ms(500); 3]);
        let fates: Vec<Fate> = sim.wire.log().iter().map(|s| s.fate).collect();
        assert_eq!(
            fates,
            [Fate::Dropped, Fate::Dropped, Fate::Dropped, Fate::Delivered, Fate::Delivered]
        );
        assert_eq!(sim.now(), start + ms(1540));
    }

    #[test]
    fn timers_fire_exactly_at_their_instants() {
        let mut sim = pair(Wire::seeded(1).latency(ms(30)));
        sim.parties.1.delay = ms(250);
        let start = sim.now();
        // Client sends at 0; echo receives at 30 and arms its timer for 280; reply lands at 310.
        assert!(sim.step()); // t = 0: client timer
        assert_eq!(sim.now(), start);
        assert_eq!(sim.next_event(), Some(start + ms(30)));
        assert!(sim.step()); // t = 30: delivery to echo
        assert_eq!(sim.parties.1.received, [(start + ms(30), 1)]);
        assert_eq!(sim.next_event(), Some(start + ms(280)));
        assert!(sim.step()); // t = 280: echo's timer
        assert_eq!(sim.now(), start + ms(280));
        assert!(sim.step()); // t = 310: reply to client
        assert_eq!(sim.parties.0.heard, [(start + ms(310), 1001)]);
        assert!(!sim.step());
        assert_eq!(sim.now(), start + ms(310));
        assert_eq!(sim.steps(), 4);
    }

    #[test]
    fn same_seed_replays_the_same_run() {
        let run = |seed| {
            let mut sim =
                pair(Wire::seeded(seed).latency(ms(20)).jitter(ms(15)).loss(0.5).duplicate(0.3));
            sim.parties.1.delay = ms(1);
            sim.run_for(secs(10));
            (sim.wire.log().to_vec(), sim.parties.0.heard.clone(), sim.wire.stats())
        };
        assert_eq!(run(77), run(77));
        let fates = |seed| run(seed).0.into_iter().map(|s| s.fate).collect::<Vec<_>>();
        assert!((0..5).any(|seed| fates(seed) != fates(77)));
    }

    #[test]
    fn run_for_is_bounded_and_ends_at_the_deadline() {
        // Nothing answers: the client retransmits forever, but run_for stops at the deadline.
        let mut sim = pair(Wire::seeded(1).loss(1.0));
        let start = sim.now();
        let steps = sim.run_for(secs(60));
        assert_eq!(steps, 121); // t = 0, 500, ..., 60 000 ms
        assert_eq!(sim.now(), start + secs(60));
        assert!(!sim.run_until_idle(10));
        assert_eq!(sim.now(), start + secs(65));
    }

    #[test]
    fn step_limit_reports_a_livelock() {
        /// Its timer is always due and never clears.
        struct Stuck(Instant);
        impl Party<Host, u32> for Stuck {
            fn address(&self) -> Host {
                Host::Client
            }
            fn receive(&mut self, _: Instant, _: Host, _: u32) {}
            fn handle_timeout(&mut self, _: Instant) {}
            fn poll_timeout(&self) -> Option<Instant> {
                Some(self.0)
            }
            fn poll_transmit(&mut self) -> Option<(Host, u32)> {
                None
            }
        }
        let clock = Clock::new();
        let stuck = Stuck(clock.now());
        let mut sim = Sim::with_clock(clock, Wire::seeded(1), (stuck,)).max_steps(50);
        let limit = sim.try_run_until(sim.now() + secs(1)).unwrap_err();
        assert_eq!(limit, StepLimit { steps: 50, elapsed: Duration::ZERO });
        assert!(limit.to_string().contains("50 steps"));
        assert!(!sim.run_until_idle(20));
        assert_eq!(sim.steps(), 70);
    }

    #[test]
    #[should_panic(expected = "without reaching its deadline")]
    fn run_for_panics_on_a_livelock() {
        let mut sim = pair(Wire::seeded(1)).max_steps(3);
        sim.parties.0.interval = Duration::ZERO; // re-arms at `now`: never leaves this instant
        sim.run_for(secs(1));
    }

    #[test]
    fn packets_to_unknown_addresses_are_counted() {
        let mut sim =
            Sim::new(Wire::seeded(1).latency(ms(5)), (Retransmitter::new(Host::Nowhere, secs(1)),));
        let now = sim.now();
        sim.parties.0.start(now);
        sim.run_for(ms(2500));
        assert_eq!(sim.unrouted(), 3);
        assert_eq!(sim.wire.stats().delivered, 3);
    }

    #[test]
    fn many_parties_in_a_vec() {
        /// Forwards whatever it receives to the next host in a ring of `n`.
        struct Relay {
            me: u8,
            n: u8,
            out: Option<(u8, u32)>,
            seen: u32,
        }
        impl Party<u8, u32> for Relay {
            fn address(&self) -> u8 {
                self.me
            }
            fn receive(&mut self, _: Instant, _: u8, hops: u32) {
                self.seen += 1;
                if hops > 0 {
                    self.out = Some(((self.me + 1) % self.n, hops - 1));
                }
            }
            fn handle_timeout(&mut self, _: Instant) {}
            fn poll_timeout(&self) -> Option<Instant> {
                None
            }
            fn poll_transmit(&mut self) -> Option<(u8, u32)> {
                self.out.take()
            }
        }
        let relays: Vec<Relay> = (0..5).map(|me| Relay { me, n: 5, out: None, seen: 0 }).collect();
        let mut sim = Sim::new(Wire::seeded(1).latency(ms(10)), relays);
        let now = sim.now();
        sim.wire.send(now, 4, 0, 12);
        assert!(sim.run_until_idle(100));
        assert_eq!(sim.elapsed(), ms(130));
        let seen: Vec<u32> = sim.parties.iter().map(|r| r.seen).collect();
        assert_eq!(seen, [3, 3, 3, 2, 2]);
    }

    #[test]
    fn borrowed_parties_stay_with_the_test() {
        let mut client = Retransmitter::new(Host::Server, ms(500));
        let mut server = Echo::default();
        let clock = Clock::new();
        client.start(clock.now());
        {
            let mut sim =
                Sim::with_clock(clock, Wire::seeded(1).latency(ms(1)), (&mut client, &mut server));
            assert!(sim.run_until_idle(10));
        }
        assert_eq!(client.heard.len(), 1);
        assert_eq!(server.received.len(), 1);
    }

    #[test]
    #[should_panic(expected = "share the address Server")]
    fn duplicate_addresses_are_refused() {
        let _ = Sim::new(Wire::<Host, u32>::seeded(1), (Echo::default(), Echo::default()));
    }
}
