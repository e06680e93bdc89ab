//! What the four machines share: their inputs, the context they act through, their timer slots
//! and the table's one ordered timer queue.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::Message;

use crate::{
    LightOutput, Output, ResponseError, Stats, Target, Timer, TransactionConfig, TransactionId,
    TransactionState, Transmit,
};

/// What happens to a transaction: one of these per call of a machine's `handle`. Messages are
/// borrowed: a machine that passes one up says so with [`Up`] and the table moves it into the
/// event, so a received message is never copied on its way to the TU.
pub(crate) enum Stimulus<'m> {
    /// A response matched this client transaction (§17.1.3).
    Response(&'m Message),
    /// A retransmission of the request that created this server transaction (§17.2.3).
    Request,
    /// An ACK matched this INVITE server transaction (§17.2.3); the table holds it.
    Ack,
    /// The TU passes a response to this server transaction.
    Respond(&'m Message),
    /// The transport failed to send for this transaction (§17.1.4, §17.2.4).
    TransportError,
    /// One of this transaction's timers fired.
    Timer(Timer),
}

/// Whether the transaction lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Stay,
    Terminate,
}

/// What the table does with the message of a [`Stimulus`] after the machine's own outputs
/// (and before [`Event::Terminated`], if the machine ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Up {
    /// Nothing: the message was absorbed or consumed.
    Nothing,
    /// [`Event::Provisional`].
    Provisional,
    /// [`Event::Final`].
    Final,
    /// [`Event::Additional2xx`].
    Additional2xx,
    /// [`Event::Ack`] naming this transaction.
    Ack,
}

/// A machine's answer to one [`Stimulus`].
pub(crate) type Step = Result<(Next, Up), ResponseError>;

/// Response classes as §17 uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Provisional,
    Success,
    Failure,
}

pub(crate) fn class(response: &Message) -> Class {
    match response.status().unwrap_or(500) {
        0..=199 => Class::Provisional,
        200..=299 => Class::Success,
        _ => Class::Failure,
    }
}

/// Timers one transaction can have armed at once. No state of Figures 5 to 8 arms more than
/// two (A and B, E and F, G and H); the third slot is slack.
const TIMER_SLOTS: usize = 3;

/// One armed timer: its deadline (in the queue's ticks) and its arming number, which orders equal
/// deadlines and names the timer's queue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Armed {
    at: u64,
    seq: u64,
    timer: Timer,
}

impl Armed {
    fn key(&self) -> (u64, u64) {
        (self.at, self.seq)
    }
}

/// The armed timers of one transaction, and which of them the table's queue holds.
///
/// The queue holds at most one live entry per transaction, for its earliest timer (by deadline,
/// then arming order): arming a later timer, as Timer F behind Timer E, costs no queue entry, and
/// clearing one leaves its entry to be skipped when it surfaces, at which point the next earliest
/// timer takes its place. So a timer fires exactly when, and in the order, it would from a queue
/// holding every timer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timers {
    armed: [Option<Armed>; TIMER_SLOTS],
    /// The deadline and arming number of this transaction's live queue entry; arming number 0
    /// for none. The timer it names may have been cleared since.
    queued: (u64, u64),
}

impl Timers {
    fn set(&mut self, armed: Armed) {
        let timer = armed.timer;
        let slot = match self.armed.iter().position(|s| s.is_some_and(|a| a.timer == timer)) {
            Some(i) => self.armed.get_mut(i),
            None => self.armed.iter_mut().find(|s| s.is_none()),
        };
        debug_assert!(slot.is_some(), "more than {TIMER_SLOTS} timers armed at once");
        if let Some(slot) = slot {
            *slot = Some(armed);
        }
    }

    fn clear(&mut self, timer: Timer) {
        for slot in &mut self.armed {
            if slot.is_some_and(|a| a.timer == timer) {
                *slot = None;
            }
        }
    }

    /// The earliest armed timer.
    fn next(&self) -> Option<Armed> {
        self.armed.iter().flatten().min_by_key(|a| a.key()).copied()
    }

    /// The key of the live queue entry, if any.
    fn queued_key(&self) -> Option<(u64, u64)> {
        (self.queued.1 != 0).then_some(self.queued)
    }

