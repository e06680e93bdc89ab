//! A seeded in-memory network that delays, drops, duplicates and reorders.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded in-memory datagram network between endpoints addressed by `A`, carrying payloads `T`.
///
/// Every [`send`](Wire::send) decides the packet's fate at once: scripted faults first
/// ([`drop_next`](Wire::drop_next), [`drop_nth`](Wire::drop_nth),
/// [`drop_matching`](Wire::drop_matching)), then random loss, then random duplication. A packet
/// that survives is scheduled `latency + jitter + reorder delay` after it was sent, and comes out
/// of [`due`](Wire::due) or [`poll_delivery`](Wire::poll_delivery) once that time has come, in
/// delivery-time order, ties broken by send order.
///
/// # Determinism
///
/// The random source is ChaCha8 seeded with [`seeded`](Wire::seeded), and nothing depends on
/// hash order, so the same seed and the same calls give the same fates and delivery times on every
/// machine. Each send draws the same fixed number of random values whatever its fate and whatever
/// the settings, so adding a scripted drop does not change what happens to the other packets.
///
/// # Example
///
/// ```
/// use sip_testkit::{Clock, Fate, Wire, ms};
///
/// let clock = Clock::new();
/// let t0 = clock.now();
/// let mut wire = Wire::seeded(7).latency(ms(20)).drop_nth('b', 2).record(true);
/// wire.send(t0, 'a', 'b', "one");
/// wire.send(t0 + ms(1), 'a', 'b', "two"); // the 2nd packet to 'b': dropped
/// wire.send(t0 + ms(2), 'a', 'b', "three");
///
/// assert_eq!(wire.next_delivery(), Some(t0 + ms(20)));
/// let got: Vec<_> = wire.due(t0 + ms(30)).into_iter().map(|d| d.payload).collect();
/// assert_eq!(got, ["one", "three"]);
/// assert_eq!(wire.log()[1].fate, Fate::Dropped);
/// assert_eq!(wire.gaps('a', 'b'), [ms(1), ms(1)]);
/// ```
pub struct Wire<A, T> {
    seed: u64,
    rng: ChaCha8Rng,
    latency: Duration,
    jitter: Duration,
    loss: f64,
    duplicate: f64,
    reorder: f64,
    reorder_window: Duration,
    record: bool,
    drop_next: BTreeMap<A, usize>,
    drop_nth: BTreeMap<A, BTreeSet<u64>>,
    drop_rules: Vec<DropRule<A, T>>,
    sent_to: BTreeMap<A, u64>,
    queue: BTreeMap<(Instant, u64), InFlight<A, T>>,
    seq: u64,
    stats: WireStats,
    log: Vec<Sent<A, T>>,
}

/// A packet handed out by the wire at its delivery time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery<A, T> {
    /// When the packet arrives (scheduled at send time; `due(now)` hands it out once `at <= now`).
    pub at: Instant,
    /// When the packet was sent.
    pub sent_at: Instant,
    /// The sender's address.
    pub from: A,
    /// The receiver's address.
    pub to: A,
    /// The payload, as sent (a clone for a duplicated packet's second copy).
    pub payload: T,
}

/// One [`Wire::send`] as recorded in the [`Wire::log`] (only with [`Wire::record`] on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent<A, T> {
    /// When it was sent.
    pub at: Instant,
    /// The sender's address.
    pub from: A,
    /// The receiver's address.
    pub to: A,
    /// A clone of the payload.
    pub payload: T,
    /// What the wire did with it.
    pub fate: Fate,
    /// When its copies are (or were) delivered: empty when dropped, two instants when duplicated.
    pub deliver_at: Vec<Instant>,
}

/// What the wire did with one sent packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fate {
    /// Delivered once.
    Delivered,
    /// Lost, by a scripted fault or by random loss.
    Dropped,
    /// Delivered twice (each copy with its own delay).
    Duplicated,
}

/// Counters kept by a [`Wire`].
///
/// They always satisfy `sent + duplicated == delivered + dropped + in_flight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WireStats {
    /// Calls to [`Wire::send`].
    pub sent: u64,
    /// Copies handed out by [`Wire::due`] or [`Wire::poll_delivery`] (a duplicate counts twice).
    pub delivered: u64,
    /// Sends that were lost, scripted or random.
    pub dropped: u64,
    /// Sends that were delivered twice (counts the extra copies).
    pub duplicated: u64,
    /// Copies that were given an extra reorder delay (see [`Wire::reorder`]).
    pub reordered: u64,
}

