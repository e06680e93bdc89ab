//! Stateless nonces (RFC 7616 §3.3, §5.4, §5.5) and the bounded nonce-count table that
//! catches replays (RFC 7616 §3.4 `nc`, §5.5).
//!
//! A nonce is 64 lower-case hex digits: a 64-bit timestamp in milliseconds, a 64-bit salt from
//! the server's seeded generator, and the first 128 bits of `HMAC-SHA-256(key, label || timestamp
//! || salt || realm)`. The server keeps no table of issued nonces: the tag proves it minted the
//! nonce, the timestamp says how old it is. Only nonces that authenticated a request enter the
//! [`ReplayTable`], so a client without the password cannot fill it.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::algorithm::{from_hex, to_hex};

/// Domain separation for the MAC input, so the key could serve another purpose safely.
const LABEL: &[u8] = b"sip-auth nonce v1\0";
/// Bytes of the HMAC tag kept in the nonce (128 bits, RFC 2104 §5 allows truncation to half).
const TAG_LEN: usize = 16;
/// Bytes of a decoded nonce: timestamp, salt, tag.
const NONCE_LEN: usize = 8 + 8 + TAG_LEN;

/// What identifies one minted nonce: its timestamp and salt. Ordered by time, so the oldest
/// entry of a table is its first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NonceId {
    pub(crate) timestamp_ms: u64,
    pub(crate) salt: u64,
}

/// Mints and checks nonces for one realm under one key.
#[derive(Clone)]
pub(crate) struct NonceMint {
    mac: Hmac<Sha256>,
    realm: Vec<u8>,
}

/// The highest nonce count seen with one nonce, and which of the counts just below it were
/// seen (bit `i` set: `highest - i` was used), as an IPsec anti-replay window (RFC 4303
/// §3.4.3) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    highest: u32,
    window: u64,
}

/// The verdict of [`ReplayTable::check_and_record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplayCheck {
    /// First use of this count: accepted and recorded.
    Fresh,
    /// This count (or, for the RFC 2069 form, this nonce) was used before.
    Replay,
    /// The nonce may have been used, but its record was evicted to keep the table bounded:
    /// the request must be retried with a fresh nonce (a stale challenge).
    Forgotten,
}

/// Nonce counts seen per nonce, bounded to `capacity` entries.
///
/// Entries leave when their nonce expires ([`ReplayTable::prune_older_than`]) or, when the
/// table is full, oldest nonce first. An evicted nonce's history is lost, so the table remembers
/// the newest evicted id as a *floor*: a nonce at or below the floor that is not in the table
/// answers [`ReplayCheck::Forgotten`] rather than being trusted as unused. Memory is therefore
/// `capacity` entries at most, and a replay is never accepted because of eviction.
#[derive(Clone, Debug)]
pub(crate) struct ReplayTable {
    entries: BTreeMap<NonceId, Seen>,
    capacity: usize,
    floor: Option<NonceId>,
    evictions: u64,
}

impl NonceMint {
    /// A mint for `realm` under the HMAC key `key`.
    pub(crate) fn new(key: &[u8], realm: &str) -> Option<NonceMint> {
        let mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        Some(NonceMint { mac, realm: realm.as_bytes().to_vec() })
    }

    /// The nonce for `id`, as 64 hex digits.
    pub(crate) fn issue(&self, id: NonceId) -> String {
        let tag = self.keyed(id).finalize().into_bytes();
        let mut raw = Vec::with_capacity(NONCE_LEN);
        raw.extend_from_slice(&id.timestamp_ms.to_be_bytes());
        raw.extend_from_slice(&id.salt.to_be_bytes());
        raw.extend(tag.iter().take(TAG_LEN));
        to_hex(&raw)
    }

    /// The id of `nonce` if this mint issued it (tag checked in constant time); `None` for
    /// anything else, however malformed.
    pub(crate) fn check(&self, nonce: &str) -> Option<NonceId> {
        if nonce.len() != NONCE_LEN * 2 {
            return None;
        }
        let raw = from_hex(nonce)?;
        let (timestamp, rest) = raw.split_first_chunk::<8>()?;
        let (salt, tag) = rest.split_first_chunk::<8>()?;
        let id = NonceId {
            timestamp_ms: u64::from_be_bytes(*timestamp),
            salt: u64::from_be_bytes(*salt),
        };
        self.keyed(id).verify_truncated_left(tag).ok().map(|()| id)
    }