    /// Whether the queue entry with arming number `seq` is this transaction's live one.
    pub(crate) fn is_queued(&self, seq: u64) -> bool {
        self.queued.1 == seq
    }

    /// Whether the live queue entry `seq` still names an armed timer (else it is spent: its
    /// timer was cleared).
    pub(crate) fn is_current(&self, seq: u64) -> bool {
        self.is_queued(seq) && self.armed.iter().flatten().any(|a| a.seq == seq)
    }

    /// The queue entry `seq` surfaced: it is no longer queued, and the timer it names, if still
    /// armed, is disarmed and returned to fire.
    pub(crate) fn surface(&mut self, seq: u64) -> Option<Timer> {
        self.queued = (0, 0);
        let slot = self.armed.iter_mut().find(|s| s.is_some_and(|a| a.seq == seq))?;
        slot.take().map(|a| a.timer)
    }

    /// Arms `timer` for deadline `at` with arming number `seq` (drawn from the queue when the
    /// timer was due to be armed, so that it orders among equal deadlines as it would have),
    /// queueing it if it is now this transaction's earliest.
    pub(crate) fn arm_drawn(
        &mut self,
        queue: &mut TimerQueue,
        id: TransactionId,
        (at, seq): (u64, u64),
        timer: Timer,
    ) {
        let armed = Armed { at, seq, timer };
        self.set(armed);
        // The queued entry is never later than any armed timer: only an earlier one needs a new
        // entry.
        if self.queued_key().is_none_or(|q| armed.key() < q) {
            queue.push(armed.key(), id, timer);
            self.queued = armed.key();
        }
    }

    /// Queues the earliest armed timer unless an entry at least as early is queued.
    pub(crate) fn requeue(&mut self, queue: &mut TimerQueue, id: TransactionId) {
        if let Some(next) = self.next() {
            if self.queued_key().is_none_or(|q| next.key() < q) {
                queue.push(next.key(), id, next.timer);
                self.queued = next.key();
            }
        }
    }
}

/// One queue entry: deadline (ticks), arming number, transaction.
type QueueEntry = (u64, u64, TransactionId);

/// The order of queue entries, as one number: deadline, then arming number. An arming number
/// names one timer of one transaction, so two entries with the same key are the same entry
/// (queued twice): the key orders entries exactly as the whole tuple does.
#[inline(always)]
fn order(&(at, seq, _): &QueueEntry) -> u128 {
    (u128::from(at) << 64) | u128::from(seq)
}

/// Lanes of the [`TimerQueue`]: one per [`Timer`] (and, with the heap, at most 16 sources).
const LANES: usize = 13;

/// The lane of `timer`.
fn lane(timer: Timer) -> usize {
    match timer {
        Timer::A => 0,
        Timer::B => 1,
        Timer::D => 2,
        Timer::E => 3,
        Timer::F => 4,
        Timer::G => 5,
        Timer::H => 6,
        Timer::I => 7,
        Timer::J => 8,
        Timer::K => 9,
        Timer::L => 10,
        Timer::M => 11,
        Timer::Trying => 12,
    }
}

