//! Matching keys (RFC 3261 §17.1.3, §17.2.3, §8.2.2.2), branches, and the requests the
//! transaction layer builds itself (ACK for a non-2xx, §17.1.1.3; CANCEL, §9.1).

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use rand::RngCore;
use sip_message::{BuildError, HeaderName, Limits, Message, MessageBuilder, Method};
use smallvec::SmallVec;

/// The magic cookie that opens every RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// Random characters after the cookie in a generated branch.
const BRANCH_RANDOM_LEN: usize = 16;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// How many base-62 characters name a slot ([`write_slot_name`], [`read_slot_name`]): 62^4
/// is over 14.7 million slots.
pub const SLOT_NAME_LEN: usize = 4;

/// Writes slab slot `index` into `out` as [`SLOT_NAME_LEN`] base-62 characters (`0-9A-Za-z`,
/// most significant first); whether it did (an index of 62^4 or more, or an `out` of another
/// length, leaves `out` as it is).
///
/// A generated token that ends in its owner's slot name finds that owner without a hash
/// lookup: the table's branches name their client transaction's slot this way, and a user
/// agent's local tags can name their call's slot. The random characters before the name keep
/// the token unique (RFC 3261 §8.1.1.7, §19.3).
///
/// ```
/// use sip_transaction::{read_slot_name, write_slot_name};
/// let mut name = [b'x'; 4];
/// assert!(write_slot_name(&mut name, 123_456));
/// assert_eq!(read_slot_name(&name), Some(123_456));
/// assert_eq!(read_slot_name(b"a-bc"), None);
/// ```
#[inline]
pub fn write_slot_name(out: &mut [u8], index: u32) -> bool {
    if u64::from(index) >= 62u64.pow(SLOT_NAME_LEN as u32) || out.len() != SLOT_NAME_LEN {
        return false;
    }
    let mut n = index;
    for c in out.iter_mut().rev() {
        *c = ALPHABET.get((n % 62) as usize).copied().unwrap_or(b'0');
        n /= 62;
    }
    true
}

/// The slot index [`SLOT_NAME_LEN`] characters name ([`write_slot_name`]); `None` when `name`
/// has another length or a character that is not a base-62 digit.
#[inline]
pub fn read_slot_name(name: &[u8]) -> Option<u32> {
    /// Each byte's base-62 digit value, 62 for a byte that is none.
    // Evaluated when compiling: an index out of bounds would fail the build, not panic.
    #[allow(clippy::indexing_slicing)]
    const DIGITS: [u8; 256] = {
        let mut table = [62u8; 256];
        let mut i = 0;
        while i < 62 {
            table[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    if name.len() != SLOT_NAME_LEN {
        return None;
    }
    let mut n = 0u32;
    for &c in name {
        let digit = DIGITS.get(usize::from(c)).copied().unwrap_or(62);
        if digit >= 62 {
            return None;
        }
        n = n * 62 + u32::from(digit);
    }
    Some(n)
}

/// How many characters at the end of a branch the table generates name the slot of the client
/// transaction it is drawn for, so that a response finds its transaction without hashing the
/// branch; the 12 random characters left carry about 71 bits.
const BRANCH_SLOT_LEN: usize = SLOT_NAME_LEN;

/// Writes slot `index` as the last [`BRANCH_SLOT_LEN`] characters of `branch`
/// ([`write_slot_name`]); whether it fits (an index of 62^4 or more leaves the branch random).
pub(crate) fn name_slot(branch: &mut [u8; BRANCH_LEN], index: u32) -> bool {
    branch.get_mut(BRANCH_LEN - BRANCH_SLOT_LEN..).is_some_and(|name| write_slot_name(name, index))
}

/// The slot a branch names (see [`name_slot`]): a branch of the generated length, by its last
/// [`BRANCH_SLOT_LEN`] characters, or such a branch followed by `.` and anything (a proxy's
/// branch, a drawn one with its loop-detection part appended, RFC 3261 §16.6 step 8), by the
/// same characters before the `.`; `None` for any other branch. Only a transaction whose
/// branch is known to name its own slot is looked for there.
#[inline]
pub(crate) fn branch_slot(branch: &[u8]) -> Option<u32> {
    if branch.len() == BRANCH_LEN {
        return read_slot_name(branch.get(BRANCH_LEN - BRANCH_SLOT_LEN..)?);
    }
    dotted_branch_slot(branch)
}

/// [`branch_slot`] of a branch longer than the generated length: named if a `.` follows it.
#[inline(never)]
fn dotted_branch_slot(branch: &[u8]) -> Option<u32> {
    match branch.split_first_chunk::<BRANCH_LEN>() {
        Some((generated, [b'.', ..])) => read_slot_name(generated.last_chunk::<BRANCH_SLOT_LEN>()?),
        _ => None,
    }
}

/// What a UAS core needs to detect a merged request (RFC 3261 §8.2.2.2): From tag, Call-ID and
/// CSeq. Two requests without a To tag that share it but match different transactions arrived
/// over different paths; the UAS answers the later one 482 (Loop Detected).
///
/// The tag and the Call-ID are ranges of the request's shared buffer (a reference count, no
/// copy), so a key keeps that buffer alive. Equality and hashing look at the values only.
#[derive(Clone)]
pub struct MergeKey {
    buf: Bytes,
    from_tag: (u32, u32),
    call_id: (u32, u32),
    cseq: u32,
    method: Method,
}

impl MergeKey {
    /// The key of a request; `None` for a response or a request without From tag, Call-ID or
    /// CSeq.
    #[must_use]
    pub fn of(request: &Message) -> Option<MergeKey> {
        if !request.is_request() {
            return None;
        }
        // As bytes: the parser keeps only a token tag and a `word ["@" word]` Call-ID, so
        // the UTF-8 checks of `from_tag` and `call_id` could not fail.
        let (from_tag, call_id) = (request.from_tag_bytes()?, request.call_id_bytes()?);
        let cseq = request.cseq_number()?;
        let method = request.cseq_method()?.clone();
        let buf = request.buffer();
        let (buf, from_tag, call_id) = match (range_in(buf, from_tag), range_in(buf, call_id)) {
            (Some(f), Some(c)) => (buf.clone(), f, c),
            // An edited message: the values live outside its buffer, so copy them.
            _ => {
                let mut copy = Vec::with_capacity(from_tag.len() + call_id.len());
                copy.extend_from_slice(from_tag);
                copy.extend_from_slice(call_id);
                let split = u32::try_from(from_tag.len()).ok()?;
                let end = u32::try_from(copy.len()).ok()?;
                (Bytes::from(copy), (0, split), (split, end))
            }
        };
        Some(MergeKey { buf, from_tag, call_id, cseq, method })
    }

    fn part(&self, (start, end): (u32, u32)) -> &[u8] {
        self.buf.get(start as usize..end as usize).unwrap_or_default()
    }

    /// The From tag.
    #[must_use]
    pub fn from_tag(&self) -> &str {
        std::str::from_utf8(self.part(self.from_tag)).unwrap_or_default()
    }

    /// The Call-ID.
    #[must_use]
    pub fn call_id(&self) -> &str {
        std::str::from_utf8(self.part(self.call_id)).unwrap_or_default()
    }

    /// The CSeq number.
    #[must_use]
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The CSeq method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }
}

impl PartialEq for MergeKey {
    fn eq(&self, other: &Self) -> bool {
        self.cseq == other.cseq
            && self.method == other.method
            && self.part(self.from_tag) == other.part(other.from_tag)
            && self.part(self.call_id) == other.part(other.call_id)
    }
}

impl Eq for MergeKey {}

impl Hash for MergeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.part(self.from_tag).hash(state);
        self.part(self.call_id).hash(state);
        self.cseq.hash(state);
        self.method.hash(state);
    }
}

