//! Header field names: the known ones as an enum, matched case-insensitively with compact forms.

use std::fmt;

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident => $canon:literal, compact: $compact:expr, list: $list:literal; )*) => {
        /// A header field name (RFC 3261 §7.3, §20).
        ///
        /// Known names are an enum so that lookups are integer compares; the compact forms of
        /// RFC 3261 §7.3.3 and of the extensions (`o` Event, `r` Refer-To, `x` Session-Expires, ...)
        /// map to the same variant as the long form. Any other name is [`HeaderName::Other`]; the
        /// message keeps its spelling.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// A name this crate has no variant for; compare it with
            /// [`Message::headers_named`](crate::Message::headers_named).
            Other,
        }

        impl HeaderName {
            /// Every known name, in declaration order (without [`HeaderName::Other`]).
            pub const ALL: &'static [HeaderName] = &[ $( HeaderName::$variant, )* ];

            /// The canonical (long) spelling, e.g. `"Call-ID"`; `""` for [`HeaderName::Other`].
            #[must_use]
            #[inline]
            pub const fn as_str(self) -> &'static str {
                match self { $( HeaderName::$variant => $canon, )* HeaderName::Other => "" }
            }

            /// The canonical spelling followed by `": "`, the start of a header line as the
            /// builder writes it (one copy instead of two); `b""` for [`HeaderName::Other`].
            #[must_use]
            #[inline]
            pub(crate) const fn line_prefix(self) -> &'static [u8] {
                match self {
                    $( HeaderName::$variant => concat!($canon, ": ").as_bytes(), )*
                    HeaderName::Other => b"",
                }
            }

            /// The compact form (RFC 3261 §7.3.3 and extensions), if the name has one.
            #[must_use]
            pub const fn compact(self) -> Option<u8> {
                match self { $( HeaderName::$variant => $compact, )* HeaderName::Other => None }
            }

            /// Whether several values of this header may be combined into one line separated
            /// by commas (RFC 3261 §7.3.1), so that a list header line holds several values.
            #[must_use]
            pub const fn is_list(self) -> bool {
                match self { $( HeaderName::$variant => $list, )* HeaderName::Other => false }
            }
        }
    };
}