    fn keyed(&self, id: NonceId) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(&id.timestamp_ms.to_be_bytes());
        mac.update(&id.salt.to_be_bytes());
        mac.update(&self.realm);
        mac
    }
}

impl ReplayTable {
    /// An empty table holding at most `capacity` nonces (at least one).
    pub(crate) fn new(capacity: usize) -> ReplayTable {
        ReplayTable {
            entries: BTreeMap::new(),
            capacity: capacity.max(1),
            floor: None,
            evictions: 0,
        }
    }

    /// Nonces tracked now.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries dropped because the table was full.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Drops the entries of nonces minted before `timestamp_ms`: they are expired, and the
    /// expiry check refuses them before the table is consulted.
    pub(crate) fn prune_older_than(&mut self, timestamp_ms: u64) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.key().timestamp_ms >= timestamp_ms {
                break;
            }
            entry.remove();
        }
    }

    /// Checks the use of `nc` with nonce `id` and records it if fresh. `nc` is `None` for an
    /// RFC 2069 response (no qop, so no count): such a nonce is good for one request only.
    /// `window` (0–64) is how far below the highest count seen a count may arrive out of
    /// order and still be accepted once; 0 demands strictly increasing counts.
    pub(crate) fn check_and_record(
        &mut self,
        id: NonceId,
        nc: Option<u32>,
        window: u8,
    ) -> ReplayCheck {
        // RFC 2069: no count, so a used nonce is used up; mark every count as seen.
        let (count, bits) = nc.map_or((u32::MAX, u64::MAX), |n| (n, 1));
        if let Some(seen) = self.entries.get_mut(&id) {
            if nc.is_none() {
                return ReplayCheck::Replay;
            }
            return seen.record(count, window);
        }
        if self.floor.is_some_and(|floor| id <= floor) {
            return ReplayCheck::Forgotten;
        }
        if self.entries.len() >= self.capacity {
            match self.entries.first_key_value() {
                // The newcomer is older than everything kept: accept this first use but keep
                // no record, only the floor, so any later use is Forgotten.
                Some((oldest, _)) if id < *oldest => {
                    self.raise_floor(id);
                    return ReplayCheck::Fresh;
                }
                _ => {
                    if let Some((evicted, _)) = self.entries.pop_first() {
                        self.raise_floor(evicted);
                    }
                }
            }
        }
        self.entries.insert(id, Seen { highest: count, window: bits });
        ReplayCheck::Fresh
    }

    fn raise_floor(&mut self, id: NonceId) {
        self.evictions = self.evictions.saturating_add(1);
        self.floor = Some(self.floor.map_or(id, |floor| floor.max(id)));
    }
}