/// Every transaction's earliest timer, ordered by deadline, then by arming order so that equal
/// deadlines fire deterministically. Deadlines are nanoseconds since the first instant the
/// table was given (its epoch): a queue entry is 24 bytes.
///
/// Most timers run a fixed time from when they are armed (B, D, F, H, I, J, K, L, M and the
/// 100 (Trying) delay; Timers J, L and M keep tens of thousands of lingering transactions under
/// load), so the entries of one timer are almost always pushed in deadline order. Each timer
/// has a lane, a FIFO that takes an entry when it is not earlier than the lane's last one, so
/// that pushing and popping it costs O(1) and touches memory in order; the rare entry that would
/// break a lane's order (a retransmission timer, or one queued late behind an earlier timer of
/// its transaction) goes to a heap. The earliest entry is the least of the lanes' fronts and the
/// heap's top, so the order is exactly that of one heap holding every entry.
#[derive(Debug)]
pub(crate) struct TimerQueue {
    /// Per timer, entries in (deadline, arming number) order.
    lanes: [VecDeque<QueueEntry>; LANES],
    /// Entries that fit no lane's order.
    heap: BinaryHeap<Reverse<QueueEntry>>,
    /// The earliest entry and where it is (a lane, or `LANES` for the heap); `None` when
    /// empty: [`peek`](Self::peek) reads it without looking into a lane.
    head: Option<(QueueEntry, usize)>,
    /// The earliest entry's deadline, `u64::MAX` when empty: what [`due`](Self::due) compares
    /// the clock with on every call.
    next_at: u64,
    /// The front entry of each lane and (at `LANES`) the heap's top, valid where `busy` says
    /// the source holds entries: a pop compares these copies, without looking into the lanes.
    fronts: [QueueEntry; LANES + 1],
    /// Bit `i` set when lane `i` (or for `LANES`, the heap) holds entries: a pop compares the
    /// fronts of these only.
    busy: u16,
    seq: u64,
    epoch: Option<Instant>,
    /// The latest instant converted by [`advance`](Self::advance) and its ticks: the clock.
    /// A driver passes one `now` to every call of a turn, so the conversion is mostly a lookup.
    last: Option<(Instant, u64)>,
}

impl Default for TimerQueue {
    fn default() -> Self {
        Self {
            lanes: Default::default(),
            heap: BinaryHeap::new(),
            head: None,
            next_at: u64::MAX,
            fronts: [(0, 0, TransactionId { index: 0, generation: 0 }); LANES + 1],
            busy: 0,
            seq: 0,
            epoch: None,
            last: None,
        }
    }
}

impl TimerQueue {
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Moves the clock to `at` unless it is already there or later (the clock never goes
    /// back); returns the clock in ticks. The first instant seen becomes the epoch, so no
    /// later clock is before it.
    #[inline]
    pub(crate) fn advance(&mut self, at: Instant) -> u64 {
        if let Some((last, ticks)) = self.last {
            if at <= last {
                return ticks;
            }
        }
        self.advance_to(at)
    }

    /// [`advance`](Self::advance) to an instant later than the clock (or the first one).
    fn advance_to(&mut self, at: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(at);
        let ticks = nanos(at.saturating_duration_since(epoch));
        self.last = Some((at, ticks));
        ticks
    }

    /// Ticks back to an instant.
    pub(crate) fn instant(&self, ticks: u64) -> Option<Instant> {
        self.epoch?.checked_add(Duration::from_nanos(ticks))
    }

    fn push(&mut self, (at, seq): (u64, u64), id: TransactionId, timer: Timer) {
        let entry = (at, seq, id);
        let lane = lane(timer);
        // The source's front, where it changes.
        let (source, front) = match self.lanes.get_mut(lane) {
            Some(fifo) if fifo.back().is_none_or(|last| order(last) <= order(&entry)) => {
                let front = fifo.is_empty().then_some(entry);
                fifo.push_back(entry);
                (lane, front)
            }
            _ => {
                self.heap.push(Reverse(entry));
                (LANES, self.heap.peek().map(|Reverse(top)| *top))
            }
        };
        if let (Some(slot), Some(front)) = (self.fronts.get_mut(source), front) {
            *slot = front;
        }
        self.busy |= 1 << source;
        if self.head.is_none_or(|(first, _)| order(&entry) < order(&first)) {
            self.head = Some((entry, source));
            self.next_at = at;
        }
    }

    /// Whether the earliest entry's deadline is at or before `now` (ticks).
    #[inline]
    pub(crate) fn due(&self, now: u64) -> bool {
        self.next_at <= now
    }

    /// The earliest entry: its deadline, arming number and transaction.
    #[inline]
    pub(crate) fn peek(&self) -> Option<QueueEntry> {
        self.head.map(|(entry, _)| entry)
    }

    /// Drops the earliest entry.
    pub(crate) fn pop(&mut self) {
        let Some((_, first)) = self.head else { return };
        let front = match self.lanes.get_mut(first) {
            Some(fifo) => {
                fifo.pop_front();
                fifo.front().copied()
            }
            None => {
                self.heap.pop();
                self.heap.peek().map(|Reverse(top)| *top)
            }
        };
        match (front, self.fronts.get_mut(first)) {
            (Some(front), Some(slot)) => *slot = front,
            _ => self.busy &= !(1 << first),
        }
        let mut best: Option<(QueueEntry, usize)> = None;
        let mut busy = self.busy;
        while busy != 0 {
            let source = busy.trailing_zeros() as usize;
            busy &= busy - 1;
            if let Some(&front) = self.fronts.get(source) {
                if best.is_none_or(|(least, _)| order(&front) < order(&least)) {
                    best = Some((front, source));
                }
            }
        }
        self.head = best;
        self.next_at = best.map_or(u64::MAX, |((at, _, _), _)| at);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(VecDeque::len).sum::<usize>()
    }
}

/// A duration in nanoseconds, saturating (at 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// An output waiting in the [`Outbox`]: small, so that queueing and polling a transmit or a
/// `Terminated` copies a few dozen bytes, not a whole [`Output`] (which is as large as a
/// [`Message`], about 850 bytes). Events that carry a message wait, built, in a queue of their
/// own, in the same order.
#[derive(Debug)]
pub(crate) enum Pending {
    /// A transmit or an event that only names its transaction.
    Light(LightOutput),
    /// The next event of `Outbox::events`.
    Event,
}

/// The table's output queue, in order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    order: VecDeque<Pending>,
    /// The events that carry a message, for the `Pending::Event`s in `order`.
    events: VecDeque<Output>,
}