header_names! {
    /// `Accept` (RFC 3261 §20.1).
    Accept => "Accept", compact: None, list: true;
    /// `Accept-Contact` (RFC 3841), compact `a`.
    AcceptContact => "Accept-Contact", compact: Some(b'a'), list: true;
    /// `Accept-Encoding` (RFC 3261 §20.2).
    AcceptEncoding => "Accept-Encoding", compact: None, list: true;
    /// `Accept-Language` (RFC 3261 §20.3).
    AcceptLanguage => "Accept-Language", compact: None, list: true;
    /// `Alert-Info` (RFC 3261 §20.4).
    AlertInfo => "Alert-Info", compact: None, list: true;
    /// `Allow` (RFC 3261 §20.5).
    Allow => "Allow", compact: None, list: true;
    /// `Allow-Events` (RFC 6665), compact `u`.
    AllowEvents => "Allow-Events", compact: Some(b'u'), list: true;
    /// `Authentication-Info` (RFC 3261 §20.6).
    AuthenticationInfo => "Authentication-Info", compact: None, list: false;
    /// `Authorization` (RFC 3261 §20.7).
    Authorization => "Authorization", compact: None, list: false;
    /// `Call-ID` (RFC 3261 §20.8), compact `i`.
    CallId => "Call-ID", compact: Some(b'i'), list: false;
    /// `Call-Info` (RFC 3261 §20.9).
    CallInfo => "Call-Info", compact: None, list: true;
    /// `Contact` (RFC 3261 §20.10), compact `m`.
    Contact => "Contact", compact: Some(b'm'), list: true;
    /// `Content-Disposition` (RFC 3261 §20.11).
    ContentDisposition => "Content-Disposition", compact: None, list: false;
    /// `Content-Encoding` (RFC 3261 §20.12), compact `e`.
    ContentEncoding => "Content-Encoding", compact: Some(b'e'), list: true;
    /// `Content-Language` (RFC 3261 §20.13).
    ContentLanguage => "Content-Language", compact: None, list: true;
    /// `Content-Length` (RFC 3261 §20.14), compact `l`.
    ContentLength => "Content-Length", compact: Some(b'l'), list: false;
    /// `Content-Type` (RFC 3261 §20.15), compact `c`.
    ContentType => "Content-Type", compact: Some(b'c'), list: false;
    /// `CSeq` (RFC 3261 §20.16).
    CSeq => "CSeq", compact: None, list: false;
    /// `Date` (RFC 3261 §20.17).
    Date => "Date", compact: None, list: false;
    /// `Error-Info` (RFC 3261 §20.18).
    ErrorInfo => "Error-Info", compact: None, list: true;
    /// `Event` (RFC 6665), compact `o`.
    Event => "Event", compact: Some(b'o'), list: false;
    /// `Expires` (RFC 3261 §20.19).
    Expires => "Expires", compact: None, list: false;
    /// `From` (RFC 3261 §20.20), compact `f`.
    From => "From", compact: Some(b'f'), list: false;
    /// `History-Info` (RFC 7044).
    HistoryInfo => "History-Info", compact: None, list: true;
    /// `Identity` (RFC 8224), compact `y`.
    Identity => "Identity", compact: Some(b'y'), list: false;
    /// `In-Reply-To` (RFC 3261 §20.21).
    InReplyTo => "In-Reply-To", compact: None, list: true;
    /// `Max-Forwards` (RFC 3261 §20.22).
    MaxForwards => "Max-Forwards", compact: None, list: false;
    /// `Min-Expires` (RFC 3261 §20.23).
    MinExpires => "Min-Expires", compact: None, list: false;
    /// `Min-SE` (RFC 4028).
    MinSe => "Min-SE", compact: None, list: false;
    /// `MIME-Version` (RFC 3261 §20.24).
    MimeVersion => "MIME-Version", compact: None, list: false;
    /// `Organization` (RFC 3261 §20.25).
    Organization => "Organization", compact: None, list: false;
    /// `Path` (RFC 3327).
    Path => "Path", compact: None, list: true;
    /// `Priority` (RFC 3261 §20.26).
    Priority => "Priority", compact: None, list: false;
    /// `Proxy-Authenticate` (RFC 3261 §20.27).
    ProxyAuthenticate => "Proxy-Authenticate", compact: None, list: false;
    /// `Proxy-Authorization` (RFC 3261 §20.28).
    ProxyAuthorization => "Proxy-Authorization", compact: None, list: false;
    /// `Proxy-Require` (RFC 3261 §20.29).
    ProxyRequire => "Proxy-Require", compact: None, list: true;
    /// `RAck` (RFC 3262).
    RAck => "RAck", compact: None, list: false;
    /// `Reason` (RFC 3326).
    Reason => "Reason", compact: None, list: true;
    /// `Record-Route` (RFC 3261 §20.30).
    RecordRoute => "Record-Route", compact: None, list: true;
    /// `Refer-To` (RFC 3515), compact `r`.
    ReferTo => "Refer-To", compact: Some(b'r'), list: false;
    /// `Referred-By` (RFC 3892), compact `b`.
    ReferredBy => "Referred-By", compact: Some(b'b'), list: false;
    /// `Reject-Contact` (RFC 3841), compact `j`.
    RejectContact => "Reject-Contact", compact: Some(b'j'), list: true;
    /// `Replaces` (RFC 3891).
    Replaces => "Replaces", compact: None, list: false;
    /// `Reply-To` (RFC 3261 §20.31).
    ReplyTo => "Reply-To", compact: None, list: false;
    /// `Request-Disposition` (RFC 3841), compact `d`.
    RequestDisposition => "Request-Disposition", compact: Some(b'd'), list: true;
    /// `Require` (RFC 3261 §20.32).
    Require => "Require", compact: None, list: true;
    /// `Retry-After` (RFC 3261 §20.33).
    RetryAfter => "Retry-After", compact: None, list: false;
    /// `Route` (RFC 3261 §20.34).
    Route => "Route", compact: None, list: true;
    /// `RSeq` (RFC 3262).
    RSeq => "RSeq", compact: None, list: false;
    /// `Server` (RFC 3261 §20.35).
    Server => "Server", compact: None, list: false;
    /// `Service-Route` (RFC 3608).
    ServiceRoute => "Service-Route", compact: None, list: true;
    /// `Session-Expires` (RFC 4028), compact `x`.
    SessionExpires => "Session-Expires", compact: Some(b'x'), list: false;
    /// `Subject` (RFC 3261 §20.36), compact `s`.
    Subject => "Subject", compact: Some(b's'), list: false;
    /// `Subscription-State` (RFC 6665).
    SubscriptionState => "Subscription-State", compact: None, list: false;
    /// `Supported` (RFC 3261 §20.37), compact `k`.
    Supported => "Supported", compact: Some(b'k'), list: true;
    /// `Timestamp` (RFC 3261 §20.38).
    Timestamp => "Timestamp", compact: None, list: false;
    /// `To` (RFC 3261 §20.39), compact `t`.
    To => "To", compact: Some(b't'), list: false;
    /// `Unsupported` (RFC 3261 §20.40).
    Unsupported => "Unsupported", compact: None, list: true;
    /// `User-Agent` (RFC 3261 §20.41).
    UserAgent => "User-Agent", compact: None, list: false;
    /// `Via` (RFC 3261 §20.42), compact `v`.
    Via => "Via", compact: Some(b'v'), list: true;
    /// `Warning` (RFC 3261 §20.43).
    Warning => "Warning", compact: None, list: true;
    /// `WWW-Authenticate` (RFC 3261 §20.44).
    WwwAuthenticate => "WWW-Authenticate", compact: None, list: false;
}

