//! Where bindings live: the [`BindingStore`] trait and the in-memory [`MemoryStore`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Instant;

use crate::{Aor, Binding};

/// Storage for bindings, keyed by address-of-record.
///
/// The registrar's rules (RFC 3261 §10.3 steps 6–7: the Call-ID/CSeq checks, URI matching,
/// limits) run in this crate; a store only has to offer an **atomic read-modify-write of one
/// AOR's list** ([`update`](BindingStore::update)), plus reads, expiry and iteration. That is
/// what a database shared by several registrar processes can do: `update` becomes "begin; read
/// the AOR's rows for update; call `edit`; write the new list if it returns `true`; commit", so
/// the ordering check and the change happen in one transaction (§10.3: "REGISTER requests MUST
/// also be processed atomically").
///
/// **Time.** Expiry is an [`Instant`], the only clock a sans-IO crate sees. `Instant` is
/// process-local: a store shared between processes converts it at its boundary, keeping a fixed
/// anchor pair `(Instant, SystemTime)` taken once at start-up and storing
/// `anchor_wall + (expires_at - anchor_instant)` as wall-clock time (processes then agree as
/// far as their wall clocks agree, which NTP makes close enough for registrations measured in
/// seconds). The in-memory store keeps `Instant`s as they are. [`Snapshot`](crate::Snapshot)
/// does the same conversion for persistence across restarts.
///
/// The trait is object-safe: `Registrar<Box<dyn BindingStore>>` works.
pub trait BindingStore {
    /// The bindings of `aor` in registration order, expired ones possibly included (callers
    /// filter with [`Binding::is_alive`]). Unknown AORs have none.
    ///
    /// # Errors
    /// A [`StoreError`] if the backing store cannot be read.
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError>;

    /// [`bindings`](Self::bindings) of `aor` lent to `visit` rather than copied out: a lookup
    /// (RFC 3261 §10.1, §16.5) reads a few fields of each binding and copies only those. The
    /// default lends what `bindings` returns; a store that holds its bindings in memory lends
    /// its own ([`MemoryStore`] does).
    ///
    /// # Errors
    /// A [`StoreError`] if the backing store cannot be read (`visit` is not called then).
    fn with_bindings(
        &self,
        aor: &Aor,
        visit: &mut dyn FnMut(&[Binding]),
    ) -> Result<(), StoreError> {
        visit(&self.bindings(aor)?);
        Ok(())
    }

    /// Atomically replaces the bindings of `aor` with what `edit` makes of them: `edit` gets the
    /// current list (registration order, possibly empty, expired entries included) and returns
    /// whether to commit. On `true` the edited list becomes the AOR's list (an empty list
    /// removes the AOR's bindings); on `false` nothing changes. Returns what `edit` returned.
    ///
    /// A store may call `edit` more than once (a database retrying a serialisation failure);
    /// only the last call's outcome counts, so `edit` must not rely on being called once.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot read, write or commit; nothing changed then.
    fn update(
        &mut self,
        aor: &Aor,
        edit: &mut dyn FnMut(&mut Vec<Binding>) -> bool,
    ) -> Result<bool, StoreError>;

    /// Whether `aor` names a user this domain knows, which tells a redirect server's 404 (Not
    /// Found) from its 480 (Temporarily Unavailable). The default: the AOR has bindings now.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    fn is_known(&self, aor: &Aor) -> Result<bool, StoreError> {
        Ok(!self.bindings(aor)?.is_empty())
    }

    /// The earliest `expires_at` of any binding, or `None` without bindings; the registrar's
    /// [`poll_timeout`](crate::Registrar::poll_timeout).
    fn next_expiry(&self) -> Option<Instant>;

    /// Removes every binding with `expires_at <= now`, appending each to `expired` with its AOR.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be written; what was appended before was removed.
    fn remove_expired(
        &mut self,
        now: Instant,
        expired: &mut Vec<(Aor, Binding)>,
    ) -> Result<(), StoreError>;

    /// Calls `visit` with every AOR that has bindings and its list (registration order,
    /// expired ones possibly included), in a stable order: for persistence and administration.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    fn for_each(&self, visit: &mut dyn FnMut(&Aor, &[Binding])) -> Result<(), StoreError>;
}