impl Seen {
    fn record(&mut self, nc: u32, window: u8) -> ReplayCheck {
        if nc > self.highest {
            let shift = nc - self.highest;
            self.window = if shift >= 64 { 0 } else { self.window << shift };
            self.window |= 1;
            self.highest = nc;
            return ReplayCheck::Fresh;
        }
        let behind = self.highest - nc;
        if behind >= u32::from(window.min(64)) {
            return ReplayCheck::Replay;
        }
        let bit = 1_u64 << behind;
        if self.window & bit != 0 {
            return ReplayCheck::Replay;
        }
        self.window |= bit;
        ReplayCheck::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(timestamp_ms: u64, salt: u64) -> NonceId {
        NonceId { timestamp_ms, salt }
    }

    #[test]
    fn minted_nonce_checks_and_tampering_fails() {
        let mint = NonceMint::new(b"0123456789abcdef", "example.com").unwrap();
        let nonce = mint.issue(id(12345, 77));
        assert_eq!(nonce.len(), 64);
        assert_eq!(mint.check(&nonce), Some(id(12345, 77)));
        assert_eq!(mint.check(&nonce.to_ascii_uppercase()), Some(id(12345, 77)));
        // Flip each hex digit in turn: the tag no longer matches.
        for i in 0..nonce.len() {
            let mut bytes = nonce.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            assert_eq!(mint.check(std::str::from_utf8(&bytes).unwrap()), None, "digit {i}");
        }
        assert_eq!(mint.check(&nonce[..62]), None);
        assert_eq!(mint.check(&"z".repeat(64)), None);
        assert_eq!(mint.check(""), None);
    }

    #[test]
    fn nonce_is_bound_to_key_and_realm() {
        let mint = NonceMint::new(b"0123456789abcdef", "example.com").unwrap();
        let nonce = mint.issue(id(1, 2));
        let other_realm = NonceMint::new(b"0123456789abcdef", "example.net").unwrap();
        let other_key = NonceMint::new(b"0123456789abcdeX", "example.com").unwrap();
        assert_eq!(other_realm.check(&nonce), None);
        assert_eq!(other_key.check(&nonce), None);
    }

    #[test]
    fn counts_must_increase_without_a_window() {
        let mut t = ReplayTable::new(8);
        assert_eq!(t.check_and_record(id(1, 1), Some(1), 0), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(1, 1), Some(1), 0), ReplayCheck::Replay);
        assert_eq!(t.check_and_record(id(1, 1), Some(3), 0), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(1, 1), Some(2), 0), ReplayCheck::Replay);
        assert_eq!(t.check_and_record(id(1, 2), Some(1), 0), ReplayCheck::Fresh);
    }

    #[test]
    fn window_accepts_each_late_count_once() {
        let mut t = ReplayTable::new(8);
        assert_eq!(t.check_and_record(id(1, 1), Some(5), 4), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(1, 1), Some(3), 4), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(1, 1), Some(3), 4), ReplayCheck::Replay);
        assert_eq!(t.check_and_record(id(1, 1), Some(1), 4), ReplayCheck::Replay); // too far
        assert_eq!(t.check_and_record(id(1, 1), Some(200), 4), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(1, 1), Some(199), 4), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(1, 1), Some(5), 64), ReplayCheck::Replay);
    }

    #[test]
    fn rfc2069_use_is_single() {
        let mut t = ReplayTable::new(8);
        assert_eq!(t.check_and_record(id(1, 1), None, 0), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(1, 1), None, 0), ReplayCheck::Replay);
        assert_eq!(t.check_and_record(id(1, 1), Some(7), 64), ReplayCheck::Replay);
    }

    #[test]
    fn full_table_evicts_oldest_and_forgets_safely() {
        let mut t = ReplayTable::new(3);
        for ts in 10..20 {
            assert_eq!(t.check_and_record(id(ts, 0), Some(1), 0), ReplayCheck::Fresh);
            assert!(t.len() <= 3);
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.evictions(), 7);
        // An evicted nonce is not trusted as unused, nor is an unseen one older than the floor.
        assert_eq!(t.check_and_record(id(12, 0), Some(2), 0), ReplayCheck::Forgotten);
        assert_eq!(t.check_and_record(id(15, 5), Some(1), 0), ReplayCheck::Forgotten);
        // Kept ones still work, newer ones are fresh.
        assert_eq!(t.check_and_record(id(19, 0), Some(1), 0), ReplayCheck::Replay);
        assert_eq!(t.check_and_record(id(19, 0), Some(2), 0), ReplayCheck::Fresh);
        assert_eq!(t.check_and_record(id(30, 0), Some(1), 0), ReplayCheck::Fresh);
    }

    #[test]
    fn newcomer_older_than_everything_is_accepted_once_without_a_record() {
        let mut t = ReplayTable::new(2);
        t.check_and_record(id(10, 0), Some(1), 0);
        t.check_and_record(id(11, 0), Some(1), 0);
        assert_eq!(t.check_and_record(id(5, 0), Some(1), 0), ReplayCheck::Fresh);
        assert_eq!(t.len(), 2);
        assert_eq!(t.check_and_record(id(5, 0), Some(2), 0), ReplayCheck::Forgotten);
    }

    #[test]
    fn pruning_drops_expired_entries() {
        let mut t = ReplayTable::new(8);
        for ts in 0..5 {
            t.check_and_record(id(ts * 100, 0), Some(1), 0);
        }
        t.prune_older_than(250);
        assert_eq!(t.len(), 2);
        assert_eq!(t.evictions(), 0);
    }
}
