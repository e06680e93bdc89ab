//! A map keyed by transaction id, indexed by the id's slot: what a transaction user keeps per
//! transaction, without hashing.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::TransactionId;

/// A map from transaction id to `V`, kept as a vector indexed by the id's slot
/// ([`TransactionId::slot`]): a lookup is an index and a compare, no hash. A table frees a
/// slot before it reuses it, but the TU may hear of the old transaction's end after it began
/// the new one in the same slot: an entry whose slot is taken by another id waits in `spill`
/// (a hash map, almost always empty), so the map holds exactly what a hash map would.
///
/// The user agent core (`sip-ua`) and the proxy core (`sip-proxy`) keep what they know of
/// their transactions in these.
#[derive(Debug)]
pub struct TxnMap<V> {
    entries: Vec<Option<(TransactionId, V)>>,
    spill: HashMap<TransactionId, V, FixedState>,
    len: usize,
}

impl<V> TxnMap<V> {
    /// An empty map; the spill (a hash map for ids whose slot another id holds) hashes
    /// with foldhash under the fixed `seed`, so a seeded run is identical each time.
    #[must_use]
    pub fn with_seed(seed: u64) -> Self {
        TxnMap {
            entries: Vec::new(),
            spill: HashMap::with_hasher(FixedState::with_seed(seed)),
            len: 0,
        }
    }

    /// Puts `value` under `id`, returning the value it replaces.
    pub fn insert(&mut self, id: TransactionId, value: V) -> Option<V> {
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
    #[must_use]
    #[inline]
    pub fn get(&self, id: &TransactionId) -> Option<&V> {
        match self.entries.get(id.slot() as usize) {
            Some(Some((held, value))) if held == id => Some(value),
            _ if self.spill.is_empty() => None,
            _ => self.spill.get(id),
        }
    }

    /// Whether `id` has a value.
    #[must_use]
    pub fn contains_key(&self, id: &TransactionId) -> bool {
        self.get(id).is_some()
    }

    /// Takes the value under `id` out.
    #[inline]
    pub fn remove(&mut self, id: &TransactionId) -> Option<V> {
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
    #[must_use]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many entries the map holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The map answers every operation as a hash map does, whatever the order of
        /// inserts and removals over reused slots.
        #[test]
        fn a_txn_map_is_a_hash_map(
            ops in proptest::collection::vec((0u8..4, 0u32..8, 0u32..4, any::<u16>()), 0..200),
        ) {
            let mut map = TxnMap::with_seed(1);
            let mut reference = HashMap::new();
            for (op, index, generation, value) in ops {
                let id = TransactionId { index, generation };
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
}
