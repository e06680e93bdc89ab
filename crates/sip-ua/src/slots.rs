//! A slab with generations: handles that outlive their entry find nothing; and a map keyed by
//! transaction id, indexed by the id's slot.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use sip_transaction::TransactionId;

/// Entries addressed by `(index, generation)`.
#[derive(Debug)]
pub(crate) struct Slots<T> {
    entries: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { entries: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Slots<T> {
    #[inline]
    pub(crate) fn insert(&mut self, value: T) -> (u32, u32) {
        self.len += 1;
        if let Some(index) = self.free.pop()
            && let Some(slot) = self.entries.get_mut(index as usize)
        {
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = Some(value);
            return (index, slot.generation);
        }
        self.entries.push(Slot { generation: 0, value: Some(value) });
        ((self.entries.len() - 1) as u32, 0)
    }

    /// [`insert`](Self::insert) of the value `make` returns, made in its slot rather than
    /// moved there; returns its index and generation.
    #[inline]
    pub(crate) fn insert_with(&mut self, make: impl FnOnce() -> T) -> (u32, u32) {
        self.len += 1;
        if let Some(index) = self.free.pop()
            && let Some(slot) = self.entries.get_mut(index as usize)
        {
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = Some(make());
            return (index, slot.generation);
        }
        // A new slot (the slab grows): moved in, as `insert` does.
        self.entries.push(Slot { generation: 0, value: Some(make()) });
        ((self.entries.len() - 1) as u32, 0)
    }

    /// The index the next [`insert`](Self::insert) or [`insert_with`](Self::insert_with) will
    /// hand out.
    pub(crate) fn next_index(&self) -> u32 {
        match self.free.last() {
            Some(&index) if (index as usize) < self.entries.len() => index,
            _ => self.entries.len() as u32,
        }
    }

    /// The generation and value at `index`, whatever its generation.
    pub(crate) fn get_at(&self, index: u32) -> Option<(u32, &T)> {
        let slot = self.entries.get(index as usize)?;
        slot.value.as_ref().map(|v| (slot.generation, v))
    }

    pub(crate) fn get(&self, index: u32, generation: u32) -> Option<&T> {
        self.entries
            .get(index as usize)
            .filter(|s| s.generation == generation)
            .and_then(|s| s.value.as_ref())
    }

    pub(crate) fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        self.entries
            .get_mut(index as usize)
            .filter(|s| s.generation == generation)
            .and_then(|s| s.value.as_mut())
    }

    pub(crate) fn remove(&mut self, index: u32, generation: u32) -> Option<T> {
        let slot = self.entries.get_mut(index as usize).filter(|s| s.generation == generation)?;
        let value = slot.value.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    /// [`remove`](Self::remove), dropping the value where it is instead of moving it out.
    /// Whether there was one.
    pub(crate) fn discard(&mut self, index: u32, generation: u32) -> bool {
        let Some(slot) =
            self.entries.get_mut(index as usize).filter(|s| s.generation == generation)
        else {
            return false;
        };
        if slot.value.is_none() {
            return false;
        }
        slot.value = None;
        self.free.push(index);
        self.len -= 1;
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u32, &T)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.value.as_ref().map(|v| (i as u32, s.generation, v)))
    }
}

/// A map from transaction id to `V`, kept as a vector indexed by the id's slot
/// ([`TransactionId::slot`]): a lookup is an index and a compare, no hash. A table frees a
/// slot before it reuses it, but the TU may hear of the old transaction's end after it began
/// the new one in the same slot: an entry whose slot is taken by another id waits in `spill`
/// (a hash map, almost always empty), so the map holds exactly what a hash map would.
#[derive(Debug)]
pub(crate) struct TxnMap<V> {
    entries: Vec<Option<(TransactionId, V)>>,
    spill: HashMap<TransactionId, V, FixedState>,
    len: usize,
}

impl<V> TxnMap<V> {
    /// An empty map; `spill` hashes with `hasher`.
    pub(crate) fn with_hasher(hasher: FixedState) -> Self {
        TxnMap { entries: Vec::new(), spill: HashMap::with_hasher(hasher), len: 0 }
    }

    /// Puts `value` under `id`, returning the value it replaces.
    pub(crate) fn insert(&mut self, id: TransactionId, value: V) -> Option<V> {
        let index = id.slot() as usize;
        if index >= self.entries.len() {
            self.entries.resize_with(index + 1, || None);
        }
        let slot = self.entries.get_mut(index)?;
        match slot {
            Some((held, old)) if *held == id => Some(std::mem::replace(old, value)),
            Some(_) => {
                let old = self.spill.insert(id, value);
                if old.is_none() {
                    self.len += 1;
                }
                old
            }
            None => {
                // An id can wait in `spill` while its slot empties: it moves back.
                let old = if self.spill.is_empty() { None } else { self.spill.remove(&id) };
                if old.is_none() {
                    self.len += 1;
                }
                *slot = Some((id, value));
                old
            }
        }
    }

