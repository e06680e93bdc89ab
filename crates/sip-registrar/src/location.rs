//! The location service (RFC 3261 §10.1): what a proxy (§16.5) or a redirect server (§8.3)
//! reads to find where a user is.

use std::time::Instant;

use crate::binding::effective_q;
use crate::{Aor, Binding, BindingStore, Location, StoreError};

/// The bindings of `list` alive at `now`, each made into a `T` by `make`, in the order of
/// [`LocationService::lookup`]: highest `q` first (a missing `q` counts as 1.0), equal `q` in
/// registration order. For a caller that reads a store's lent bindings
/// ([`BindingStore::with_bindings`]) and wants its own target type; one live binding costs no
/// sort and no allocation besides the result.
pub fn live_in_order<T>(list: &[Binding], now: Instant, make: impl Fn(&Binding) -> T) -> Vec<T> {
    let alive = |b: &&Binding| b.is_alive(now);
    if list.iter().filter(alive).nth(1).is_none() {
        return list.iter().filter(alive).map(make).collect();
    }
    let mut sorted: Vec<&Binding> = list.iter().filter(alive).collect();
    // Stable: equal q keeps registration order.
    sorted.sort_by_key(|b| std::cmp::Reverse(effective_q(b.q)));
    sorted.into_iter().map(make).collect()
}

/// Read access to the bindings of a domain: "a proxy or a redirect server for that domain MUST
/// be capable of reading that same data" (RFC 3261 §10.1).
///
/// Implemented by every [`BindingStore`] and by [`Registrar`](crate::Registrar); implement it
/// yourself to add bindings from elsewhere (a static directory, another protocol).
pub trait LocationService {
    /// The live contacts of `aor` at `now`, highest `q` first (a missing `q` counts as 1.0);
    /// contacts of equal `q` keep registration order (oldest first). Bindings past their expiry
    /// are never returned, even if nothing has removed them yet.
    ///
    /// # Errors
    /// A [`StoreError`] if the bindings cannot be read (answer 500, not 480).
    fn lookup(&self, aor: &Aor, now: Instant) -> Result<Vec<Location>, StoreError>;

    /// Whether `aor` is a user of this domain, bound now or not: a redirect server answers 480
    /// (Temporarily Unavailable) for a known user without contacts and 404 (Not Found) for an
    /// unknown one.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read.
    fn is_known(&self, aor: &Aor) -> Result<bool, StoreError>;
}

impl<S: BindingStore + ?Sized> LocationService for S {
    fn lookup(&self, aor: &Aor, now: Instant) -> Result<Vec<Location>, StoreError> {
        // The bindings lent, not copied: only the fields a location carries are.
        let mut live: Vec<Location> = Vec::new();
        self.with_bindings(aor, &mut |list| {
            live.extend(live_in_order(list, now, Binding::to_location))
        })?;
        Ok(live)
    }

    fn is_known(&self, aor: &Aor) -> Result<bool, StoreError> {
        BindingStore::is_known(self, aor)
    }
}