impl<S: BindingStore + ?Sized> BindingStore for Box<S> {
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        (**self).bindings(aor)
    }

    fn with_bindings(
        &self,
        aor: &Aor,
        visit: &mut dyn FnMut(&[Binding]),
    ) -> Result<(), StoreError> {
        (**self).with_bindings(aor, visit)
    }

    fn update(
        &mut self,
        aor: &Aor,
        edit: &mut dyn FnMut(&mut Vec<Binding>) -> bool,
    ) -> Result<bool, StoreError> {
        (**self).update(aor, edit)
    }

    fn is_known(&self, aor: &Aor) -> Result<bool, StoreError> {
        (**self).is_known(aor)
    }

    fn next_expiry(&self) -> Option<Instant> {
        (**self).next_expiry()
    }

    fn remove_expired(
        &mut self,
        now: Instant,
        expired: &mut Vec<(Aor, Binding)>,
    ) -> Result<(), StoreError> {
        (**self).remove_expired(now, expired)
    }

    fn for_each(&self, visit: &mut dyn FnMut(&Aor, &[Binding])) -> Result<(), StoreError> {
        (**self).for_each(visit)
    }
}

/// A store could not do what was asked (a database down, a commit refused). The registrar
/// answers the REGISTER with 500 (Server Internal Error), RFC 3261 §10.3 step 7.
#[derive(Debug)]
pub struct StoreError {
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// Wraps the underlying error (a message string works too: `StoreError::new("db down")`).
    #[must_use]
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError { source: source.into() }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "binding store failed: {}", self.source)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The in-memory [`BindingStore`]: a map from AOR to its bindings plus an ordered expiry index,
/// so [`next_expiry`](BindingStore::next_expiry) is a peek and removing what expired costs
/// O(log n) per binding. Deterministic: iteration follows AOR order.
///
/// It also remembers every AOR that ever had a binding (and those added with
/// [`MemoryStore::add_user`]) as *known*, for the redirect server's 404/480 choice, until
/// [`MemoryStore::forget_user`].
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    aors: BTreeMap<Aor, Vec<Binding>>,
    /// How many bindings of each AOR expire at each instant.
    expiry: BTreeMap<(Instant, Aor), usize>,
    known: BTreeSet<Aor>,
    len: usize,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Number of bindings held (expired ones not yet removed included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no binding is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Marks `aor` as a known user (provisioning), so a redirect server answers 480 rather
    /// than 404 while it has no binding.
    pub fn add_user(&mut self, aor: Aor) {
        self.known.insert(aor);
    }

    /// Forgets that `aor` is a user, if it has no binding left; returns whether it did.
    pub fn forget_user(&mut self, aor: &Aor) -> bool {
        !self.aors.contains_key(aor) && self.known.remove(aor)
    }

    fn index_remove(&mut self, aor: &Aor, list: &[Binding]) {
        for b in list {
            let key = (b.expires_at, aor.clone());
            if let Some(n) = self.expiry.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.expiry.remove(&key);
                }
            }
        }
        self.len = self.len.saturating_sub(list.len());
    }

    fn index_add(&mut self, aor: &Aor, list: &[Binding]) {
        for b in list {
            *self.expiry.entry((b.expires_at, aor.clone())).or_insert(0) += 1;
        }
        self.len += list.len();
    }
}

