//! One binding of an address-of-record to a contact address (RFC 3261 §10), and the view of it a
//! proxy or redirect server gets from the location service.

use std::time::{Duration, Instant};

use sip_message::{Q, Uri};

/// A binding: one contact address registered for an address-of-record (RFC 3261 §10.3 step 7),
/// with what the registrar must remember about the REGISTER that made it.
///
/// Plain data with public fields so that a store backed by a database can build one from a
/// row. The list a store keeps for one AOR is in registration order (oldest first); a refresh
/// keeps a binding's place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI as the REGISTER carried it, without `<>`. Bindings are matched on it
    /// with the URI equality of RFC 3261 §19.1.4.
    pub uri: String,
    /// The whole Contact value to send back, in `name-addr` form and without its `expires`
    /// parameter (the registrar adds the remaining time when it lists the binding): display
    /// name, `<uri>`, then `q` and extension parameters such as `+sip.instance` and `reg-id`
    /// (RFC 5626) exactly as received, folded whitespace unfolded.
    pub contact: String,
    /// The `q` preference (RFC 3261 §10.2.1.2), if the contact had a valid one.
    pub q: Option<Q>,
    /// When the binding expires. A binding is alive while `now < expires_at`.
    pub expires_at: Instant,
    /// Call-ID of the REGISTER that last created or refreshed the binding (§10.3 step 7).
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// The Path header values of that REGISTER (RFC 3327), in order; empty without Path.
    pub path: Vec<String>,
    /// Where that REGISTER came from, as the caller described it (for example
    /// `udp:192.0.2.4:5060` or a connection id): opaque to this crate, kept so a runtime can
    /// reach a client behind a NAT over the flow it registered on.
    pub source: Option<String>,
}

impl Binding {
    /// Whether the binding is still alive at `now` (an expired binding is never reported,
    /// whether or not it has been removed yet).
    #[must_use]
    pub fn is_alive(&self, now: Instant) -> bool {
        now < self.expires_at
    }

    /// Time left before expiry (zero once expired).
    #[must_use]
    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires_at.saturating_duration_since(now)
    }

    /// Seconds left before expiry, rounded up so that a live binding never shows 0 (which a
    /// client would read as "removed"); 0 once expired. Saturates at 2^32-1.
    #[must_use]
    pub fn remaining_secs(&self, now: Instant) -> u32 {
        ceil_secs(self.remaining(now))
    }

    /// Whether this binding's URI equals `uri` under RFC 3261 §19.1.4.
    #[must_use]
    pub fn matches_uri(&self, uri: &str) -> bool {
        same_uri(&self.uri, uri)
    }

    /// The location-service view of this binding.
    #[must_use]
    pub fn to_location(&self) -> Location {
        Location {
            uri: self.uri.clone(),
            contact: self.contact.clone(),
            q: self.q,
            expires_at: self.expires_at,
            path: self.path.clone(),
            source: self.source.clone(),
        }
    }
}

/// A contact address returned by a [`LocationService`](crate::LocationService) lookup: what a
/// proxy needs to make a target (RFC 3261 §16.5) or a redirect server a Contact (§8.3). Free of
/// any transaction-layer type, so each user maps it to its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The contact URI: the new Request-URI (§16.6 step 2).
    pub uri: String,
    /// The registered Contact value without `expires` (see [`Binding::contact`]).
    pub contact: String,
    /// The `q` preference, if any. Lookups sort by it, highest first, a missing `q` counting
    /// as 1.0 (the default of a qvalue, as in `Accept`).
    pub q: Option<Q>,
    /// When the binding expires.
    pub expires_at: Instant,
    /// The Path recorded at registration (RFC 3327 §5.3): a proxy sends the request through
    /// these hops, as a pre-loaded Route set, in this order.
    pub path: Vec<String>,
    /// The source the registration came from, as the registering runtime described it.
    pub source: Option<String>,
}

impl Location {
    /// Seconds left before expiry, rounded up (see [`Binding::remaining_secs`]).
    #[must_use]
    pub fn remaining_secs(&self, now: Instant) -> u32 {
        ceil_secs(self.expires_at.saturating_duration_since(now))
    }
}

/// The effective preference of an optional `q`: absent counts as 1.0.
pub(crate) fn effective_q(q: Option<Q>) -> Q {
    q.unwrap_or(Q::ONE)
}

/// RFC 3261 §19.1.4 equality of two URIs given as text; text that does not parse as a URI
/// equals only the same text (ASCII case ignored).
pub(crate) fn same_uri(a: &str, b: &str) -> bool {
    match (Uri::parse(a), Uri::parse(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// Whole seconds in `d`, rounded up, saturating at `u32::MAX`.
pub(crate) fn ceil_secs(d: Duration) -> u32 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// `now + secs`, or the latest instant this platform can represent on the way there.
pub(crate) fn add_secs(now: Instant, secs: u32) -> Instant {
    let mut d = Duration::from_secs(u64::from(secs));
    // Halve until representable: 64 halvings reach zero, which always is.
    for _ in 0..64 {
        if let Some(at) = now.checked_add(d) {
            return at;
        }
        d /= 2;
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_rounds_up_and_reaches_zero_at_expiry() {
        let now = Instant::now();
        let b = Binding {
            uri: "sip:a@b".into(),
            contact: "<sip:a@b>".into(),
            q: None,
            expires_at: now + Duration::from_millis(1500),
            call_id: "c".into(),
            cseq: 1,
            path: Vec::new(),
            source: None,
        };
        assert_eq!(b.remaining_secs(now), 2);
        assert!(b.is_alive(now + Duration::from_millis(1499)));
        assert!(!b.is_alive(now + Duration::from_millis(1500)));
        assert_eq!(b.remaining_secs(now + Duration::from_secs(2)), 0);
    }

    #[test]
    fn uris_compare_per_rfc3261() {
        assert!(same_uri(
            "sip:%61lice@Atlanta.com;transport=TCP",
            "sip:alice@atlanta.com;transport=tcp"
        ));
        assert!(!same_uri("sip:alice@atlanta.com", "sip:alice@atlanta.com:5060"));
        assert!(same_uri("mailto:Bob@x", "MAILTO:Bob@x"));
    }

    #[test]
    fn add_secs_never_panics() {
        let now = Instant::now();
        assert_eq!(add_secs(now, 10), now + Duration::from_secs(10));
        assert!(add_secs(now, u32::MAX) > now);
    }
}
