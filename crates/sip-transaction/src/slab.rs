//! The table's slab: transactions in fixed-size pages, so that growing it never copies a live
//! transaction and its unused capacity is at most one page (a vector that doubles would leave
//! up to half its slots unused).

use crate::TransactionId;

/// Slots per page.
const PAGE: usize = 64;

/// One slot: the generation that makes ids of freed transactions stale, and the value.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    pub(crate) generation: u32,
    pub(crate) value: Option<T>,
}

#[derive(Debug)]
pub(crate) struct Slab<T> {
    pages: Vec<Box<[Slot<T>]>>,
    /// Slots ever used; those below are in `pages`.
    used: u32,
    /// Freed slots, reused last-in first-out.
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self { pages: Vec::new(), used: 0, free: Vec::new() }
    }
}

impl<T> Slab<T> {
    pub(crate) fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let index = index as usize;
        self.pages.get(index / PAGE)?.get(index % PAGE)
    }

    pub(crate) fn slot_mut(&mut self, index: u32) -> Option<&mut Slot<T>> {
        let index = index as usize;
        self.pages.get_mut(index / PAGE)?.get_mut(index % PAGE)
    }

    /// The live value in slot `index`, whatever its generation.
    pub(crate) fn at(&self, index: u32) -> Option<&T> {
        self.slot(index)?.value.as_ref()
    }

    /// The live value named by `id`.
    pub(crate) fn get(&self, id: TransactionId) -> Option<&T> {
        self.slot(id.index).filter(|s| s.generation == id.generation)?.value.as_ref()
    }

    /// The live value named by `id`.
    pub(crate) fn get_mut(&mut self, id: TransactionId) -> Option<&mut T> {
        self.slot_mut(id.index).filter(|s| s.generation == id.generation)?.value.as_mut()
    }

    /// The live value in slot `index` with its id: [`at`](Self::at) and [`id_of`](Self::id_of)
    /// in one lookup.
    #[inline]
    pub(crate) fn live_at(&self, index: u32) -> Option<(TransactionId, &T)> {
        let slot = self.slot(index)?;
        let value = slot.value.as_ref()?;
        Some((TransactionId { index, generation: slot.generation }, value))
    }

    /// The id of slot `index` as it stands.
    pub(crate) fn id_of(&self, index: u32) -> TransactionId {
        TransactionId { index, generation: self.slot(index).map_or(0, |s| s.generation) }
    }

    /// The id the next [`insert`](Self::insert) returns.
    #[inline]
    pub(crate) fn next_id(&self) -> TransactionId {
        match self.free.last() {
            Some(&index) => self.id_of(index),
            None => TransactionId { index: self.used, generation: 0 },
        }
    }

    /// Puts `value` in the slot [`next_id`](Self::next_id) names; returns its index.
    #[inline(always)]
    pub(crate) fn insert(&mut self, value: T) -> u32 {
        let index = match self.free.pop() {
            Some(index) => index,
            None => self.grow(),
        };
        if let Some(slot) = self.slot_mut(index) {
            slot.value = Some(value);
        }
        index
    }

    /// A slot never used before, after a new page if the last one is full.
    #[inline(never)]
    fn grow(&mut self) -> u32 {
        let index = self.used;
        if index as usize / PAGE >= self.pages.len() {
            let page = (0..PAGE).map(|_| Slot { generation: 0, value: None }).collect();
            self.pages.push(page);
            // Room for every slot on the free list, reserved as the slab grows (4 bytes a
            // slot): freeing them all after a burst, as the lingering timers do, then never
            // reallocates the list (a realloc of a large block makes glibc consolidate every
            // small chunk freed so far, cold).
            let slots = self.pages.len() * PAGE;
            self.free.reserve(slots.saturating_sub(self.free.len()));
        }
        self.used = self.used.saturating_add(1);
        index
    }

    /// Frees slot `id` as [`remove`](Self::remove) does, after `f` has had its value: one
    /// lookup for both. `None` (and `f` not called) if `id` is not live.
    #[inline(always)]
    pub(crate) fn remove_with<R>(
        &mut self,
        id: TransactionId,
        f: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        let index = id.index as usize;
        let slot = self.pages.get_mut(index / PAGE)?.get_mut(index % PAGE)?;
        if slot.generation != id.generation {
            return None;
        }
        let result = f(slot.value.as_mut()?);
        // Dropped in place rather than moved out.
        slot.value = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        Some(result)
    }

    /// Runs `f` on the value named by `id`, then frees the slot as [`remove`](Self::remove)
    /// does if `f` says so: one lookup for both. `None` (and `f` not called) if `id` is not
    /// live.
    #[inline(always)]
    pub(crate) fn update_or_remove<R>(
        &mut self,
        id: TransactionId,
        f: impl FnOnce(&mut T) -> (R, bool),
    ) -> Option<R> {
        let index = id.index as usize;
        let slot = self.pages.get_mut(index / PAGE)?.get_mut(index % PAGE)?;
        if slot.generation != id.generation {
            return None;
        }
        let (result, remove) = f(slot.value.as_mut()?);
        if remove {
            slot.value = None;
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(id.index);
        }
        Some(result)
    }

    /// Frees slot `id` (dropping its value in place) and makes `id` stale; returns whether it
    /// was live.
    #[cfg(test)]
    pub(crate) fn remove(&mut self, id: TransactionId) -> bool {
        self.remove_with(id, |_| ()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_span_pages_and_are_reused_with_a_new_generation() {
        let mut slab = Slab::default();
        let ids: Vec<_> = (0..PAGE * 2 + 1)
            .map(|i| {
                let id = slab.next_id();
                assert_eq!(slab.insert(i), id.index);
                id
            })
            .collect();
        assert_eq!(slab.pages.len(), 3);
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(slab.get(id), Some(&i));
        }
        let last = ids[PAGE + 3];
        assert!(slab.remove(last) && !slab.remove(last));
        assert_eq!(slab.get(last), None);
        let again = slab.next_id();
        assert_eq!((again.index, again.generation), (last.index, last.generation + 1));
        slab.insert(7);
        assert_eq!((slab.get(last), slab.get(again)), (None, Some(&7)));
        assert_eq!(slab.pages.len(), 3, "a freed slot is reused before a new page");
        assert!(slab.free.capacity() >= 3 * PAGE, "the free list has room for every slot");
    }

    #[test]
    fn update_or_remove_frees_only_when_asked_and_only_a_live_id() {
        let mut slab = Slab::default();
        let id = slab.next_id();
        slab.insert(1);
        assert_eq!(slab.update_or_remove(id, |v| (*v += 1, false)), Some(()));
        assert_eq!(slab.get(id), Some(&2));
        assert_eq!(slab.update_or_remove(id, |v| (*v, true)), Some(2));
        assert_eq!(slab.get(id), None);
        let mut called = false;
        assert_eq!(slab.update_or_remove(id, |_| (called = true, true)), None);
        assert!(!called, "a stale id is not looked at");
        let again = slab.next_id();
        assert_eq!((again.index, again.generation), (id.index, id.generation + 1));
    }
}