impl HeaderName {
    /// Classifies a name as it appears on the wire: case-insensitive, compact forms included.
    ///
    /// ```
    /// use sip_message::HeaderName;
    /// assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
    /// assert_eq!(HeaderName::from_bytes(b"call-id"), HeaderName::CallId);
    /// assert_eq!(HeaderName::from_bytes(b"X-Custom"), HeaderName::Other);
    /// ```
    #[must_use]
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        HeaderName::lookup(name)
    }

    /// [`HeaderName::from_bytes`], always inlined.
    #[inline(always)]
    pub(crate) fn lookup(name: &[u8]) -> HeaderName {
        HeaderName::lookup_words(name_words(name), name.len(), || name)
    }

    /// [`HeaderName::lookup`] of a name of `len` bytes whose [`name_words`] the caller has
    /// already read (the parser has them from its search for the colon); `name` gives the
    /// bytes themselves, needed only for a name not in its canonical spelling.
    ///
    /// Nearly every sender writes the canonical spelling: the words pick one slot of a perfect
    /// hash of the canonical names, and one compare of the words and the length settles it
    /// (the words of a name are its bytes padded with zeros, so two names of different lengths
    /// may have the same words). Anything else (another case, an unknown name) takes the
    /// bucket search, out of line.
    #[inline(always)]
    pub(crate) fn lookup_words<'a>(
        key: [u64; 3],
        len: usize,
        name: impl FnOnce() -> &'a [u8],
    ) -> HeaderName {
        let first = (key[0] & 0xff) as u8;
        if len <= 1 {
            if len == 0 {
                return HeaderName::Other;
            }
            return COMPACT.get(usize::from(first)).map_or(HeaderName::Other, |&k| by_index(k));
        }
        let slot = HASH.get(hash_slot(key)).copied().unwrap_or_default();
        if let Some(i) = usize::from(slot).checked_sub(1)
            && WORDS.get(i) == Some(&key)
            && LENGTHS.get(i).is_some_and(|&l| usize::from(l) == len)
        {
            return HeaderName::ALL.get(i).copied().unwrap_or(HeaderName::Other);
        }
        bucket_lookup(first, len, key, name())
    }
}

/// [`HeaderName::lookup`] for a name not in its canonical spelling: one table lookup by length
/// and first letter (either case) gives at most three candidates, compared by their words, and
/// then byte by byte ignoring case.
#[inline(never)]
fn bucket_lookup(first: u8, len: usize, key: [u64; 3], name: &[u8]) -> HeaderName {
    let bucket = BUCKETS.get(bucket_of(len, first)).copied().unwrap_or_default();
    for k in bucket {
        let Some(i) = usize::from(k).checked_sub(1) else { break };
        if WORDS.get(i) == Some(&key) {
            return HeaderName::ALL.get(i).copied().unwrap_or(HeaderName::Other);
        }
    }
    folded(bucket, name)
}

