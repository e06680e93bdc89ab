//! A slab with generations: handles that outlive their entry find nothing.

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

#[cfg(test)]
mod tests {
    use super::*;

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