impl fmt::Debug for MergeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MergeKey")
            .field("from_tag", &self.from_tag())
            .field("call_id", &self.call_id())
            .field("cseq", &self.cseq)
            .field("method", &self.method)
            .finish()
    }
}

/// Where `part` lies in `buf`, if it is a sub-slice of it.
fn range_in(buf: &Bytes, part: &[u8]) -> Option<(u32, u32)> {
    span_at(buf, part.as_ptr() as usize, part.len())
}

/// The range of `buf` that starts at address `at` and is `len` long, if `buf` holds it.
fn span_at(buf: &[u8], at: usize, len: usize) -> Option<(u32, u32)> {
    let start = at.checked_sub(buf.as_ptr() as usize)?;
    let end = start.checked_add(len)?;
    if end > buf.len() {
        return None;
    }
    Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
}

/// Where `part` occurs in `buf`: at address `hint` when `part` was read from there (no search),
/// else its first occurrence.
pub(crate) fn locate(buf: &[u8], hint: usize, part: &[u8]) -> Option<(u32, u32)> {
    if let Some((start, end)) = span_at(buf, hint, part.len()) {
        if buf.get(start as usize..end as usize) == Some(part) {
            return Some((start, end));
        }
    }
    let start = find(buf, part)?;
    span_at(buf, buf.as_ptr() as usize + start, part.len())
}

/// Where `part` lies in `buf`: its own place when it is a sub-slice of `buf` (`part` is then
/// those very bytes, so they are not compared), else its first occurrence. For a `part`
/// borrowed from where it was read; [`locate`] takes the address instead.
pub(crate) fn locate_borrowed(buf: &[u8], part: &[u8]) -> Option<(u32, u32)> {
    // Both slices are live: if `part`'s memory lies within `buf`'s, it is part of that buffer.
    if let Some(range) = span_at(buf, part.as_ptr() as usize, part.len()) {
        return Some(range);
    }
    let start = find(buf, part)?;
    span_at(buf, buf.as_ptr() as usize + start, part.len())
}

/// The first occurrence of `part` in `buf`, as `memchr::memmem::find` gives it, found by
/// checking each occurrence of its first byte: a branch starts with `z`, rare in a message
/// before the top Via, so this beats building a substring searcher for one search.
fn find(buf: &[u8], part: &[u8]) -> Option<usize> {
    let Some(&first) = part.first() else { return Some(0) };
    memchr::memchr_iter(first, buf)
        .find(|&i| buf.get(i..).is_some_and(|rest| rest.starts_with(part)))
}

/// Whether a branch carries the RFC 3261 magic cookie (§17.2.3).
pub(crate) fn has_cookie(branch: &[u8]) -> bool {
    branch.starts_with(BRANCH_COOKIE.as_bytes())
}

/// A branch or a canonical sent-by, inline up to 24 bytes (a generated branch is 23, an IPv4
/// sent-by with port at most 21), so the usual key costs no allocation.
pub(crate) type KeyBytes = SmallVec<[u8; 24]>;

/// Length of a branch the table generates.
pub(crate) const BRANCH_LEN: usize = BRANCH_COOKIE.len() + BRANCH_RANDOM_LEN;

/// A fresh branch: the cookie plus random alphanumerics from the seeded generator (eight
/// base-62 digits from each of two 64-bit draws; the bias of such a digit is below 2^-16).
pub(crate) fn new_branch_bytes(rng: &mut impl RngCore) -> [u8; BRANCH_LEN] {
    let mut branch = [0u8; BRANCH_LEN];
    let (cookie, random) = branch.split_at_mut(BRANCH_COOKIE.len());
    cookie.copy_from_slice(BRANCH_COOKIE.as_bytes());
    for half in random.chunks_mut(BRANCH_RANDOM_LEN / 2) {
        base62_digits(rng.next_u64(), half);
    }
    branch
}

