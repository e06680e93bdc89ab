//! The core's call timer queue: a min-queue that pops entries in exactly the order one
//! binary heap would, but keeps the timers armed at a fixed delay from "now" in FIFOs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// How many FIFO lanes a [`TimerQueue`] has.
pub(crate) const LANES: usize = 2;

/// A min-queue of timer entries (ordered as a whole: deadline first).
///
/// Most of the core's timers run a fixed time from when they are armed (the INVITE give-up,
/// the first 2xx retransmission at T1), so the entries of one kind arrive in order. Each such
/// kind has a lane, a FIFO that takes an entry when it is not before the lane's last one
/// (O(1) push and pop, no sifting); an entry that would break its lane's order, or whose kind
/// has no lane, goes to a heap. The least entry is the least of the lanes' fronts and the
/// heap's top, so entries come out exactly in the order of one heap holding them all.
#[derive(Debug)]
pub(crate) struct TimerQueue<T: Ord + Copy> {
    lanes: [VecDeque<T>; LANES],
    heap: BinaryHeap<Reverse<T>>,
    /// The least entry and where it is, kept up to date so that peeking (every poll, and
    /// every `handle_timeout` that finds nothing due) looks into no source.
    head: Option<(T, Source)>,
}

impl<T: Ord + Copy> Default for TimerQueue<T> {
    fn default() -> Self {
        Self { lanes: Default::default(), heap: BinaryHeap::new(), head: None }
    }
}

/// Where the least entry is: a lane, or (`LANES`) the heap.
type Source = usize;

impl<T: Ord + Copy> TimerQueue<T> {
    /// Queues `entry`, in lane `lane` if it keeps that lane's order.
    #[inline]
    pub(crate) fn push(&mut self, entry: T, lane: Option<usize>) {
        let source = match lane.and_then(|l| self.lanes.get_mut(l).map(|fifo| (l, fifo))) {
            Some((l, fifo)) if fifo.back().is_none_or(|last| *last <= entry) => {
                fifo.push_back(entry);
                l
            }
            _ => {
                self.heap.push(Reverse(entry));
                LANES
            }
        };
        if self.head.is_none_or(|(least, _)| entry < least) {
            self.head = Some((entry, source));
        }
    }

    /// The least entry and where it is, looked up in every source.
    #[inline]
    fn least(&self) -> Option<(T, Source)> {
        let mut best = self.heap.peek().map(|Reverse(top)| (*top, LANES));
        for (i, fifo) in self.lanes.iter().enumerate() {
            if let Some(&front) = fifo.front() {
                if best.is_none_or(|(least, _)| front < least) {
                    best = Some((front, i));
                }
            }
        }
        best
    }

    /// The least entry.
    #[inline]
    pub(crate) fn peek(&self) -> Option<T> {
        self.head.map(|(entry, _)| entry)
    }

    /// Removes and returns the least entry if `due` says it is due.
    #[inline]
    pub(crate) fn pop_if(&mut self, due: impl FnOnce(&T) -> bool) -> Option<T> {
        let (entry, source) = self.head?;
        if !due(&entry) {
            return None;
        }
        match self.lanes.get_mut(source) {
            Some(fifo) => {
                fifo.pop_front();
            }
            None => {
                self.heap.pop();
            }
        }
        self.head = self.least();
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The queue pops exactly what one binary heap holding the same entries pops, for any
        /// interleaving of pushes (in or out of their lane's order) and due-limited pops.
        #[test]
        fn pops_as_one_heap(ops in proptest::collection::vec(
            (0u8..4, 0u32..50, 0u8..3), 0..200)) {
            let mut queue: TimerQueue<(u32, u8)> = TimerQueue::default();
            let mut heap: BinaryHeap<Reverse<(u32, u8)>> = BinaryHeap::new();
            let mut clock = 0u32;
            for (op, value, kind) in ops {
                if op == 0 {
                    // Pop everything due at a clock that moves forward.
                    clock += value / 4;
                    loop {
                        let want = heap.peek().map(|Reverse(e)| *e).filter(|e| e.0 <= clock);
                        if want.is_some() {
                            heap.pop();
                        }
                        let got = queue.pop_if(|e| e.0 <= clock);
                        prop_assert_eq!(got, want);
                        if got.is_none() {
                            break;
                        }
                    }
                } else {
                    // Mostly in order from the clock, sometimes not.
                    let entry = (clock + value, kind);
                    let lane = (kind < 2).then_some(usize::from(kind));
                    queue.push(entry, lane);
                    heap.push(Reverse(entry));
                }
                prop_assert_eq!(queue.peek(), heap.peek().map(|Reverse(e)| *e));
            }
        }
    }
}