/// The multiplier of [`hash_slot`], found by search: it sends the words of the canonical
/// spellings of [`HeaderName::ALL`] to distinct slots (checked by a test; a name that shared a
/// slot would still be found, by [`bucket_lookup`]).
const HASH_MULTIPLIER: u64 = 0x76e7_241b_e8af_2d6b;

/// The slot of [`HASH`] for a name's [`name_words`].
#[inline(always)]
const fn hash_slot(key: [u64; 3]) -> usize {
    ((key[0] ^ key[1].rotate_left(21) ^ key[2]).wrapping_mul(HASH_MULTIPLIER) >> 56) as usize
}

/// For each [`hash_slot`], 1 + the index in [`HeaderName::ALL`] of the name whose canonical
/// spelling lands there (0 for none).
static HASH: [u8; 256] = hash_table();

/// The length of each name of [`HeaderName::ALL`], canonical spelling.
static LENGTHS: [u8; HeaderName::ALL.len()] = lengths_table();

// Runs at compile time only: every index is in range by construction.
#[allow(clippy::indexing_slicing)]
const fn hash_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        let slot = hash_slot(words_of(HeaderName::ALL[i].as_str().as_bytes()));
        if t[slot] == 0 {
            t[slot] = i as u8 + 1;
        }
        i += 1;
    }
    t
}

// Runs at compile time only: every index is in range by construction.
#[allow(clippy::indexing_slicing)]
const fn lengths_table() -> [u8; HeaderName::ALL.len()] {
    let mut t = [0u8; HeaderName::ALL.len()];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        t[i] = HeaderName::ALL[i].as_str().len() as u8;
        i += 1;
    }
    t
}

/// Longest known name (`Proxy-Authorization` and friends, 19 bytes).
const MAX_NAME: usize = 19;

/// The bucket of a name of `len` bytes starting with `first`: letters fold to 1..=26 in either
/// case. Other bytes land in some bucket too, where no candidate equals them.
#[inline]
const fn bucket_of(len: usize, first: u8) -> usize {
    len * 32 + (first & 0x1f) as usize
}

/// `HeaderName::ALL[k - 1]`, or `Other` for 0.
#[inline]
fn by_index(k: u8) -> HeaderName {
    match (k as usize).checked_sub(1) {
        Some(i) => HeaderName::ALL.get(i).copied().unwrap_or(HeaderName::Other),
        None => HeaderName::Other,
    }
}

/// For each compact form (either case), 1 + the index of its name in [`HeaderName::ALL`].
static COMPACT: [u8; 256] = compact_table();

/// For each [`bucket_of`], up to three candidates as 1 + their index in [`HeaderName::ALL`]
/// (0 ends the list). Every bucket of the known names holds at most three (checked by the
/// round-trip test below: a name that did not fit would not be recognised).
static BUCKETS: [[u8; 3]; (MAX_NAME + 1) * 32] = bucket_table();

/// The canonical spelling of each name of [`HeaderName::ALL`] as its [`name_words`]: one
/// compare of three words per candidate instead of a byte compare of two slices.
static WORDS: [[u64; 3]; HeaderName::ALL.len()] = words_table();

// Runs at compile time only: every index is in range by construction.
#[allow(clippy::indexing_slicing)]
const fn words_table() -> [[u64; 3]; HeaderName::ALL.len()] {
    let mut t = [[0u64; 3]; HeaderName::ALL.len()];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        t[i] = words_of(HeaderName::ALL[i].as_str().as_bytes());
        i += 1;
    }
    t
}

/// `n` bytes of `s` from `at`, little-endian (compile time).
// Runs at compile time only (and in tests): callers keep `at + n <= s.len()`.
#[allow(clippy::indexing_slicing)]
const fn le_bytes(s: &[u8], at: usize, n: usize) -> u64 {
    let mut w = 0u64;
    let mut j = 0;
    while j < n {
        w |= (s[at + j] as u64) << (8 * j);
        j += 1;
    }
    w
}