/// 62^4: four base-62 digits, below 2^24.
const BASE62_4: u64 = 62 * 62 * 62 * 62;

/// The first `out.len()` (at most 8) base-62 digits of `draw`, least significant first, as
/// characters: what `draw % 62` then `draw /= 62`, once per digit, writes. The 64-bit number
/// is split once into two 4-digit halves below 2^24, whose digits take 32-bit arithmetic.
fn base62_digits(draw: u64, out: &mut [u8]) {
    // draw = high * 62^4 + low: digits 0-3 are low's, digits 4-7 those of high mod 62^4.
    let low = (draw % BASE62_4) as u32;
    let high = ((draw / BASE62_4) % BASE62_4) as u32;
    let (first, second) = out.split_at_mut(out.len().min(4));
    for (c, mut part) in [(first, low), (second, high)] {
        // Four digits (every half of a branch): two pairs, one division each.
        if let Ok(four) = <&mut [u8; 4]>::try_from(&mut *c) {
            let [a, b] = digit_pair(part % BASE62_2);
            let [c, d] = digit_pair(part / BASE62_2);
            *four = [a, b, c, d];
            continue;
        }
        for c in c {
            *c = ALPHABET.get((part % 62) as usize).copied().unwrap_or(b'0');
            part /= 62;
        }
    }
}

/// 62^2: two base-62 digits.
const BASE62_2: u32 = 62 * 62;

/// Every pair of base-62 digits, least significant first: entry `n` is the two digits of `n`.
// Built at compile time, where an index out of range fails the build: nothing here runs.
#[allow(clippy::indexing_slicing)]
static DIGIT_PAIRS: [[u8; 2]; BASE62_2 as usize] = {
    let mut pairs = [[0u8; 2]; BASE62_2 as usize];
    let mut n = 0;
    while n < BASE62_2 as usize {
        pairs[n] = [ALPHABET[n % 62], ALPHABET[n / 62]];
        n += 1;
    }
    pairs
};

/// The two base-62 digits of `n` (below 62^2), least significant first.
fn digit_pair(n: u32) -> [u8; 2] {
    DIGIT_PAIRS.get(n as usize).copied().unwrap_or([b'0'; 2])
}

/// A fresh branch as a `String`.
pub(crate) fn new_branch(rng: &mut impl RngCore) -> String {
    // The bytes are ASCII, so the conversion cannot fail; it is one check, not a char loop.
    String::from_utf8(new_branch_bytes(rng).to_vec()).unwrap_or_default()
}

/// Limits for re-reading bytes the table serialised or received itself: they parsed (or were
/// written from a parsed message) once, so nothing a parser limit guards against applies.
fn reread_limits() -> Limits {
    Limits::default()
        .max_message_size(usize::MAX)
        .max_headers(usize::MAX)
        .max_line_length(usize::MAX)
        .allow_bare_lf(true)
}

/// Parses a request the table kept as bytes (the table keeps the serialised request, not its
/// parsed index and keys).
pub(crate) fn reparse(bytes: &Bytes) -> Option<Message> {
    Message::parse_with(bytes.clone(), &reread_limits()).ok()
}

/// `fmt::Write` into key bytes.
struct KeyWriter<'a>(&'a mut KeyBytes);

impl fmt::Write for KeyWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The top Via sent-by of `message`, canonical for comparison (§17.2.3 rule 2): host and port
/// as the typed [`Via`](sip_message::Via) view reads them, a domain in lower case, an IP address
/// in its standard form, a port as a number. Read straight from the raw value (the typed view
/// also parses every parameter, about twenty times the work); a host or port that is no valid
/// address or number is compared as written, in lower case, so matching stays as lenient as
/// the message parser.
pub(crate) fn top_sent_by(message: &Message) -> Option<KeyBytes> {
    // The first Via line as written: `sent_by` stops at the first element's end, so the line
    // need not be split into its comma-separated values first.
    via_sent_by(message.header_lines(HeaderName::Via).next()?)
}

/// [`top_sent_by`] of a top Via line.
fn via_sent_by(via: &[u8]) -> Option<KeyBytes> {
    plain_sent_by(via).or_else(|| sent_by(via).map(canonical_sent_by))
}

/// [`top_sent_by`] with the last answer kept: requests from one peer carry the same sent-by,
/// and what [`via_sent_by`] makes of a Via line depends only on the line's head, the bytes
/// before its first `;` or `,` (the sent-protocol and the sent-by; the branch and other
/// parameters come after). A line with the same head gets the same answer by one comparison
/// instead of a scan of the host and port.
#[derive(Debug, Default)]
pub(crate) struct SentByMemo {
    /// The head of the last line read: no `;` or `,` in it.
    head: SmallVec<[u8; 48]>,
    /// What [`via_sent_by`] made of it; meaningful once `kept`.
    sent: Option<KeyBytes>,
    kept: bool,
}

impl SentByMemo {
    /// Reads the top Via sent-by of `message` ([`top_sent_by`]) into the memo; `false` when
    /// there is none (then [`current`](Self::current) means nothing). Nothing is copied out:
    /// the caller reads it with `current`, and copies it only to keep it.
    pub(crate) fn read(&mut self, message: &Message) -> bool {
        match message.header_lines(HeaderName::Via).next() {
            Some(via) => self.read_line(via),
            None => false,
        }
    }

    /// The sent-by the last successful [`read`](Self::read) found.
    pub(crate) fn current(&self) -> &[u8] {
        self.sent.as_deref().unwrap_or_default()
    }