impl Outbox {
    pub(crate) fn transmit(&mut self, transmit: Transmit) {
        self.order.push_back(Pending::Light(LightOutput::Transmit(transmit)));
    }

    /// Queues an output that carries no message.
    pub(crate) fn push(&mut self, light: LightOutput) {
        self.order.push_back(Pending::Light(light));
    }

    /// Queues an event that carries a message.
    #[inline(always)]
    pub(crate) fn push_event(&mut self, event: Output) {
        self.events.push_back(event);
        self.order.push_back(Pending::Event);
    }

    /// How many outputs are queued.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Pops the next output if it carries no message.
    #[inline]
    pub(crate) fn pop_light(&mut self) -> Option<LightOutput> {
        if matches!(self.order.front()?, Pending::Event) {
            return None;
        }
        match self.order.pop_front()? {
            Pending::Light(light) => Some(light),
            // Not reached: the front was checked above.
            Pending::Event => None,
        }
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Output> {
        // Built in place (the conversion is inlined): going through an `Event` local would
        // copy a whole `Output`.
        match self.order.pop_front()? {
            Pending::Light(light) => Some(light.into()),
            Pending::Event => self.events.pop_front(),
        }
    }
}

/// What a machine acts through while it handles one stimulus.
pub(crate) struct Ctx<'a> {
    /// Now, in the timer queue's ticks.
    pub(crate) now: u64,
    pub(crate) id: TransactionId,
    /// The transaction's request, serialised: as sent (client) or as received (server).
    pub(crate) request: &'a Bytes,
    /// Where the transaction sends: the target (client) or the request's source (server).
    pub(crate) peer: &'a Target,
    pub(crate) config: &'a TransactionConfig,
    pub(crate) out: &'a mut Outbox,
    pub(crate) queue: &'a mut TimerQueue,
    pub(crate) timers: &'a mut Timers,
    pub(crate) stats: &'a mut Stats,
}

