//! A map keyed by transaction id, indexed by the id's slot: the proxy's maps from its server
//! and client transactions to their response contexts.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use sip_transaction::TransactionId;

/// A map from transaction id to `V`, kept as a vector indexed by the id's slot
/// ([`TransactionId::slot`]): a lookup is an index and a compare, no hash. A table frees a
/// slot before it reuses it, but the TU may hear of the old transaction's end after it began
/// the new one in the same slot: an entry whose slot is taken by another id waits in `spill`
/// (a hash map, almost always empty), so the map holds exactly what a hash map would.
#[derive(Debug)]
pub(crate) struct IdMap<V> {
    entries: Vec<Option<(TransactionId, V)>>,
    spill: HashMap<TransactionId, V, FixedState>,
    len: usize,
}

impl<V> IdMap<V> {
    /// An empty map; `spill` hashes with `hasher`.
    pub(crate) fn with_hasher(hasher: FixedState) -> Self {
        IdMap { entries: Vec::new(), spill: HashMap::with_hasher(hasher), len: 0 }
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
        fn an_id_map_is_a_hash_map(
            ops in proptest::collection::vec((0u8..4, 0u32..8, 0u32..4, any::<u16>()), 0..200),
        ) {
            let mut map = IdMap::with_hasher(FixedState::with_seed(1));
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
}