impl BindingStore for MemoryStore {
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        Ok(self.aors.get(aor).cloned().unwrap_or_default())
    }

    fn with_bindings(
        &self,
        aor: &Aor,
        visit: &mut dyn FnMut(&[Binding]),
    ) -> Result<(), StoreError> {
        visit(self.aors.get(aor).map_or(&[], Vec::as_slice));
        Ok(())
    }

    fn update(
        &mut self,
        aor: &Aor,
        edit: &mut dyn FnMut(&mut Vec<Binding>) -> bool,
    ) -> Result<bool, StoreError> {
        let mut list = self.aors.get(aor).cloned().unwrap_or_default();
        if !edit(&mut list) {
            return Ok(false);
        }
        let old = self.aors.remove(aor).unwrap_or_default();
        self.index_remove(aor, &old);
        self.index_add(aor, &list);
        if !list.is_empty() {
            self.known.insert(aor.clone());
            self.aors.insert(aor.clone(), list);
        }
        Ok(true)
    }

    fn is_known(&self, aor: &Aor) -> Result<bool, StoreError> {
        Ok(self.known.contains(aor) || self.aors.contains_key(aor))
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.expiry.keys().next().map(|(at, _)| *at)
    }

    fn remove_expired(
        &mut self,
        now: Instant,
        expired: &mut Vec<(Aor, Binding)>,
    ) -> Result<(), StoreError> {
        // Each AOR with something due, once (in AOR order, so events are deterministic).
        let due: BTreeSet<Aor> = self
            .expiry
            .keys()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, aor)| aor.clone())
            .collect();
        for aor in due {
            let Some(list) = self.aors.remove(&aor) else { continue };
            self.index_remove(&aor, &list);
            let (gone, kept): (Vec<Binding>, Vec<Binding>) =
                list.into_iter().partition(|b| !b.is_alive(now));
            self.index_add(&aor, &kept);
            if !kept.is_empty() {
                self.aors.insert(aor.clone(), kept);
            }
            expired.extend(gone.into_iter().map(|b| (aor.clone(), b)));
        }
        Ok(())
    }

    fn for_each(&self, visit: &mut dyn FnMut(&Aor, &[Binding])) -> Result<(), StoreError> {
        for (aor, list) in &self.aors {
            visit(aor, list);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn binding(uri: &str, at: Instant) -> Binding {
        Binding {
            uri: uri.into(),
            contact: format!("<{uri}>"),
            q: None,
            expires_at: at,
            call_id: "c".into(),
            cseq: 1,
            path: Vec::new(),
            source: None,
        }
    }

    #[test]
    fn update_commits_only_when_edit_says_so() {
        let mut s = MemoryStore::new();
        let aor = Aor::parse("sip:a@x").unwrap();
        let t = Instant::now();
        let r = s.update(&aor, &mut |l| {
            l.push(binding("sip:a@h1", t));
            false
        });
        assert!(!r.unwrap());
        assert!(s.is_empty());
        assert!(!s.is_known(&aor).unwrap());
        s.update(&aor, &mut |l| {
            l.push(binding("sip:a@h1", t));
            true
        })
        .unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.next_expiry(), Some(t));
        s.update(&aor, &mut |l| {
            l.clear();
            true
        })
        .unwrap();
        assert!(s.is_empty());
        assert_eq!(s.next_expiry(), None);
        assert!(s.is_known(&aor).unwrap(), "an AOR that had bindings stays known");
        assert!(s.forget_user(&aor));
        assert!(!s.is_known(&aor).unwrap());
    }

    #[test]
    fn remove_expired_takes_exactly_what_is_due() {
        let mut s = MemoryStore::new();
        let a = Aor::parse("sip:a@x").unwrap();
        let b = Aor::parse("sip:b@x").unwrap();
        let t = Instant::now();
        let s10 = t + Duration::from_secs(10);
        let s20 = t + Duration::from_secs(20);
        s.update(&a, &mut |l| {
            l.extend([binding("sip:1@h", s10), binding("sip:2@h", s20), binding("sip:3@h", s10)]);
            true
        })
        .unwrap();
        s.update(&b, &mut |l| {
            l.push(binding("sip:4@h", s10));
            true
        })
        .unwrap();
        let mut out = Vec::new();
        s.remove_expired(s10 - Duration::from_nanos(1), &mut out).unwrap();
        assert!(out.is_empty());
        s.remove_expired(s10, &mut out).unwrap();
        let uris: Vec<_> = out.iter().map(|(aor, b)| (aor.as_str(), b.uri.as_str())).collect();
        assert_eq!(uris, [("sip:a@x", "sip:1@h"), ("sip:a@x", "sip:3@h"), ("sip:b@x", "sip:4@h")]);
        assert_eq!(s.len(), 1);
        assert_eq!(s.next_expiry(), Some(s20));
        assert_eq!(s.bindings(&b).unwrap(), []);
    }

    /// A store that only copies its bindings out (as a database-backed one might): the
    /// provided `with_bindings` lends that copy.
    struct CopyingStore(MemoryStore);

    impl BindingStore for CopyingStore {
        fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
            self.0.bindings(aor)
        }
        fn update(
            &mut self,
            aor: &Aor,
            edit: &mut dyn FnMut(&mut Vec<Binding>) -> bool,
        ) -> Result<bool, StoreError> {
            self.0.update(aor, edit)
        }
        fn next_expiry(&self) -> Option<Instant> {
            self.0.next_expiry()
        }
        fn remove_expired(
            &mut self,
            now: Instant,
            expired: &mut Vec<(Aor, Binding)>,
        ) -> Result<(), StoreError> {
            self.0.remove_expired(now, expired)
        }
        fn for_each(&self, visit: &mut dyn FnMut(&Aor, &[Binding])) -> Result<(), StoreError> {
            self.0.for_each(visit)
        }
    }

    #[test]
    fn lent_bindings_are_the_copied_ones_and_lookups_agree() {
        use crate::LocationService;
        let t = Instant::now();
        let mut s = MemoryStore::new();
        let a = Aor::parse("sip:a@x").unwrap();
        let unknown = Aor::parse("sip:nobody@x").unwrap();
        let q = |n| Some(sip_message::Q::from_thousandths(n).unwrap());
        s.update(&a, &mut |l| {
            let mut expired = binding("sip:gone@h", t);
            expired.q = q(1000);
            let mut low = binding("sip:low@h", t + Duration::from_secs(60));
            low.q = q(100);
            let mut high = binding("sip:high@h", t + Duration::from_secs(60));
            high.q = q(900);
            high.path = vec!["<sip:edge@p;lr>".into()];
            high.source = Some("udp:192.0.2.4:5060".into());
            let plain = binding("sip:plain@h", t + Duration::from_secs(30));
            l.extend([expired, low, high, plain]);
            true
        })
        .unwrap();
        let copying = CopyingStore(s.clone());
        let boxed: Box<dyn BindingStore> = Box::new(s.clone());
        for aor in [&a, &unknown] {
            let copied = s.bindings(aor).unwrap();
            for store in [&s as &dyn BindingStore, &copying, &boxed] {
                let mut lent = None;
                store.with_bindings(aor, &mut |l| lent = Some(l.to_vec())).unwrap();
                assert_eq!(lent.as_ref(), Some(&copied));
            }
            // The lookup as it was written before `with_bindings`: from the copy.
            let mut expected: Vec<_> =
                copied.iter().filter(|b| b.is_alive(t)).map(Binding::to_location).collect();
            expected.sort_by_key(|l| std::cmp::Reverse(crate::binding::effective_q(l.q)));
            assert_eq!(s.lookup(aor, t).unwrap(), expected);
            assert_eq!(copying.lookup(aor, t).unwrap(), expected);
            assert_eq!(boxed.lookup(aor, t).unwrap(), expected);
        }
        let uris: Vec<_> = s.lookup(&a, t).unwrap().into_iter().map(|l| l.uri).collect();
        assert_eq!(uris, ["sip:plain@h", "sip:high@h", "sip:low@h"]);
    }
}