/// The default [`Wire::reorder_window`].
pub const DEFAULT_REORDER_WINDOW: Duration = Duration::from_millis(100);

impl<A: Copy + Ord, T: Clone> Wire<A, T> {
    /// A perfect wire (no latency, loss, duplication or reordering) whose random choices come
    /// from `seed`. Configure it with the builder methods.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: DEFAULT_REORDER_WINDOW,
            record: false,
            drop_next: BTreeMap::new(),
            drop_nth: BTreeMap::new(),
            drop_rules: Vec::new(),
            sent_to: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            stats: WireStats::default(),
            log: Vec::new(),
        }
    }

    /// Fixed one-way delay of every packet. Default zero.
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.set_latency(latency);
        self
    }

    /// Extra delay drawn uniformly from `[0, jitter)` for each packet; packets sent closer
    /// together than the jitter can overtake each other. Default zero.
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.set_jitter(jitter);
        self
    }

    /// Probability in `[0, 1]` that a packet is lost. Default zero.
    ///
    /// # Panics
    ///
    /// If `probability` is not within `[0, 1]`.
    #[must_use]
    pub fn loss(mut self, probability: f64) -> Self {
        self.set_loss(probability);
        self
    }

    /// Probability in `[0, 1]` that a packet that was not lost arrives twice, each copy with its
    /// own jitter and reorder delay. Default zero.
    ///
    /// # Panics
    ///
    /// If `probability` is not within `[0, 1]`.
    #[must_use]
    pub fn duplicate(mut self, probability: f64) -> Self {
        self.set_duplicate(probability);
        self
    }

    /// Probability in `[0, 1]` that a packet is held back by an extra delay drawn from
    /// `(0, reorder_window]`, so that packets sent after it overtake it. Default zero.
    ///
    /// # Panics
    ///
    /// If `probability` is not within `[0, 1]`.
    #[must_use]
    pub fn reorder(mut self, probability: f64) -> Self {
        self.set_reorder(probability);
        self
    }

    /// Longest extra delay of a reordered packet. Default [`DEFAULT_REORDER_WINDOW`] (100 ms).
    #[must_use]
    pub fn reorder_window(mut self, window: Duration) -> Self {
        self.set_reorder_window(window);
        self
    }

    /// Whether to keep a [`log`](Wire::log) of every send, with a clone of its payload. Default
    /// off; [`send_times`](Wire::send_times) and [`gaps`](Wire::gaps) need it on.
    #[must_use]
    pub fn record(mut self, on: bool) -> Self {
        self.set_record(on);
        self
    }

    /// Drops the next `n` packets sent to `to` (on top of any already scripted).
    #[must_use]
    pub fn drop_next(mut self, to: A, n: usize) -> Self {
        self.add_drop_next(to, n);
        self
    }

    /// Drops the `k`-th packet (1-based) ever sent to `to`, counting every send to `to` since
    /// the wire was made, whatever its fate.
    ///
    /// # Panics
    ///
    /// If `k` is zero.
    #[must_use]
    pub fn drop_nth(mut self, to: A, k: u64) -> Self {
        self.add_drop_nth(to, k);
        self
    }

    /// Drops the first `count` packets for which `matches(from, to, payload)` is true.
    ///
    /// Rules are tried in the order they were added and only on packets that
    /// [`drop_next`](Wire::drop_next) and [`drop_nth`](Wire::drop_nth) spared; the first rule
    /// that matches takes the packet, and a rule is gone once it has dropped `count` packets.
    #[must_use]
    pub fn drop_matching(
        mut self,
        matches: impl FnMut(&A, &A, &T) -> bool + 'static,
        count: usize,
    ) -> Self {
        self.add_drop_matching(matches, count);
        self
    }

    /// Changes the latency mid-run; see [`latency`](Wire::latency). Packets already in flight
    /// keep their delivery times.
    pub fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    /// Changes the jitter mid-run; see [`jitter`](Wire::jitter).
    pub fn set_jitter(&mut self, jitter: Duration) {
        self.jitter = jitter;
    }

    /// Changes the loss probability mid-run; see [`loss`](Wire::loss).
    ///
    /// # Panics
    ///
    /// If `probability` is not within `[0, 1]`.
    pub fn set_loss(&mut self, probability: f64) {
        self.loss = checked_probability("loss", probability);
    }

    /// Changes the duplication probability mid-run; see [`duplicate`](Wire::duplicate).
    ///
    /// # Panics
    ///
    /// If `probability` is not within `[0, 1]`.
    pub fn set_duplicate(&mut self, probability: f64) {
        self.duplicate = checked_probability("duplicate", probability);
    }

    /// Changes the reorder probability mid-run; see [`reorder`](Wire::reorder).
    ///
    /// # Panics
    ///
    /// If `probability` is not within `[0, 1]`.
    pub fn set_reorder(&mut self, probability: f64) {
        self.reorder = checked_probability("reorder", probability);
    }

    /// Changes the reorder window mid-run; see [`reorder_window`](Wire::reorder_window).
    pub fn set_reorder_window(&mut self, window: Duration) {
        self.reorder_window = window;
    }

    /// Turns the log on or off mid-run; see [`record`](Wire::record). Entries already logged
    /// stay.
    pub fn set_record(&mut self, on: bool) {
        self.record = on;
    }

    /// Scripts a drop mid-run; see [`drop_next`](Wire::drop_next).
    pub fn add_drop_next(&mut self, to: A, n: usize) {
        *self.drop_next.entry(to).or_insert(0) += n;
    }

    /// Scripts a drop mid-run; see [`drop_nth`](Wire::drop_nth). A `k` already passed never
    /// fires.
    ///
    /// # Panics
    ///
    /// If `k` is zero.
    pub fn add_drop_nth(&mut self, to: A, k: u64) {
        assert!(k > 0, "Wire::drop_nth counts from 1");
        self.drop_nth.entry(to).or_default().insert(k);
    }

    /// Scripts a drop mid-run; see [`drop_matching`](Wire::drop_matching).
    pub fn add_drop_matching(
        &mut self,
        matches: impl FnMut(&A, &A, &T) -> bool + 'static,
        count: usize,
    ) {
        if count > 0 {
            self.drop_rules.push(DropRule { matches: Box::new(matches), remaining: count });
        }
    }

    /// Sends `payload` from `from` to `to` at `now`, deciding its fate at once, and returns it.
    ///
    /// The packet (or its two copies) becomes due `latency + jitter + reorder delay` after
    /// `now`. The wire does not need `now` to grow, but delivery order is only meaningful if it
    /// does.
    pub fn send(&mut self, now: Instant, from: A, to: A, payload: T) -> Fate {
        self.stats.sent += 1;
        let ordinal = {
            let count = self.sent_to.entry(to).or_insert(0);
            *count += 1;
            *count
        };
        // Always the same draws per packet, used or not: fates of other packets stay put when a
        // setting or a script changes this one.
        let draws = Draws::new(&mut self.rng);
        let scripted = self.scripted_drop(ordinal, from, to, &payload);
        let fate = if scripted || draws.loss < self.loss {
            Fate::Dropped
        } else if draws.duplicate < self.duplicate {
            Fate::Duplicated
        } else {
            Fate::Delivered
        };
        let logged = self.record.then(|| payload.clone());
        let mut deliver_at = Vec::new();
        match fate {
            Fate::Dropped => self.stats.dropped += 1,
            Fate::Delivered => deliver_at.push(self.schedule(now, from, to, payload, draws.first)),
            Fate::Duplicated => {
                self.stats.duplicated += 1;
                deliver_at.push(self.schedule(now, from, to, payload.clone(), draws.first));
                deliver_at.push(self.schedule(now, from, to, payload, draws.second));
            }
        }
        if let Some(payload) = logged {
            self.log.push(Sent { at: now, from, to, payload, fate, deliver_at });
        }
        fate
    }

    /// When the earliest packet in flight arrives; `None` when nothing is in flight. Read it
    /// afresh after every [`send`](Wire::send).
    #[must_use]
    pub fn next_delivery(&self) -> Option<Instant> {
        self.queue.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Hands out the earliest packet whose delivery time is `<= now`, if any. Repeated calls
    /// drain the due packets in delivery-time order, ties in send order.
    #[must_use]
    pub fn poll_delivery(&mut self, now: Instant) -> Option<Delivery<A, T>> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let (at, _) = *entry.key();
        let packet = entry.remove();
        self.stats.delivered += 1;
        Some(Delivery {
            at,
            sent_at: packet.sent_at,
            from: packet.from,
            to: packet.to,
            payload: packet.payload,
        })
    }

    /// Every packet whose delivery time is `<= now`, in delivery-time order, ties in send
    /// order; they leave the wire.
    #[must_use]
    pub fn due(&mut self, now: Instant) -> Vec<Delivery<A, T>> {
        std::iter::from_fn(|| self.poll_delivery(now)).collect()
    }

    /// How many packet copies are scheduled and not yet handed out.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> WireStats {
        self.stats
    }

    /// The seed the wire was made with, for failure messages.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Every send while recording was on, in send order. Two runs with the same seed and the
    /// same calls (and clocks from [`Clock::new`](crate::Clock::new)) have equal logs.
    #[must_use]
    pub fn log(&self) -> &[Sent<A, T>] {
        &self.log
    }

    /// The times of every logged send from `from` to `to`, whatever their fate: a lost
    /// retransmission was still sent.
    ///
    /// # Panics
    ///
    /// If recording was never turned on: an empty answer would hide the mistake.
    #[must_use]
    pub fn send_times(&self, from: A, to: A) -> Vec<Instant> {
        assert!(
            self.record || !self.log.is_empty(),
            "Wire::send_times and Wire::gaps need Wire::record(true)"
        );
        self.log.iter().filter(|s| s.from == from && s.to == to).map(|s| s.at).collect()
    }

    /// The gaps between consecutive [`send_times`](Wire::send_times) from `from` to `to`, e.g.
    /// `[ms(500), ms(1000), ms(2000)]` for RFC 3261 Timer E with T1 = 500 ms.
    ///
    /// # Panics
    ///
    /// If recording was never turned on.
    #[must_use]
    pub fn gaps(&self, from: A, to: A) -> Vec<Duration> {
        let times = self.send_times(from, to);
        times.windows(2).map(|w| w[1].saturating_duration_since(w[0])).collect()
    }

    /// Whether a scripted fault takes the `ordinal`-th packet to `to`.
    fn scripted_drop(&mut self, ordinal: u64, from: A, to: A, payload: &T) -> bool {
        let mut dropped = false;
        if let Some(n) = self.drop_next.get_mut(&to) {
            if *n > 0 {
                *n -= 1;
                dropped = true;
            }
        }
        if let Some(ks) = self.drop_nth.get_mut(&to) {
            dropped |= ks.remove(&ordinal);
        }
        if !dropped {
            if let Some(i) =
                self.drop_rules.iter_mut().position(|rule| (rule.matches)(&from, &to, payload))
            {
                let rule = &mut self.drop_rules[i];
                rule.remaining -= 1;
                if rule.remaining == 0 {
                    self.drop_rules.remove(i);
                }
                dropped = true;
            }
        }
        dropped
    }

    /// Queues one copy and returns its delivery time.
    fn schedule(&mut self, now: Instant, from: A, to: A, payload: T, draws: DelayDraws) -> Instant {
        let mut delay = self.latency + self.jitter.mul_f64(draws.jitter);
        if draws.reorder < self.reorder {
            // 1 - u is in (0, 1]: a reordered packet is always held back a little.
            delay += self.reorder_window.mul_f64(1.0 - draws.window);
            self.stats.reordered += 1;
        }
        let at = now + delay;
        self.seq += 1;
        self.queue.insert((at, self.seq), InFlight { sent_at: now, from, to, payload });
        at
    }
}