impl Ctx<'_> {
    /// Arms `timer` to fire `after` from now.
    pub(crate) fn arm(&mut self, timer: Timer, after: Duration) {
        // The config caps every base at an hour, so this only fails at the end of time, where
        // a timer that never fires is the honest answer.
        let at = self.now.saturating_add(nanos(after));
        let armed = Armed { at, seq: self.queue.next_seq(), timer };
        self.timers.set(armed);
        // The queued entry is never later than any armed timer: only an earlier one needs a new
        // entry.
        if self.timers.queued_key().is_none_or(|q| armed.key() < q) {
            self.queue.push(armed.key(), self.id, timer);
            self.timers.queued = armed.key();
        }
    }

    /// Clears `timer`; a queue entry for it is skipped when it surfaces.
    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.timers.clear(timer);
    }

    /// Sends `payload` to the peer.
    pub(crate) fn send(&mut self, payload: Bytes) {
        self.out.transmit(Transmit { target: *self.peer, payload, transaction: Some(self.id) });
    }

    /// Sends `payload` to the peer again.
    pub(crate) fn resend(&mut self, payload: Bytes) {
        self.stats.retransmissions += 1;
        self.send(payload);
    }

    /// Sends the request (again, if `again`).
    pub(crate) fn send_request(&mut self, again: bool) {
        let request = self.request.clone();
        if again {
            self.resend(request);
        } else {
            self.send(request);
        }
    }

    /// Whether the peer's transport is reliable.
    pub(crate) fn reliable(&self) -> bool {
        self.peer.is_reliable()
    }

    pub(crate) fn absorb(&mut self) {
        self.stats.absorbed += 1;
    }

    pub(crate) fn timed_out(&mut self, timer: Timer) -> Next {
        self.stats.timeouts += 1;
        self.out.push(LightOutput::TimedOut { id: self.id, timer });
        Next::Terminate
    }

    pub(crate) fn transport_failed(&mut self) {
        self.out.push(LightOutput::TransportFailed { id: self.id });
    }

    /// Enters a waiting state that lasts `after` on unreliable transports and not at all on
    /// reliable ones (Timers D, I, J, K: "zero seconds for reliable transports").
    pub(crate) fn linger(&mut self, timer: Timer, after: Duration) -> Next {
        if self.reliable() {
            Next::Terminate
        } else {
            self.arm(timer, after);
            Next::Stay
        }
    }
}

/// States of Figures 6 and 8 (client and server non-INVITE), Terminated being the
/// transaction's removal from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
}

impl From<NonInviteState> for TransactionState {
    fn from(state: NonInviteState) -> Self {
        match state {
            NonInviteState::Trying => TransactionState::Trying,
            NonInviteState::Proceeding => TransactionState::Proceeding,
            NonInviteState::Completed => TransactionState::Completed,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TIMERS: [Timer; LANES] = [
        Timer::A,
        Timer::B,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
        Timer::Trying,
    ];

    #[test]
    fn every_timer_has_its_own_lane() {
        let mut lanes: Vec<usize> = TIMERS.iter().map(|&t| lane(t)).collect();
        lanes.sort_unstable();
        assert_eq!(lanes, (0..LANES).collect::<Vec<_>>());
    }

    proptest! {
        /// The lanes and the heap give out entries in exactly the order one heap holding every
        /// entry does, whatever order they are pushed in (in lane order, or out of it).
        #[test]
        fn lanes_pop_in_the_order_of_a_single_heap(
            ops in proptest::collection::vec(
                (any::<bool>(), 0..LANES, 0u64..40, any::<bool>(), 0u32..50),
                0..300,
            )
        ) {
            let mut queue = TimerQueue::default();
            let mut reference = BinaryHeap::new();
            let mut now = 0u64;
            for (push, timer, delta, fixed, index) in ops {
                if push {
                    let timer = TIMERS[timer];
                    // Fixed-duration pushes keep their lane's order; the others need not.
                    let at = if fixed { now + 20 } else { now + delta };
                    let seq = queue.next_seq();
                    let id = TransactionId { index, generation: 0 };
                    queue.push((at, seq), id, timer);
                    reference.push(Reverse((at, seq, id)));
                    now += delta % 3;
                } else {
                    prop_assert_eq!(queue.peek(), reference.peek().map(|Reverse(e)| *e));
                    queue.pop();
                    reference.pop();
                }
                prop_assert_eq!(queue.peek(), reference.peek().map(|Reverse(e)| *e));
                prop_assert_eq!(queue.len(), reference.len());
                let next_at = reference.peek().map_or(u64::MAX, |Reverse(e)| e.0);
                prop_assert_eq!(queue.next_at, next_at);
                prop_assert!(queue.due(next_at) && (next_at == 0 || !queue.due(next_at - 1)));
            }
            while let Some(Reverse(entry)) = reference.pop() {
                prop_assert_eq!(queue.peek(), Some(entry));
                queue.pop();
            }
            prop_assert_eq!(queue.peek(), None);
        }
    }
}