/// A name of at most 24 bytes as three little-endian words: its bytes padded with zeros, so
/// that the words equal those of another name of the same length exactly when the bytes do
/// (a longer name gives words no name has). The compile-time form, byte by byte;
/// [`name_words`] reads the same words at run time, and the parser masks them out of the
/// words it reads while looking for the colon.
// Runs at compile time only (and in tests): `k < 3`.
#[allow(clippy::indexing_slicing)]
const fn words_of(s: &[u8]) -> [u64; 3] {
    let n = s.len();
    if n > 24 {
        return [u64::MAX; 3];
    }
    let mut w = [0u64; 3];
    let mut k = 0;
    while k < 3 {
        let from = 8 * k;
        if n > from {
            let len = if n - from < 8 { n - from } else { 8 };
            w[k] = le_bytes(s, from, len);
        }
        k += 1;
    }
    w
}

/// [`words_of`] at run time, a few loads: the first and last bytes of a short name read as
/// two overlapping halves (the bytes they share land on the same places), the tail of a
/// longer one as its last eight bytes shifted down.
#[inline(always)]
fn name_words(s: &[u8]) -> [u64; 3] {
    let n = s.len();
    let word = |c: Option<&[u8; 8]>| c.map_or(0, |c| u64::from_le_bytes(*c));
    // The last eight bytes with the `8 * k - n` of them before byte `8 * (k - 1)` dropped.
    let tail = |k: usize| word(s.last_chunk::<8>()) >> (8 * (8 * k - n));
    match n {
        0 => [0; 3],
        1 => [s.first().map_or(0, |&c| u64::from(c)), 0, 0],
        2..=3 => {
            let half = |c: Option<&[u8; 2]>| c.map_or(0, |c| u64::from(u16::from_le_bytes(*c)));
            [half(s.first_chunk::<2>()) | half(s.last_chunk::<2>()) << (8 * (n - 2)), 0, 0]
        }
        4..=7 => {
            let half = |c: Option<&[u8; 4]>| c.map_or(0, |c| u64::from(u32::from_le_bytes(*c)));
            [half(s.first_chunk::<4>()) | half(s.last_chunk::<4>()) << (8 * (n - 4)), 0, 0]
        }
        8 => [word(s.first_chunk::<8>()), 0, 0],
        9..=16 => [word(s.first_chunk::<8>()), tail(2), 0],
        17..=24 => {
            [word(s.first_chunk::<8>()), word(s.get(8..).and_then(<[u8]>::first_chunk)), tail(3)]
        }
        _ => [u64::MAX; 3],
    }
}

// Runs at compile time only: every index is in range by construction.
#[allow(clippy::indexing_slicing)]
const fn compact_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        if let Some(c) = HeaderName::ALL[i].compact() {
            t[c.to_ascii_lowercase() as usize] = i as u8 + 1;
            t[c.to_ascii_uppercase() as usize] = i as u8 + 1;
        }
        i += 1;
    }
    t
}

// Runs at compile time only: every index is in range by construction.
#[allow(clippy::indexing_slicing)]
const fn bucket_table() -> [[u8; 3]; (MAX_NAME + 1) * 32] {
    let mut t = [[0u8; 3]; (MAX_NAME + 1) * 32];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        let name = HeaderName::ALL[i].as_str().as_bytes();
        if name.len() > 1 && name.len() <= MAX_NAME {
            let b = bucket_of(name.len(), name[0]);
            let mut j = 0;
            while j < 3 && t[b][j] != 0 {
                j += 1;
            }
            if j < 3 {
                t[b][j] = i as u8 + 1;
            }
        }
        i += 1;
    }
    t
}