    /// [`via_sent_by`] of the Via line `via`, into the memo; whether there is one.
    fn read_line(&mut self, via: &[u8]) -> bool {
        // The kept head has no `;` or `,`, so when the line starts with it and goes on with
        // one of those (or ends), the line's head is exactly the kept one.
        if self.kept
            && via.starts_with(&self.head)
            && matches!(via.get(self.head.len()), None | Some(b';' | b','))
        {
            return self.sent.is_some();
        }
        self.sent = via_sent_by(via);
        let head_len = memchr::memchr2(b';', b',', via).unwrap_or(via.len());
        self.head.clear();
        self.head.extend_from_slice(via.get(..head_len).unwrap_or_default());
        self.kept = true;
        self.sent.is_some()
    }

    /// [`via_sent_by`] of the Via line `via`, through the memo.
    #[cfg(test)]
    fn of_line(&mut self, via: &[u8]) -> Option<KeyBytes> {
        self.read_line(via).then(|| KeyBytes::from_slice(self.current()))
    }
}

/// [`sent_by`] then [`canonical_sent_by`] in one pass, for the value nearly every user agent
/// writes: `SIP/2.0/`, a transport of letters and digits, one space, a host of lower-case
/// letters, digits, `-` and `.`, and an optional `:port` of one to five digits without a
/// leading zero, then `;`, `,` or the end. A host of digits and dots only must be a dotted quad
/// without leading zeros, and the port at most 65535: the slow path returns such a value as it
/// is, which is what this returns. `None` for any other value (the slow path decides).
fn plain_sent_by(via: &[u8]) -> Option<KeyBytes> {
    let rest = via.strip_prefix(b"SIP/2.0/")?;
    let transport = rest.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if transport == 0 {
        return None;
    }
    let value = rest.get(transport..)?.strip_prefix(b" ")?;
    // The host, and whether it is a plain dotted quad: four dot-separated octets, each `0` or
    // a digit 1-9 then digits, at most 255 (which also bounds each to three digits).
    let (mut host_len, mut numeric) = (0, true);
    let (mut dots, mut octet, mut digits, mut quad) = (0u32, 0u32, 0u32, true);
    for &c in value {
        match c {
            b'0'..=b'9' => {
                quad &= !(digits == 1 && octet == 0);
                octet = (octet * 10 + u32::from(c - b'0')).min(256);
                quad &= octet <= 255;
                digits += 1;
            }
            b'.' => {
                quad &= digits > 0 && dots < 3;
                (dots, octet, digits) = (dots + 1, 0, 0);
            }
            b'a'..=b'z' | b'-' => numeric = false,
            _ => break,
        }
        host_len += 1;
    }
    let (host, after) = value.split_at_checked(host_len)?;
    if host.is_empty() || (numeric && !(quad && dots == 3 && digits > 0)) {
        return None;
    }
    let (digits, after) = match after.strip_prefix(b":") {
        Some(port) => {
            let n = port.iter().take_while(|c| c.is_ascii_digit()).count();
            let (digits, after) = port.split_at_checked(n)?;
            let plain = matches!(digits, [_]) || matches!(digits, [b'1'..=b'9', ..]);
            if !plain || number(digits, 5).is_none_or(|p| p > u32::from(u16::MAX)) {
                return None;
            }
            (n + 1, after)
        }
        None => (0, after),
    };
    if !matches!(after.first(), None | Some(b';' | b',')) {
        return None;
    }
    value.get(..host_len + digits).map(KeyBytes::from_slice)
}

/// Rewrites a lower-case, whitespace-free sent-by with IP addresses and port in standard form;
/// the usual value (a domain or a plain dotted quad, a port without leading zeros) is returned
/// as it is, without formatting anything.
fn canonical_sent_by(raw: KeyBytes) -> KeyBytes {
    let (host, port) = match raw.strip_prefix(b"[") {
        Some(rest) => match rest.iter().position(|&c| c == b']') {
            Some(end) => raw.split_at(end + 2),
            None => return raw,
        },
        None => match raw.iter().rposition(|&c| c == b':') {
            Some(colon) => raw.split_at(colon),
            None => (&raw[..], &b""[..]),
        },
    };
    let port_digits = port.strip_prefix(b":");
    let port_value = port_digits.and_then(|d| u16::try_from(number(d, 5)?).ok());
    let port_plain = match port_digits {
        None => true,
        Some(d) => port_value.is_some() && !(d.len() > 1 && d.first() == Some(&b'0')),
    };
    let ipv4 = dotted_quad(host);
    let ipv4_plain = ipv4.is_none()
        || host.split(|&c| c == b'.').all(|o| o.len() == 1 || o.first() != Some(&b'0'));
    let is_ipv6 = host.first() == Some(&b'[');
    if port_plain && ipv4_plain && !is_ipv6 {
        return raw;
    }
    let mut out = KeyBytes::new();
    let mut w = KeyWriter(&mut out);
    // Writing into a vector cannot fail.
    let _ = match (ipv4, is_ipv6) {
        (Some(a), _) => write!(w, "{a}"),
        (None, true) => {
            let inner = host.get(1..host.len().saturating_sub(1)).unwrap_or_default();
            match std::str::from_utf8(inner).ok().and_then(|t| t.parse::<Ipv6Addr>().ok()) {
                Some(a) => write!(w, "[{a}]"),
                None => {
                    w.0.extend_from_slice(host);
                    Ok(())
                }
            }
        }
        (None, false) => {
            w.0.extend_from_slice(host);
            Ok(())
        }
    };
    let _ = match (port_value, port_digits) {
        (Some(p), _) => write!(w, ":{p}"),
        (None, Some(_)) => {
            w.0.extend_from_slice(port);
            Ok(())
        }
        (None, None) => Ok(()),
    };
    out
}

