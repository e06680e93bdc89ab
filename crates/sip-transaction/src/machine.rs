//! What the four machines share: their inputs, the context they act through, their timer slots
//! and the table's one ordered timer queue.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::Message;

use crate::{
    Event, Output, Stats, Target, Timer, TransactionConfig, TransactionId, TransactionState,
    Transmit,
};

/// What happens to a transaction: one of these per call of a machine's `handle`.
pub(crate) enum Stimulus {
    /// A response matched this client transaction (§17.1.3).
    Response(Message),
    /// A retransmission of the request that created this server transaction (§17.2.3).
    Request,
    /// An ACK matched this INVITE server transaction (§17.2.3).
    Ack(Message, Target),
    /// The TU passes a response to this server transaction.
    Respond(Message),
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

const TIMER_COUNT: usize = 13;

/// One deadline slot per timer letter: a heap entry fires only if its slot still holds its
/// instant, so re-arming or clearing a slot invalidates older entries lazily.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timers([Option<Instant>; TIMER_COUNT]);

impl Timers {
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0.get(timer as usize).copied().flatten()
    }

    fn set(&mut self, timer: Timer, at: Option<Instant>) {
        if let Some(slot) = self.0.get_mut(timer as usize) {
            *slot = at;
        }
    }

    pub(crate) fn take_if_due(&mut self, timer: Timer, at: Instant) -> bool {
        match self.0.get_mut(timer as usize) {
            Some(slot) if *slot == Some(at) => {
                *slot = None;
                true
            }
            _ => false,
        }
    }
}

/// Every armed timer of every transaction, ordered by deadline, then by arming order so that
/// equal deadlines fire deterministically.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, TransactionId, Timer)>>,
    seq: u64,
}

impl TimerQueue {
    pub(crate) fn push(&mut self, at: Instant, id: TransactionId, timer: Timer) {
        self.seq = self.seq.wrapping_add(1);
        self.heap.push(Reverse((at, self.seq, id, timer)));
    }

    pub(crate) fn peek(&self) -> Option<(Instant, TransactionId, Timer)> {
        self.heap.peek().map(|Reverse((at, _, id, timer))| (*at, *id, *timer))
    }

    pub(crate) fn pop(&mut self) {
        self.heap.pop();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// What a machine acts through while it handles one stimulus.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) id: TransactionId,
    pub(crate) config: &'a TransactionConfig,
    pub(crate) out: &'a mut VecDeque<Output>,
    pub(crate) queue: &'a mut TimerQueue,
    pub(crate) timers: &'a mut Timers,
    pub(crate) stats: &'a mut Stats,
}

impl Ctx<'_> {
    /// Arms `timer` to fire `after` from now.
    pub(crate) fn arm(&mut self, timer: Timer, after: Duration) {
        // The config caps every base at an hour, so this only fails at the end of time, where
        // a timer that never fires is the honest answer.
        if let Some(at) = self.now.checked_add(after) {
            self.timers.set(timer, Some(at));
            self.queue.push(at, self.id, timer);
        }
    }

    /// Clears `timer`; its queue entry goes stale.
    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.timers.set(timer, None);
    }

    pub(crate) fn send(&mut self, target: Target, payload: Bytes) {
        self.out.push_back(Output::Transmit(Transmit {
            target,
            payload,
            transaction: Some(self.id),
        }));
    }

    pub(crate) fn resend(&mut self, target: Target, payload: Bytes) {
        self.stats.retransmissions += 1;
        self.send(target, payload);
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    pub(crate) fn absorb(&mut self) {
        self.stats.absorbed += 1;
    }

    pub(crate) fn timed_out(&mut self, timer: Timer) -> Next {
        self.stats.timeouts += 1;
        let id = self.id;
        self.event(Event::TimedOut { id, timer });
        Next::Terminate
    }

    pub(crate) fn transport_failed(&mut self) {
        let id = self.id;
        self.event(Event::TransportFailed { id });
    }

    /// Enters a waiting state that lasts `after` on unreliable transports and not at all on
    /// reliable ones (Timers D, I, J, K: "zero seconds for reliable transports").
    pub(crate) fn linger(&mut self, reliable: bool, timer: Timer, after: Duration) -> Next {
        if reliable {
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