/// The candidate `name` equals ignoring ASCII case, or `Other`: the slow path of
/// [`HeaderName::from_bytes`], kept out of line so the common path stays small.
#[cold]
#[inline(never)]
fn folded(bucket: [u8; 3], name: &[u8]) -> HeaderName {
    bucket
        .into_iter()
        .map(by_index)
        .take_while(|&c| c != HeaderName::Other)
        .find(|c| c.as_str().as_bytes().eq_ignore_ascii_case(name))
        .unwrap_or(HeaderName::Other)
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// [`words_of`], for the parser's tests of the words it reads.
#[cfg(test)]
pub(crate) fn words_of_for_tests(s: &[u8]) -> [u64; 3] {
    words_of(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_long_name_round_trips_in_any_case() {
        for &name in HeaderName::ALL {
            assert_eq!(HeaderName::from_bytes(name.as_str().as_bytes()), name, "{name}");
            let upper = name.as_str().to_ascii_uppercase();
            assert_eq!(HeaderName::from_bytes(upper.as_bytes()), name, "{upper}");
            let lower = name.as_str().to_ascii_lowercase();
            assert_eq!(HeaderName::from_bytes(lower.as_bytes()), name, "{lower}");
        }
    }

    #[test]
    fn every_compact_form_maps_to_its_long_name() {
        // RFC 3261 §7.3.3: implementations MUST accept both the long and short forms.
        for &name in HeaderName::ALL {
            if let Some(c) = name.compact() {
                assert_eq!(HeaderName::from_bytes(&[c]), name);
                assert_eq!(HeaderName::from_bytes(&[c.to_ascii_uppercase()]), name);
            }
        }
    }

    /// The definition: a compact form or a long name, ignoring ASCII case.
    fn reference(name: &[u8]) -> HeaderName {
        HeaderName::ALL
            .iter()
            .copied()
            .find(|n| {
                n.as_str().as_bytes().eq_ignore_ascii_case(name)
                    || (name.len() == 1
                        && n.compact().is_some_and(|c| c.eq_ignore_ascii_case(&name[0])))
            })
            .unwrap_or(HeaderName::Other)
    }

    #[test]
    fn the_table_lookup_agrees_with_the_definition() {
        for &name in HeaderName::ALL {
            let text = name.as_str().as_bytes();
            for i in 0..text.len() {
                // Every name with one byte changed, in every position.
                for c in [b'-', b'a', b'Z', b'0', b'@', text[i] ^ 0x20, text[i] ^ 0x01] {
                    let mut t = text.to_vec();
                    t[i] = c;
                    assert_eq!(HeaderName::from_bytes(&t), reference(&t), "{t:?}");
                }
                assert_eq!(HeaderName::from_bytes(&text[..i]), reference(&text[..i]));
            }
        }
        for c in 0..=255u8 {
            assert_eq!(HeaderName::from_bytes(&[c]), reference(&[c]));
            assert_eq!(HeaderName::from_bytes(&[c, b'o']), reference(&[c, b'o']));
        }
    }

    proptest::proptest! {
        #[test]
        fn name_words_are_the_compile_time_words(
            s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..30)
        ) {
            let expected = if s.len() <= 24 { words_of(&s) } else { [u64::MAX; 3] };
            proptest::prop_assert_eq!(name_words(&s), expected);
        }

        #[test]
        fn from_bytes_is_the_definition_on_name_like_bytes(
            s in proptest::collection::vec(
                proptest::sample::select(b"aAcCeEfFiIlLmMoOrRsStTvVxX-_.D".to_vec()), 0..22)
        ) {
            proptest::prop_assert_eq!(HeaderName::from_bytes(&s), reference(&s));
        }
    }

    #[test]
    fn equal_words_mean_equal_bytes_for_every_known_length() {
        // Every name, and every name with one byte changed, against every name of its length.
        for &a in HeaderName::ALL {
            let a = a.as_str().as_bytes();
            for &b in HeaderName::ALL {
                let b = b.as_str().as_bytes();
                if a.len() == b.len() && a.len() > 1 {
                    assert_eq!(name_words(a) == name_words(b), a == b);
                }
            }
            for i in 0..a.len() {
                let mut c = a.to_vec();
                c[i] ^= 0x01;
                if a.len() > 1 {
                    assert_ne!(name_words(a), name_words(&c));
                }
            }
        }
    }

    #[test]
    fn the_perfect_hash_has_one_slot_per_name() {
        let mut slots: Vec<usize> =
            HeaderName::ALL.iter().map(|n| hash_slot(words_of(n.as_str().as_bytes()))).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), HeaderName::ALL.len());
        for (i, &name) in HeaderName::ALL.iter().enumerate() {
            let slot = hash_slot(name_words(name.as_str().as_bytes()));
            assert_eq!(usize::from(HASH[slot]), i + 1, "{name}");
            assert_eq!(LENGTHS[i] as usize, name.as_str().len());
        }
    }

    #[test]
    fn near_misses_are_other() {
        for n in [&b""[..], b"Vias", b"Tox", b"Call-IE", b"z", b"C%6Fntact", b"Contact "] {
            assert_eq!(HeaderName::from_bytes(n), HeaderName::Other);
        }
    }
}