/// The value of 1 to `max` decimal digits.
fn number(digits: &[u8], max: usize) -> Option<u32> {
    if digits.is_empty() || digits.len() > max {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

/// A dotted quad as RFC 3261's `IPv4address` (one to three digits per octet, leading zeros
/// allowed, as the message parser reads it).
fn dotted_quad(host: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = host.split(|&c| c == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        *octet = u8::try_from(number(part, 3)?).ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// The sent-by of a raw Via value (RFC 3261 §20.42:
/// `via-parm = sent-protocol LWS sent-by *( SEMI via-params )`), without whitespace and in
/// lower case so that comparisons ignore the case of the host.
pub(crate) fn sent_by(via: &[u8]) -> Option<KeyBytes> {
    let (_, rest) = via_transport(via)?;
    let end = memchr::memchr2(b';', b',', rest).unwrap_or(rest.len());
    let raw = rest.get(..end)?.trim_ascii();
    let mut sent = KeyBytes::new();
    if raw.iter().any(u8::is_ascii_whitespace) {
        sent.extend(raw.iter().copied().filter(|c| !c.is_ascii_whitespace()));
    } else {
        sent.extend_from_slice(raw);
    }
    sent.make_ascii_lowercase();
    if sent.is_empty() { None } else { Some(sent) }
}

/// Splits a raw Via value at its transport token: returns the token's range and what follows
/// it (LWS, the sent-by, the parameters). `sent-protocol` is `name SLASH version SLASH
/// transport`; the sent-by follows the last slash's transport token and LWS (IPv6 references,
/// `[::1]:5060`, hold no slash, and the parameters come after the first `;`).
fn via_transport(via: &[u8]) -> Option<(std::ops::Range<usize>, &[u8])> {
    let head_len = memchr::memchr2(b';', b',', via).unwrap_or(via.len());
    let head = via.get(..head_len)?;
    let last_slash = head.iter().rposition(|&c| c == b'/')?;
    let after = head.get(last_slash + 1..)?;
    let start = last_slash + 1 + after.iter().position(|c| !c.is_ascii_whitespace())?;
    let token_len = head.get(start..)?.iter().position(u8::is_ascii_whitespace)?;
    let end = start + token_len;
    Some((start..end, via.get(end..)?))
}

/// The top Via value with its transport token replaced by `transport` (RFC 3261 §18.1.1: "the
/// value in the top Via MUST be changed"); `None` when the value has no transport token.
pub(crate) fn with_via_transport(via: &[u8], transport: &str) -> Option<Vec<u8>> {
    let (token, rest) = via_transport(via)?;
    let mut out = Vec::with_capacity(via.len() + transport.len());
    out.extend_from_slice(via.get(..token.start)?);
    out.extend_from_slice(transport.as_bytes());
    out.extend_from_slice(rest);
    Some(out)
}

/// What RFC 2543 matching compares (§17.2.3, for branches without the cookie): Request-URI, To
/// tag, From tag, Call-ID, CSeq and the top Via, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LegacyKey {
    pub(crate) request_uri: Box<str>,
    pub(crate) to_tag: Option<Box<str>>,
    pub(crate) from_tag: Option<Box<str>>,
    pub(crate) call_id: Box<str>,
    pub(crate) cseq: u32,
    pub(crate) method: Method,
    pub(crate) top_via: Bytes,
}

impl LegacyKey {
    pub(crate) fn of(request: &Message) -> Option<LegacyKey> {
        Some(LegacyKey {
            request_uri: request.request_uri_str()?.into(),
            to_tag: request.to_tag().map(Into::into),
            from_tag: request.from_tag().map(Into::into),
            call_id: request.call_id()?.into(),
            cseq: request.cseq_number()?,
            method: request.cseq_method()?.clone(),
            top_via: request.header_bytes(HeaderName::Via)?,
        })
    }

    /// The part the table's index hashes on: Call-ID and CSeq number.
    pub(crate) fn hash_key(&self) -> (&str, u32) {
        (&self.call_id, self.cseq)
    }

    /// The fields every legacy match compares: Request-URI, From tag, Call-ID, CSeq number and
    /// top Via.
    fn common(&self, other: &LegacyKey) -> bool {
        self.request_uri == other.request_uri
            && self.from_tag == other.from_tag
            && self.call_id == other.call_id
            && self.cseq == other.cseq
            && self.top_via == other.top_via
    }

    /// §17.2.3: a request other than ACK matches when all fields, CSeq method and To tag
    /// included, are equal.
    pub(crate) fn matches_request(&self, other: &LegacyKey) -> bool {
        self.common(other) && self.method == other.method && self.to_tag == other.to_tag
    }

    /// §17.2.3: an ACK matches the INVITE when the common fields are equal and its To tag is the
    /// tag of the response the server transaction sent.
    pub(crate) fn matches_ack(&self, ack: &LegacyKey, response_to_tag: Option<&str>) -> bool {
        self.method == Method::Invite
            && self.common(ack)
            && ack.to_tag.as_deref() == response_to_tag.or(self.to_tag.as_deref())
    }

    /// §9.2 with §17.2.3: a CANCEL matches the INVITE it cancels as if its method were INVITE.
    pub(crate) fn matches_cancel(&self, cancel: &LegacyKey) -> bool {
        self.method == Method::Invite && self.common(cancel) && self.to_tag == cancel.to_tag
    }
}

/// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): Request-URI, Call-ID and From of
/// the original request, To of the response, a single Via equal to the original's top Via, the
/// original's Route headers, the original's CSeq number with method ACK.
pub(crate) fn build_ack(original: &Message, response: &Message) -> Result<Message, BuildError> {
    build_from_original(original, &Method::Ack, response.to_header())
}

/// The CANCEL for a client INVITE (RFC 3261 §9.1): as the ACK, but with the original's To.
pub(crate) fn build_cancel(original: &Message) -> Result<Message, BuildError> {
    build_from_original(original, &Method::Cancel, original.to_header())
}

fn build_from_original(
    original: &Message,
    method: &Method,
    to: Option<&[u8]>,
) -> Result<Message, BuildError> {
    let uri = original.request_uri_str().unwrap_or_default();
    let mut b = MessageBuilder::request(method, uri);
    if let Some(via) = original.top_via() {
        b = b.header(HeaderName::Via, via);
    }
    for route in original.header_lines(HeaderName::Route) {
        b = b.header(HeaderName::Route, route);
    }
    b = b.header(HeaderName::MaxForwards, "70");
    if let Some(to) = to {
        b = b.header(HeaderName::To, to);
    }
    if let Some(from) = original.from_header() {
        b = b.header(HeaderName::From, from);
    }
    if let Some(call_id) = original.header(HeaderName::CallId) {
        b = b.header(HeaderName::CallId, call_id);
    }
    let cseq = original.cseq_number().unwrap_or_default();
    b = b.header(HeaderName::CSeq, format!("{cseq} {method}"));
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn base62_digits_at_the_edges() {
        for draw in [0, 1, BASE62_4 - 1, BASE62_4, BASE62_4 * BASE62_4 - 1, u64::MAX] {
            let mut split = [0u8; 8];
            base62_digits(draw, &mut split);
            let mut rest = draw;
            for c in split {
                assert_eq!(c, ALPHABET[(rest % 62) as usize], "{draw}");
                rest /= 62;
            }
        }
    }

    proptest::proptest! {
        // The split digits are the digit-by-digit ones.
        #[test]
        fn base62_digits_are_the_digit_by_digit_ones(draw in proptest::num::u64::ANY, len in 0..=8usize) {
            let mut split = [0u8; 8];
            base62_digits(draw, &mut split[..len]);
            let mut one_by_one = [0u8; 8];
            let mut rest = draw;
            for c in &mut one_by_one[..len] {
                *c = ALPHABET[(rest % 62) as usize];
                rest /= 62;
            }
            proptest::prop_assert_eq!(split, one_by_one);
        }

        // A part borrowed from the buffer is found where it lies, as the address check with
        // the comparison finds it; a part held elsewhere is searched for, as `locate` does.
        #[test]
        fn locate_borrowed_is_locate(
            buf in proptest::collection::vec(proptest::sample::select(b"az9;=".to_vec()), 0..64),
            a in 0..64usize,
            len in 0..8usize,
        ) {
            let start = a.min(buf.len());
            let end = (start + len).min(buf.len());
            let part = &buf[start..end];
            let hint = part.as_ptr() as usize;
            proptest::prop_assert_eq!(locate_borrowed(&buf, part), locate(&buf, hint, part));
            proptest::prop_assert_eq!(
                locate_borrowed(&buf, part),
                Some((start as u32, end as u32))
            );
            let copy = part.to_vec();
            proptest::prop_assert_eq!(locate_borrowed(&buf, &copy), locate(&buf, 0, &copy));
        }

        // A named slot reads back; a slot too large to name leaves the branch as drawn.
        #[test]
        fn a_branch_names_its_slot(draw in proptest::num::u64::ANY, index in proptest::num::u32::ANY) {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(draw);
            let drawn = new_branch_bytes(&mut rng);
            let mut branch = drawn;
            let named = name_slot(&mut branch, index);
            proptest::prop_assert_eq!(named, u64::from(index) < 62u64.pow(BRANCH_SLOT_LEN as u32));
            if named {
                proptest::prop_assert_eq!(branch_slot(&branch), Some(index));
                proptest::prop_assert_eq!(&branch[..BRANCH_LEN - BRANCH_SLOT_LEN], &drawn[..BRANCH_LEN - BRANCH_SLOT_LEN]);
                proptest::prop_assert!(has_cookie(&branch));
            } else {
                proptest::prop_assert_eq!(branch, drawn);
            }
            proptest::prop_assert_eq!(branch_slot(&branch[1..]), None);
        }

        // A named branch followed by `.` and anything (a proxy's loop part) names the same
        // slot; followed by anything else, or cut short, none.
        #[test]
        fn a_branch_with_a_dotted_suffix_names_its_slot(
            draw in proptest::num::u64::ANY,
            index in 0u32..62 * 62 * 62 * 62,
            suffix in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            other in proptest::num::u8::ANY,
        ) {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(draw);
            let mut branch = new_branch_bytes(&mut rng);
            proptest::prop_assert!(name_slot(&mut branch, index));
            let mut long = branch.to_vec();
            long.push(b'.');
            long.extend_from_slice(&suffix);
            proptest::prop_assert_eq!(branch_slot(&long), Some(index));
            let mut wrong = branch.to_vec();
            wrong.push(other);
            wrong.extend_from_slice(&suffix);
            let expected = (other == b'.').then_some(index);
            proptest::prop_assert_eq!(branch_slot(&wrong), expected);
            proptest::prop_assert_eq!(branch_slot(&long[..BRANCH_LEN - 1]), None);
        }

        // The first-byte scan finds the first occurrence, as memmem does.
        #[test]
        fn find_is_memmem_find(
            buf in proptest::collection::vec(proptest::sample::select(b"z9hGab;".to_vec()), 0..64),
            part in proptest::collection::vec(proptest::sample::select(b"z9hGab;".to_vec()), 0..6),
        ) {
            proptest::prop_assert_eq!(find(&buf, &part), memchr::memmem::find(&buf, &part));
        }
    }

    fn text(key: Option<KeyBytes>) -> Option<String> {
        key.map(|k| String::from_utf8(k.to_vec()).unwrap())
    }

    #[test]
    fn the_plain_sent_by_is_the_canonical_one() {
        for via in [
            &b"SIP/2.0/UDP 127.0.0.1:25091;branch=z9hG4bK-1-0"[..],
            b"SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK1",
            b"SIP/2.0/TLS a-b.example.com:5061",
            b"SIP/2.0/UDP 10.0.0.1, SIP/2.0/UDP 10.0.0.2",
            b"SIP/2.0/UDP 1.2.3.4:0;rport",
            b"SIP/2.0/UDP 0.0.0.0:65535",
            b"SIP/2.0/UDP 255.255.255.255",
        ] {
            let fast = plain_sent_by(via);
            assert!(fast.is_some(), "{}", String::from_utf8_lossy(via));
            assert_eq!(fast, sent_by(via).map(canonical_sent_by));
        }
        for via in [
            &b"SIP/2.0/UDP 010.0.0.1:5060"[..],
            b"SIP/2.0/UDP 1.2.3:5060",
            b"SIP/2.0/UDP 256.1.1.1",
            b"SIP/2.0/UDP 1..2.3.4",
            b"SIP/2.0/UDP 1.2.3.4.5",
            b"SIP/2.0/UDP 1.2.3.",
            b"SIP/2.0/UDP 1.2.3.0400",
            b"SIP/2.0/UDP 10.0.0.1:05060",
            b"SIP/2.0/UDP 10.0.0.1:65536",
            b"SIP/2.0/UDP Pc33.atlanta.com",
            b"SIP/2.0/UDP  10.0.0.1",
            b"SIP/2.0/UDP 10.0.0.1 ;rport",
            b"SIP/2.0/UDP [::1]:5060",
            b"SIP/2.0/UDP 10.0.0.1:",
        ] {
            assert_eq!(plain_sent_by(via), None, "{}", String::from_utf8_lossy(via));
        }
    }

    proptest::proptest! {
        /// The one-pass path gives what the general one does whenever it answers.
        #[test]
        fn plain_sent_by_agrees_with_the_general_path(
            via in "(SIP/2\\.0/|sip/2\\.0/)?[A-Za-z]{0,4}[ \t]{0,2}[0-9a-zA-Z.:\\-\\[\\]]{0,22}([;,][a-z=0-9]{0,8})?"
        ) {
            let via = via.as_bytes();
            if let Some(fast) = plain_sent_by(via) {
                proptest::prop_assert_eq!(Some(fast), sent_by(via).map(canonical_sent_by));
            }
        }

        /// The same over values shaped like the usual ones, so that the fast path answers
        /// often.
        #[test]
        fn plain_sent_by_agrees_on_usual_values(
            host in "([0-9]{1,3}\\.){3}[0-9]{1,4}|[0-9.]{1,17}|[a-z0-9.\\-]{1,12}",
            port in proptest::option::of("[0-9]{1,6}"),
            tail in "(;branch=z9hG4bK[a-z0-9]{1,6})?(, SIP/2\\.0/UDP x)?",
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let via = format!("SIP/2.0/UDP {host}{port}{tail}");
            let via = via.as_bytes();
            if let Some(fast) = plain_sent_by(via) {
                proptest::prop_assert_eq!(Some(fast), sent_by(via).map(canonical_sent_by));
            }
        }
    }

    #[test]
    fn sent_by_is_host_and_port_without_whitespace() {
        // RFC 3261 §20.42: via-parm = sent-protocol LWS sent-by *( SEMI via-params )
        assert_eq!(
            text(sent_by(b"SIP/2.0/UDP pc33.Atlanta.com;branch=z9hG4bK1")).as_deref(),
            Some("pc33.atlanta.com")
        );
        assert_eq!(
            text(sent_by(b"SIP / 2.0 / TCP  10.0.0.1 : 5070 ;rport")).as_deref(),
            Some("10.0.0.1:5070")
        );
        assert_eq!(
            text(sent_by(b"SIP/2.0/UDP [2001:db8::1]:5060")).as_deref(),
            Some("[2001:db8::1]:5060")
        );
        assert_eq!(sent_by(b"SIP/2.0/UDP"), None);
        // A whole Via line: the first element's sent-by.
        assert_eq!(
            text(sent_by(b"SIP/2.0/UDP a.example.com, SIP/2.0/TCP b.example.com;branch=z9hG4bK2"))
                .as_deref(),
            Some("a.example.com")
        );
        assert_eq!(sent_by(b"garbage"), None);
    }

    proptest::proptest! {
        /// The memo answers what a fresh read of each line gives, over runs of lines that
        /// often share a head (so that it answers from what it kept) and sometimes differ in
        /// it only by a byte, a terminator or a length.
        #[test]
        fn the_sent_by_memo_answers_what_a_fresh_read_does(
            lines in proptest::collection::vec(
                "SIP/2\\.0/(UDP|tcp) (10\\.0\\.0\\.1|10\\.0\\.0\\.10|A\\.b|a\\.b)(:5060|:50600|:0|)([;,][a-z=0-9]{0,6})?",
                1..24,
            ),
        ) {
            let mut memo = SentByMemo::default();
            for line in &lines {
                let line = line.as_bytes();
                proptest::prop_assert_eq!(memo.of_line(line), via_sent_by(line));
            }
        }
    }

    #[test]
    fn the_sent_by_memo_tells_heads_apart() {
        let mut memo = SentByMemo::default();
        let of = |memo: &mut SentByMemo, v: &str| text(memo.of_line(v.as_bytes()));
        assert_eq!(
            of(&mut memo, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1").as_deref(),
            Some("10.0.0.1")
        );
        // Same head, other parameters: the kept answer.
        assert_eq!(
            of(&mut memo, "SIP/2.0/UDP 10.0.0.1,SIP/2.0/UDP x").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(of(&mut memo, "SIP/2.0/UDP 10.0.0.1").as_deref(), Some("10.0.0.1"));
        // A longer head that starts with the kept one is read afresh.
        assert_eq!(of(&mut memo, "SIP/2.0/UDP 10.0.0.10;rport").as_deref(), Some("10.0.0.10"));
        assert_eq!(
            of(&mut memo, "SIP/2.0/UDP 10.0.0.10:5070;rport").as_deref(),
            Some("10.0.0.10:5070")
        );
        // And a shorter one.
        assert_eq!(of(&mut memo, "SIP/2.0/UDP 10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(of(&mut memo, "garbage").as_deref(), None);
        assert_eq!(of(&mut memo, "garbage;x").as_deref(), None);
    }

    #[test]
    fn typed_sent_by_is_canonical() {
        let via = |v: &str| {
            let m = MessageBuilder::request(&Method::Options, "sip:a@b")
                .header(HeaderName::Via, v)
                .build()
                .unwrap();
            text(top_sent_by(&m))
        };
        assert_eq!(
            via("SIP/2.0/UDP Pc33.Atlanta.COM;branch=z9hG4bK1").as_deref(),
            Some("pc33.atlanta.com")
        );
        assert_eq!(via("SIP/2.0/TCP 10.0.0.1:5070").as_deref(), Some("10.0.0.1:5070"));
        assert_eq!(via("SIP/2.0/UDP [2001:DB8:0::1]:5060").as_deref(), Some("[2001:db8::1]:5060"));
        assert_eq!(via("SIP/2.0/UDP [::1]").as_deref(), Some("[::1]"));
        // Leading zeros, as the parser allows them, read as numbers.
        assert_eq!(via("SIP/2.0/UDP 010.000.002.001:05060").as_deref(), Some("10.0.2.1:5060"));
        assert_eq!(via("SIP/2.0/UDP 192.0.2.1:0").as_deref(), Some("192.0.2.1:0"));
        // The usual values are what was written.
        assert_eq!(via("SIP/2.0/TCP a.example.com.:5061").as_deref(), Some("a.example.com.:5061"));
        // No address, no number: as written, in lower case.
        assert_eq!(via("SIP/2.0/UDP 300.1.1.1:99999").as_deref(), Some("300.1.1.1:99999"));
        assert_eq!(via("SIP/2.0/UDP [zz]:5060").as_deref(), Some("[zz]:5060"));
        // Each agrees with the typed view where that parses.
        for v in ["SIP/2.0/UDP Pc33.Atlanta.COM:5060;branch=z9hG4bK1", "SIP/2.0/UDP 010.0.0.1"] {
            let m = MessageBuilder::request(&Method::Options, "sip:a@b")
                .header(HeaderName::Via, v)
                .build()
                .unwrap();
            let typed = m.typed::<sip_message::Via<'_>>().unwrap().unwrap();
            let host = match typed.host() {
                sip_message::Host::Domain(d) => d.to_ascii_lowercase(),
                sip_message::Host::Ipv4(a) => a.to_string(),
                sip_message::Host::Ipv6(a) => format!("[{a}]"),
            };
            let expected = match typed.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            assert_eq!(text(top_sent_by(&m)), Some(expected));
        }
    }

    #[test]
    fn via_transport_is_replaced_in_place() {
        // RFC 3261 §18.1.1: the top Via names the transport actually used.
        let swap = |v: &[u8]| with_via_transport(v, "TCP").map(|b| String::from_utf8(b).unwrap());
        assert_eq!(
            swap(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1").as_deref(),
            Some("SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1")
        );
        assert_eq!(
            swap(b"SIP / 2.0 / udp  [2001:db8::1];rport").as_deref(),
            Some("SIP / 2.0 / TCP  [2001:db8::1];rport")
        );
        assert_eq!(swap(b"SIP/2.0/UDP"), None);
        assert_eq!(swap(b"garbage"), None);
    }

    #[test]
    fn generated_branches_are_cookie_and_sixteen_alphanumerics() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let a = new_branch(&mut rng);
        let b = new_branch(&mut rng);
        assert_ne!(a, b);
        for branch in [&a, &b] {
            assert_eq!(branch.len(), BRANCH_LEN);
            assert!(branch.starts_with(BRANCH_COOKIE));
            assert!(branch[BRANCH_COOKIE.len()..].bytes().all(|c| c.is_ascii_alphanumeric()));
        }
        let again = new_branch(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
        assert_eq!(again, a, "same seed, same branch");
    }

    #[test]
    fn merge_keys_compare_values_not_buffers() {
        let parsed = |tag: &str| {
            MessageBuilder::request(&Method::Invite, "sip:b@example.com")
                .header(HeaderName::Via, "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
                .header(HeaderName::From, format!("<sip:a@example.com>;tag={tag}"))
                .header(HeaderName::CallId, "c1@example.com")
                .header(HeaderName::CSeq, "4 INVITE")
                .build()
                .unwrap()
        };
        let (one, two) = (parsed("x1"), parsed("x1"));
        // An edited message keeps its values outside its buffer: the key copies them.
        let mut edited = parsed("x1");
        edited.set(HeaderName::CallId, "c1@example.com").unwrap();
        let keys = [&one, &two, &edited].map(|m| MergeKey::of(m).unwrap());
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[0], keys[2]);
        assert_eq!((keys[2].from_tag(), keys[2].call_id()), ("x1", "c1@example.com"));
        assert_eq!((keys[2].cseq(), keys[2].method()), (4, &Method::Invite));
        let hash = |k: &MergeKey| {
            std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::with_seed(1), k)
        };
        assert_eq!(hash(&keys[0]), hash(&keys[2]));
        assert_ne!(keys[0], MergeKey::of(&parsed("x2")).unwrap());
        assert!(format!("{:?}", keys[2]).contains("c1@example.com"));
    }
}