impl<A: fmt::Debug, T> fmt::Debug for Wire<A, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire")
            .field("seed", &self.seed)
            .field("latency", &self.latency)
            .field("jitter", &self.jitter)
            .field("loss", &self.loss)
            .field("duplicate", &self.duplicate)
            .field("reorder", &self.reorder)
            .field("reorder_window", &self.reorder_window)
            .field("record", &self.record)
            .field("drop_next", &self.drop_next)
            .field("drop_nth", &self.drop_nth)
            .field("drop_rules", &self.drop_rules.len())
            .field("in_flight", &self.queue.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A `drop_matching` predicate: `(from, to, payload) -> drop?`.
type Matcher<A, T> = Box<dyn FnMut(&A, &A, &T) -> bool>;

struct DropRule<A, T> {
    matches: Matcher<A, T>,
    remaining: usize,
}

struct InFlight<A, T> {
    sent_at: Instant,
    from: A,
    to: A,
    payload: T,
}

/// The random values one send consumes, all drawn up front.
struct Draws {
    loss: f64,
    duplicate: f64,
    first: DelayDraws,
    second: DelayDraws,
}

#[derive(Clone, Copy)]
struct DelayDraws {
    jitter: f64,
    reorder: f64,
    window: f64,
}

impl Draws {
    fn new(rng: &mut ChaCha8Rng) -> Self {
        let mut delay =
            || DelayDraws { jitter: rng.random(), reorder: rng.random(), window: rng.random() };
        let (first, second) = (delay(), delay());
        Self { loss: rng.random(), duplicate: rng.random(), first, second }
    }
}

fn checked_probability(what: &str, probability: f64) -> f64 {
    assert!(
        (0.0..=1.0).contains(&probability),
        "Wire::{what} takes a probability in [0, 1], not {probability}"
    );
    probability
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, ms, secs};

    fn times(start: Instant, n: u64, every: Duration) -> impl Iterator<Item = (u64, Instant)> {
        (0..n).map(move |i| (i, start + every * u32::try_from(i).unwrap()))
    }

    fn lossy(seed: u64) -> Wire<u8, u64> {
        Wire::seeded(seed)
            .latency(ms(20))
            .jitter(ms(10))
            .loss(0.2)
            .duplicate(0.1)
            .reorder(0.1)
            .record(true)
    }

    fn run(mut wire: Wire<u8, u64>, start: Instant) -> (Wire<u8, u64>, Vec<Delivery<u8, u64>>) {
        let mut got = Vec::new();
        for (i, at) in times(start, 1000, ms(1)) {
            wire.send(at, (i % 3) as u8, 9, i);
            got.extend(wire.due(at));
        }
        got.extend(wire.due(start + secs(10)));
        (wire, got)
    }

    #[test]
    fn same_seed_gives_identical_logs_and_deliveries() {
        let (a, got_a) = run(lossy(42), Clock::new().now());
        let (b, got_b) = run(lossy(42), Clock::new().now());
        assert_eq!(a.log(), b.log());
        assert_eq!(got_a, got_b);
        assert_eq!(a.stats(), b.stats());
    }

    #[test]
    fn different_seeds_give_different_fates() {
        let start = Clock::new().now();
        let (a, _) = run(lossy(1), start);
        let (b, _) = run(lossy(2), start);
        let fates = |w: &Wire<u8, u64>| w.log().iter().map(|s| s.fate).collect::<Vec<_>>();
        assert_ne!(fates(&a), fates(&b));
    }

    #[test]
    fn scripted_drops_leave_other_fates_alone() {
        let start = Clock::new().now();
        let (plain, _) = run(lossy(5), start);
        let (scripted, _) = run(lossy(5).drop_nth(9, 10), start);
        for (i, (p, s)) in plain.log().iter().zip(scripted.log()).enumerate() {
            if i == 9 {
                assert_eq!(s.fate, Fate::Dropped);
            } else {
                assert_eq!(p, s, "send {i}");
            }
        }
    }

    #[test]
    fn loss_rate_is_close_to_configured() {
        let start = Clock::new().now();
        let mut wire: Wire<u8, ()> = Wire::seeded(3).loss(0.3);
        let n = 100_000;
        for _ in 0..n {
            wire.send(start, 1, 2, ());
        }
        let delivered = wire.due(start).len();
        let stats = wire.stats();
        assert_eq!(stats.sent, n);
        assert_eq!(stats.dropped + delivered as u64, n);
        let rate = stats.dropped as f64 / n as f64;
        // Standard deviation is about 0.0014; 0.01 is seven of them.
        assert!((rate - 0.3).abs() < 0.01, "loss rate {rate}");
    }

    #[test]
    fn no_loss_and_full_loss_are_exact() {
        let start = Clock::new().now();
        let mut none: Wire<u8, ()> = Wire::seeded(3);
        let mut all: Wire<u8, ()> = Wire::seeded(3).loss(1.0);
        for _ in 0..1000 {
            assert_eq!(none.send(start, 1, 2, ()), Fate::Delivered);
            assert_eq!(all.send(start, 1, 2, ()), Fate::Dropped);
        }
        assert_eq!(none.due(start).len(), 1000);
        assert_eq!(all.next_delivery(), None);
    }

    #[test]
    fn duplication_produces_extra_deliveries() {
        let start = Clock::new().now();
        let mut wire: Wire<u8, u32> = Wire::seeded(11).latency(ms(5)).duplicate(0.25).record(true);
        for i in 0..10_000 {
            wire.send(start, 1, 2, i);
        }
        let got = wire.due(start + ms(5));
        let stats = wire.stats();
        assert_eq!(got.len() as u64, 10_000 + stats.duplicated);
        assert!((2200..2800).contains(&stats.duplicated), "{stats:?}");
        let mut seen = BTreeMap::<u32, usize>::new();
        for d in &got {
            *seen.entry(d.payload).or_default() += 1;
        }
        for sent in wire.log() {
            let copies = if sent.fate == Fate::Duplicated { 2 } else { 1 };
            assert_eq!(seen[&sent.payload], copies);
            assert_eq!(sent.deliver_at.len(), copies);
        }
    }

    #[test]
    fn stats_balance_with_everything_on() {
        let start = Clock::new().now();
        let (mut wire, _) = run(lossy(8), start);
        let s = wire.stats();
        assert_eq!(s.sent + s.duplicated, s.delivered + s.dropped + wire.in_flight() as u64);
        assert_eq!(wire.in_flight(), 0);
        assert!(s.dropped > 0 && s.duplicated > 0 && s.reordered > 0, "{s:?}");
        assert!(wire.due(start + secs(60)).is_empty());
    }

    #[test]
    fn reordering_actually_reorders() {
        let start = Clock::new().now();
        let mut wire: Wire<u8, u32> = Wire::seeded(4).latency(ms(20)).reorder(0.1);
        for (i, at) in times(start, 1000, ms(10)) {
            wire.send(at, 1, 2, i as u32);
        }
        let got: Vec<u32> = wire.due(start + secs(20)).into_iter().map(|d| d.payload).collect();
        assert_eq!(got.len(), 1000);
        let overtaken = got.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(overtaken > 20, "only {overtaken} inversions");
        let reordered = wire.stats().reordered;
        assert!((60..140).contains(&reordered), "{reordered} reordered");
    }

    #[test]
    fn without_jitter_or_reorder_order_is_send_order() {
        let start = Clock::new().now();
        let mut wire: Wire<u8, u32> = Wire::seeded(4).latency(ms(20)).loss(0.5).duplicate(0.5);
        for (i, at) in times(start, 1000, Duration::ZERO) {
            wire.send(at, 1, 2, i as u32);
        }
        let got: Vec<u32> = wire.due(start + ms(20)).into_iter().map(|d| d.payload).collect();
        assert!(got.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(wire.stats().reordered, 0);
    }

    #[test]
    fn jitter_reorders_close_packets() {
        let start = Clock::new().now();
        let mut wire: Wire<u8, u32> = Wire::seeded(6).latency(ms(20)).jitter(ms(10));
        for (i, at) in times(start, 1000, ms(1)) {
            wire.send(at, 1, 2, i as u32);
        }
        let got = wire.due(start + secs(5));
        assert!(got.windows(2).any(|w| w[0].payload > w[1].payload));
        for d in &got {
            let delay = d.at - d.sent_at;
            assert!(delay >= ms(20) && delay < ms(30), "{delay:?}");
        }
    }

    #[test]
    fn latency_is_exact_without_jitter() {
        let start = Clock::new().now();
        let mut wire: Wire<char, &str> = Wire::seeded(1).latency(ms(20));
        wire.send(start, 'a', 'b', "x");
        wire.send(start + ms(7), 'b', 'a', "y");
        assert_eq!(wire.next_delivery(), Some(start + ms(20)));
        assert!(wire.due(start + ms(19)).is_empty());
        let first = wire.due(start + ms(20));
        assert_eq!(
            first,
            [Delivery { at: start + ms(20), sent_at: start, from: 'a', to: 'b', payload: "x" }]
        );
        assert_eq!(wire.next_delivery(), Some(start + ms(27)));
        assert_eq!(wire.poll_delivery(start + ms(26)), None);
        assert_eq!(wire.poll_delivery(start + ms(27)).map(|d| d.payload), Some("y"));
        assert_eq!(wire.next_delivery(), None);
    }

    #[test]
    fn ties_break_in_send_order() {
        let start = Clock::new().now();
        let mut wire: Wire<u8, u32> = Wire::seeded(1).latency(ms(5));
        for i in 0..100 {
            wire.send(start, (i % 4) as u8, 7, i);
        }
        let got: Vec<u32> = wire.due(start + ms(5)).into_iter().map(|d| d.payload).collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn drop_next_drops_exactly_the_next_n_to_that_address() {
        let start = Clock::new().now();
        let mut wire: Wire<char, u32> = Wire::seeded(1).drop_next('b', 3).record(true);
        for i in 0..6 {
            wire.send(start, 'a', 'c', i);
            wire.send(start, 'a', 'b', i);
        }
        let to_b: Vec<u32> =
            wire.due(start).into_iter().filter(|d| d.to == 'b').map(|d| d.payload).collect();
        assert_eq!(to_b, [3, 4, 5]);
        assert_eq!(wire.stats().dropped, 3);
        wire.add_drop_next('c', 1);
        assert_eq!(wire.send(start, 'a', 'c', 6), Fate::Dropped);
        assert_eq!(wire.send(start, 'a', 'c', 7), Fate::Delivered);
    }

    #[test]
    fn drop_nth_drops_exactly_the_named_packets() {
        let start = Clock::new().now();
        let mut wire: Wire<char, u32> = Wire::seeded(1).drop_nth('b', 2).drop_nth('b', 5);
        let fates: Vec<Fate> = (1..=6).map(|i| wire.send(start, 'a', 'b', i)).collect();
        use Fate::{Delivered as D, Dropped as X};
        assert_eq!(fates, [D, X, D, D, X, D]);
        // Sends to other addresses do not count toward 'b'.
        let mut wire: Wire<char, u32> = Wire::seeded(1).drop_nth('b', 1);
        assert_eq!(wire.send(start, 'a', 'c', 1), Fate::Delivered);
        assert_eq!(wire.send(start, 'a', 'b', 2), Fate::Dropped);
    }

    #[test]
    fn drop_matching_drops_count_matches_then_stops() {
        let start = Clock::new().now();
        let mut wire: Wire<char, &str> = Wire::seeded(1).drop_matching(
            |from, _to, payload: &&str| *from == 'b' && payload.starts_with("200"),
            2,
        );
        let mut fates = Vec::new();
        for payload in ["INVITE", "100 Trying", "200 OK", "ACK", "200 OK", "200 OK"] {
            let from = if payload.starts_with(char::is_numeric) { 'b' } else { 'a' };
            fates.push(wire.send(start, from, if from == 'a' { 'b' } else { 'a' }, payload));
        }
        use Fate::{Delivered as D, Dropped as X};
        assert_eq!(fates, [D, D, X, D, X, D]);
    }

    #[test]
    fn send_times_and_gaps_follow_one_direction() {
        let start = Clock::new().now();
        let mut wire: Wire<char, ()> = Wire::seeded(1).loss(1.0).record(true);
        for at in [ms(0), ms(500), ms(1500), ms(3500)] {
            wire.send(start + at, 'a', 'b', ());
            wire.send(start + at + ms(1), 'b', 'a', ());
        }
        assert_eq!(wire.send_times('a', 'b')[1], start + ms(500));
        assert_eq!(wire.gaps('a', 'b'), [ms(500), ms(1000), ms(2000)]);
        assert!(wire.gaps('a', 'c').is_empty());
    }

    #[test]
    #[should_panic(expected = "need Wire::record(true)")]
    fn gaps_without_recording_panics() {
        let wire: Wire<char, ()> = Wire::seeded(1);
        let _ = wire.gaps('a', 'b');
    }

    #[test]
    #[should_panic(expected = "probability in [0, 1]")]
    fn loss_outside_unit_interval_panics() {
        let _ = Wire::<char, ()>::seeded(1).loss(1.5);
    }

    #[test]
    fn debug_shows_settings_without_payloads() {
        let wire: Wire<char, Vec<u8>> = Wire::seeded(9).latency(ms(20)).drop_next('b', 1);
        let shown = format!("{wire:?}");
        assert!(shown.contains("seed: 9") && shown.contains("'b': 1"), "{shown}");
    }
}