    /// The value under `id`.
    #[inline]
    pub(crate) fn get(&self, id: &TransactionId) -> Option<&V> {
        match self.entries.get(id.slot() as usize) {
            Some(Some((held, value))) if held == id => Some(value),
            _ if self.spill.is_empty() => None,
            _ => self.spill.get(id),
        }
    }

    /// Whether `id` has a value.
    pub(crate) fn contains_key(&self, id: &TransactionId) -> bool {
        self.get(id).is_some()
    }

    /// Takes the value under `id` out.
    #[inline]
    pub(crate) fn remove(&mut self, id: &TransactionId) -> Option<V> {
        let taken = match self.entries.get_mut(id.slot() as usize) {
            Some(slot) if slot.as_ref().is_some_and(|(held, _)| held == id) => {
                slot.take().map(|(_, value)| value)
            }
            _ if self.spill.is_empty() => None,
            _ => self.spill.remove(id),
        };
        if taken.is_some() {
            self.len -= 1;
        }
        taken
    }

    /// Whether the map is empty.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many entries the map holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Ids the way a table makes them: slot `index`, generation `generation`.
    fn txn(index: u32, generation: u32) -> TransactionId {
        // `TransactionId` has no public constructor: real ids, made once by a table.
        IDS.with(|ids| ids[(index * 4 + generation) as usize])
    }

    thread_local! {
        /// Ids of slots 0..8, generations 0..4, from a real table.
        static IDS: Vec<TransactionId> = table_ids();
    }

    fn table_ids() -> Vec<TransactionId> {
        use sip_message::{MessageBuilder, Method};
        use sip_transaction::{Target, TransactionConfig, TransactionTable};
        let mut table = TransactionTable::new(TransactionConfig::default());
        let now = std::time::Instant::now();
        let target = Target::udp("192.0.2.9:5060".parse().unwrap_or(([0, 0, 0, 0], 5060).into()));
        let send = |table: &mut TransactionTable| {
            let request = MessageBuilder::request(&Method::Options, "sip:a@192.0.2.9")
                .header(sip_message::HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060")
                .header(sip_message::HeaderName::To, "<sip:a@192.0.2.9>")
                .header(sip_message::HeaderName::From, "<sip:b@192.0.2.1>;tag=x")
                .header(sip_message::HeaderName::CallId, "c1")
                .header(sip_message::HeaderName::CSeq, "1 OPTIONS")
                .build()
                .unwrap_or_else(|e| panic!("request: {e:?}"));
            table.send_request(now, request, target).unwrap_or_else(|e| panic!("send: {e:?}"))
        };
        let mut by_slot = vec![Vec::new(); 8];
        for _ in 0..4 {
            let ids: Vec<_> = (0..8).map(|_| send(&mut table)).collect();
            for id in ids {
                by_slot[id.slot() as usize].push(id);
                assert!(table.terminate(now, id));
            }
        }
        by_slot.into_iter().flatten().collect()
    }

    proptest! {
        /// The map answers every operation as a hash map does, whatever the order of
        /// inserts and removals over reused slots.
        #[test]
        fn a_txn_map_is_a_hash_map(
            ops in proptest::collection::vec((0u8..4, 0u32..8, 0u32..4, any::<u16>()), 0..200),
        ) {
            let mut map = TxnMap::with_hasher(FixedState::with_seed(1));
            let mut reference = HashMap::new();
            for (op, index, generation, value) in ops {
                let id = txn(index, generation);
                match op {
                    0 | 1 => prop_assert_eq!(map.insert(id, value), reference.insert(id, value)),
                    2 => prop_assert_eq!(map.remove(&id), reference.remove(&id)),
                    _ => {
                        prop_assert_eq!(map.get(&id), reference.get(&id));
                        prop_assert_eq!(map.contains_key(&id), reference.contains_key(&id));
                    }
                }
                prop_assert_eq!(map.len(), reference.len());
                prop_assert_eq!(map.is_empty(), reference.is_empty());
            }
            for (id, value) in &reference {
                prop_assert_eq!(map.get(id), Some(value));
            }
        }
    }

    #[test]
    fn insert_with_hands_out_the_handles_insert_would() {
        // The same sequence of inserts and removals through both: the same handles.
        let mut by_value = Slots::default();
        let mut in_place = Slots::default();
        let mut handles = Vec::new();
        for i in 0..40u32 {
            let next = in_place.next_index();
            let a = by_value.insert(i);
            let b = in_place.insert_with(|| i);
            assert_eq!(a, b);
            assert_eq!(next, b.0);
            assert_eq!(in_place.get_at(b.0), Some((b.1, &i)));
            handles.push(a);
            if i % 3 == 0 {
                let (index, generation) = handles.swap_remove(i as usize / 2);
                assert_eq!(by_value.remove(index, generation), in_place.remove(index, generation));
                assert!(in_place.get(index, generation).is_none());
            }
        }
        assert_eq!(by_value.len(), in_place.len());
        for &(index, generation) in &handles {
            assert_eq!(by_value.get(index, generation), in_place.get(index, generation));
            assert!(in_place.get(index, generation).is_some());
        }
    }
}
