//! [`Message`]: one shared buffer plus an index of spans into it.

use std::fmt;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use crate::parse::{RawLine, index_header, top_via_branch};
use crate::typed::split_list;
use crate::{Decimal, HeaderError, HeaderName, Limits, Method, ParseError, TypedHeader};

/// A range of bytes in the message buffer (`src == 0`) or in one of its owned pieces
/// (`src == k` is `owned[k - 1]`), which edits add without touching the original buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Slot {
    src: u32,
    start: u32,
    end: u32,
}

impl Slot {
    #[inline]
    pub(crate) const fn buf(start: usize, end: usize) -> Slot {
        Slot { src: 0, start: start as u32, end: end as u32 }
    }

    /// Where the range starts.
    #[inline]
    pub(crate) const fn start(self) -> usize {
        self.start as usize
    }

    /// `self`, a range inside `within`, moved to the same place inside `to` (a copy of
    /// `within`'s bytes); `None` when `self` does not lie inside `within`.
    #[inline]
    pub(crate) fn rebase(self, within: Slot, to: Slot) -> Option<Slot> {
        (self.src == within.src && within.start <= self.start && self.end <= within.end)
            .then(|| to.sub((self.start - within.start) as usize, (self.end - self.start) as usize))
    }

    /// `(start, end)` of the range if it lies in the message buffer (not in an owned piece).
    #[inline]
    pub(crate) const fn in_buf(self) -> Option<(usize, usize)> {
        if self.src == 0 { Some((self.start as usize, self.end as usize)) } else { None }
    }

    /// A range of the message buffer moved `by` bytes further (a range of an owned piece
    /// stays as it is).
    #[inline(always)]
    pub(crate) fn shifted(self, by: usize) -> Slot {
        if self.src == 0 {
            Slot::buf(self.start as usize + by, self.end as usize + by)
        } else {
            self
        }
    }

    /// The same range shifted by `offset` bytes and narrowed to `len`.
    #[inline]
    pub(crate) fn sub(self, offset: usize, len: usize) -> Slot {
        let start = self.start.saturating_add(offset as u32);
        Slot { src: self.src, start, end: start.saturating_add(len as u32).min(self.end) }
    }
}

/// One header line in the index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) name: HeaderName,
    /// The name as written (compact or long, any case).
    pub(crate) name_text: Slot,
    /// The value, trimmed; may contain folded line breaks.
    pub(crate) value: Slot,
    /// End of the raw line in the buffer (before CRLF), or 0 for a header an edit created:
    /// an untouched line is written back byte for byte.
    pub(crate) line_end: u32,
}

/// The header index of a message: inline (in the message's boxed [`Parts`]) up to
/// [`HEADERS_CAPACITY`] lines, the lines of a typical request, a proxied INVITE included; a
/// longer message spills it to its own allocation.
pub(crate) type Headers = SmallVec<[Entry; HEADERS_CAPACITY]>;

/// The header lines a message's index holds without an allocation of its own.
pub(crate) const HEADERS_CAPACITY: usize = 16;

/// The start line (RFC 3261 §7.1, §7.2).
#[derive(Clone, Debug)]
pub(crate) enum StartLine {
    Request { method: Method, uri: Slot },
    Response { code: u16, reason: Slot },
}

impl Default for StartLine {
    /// A placeholder, replaced before a message is handed out (see [`Parts`]).
    fn default() -> Self {
        StartLine::Response { code: 0, reason: Slot::default() }
    }
}

/// The headers the transaction and dialog layers need on every message, parsed once while the
/// message is indexed (ARCHITECTURE.md, "Messages and memory").
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Keys {
    pub(crate) via: Option<u16>,
    pub(crate) branch: Option<Slot>,
    pub(crate) from: Option<u16>,
    pub(crate) from_tag: Option<Slot>,
    pub(crate) to: Option<u16>,
    pub(crate) to_tag: Option<Slot>,
    pub(crate) call_id: Option<Slot>,
    /// The CSeq method, `None` without a CSeq key; with it, [`cseq_number`](Self::cseq_number)
    /// (0 without). Two fields rather than an `Option<(u32, Method)>`, whose padding made
    /// the keys, and every move of a [`Message`], 8 bytes larger.
    pub(crate) cseq_method: Option<Method>,
    pub(crate) cseq_number: u32,
    pub(crate) cseq_seen: bool,
    pub(crate) max_forwards: Option<u8>,
    pub(crate) max_forwards_seen: bool,
    pub(crate) content_length: Option<u32>,
    /// How many Content-Length lines agreed on `content_length` (saturating).
    pub(crate) content_length_lines: u8,
    /// A header line of the message's own buffer may be folded (RFC 3261 §7.3.1), the only
    /// way a value of the buffer holds a line break: without it, copying a value of the
    /// buffer needs no search for one (see [`Message::may_break`]). Not a key of a line: kept
    /// here, in the room the keys leave, so that a [`Message`] stays as small to move. It may
    /// stay set after an edit removed the folded line (it is then only a search more).
    pub(crate) line_breaks: bool,
    /// The value of the top Via line, when `fast_via` of [`Message::validate`] accepted it as
    /// the parser indexed the line of a request: validation then takes that line as judged.
    pub(crate) via_judged: Judged,
    /// The value of the From key's line, when `fast_address` accepted it (as `via_judged`).
    pub(crate) from_judged: Judged,
    /// The value of the To key's line, when `fast_address` accepted it (as `via_judged`).
    pub(crate) to_judged: Judged,
    /// The Request-URI, when the parser found it a SIP URI without headers as
    /// [`Message::validate`] reads it (`walk_sip_uri_bytes` to its end): validation then
    /// takes it as judged while the start line holds that range.
    pub(crate) uri_judged: Judged,
    /// Every Content-Length line of the index was accepted by `observe` (`1*DIGIT` up to
    /// 2^32 - 1): set by the parser, which refuses a message with any other, and cleared by
    /// every edit of Content-Length lines ([`Message::rekey`]). [`Message::validate`] then
    /// takes those lines as judged.
    pub(crate) lengths_judged: JudgedAll,
}

/// The range of a value found well-formed as its line was indexed (or `None`): a memo that
/// saves [`Message::validate`] a second walk over the same bytes, kept only while the range
/// holds those bytes (an edit of the line observes it afresh). Not a key: two memos compare
/// equal whatever they hold, as keys are equal when they say the same about a message, and a
/// message without the memo only checks the value again.
#[derive(Clone, Copy, Default)]
pub(crate) struct Judged(pub(crate) Option<Slot>);

impl PartialEq for Judged {
    fn eq(&self, _: &Judged) -> bool {
        true
    }
}

impl fmt::Debug for Judged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nothing of what it holds: like its equality, its text is the same for every memo,
        // so that keys print alike when they say the same (the builder's keys, which carry
        // no memo, print as the parser's).
        f.write_str("Judged")
    }
}

/// Whether every line of a header was found well-formed as it was indexed: a memo, like
/// [`Judged`], equal to any other and printed alike (keys are equal when they say the same
/// about a message; a message without the memo only checks the lines again).
#[derive(Clone, Copy, Default)]
pub(crate) struct JudgedAll(pub(crate) bool);

impl PartialEq for JudgedAll {
    fn eq(&self, _: &JudgedAll) -> bool {
        true
    }
}

impl fmt::Debug for JudgedAll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JudgedAll")
    }
}

impl Keys {
    /// Moves the keys that hold a span of a header line's value (the From and To tags and
    /// judged values, the Call-ID) by `moved`, after an edit shifted the bytes before them.
    #[inline(always)]
    pub(crate) fn shift_line_spans(&mut self, moved: impl Fn(Slot) -> Slot) {
        self.from_tag = self.from_tag.map(&moved);
        self.to_tag = self.to_tag.map(&moved);
        self.from_judged.0 = self.from_judged.0.map(&moved);
        self.to_judged.0 = self.to_judged.0.map(&moved);
        self.call_id = self.call_id.map(&moved);
    }

    /// Takes from `fresh` (the keys observed on one line of `changed`) the key of that one
    /// header: Via with its branch, From or To with its tag. Other names have no line key.
    fn adopt_line_key(&mut self, changed: HeaderName, fresh: &Keys) {
        match changed {
            HeaderName::Via => {
                (self.via, self.branch, self.via_judged) =
                    (fresh.via, fresh.branch, fresh.via_judged);
            }
            HeaderName::From => {
                (self.from, self.from_tag, self.from_judged) =
                    (fresh.from, fresh.from_tag, fresh.from_judged);
            }
            HeaderName::To => {
                (self.to, self.to_tag, self.to_judged) = (fresh.to, fresh.to_tag, fresh.to_judged);
            }
            _ => {}
        }
    }

    /// Carries the key a line copied from a message with keys `from` gives: the line `name`
    /// is header number `at` of the copy, its value `copied` in the original and `written` in
    /// the copy (same bytes). The first Via, From, Call-ID and CSeq lines take the original's
    /// keys, rebased; other lines (and To, whose tag the copier writes) have none. Inlined
    /// into its callers: it runs for every line a response or a forwarded copy takes over.
    #[inline(always)]
    pub(crate) fn carry_copied(
        &mut self,
        from: &Keys,
        name: HeaderName,
        at: usize,
        copied: Slot,
        written: Slot,
    ) {
        let carry = |k: Option<Slot>| k.and_then(|k| k.rebase(copied, written));
        match name {
            HeaderName::Via if self.via.is_none() => {
                self.via = Some(at as u16);
                self.branch = carry(from.branch);
            }
            HeaderName::From if self.from.is_none() => {
                self.from = Some(at as u16);
                self.from_tag = carry(from.from_tag);
            }
            HeaderName::CallId if self.call_id.is_none() && from.call_id == Some(copied) => {
                self.call_id = Some(written);
            }
            HeaderName::CSeq if !self.cseq_seen => {
                self.cseq_seen = true;
                self.cseq_number = from.cseq_number;
                self.cseq_method.clone_from(&from.cseq_method);
            }
            _ => {}
        }
    }
}

/// A SIP request or response (RFC 3261 §7): the received buffer and an index of spans into it.
///
/// Parsing copies nothing: header values, the Request-URI and the body are ranges of the one
/// buffer, and cloning a message is a reference-count bump plus the small index. The
/// transaction keys (top Via branch, From and To tags, Call-ID, CSeq, Max-Forwards,
/// Content-Length) are parsed once, eagerly; every other header is parsed on access with
/// [`Message::typed`].
///
/// ```
/// use bytes::Bytes;
/// use sip_message::{Message, Method};
///
/// let msg = Message::parse(Bytes::from_static(
///     b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n\
///       v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKhjhs8ass877\r\n\
///       Max-Forwards: 70\r\n\
///       t: <sip:carol@chicago.example.com>\r\n\
///       f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
///       i: a84b4c76e66710\r\n\
///       CSeq: 63104 OPTIONS\r\n\
///       l: 0\r\n\r\n",
/// ))?;
/// assert_eq!(msg.method(), Some(&Method::Options));
/// assert_eq!(msg.via_branch(), Some("z9hG4bKhjhs8ass877"));
/// assert_eq!(msg.from_tag(), Some("1928301774"));
/// assert_eq!(msg.call_id(), Some("a84b4c76e66710"));
/// assert_eq!(msg.cseq_number(), Some(63104));
/// assert!(msg.body().is_empty());
/// # Ok::<(), sip_message::ParseError>(())
/// ```
pub struct Message {
    pub(crate) buf: Bytes,
    /// Everything but the buffer, boxed: a message is then two words and a pointer to move
    /// between layers (it is moved many times on its way through a stack), and a parse makes
    /// one allocation, this box, which holds the header index inline.
    pub(crate) ix: Box<Parts>,
}

/// The index of a [`Message`]: its start line, header lines, body and eager keys, as ranges of
/// its buffer (or of its owned pieces).
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// The range of `buf` that is this message as received, while no edit has touched it and
    /// its Content-Length is exact: serialising it is then a copy of those bytes.
    ///
    /// Its flag is set by the parser (and kept by the verbatim pop of the top Via): the
    /// header lines follow each other from the first one on, each ended by CRLF, and the
    /// empty line comes right before the body; `Message::pop_top_via_verbatim` then checks no
    /// line but the Content-Length. In the range's `Option` (the flag's niche holds `None`),
    /// not beside it: the parts stay as large.
    pub(crate) pristine: Option<(u32, u32, bool)>,
    pub(crate) owned: Vec<Bytes>,
    pub(crate) start: StartLine,
    pub(crate) headers: Headers,
    pub(crate) body: Slot,
    pub(crate) keys: Keys,
}

impl Parts {
    /// Empty parts, written in place on the heap (`Box::default` builds them there; a
    /// `Box::new` of parts built on the stack would copy their few hundred bytes).
    #[inline]
    pub(crate) fn boxed() -> Box<Parts> {
        Box::default()
    }

    /// Empties `self` into what [`Parts::boxed`] gives, field by field (a whole new value
    /// would be written out in full, the inline header entries included).
    #[inline]
    pub(crate) fn clear(&mut self) {
        let Parts { pristine, owned, start, headers, body, keys } = self;
        *pristine = None;
        // No heap left behind (an edited message's list of pieces), as in new parts.
        *owned = Vec::new();
        *start = StartLine::default();
        if headers.spilled() {
            *headers = Headers::new();
        } else {
            headers.clear();
        }
        *body = Slot::default();
        *keys = Keys::default();
    }

    /// Seals `self` into the message over `buf`: its body, and whether it is written back
    /// verbatim (see [`pristine_range`]). `origin` is where the start line begins in `buf`.
    #[inline(always)]
    pub(crate) fn seal(mut self: Box<Parts>, buf: Bytes, origin: usize, body: Slot) -> Message {
        self.body = body;
        // Only the parser vouches for its lines.
        self.pristine = pristine_range(&buf, &self.start, &self.keys, origin, body, false);
        Message { buf, ix: self }
    }
}

/// Whether a Content-Length value is spelled as `write_to` spells the body's length: no
/// leading zero (the parser accepts one, RFC 4475 §3.1.1.1).
#[inline(always)]
fn unpadded(digits: &[u8]) -> bool {
    digits.len() == 1 || digits.first() != Some(&b'0')
}

/// Whether a message is written back verbatim, as the range of `buf` it spans: only if its
/// bytes are what `write_to` would produce, one exact Content-Length line and the version
/// spelled `SIP/2.0`. `origin` is where the start line begins, `body` the body's range.
#[inline(always)]
fn pristine_range(
    buf: &[u8],
    start: &StartLine,
    keys: &Keys,
    origin: usize,
    body: Slot,
    written: bool,
) -> Option<(u32, u32, bool)> {
    let exact_length =
        keys.content_length == Some(body.end - body.start) && keys.content_length_lines == 1;
    let version_ok = match start {
        StartLine::Request { uri, .. } => {
            buf.get(uri.end as usize..uri.end as usize + 8) == Some(b" SIP/2.0")
        }
        StartLine::Response { .. } => buf.get(origin..origin + 7) == Some(b"SIP/2.0"),
    };
    (exact_length && version_ok).then_some((origin as u32, body.end, written))
}

impl Clone for Message {
    /// A reference-count bump for the buffer and a block copy of the index (the entries are
    /// `Copy`; a derived clone would copy them one by one).
    fn clone(&self) -> Self {
        let from = &*self.ix;
        let mut ix = Parts::boxed();
        ix.pristine = from.pristine;
        ix.owned.clone_from(&from.owned);
        ix.start.clone_from(&from.start);
        ix.headers.extend_from_slice(&from.headers);
        ix.body = from.body;
        ix.keys.clone_from(&from.keys);
        Message { buf: self.buf.clone(), ix }
    }
}

/// A header line as the message holds it: its name, its name as written, and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderLine<'m> {
    /// The classified name.
    pub name: HeaderName,
    /// The name as written on the wire (compact or long, any case).
    pub name_text: &'m [u8],
    /// The field value, trimmed; it may contain folded line breaks (RFC 3261 §7.3.1) and, for
    /// list headers, several comma-separated values.
    pub value: &'m [u8],
}

impl Message {
    /// Parses one datagram with the default [`Limits`] (RFC 3261 §7, §18.3).
    ///
    /// # Errors
    /// A [`ParseError`] when the bytes are not a SIP message: a bad start line, a header line
    /// that is not `name: value`, a Content-Length that is malformed, conflicting or larger
    /// than the body, or a limit exceeded.
    pub fn parse(buf: Bytes) -> Result<Message, ParseError> {
        crate::parse::parse(buf, &Limits::default())
    }

    /// Parses one datagram with the given limits.
    ///
    /// # Errors
    /// As [`Message::parse`].
    pub fn parse_with(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        crate::parse::parse(buf, limits)
    }

    /// A message over `buf` with the start line parsed and nothing else yet: the parser
    /// fills [`headers`](Self::headers) and the keys in place, then calls
    /// [`seal`](Self::seal).
    #[inline]
    pub(crate) fn started(buf: Bytes, start: StartLine) -> Message {
        let mut ix = Parts::boxed();
        ix.start = start;
        Message { buf, ix }
    }

    /// A message indexed as it was written (by [`MessageBuilder`](crate::MessageBuilder)):
    /// `ix` holds the same start line, index and keys the parser would build over `buf`,
    /// which starts with the start line.
    #[inline(always)]
    pub(crate) fn indexed(buf: Bytes, ix: Box<Parts>, body: Slot) -> Message {
        ix.seal(buf, 0, body)
    }

    /// Finishes a parsed message: its body, and whether it is written back verbatim (see
    /// [`pristine_range`]). `written`: every header line was ended by CRLF (see
    /// [`Parts::pristine`]).
    #[inline(always)]
    pub(crate) fn seal(&mut self, origin: usize, body: Slot, written: bool) {
        let ix = &mut *self.ix;
        ix.body = body;
        ix.pristine = pristine_range(&self.buf, &ix.start, &ix.keys, origin, body, written);
    }

    /// Whether the value at `slot` may hold a line break: one of an edit (not in the buffer),
    /// or one in a buffer with a folded header line ([`Keys::line_breaks`]). `false` is
    /// certain: the parser sets the flag on every folded line, the builder writes no line
    /// break without parsing its bytes, edits leave the buffer's lines as they were (or copy
    /// them into a new buffer, with the flag).
    #[inline(always)]
    pub(crate) fn may_break(&self, slot: Slot) -> bool {
        self.ix.keys.line_breaks || slot.in_buf().is_none()
    }

    /// Takes the top Via's key (the Via, its branch and whether it was judged) from the first
    /// Via line at or after header number `from`, after an edit removed the old top Via's
    /// value; none if no Via line is left.
    pub(crate) fn rekey_top_via(&mut self, from: usize) {
        let mut fresh = Keys::default();
        let top =
            self.ix.headers.iter().enumerate().skip(from).find(|(_, e)| e.name == HeaderName::Via);
        if let Some((i, e)) = top {
            // A Via line: no Content-Length error to ignore.
            let _ = fresh.observe(e.name, i, self.slot(e.value), e.value);
        }
        self.ix.keys.adopt_line_key(HeaderName::Via, &fresh);
    }

    #[inline]
    pub(crate) fn slot(&self, slot: Slot) -> &[u8] {
        let src: &[u8] = match slot.src {
            0 => &self.buf,
            k => self.ix.owned.get(k as usize - 1).map_or(&[][..], |b| &b[..]),
        };
        src.get(slot.start as usize..slot.end as usize).unwrap_or_default()
    }

    #[inline]
    fn slot_str(&self, slot: Slot) -> Option<&str> {
        std::str::from_utf8(self.slot(slot)).ok()
    }

    /// A `Bytes` sharing the buffer for `slot`, for state that outlives the message.
    fn slot_bytes(&self, slot: Slot) -> Bytes {
        let src = match slot.src {
            0 => &self.buf,
            k => match self.ix.owned.get(k as usize - 1) {
                Some(b) => b,
                None => return Bytes::new(),
            },
        };
        let (s, e) = (slot.start as usize, slot.end as usize);
        if s <= e && e <= src.len() { src.slice(s..e) } else { Bytes::new() }
    }

    /// Everything a parse builds, as text: for tests comparing two parsers of the same bytes.
    #[cfg(test)]
    pub(crate) fn parse_state(&self) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?}",
            self.ix.start,
            self.ix.headers,
            self.ix.body,
            self.ix.keys,
            // The range; not the parser's memo of its lines, which a builder does not make.
            self.ix.pristine.map(|(start, end, _)| (start, end)),
            self.ix.owned
        )
    }

    // ----- start line -----------------------------------------------------------------------

    /// Whether this is a request.
    #[must_use]
    pub fn is_request(&self) -> bool {
        matches!(self.ix.start, StartLine::Request { .. })
    }

    /// Whether this is a response.
    #[must_use]
    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// The request method; `None` for a response.
    #[must_use]
    pub fn method(&self) -> Option<&Method> {
        match &self.ix.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written; `None` for a response. Parse it with
    /// [`Uri::parse`](crate::Uri::parse) or [`Message::request_uri`].
    #[must_use]
    pub fn request_uri_str(&self) -> Option<&str> {
        match &self.ix.start {
            StartLine::Request { uri, .. } => self.slot_str(*uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written, borrowed and not checked for UTF-8 (for comparing or
    /// hashing it, RFC 3261 §16.6 step 2 and §16.6 step 8, without the check
    /// [`request_uri_str`](Self::request_uri_str) makes); `None` for a response.
    #[must_use]
    pub fn request_uri_raw(&self) -> Option<&[u8]> {
        match &self.ix.start {
            StartLine::Request { uri, .. } => Some(self.slot(*uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written, as a `Bytes` sharing the buffer (no copy), for a caller
    /// that keeps it while it edits the message; `None` for a response. Unlike
    /// [`request_uri_str`](Self::request_uri_str) it is not checked for UTF-8.
    #[must_use]
    pub fn request_uri_bytes(&self) -> Option<Bytes> {
        match &self.ix.start {
            StartLine::Request { uri, .. } => Some(self.slot_bytes(*uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, parsed; `None` for a response.
    #[must_use]
    pub fn request_uri(&self) -> Option<Result<crate::Uri<'_>, crate::UriError>> {
        self.request_uri_str().map(crate::Uri::parse)
    }

    /// The status code (100..=699); `None` for a request.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self.ix.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase (may be empty); `None` for a request.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match &self.ix.start {
            StartLine::Response { reason, .. } => self.slot_str(*reason),
            StartLine::Request { .. } => None,
        }
    }

    // ----- eager keys ---------------------------------------------------------------------

    /// The `branch` parameter of the top Via (RFC 3261 §8.1.1.7), if present.
    #[must_use]
    #[inline]
    pub fn via_branch(&self) -> Option<&str> {
        self.via_branch_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The `tag` parameter of From (RFC 3261 §8.1.1.3), if present.
    #[must_use]
    #[inline]
    pub fn from_tag(&self) -> Option<&str> {
        self.from_tag_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The `tag` parameter of To (RFC 3261 §8.2.6.2), if present.
    #[must_use]
    #[inline]
    pub fn to_tag(&self) -> Option<&str> {
        self.to_tag_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The Call-ID (RFC 3261 §8.1.1.4), if present and well-formed (`word ["@" word]`).
    #[must_use]
    #[inline]
    pub fn call_id(&self) -> Option<&str> {
        self.call_id_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// [`via_branch`](Self::via_branch) as bytes, without the UTF-8 check (the parser only
    /// accepts a token there, so the two agree): for matching on the hot path.
    #[must_use]
    #[inline]
    pub fn via_branch_bytes(&self) -> Option<&[u8]> {
        self.ix.keys.branch.map(|s| self.slot(s))
    }

    /// [`from_tag`](Self::from_tag) as bytes, without the UTF-8 check (a token).
    #[must_use]
    #[inline]
    pub fn from_tag_bytes(&self) -> Option<&[u8]> {
        self.ix.keys.from_tag.map(|s| self.slot(s))
    }

    /// [`to_tag`](Self::to_tag) as bytes, without the UTF-8 check (a token).
    #[must_use]
    #[inline]
    pub fn to_tag_bytes(&self) -> Option<&[u8]> {
        self.ix.keys.to_tag.map(|s| self.slot(s))
    }

    /// [`call_id`](Self::call_id) as bytes, without the UTF-8 check (`word ["@" word]`).
    #[must_use]
    #[inline]
    pub fn call_id_bytes(&self) -> Option<&[u8]> {
        self.ix.keys.call_id.map(|s| self.slot(s))
    }

    /// The CSeq sequence number (RFC 3261 §8.1.1.5), if CSeq is present and well-formed.
    #[must_use]
    #[inline]
    pub fn cseq_number(&self) -> Option<u32> {
        self.ix.keys.cseq_method.as_ref().map(|_| self.ix.keys.cseq_number)
    }

    /// The CSeq method, if CSeq is present and well-formed.
    #[must_use]
    #[inline]
    pub fn cseq_method(&self) -> Option<&Method> {
        self.ix.keys.cseq_method.as_ref()
    }

    /// Max-Forwards (RFC 3261 §8.1.1.6), if present and within 0..=255.
    #[must_use]
    pub fn max_forwards(&self) -> Option<u8> {
        self.ix.keys.max_forwards
    }

    /// The Content-Length header's value, if present. (The body's real length is
    /// `body().len()`; serialisation always writes that.)
    #[must_use]
    pub fn content_length(&self) -> Option<u32> {
        self.ix.keys.content_length
    }

    /// The top Via value (first element of the first Via line), raw.
    #[must_use]
    pub fn top_via(&self) -> Option<&[u8]> {
        self.header(HeaderName::Via)
    }

    /// The From header value, raw.
    #[must_use]
    pub fn from_header(&self) -> Option<&[u8]> {
        self.ix.keys.from.and_then(|i| self.ix.headers.get(i as usize)).map(|e| self.slot(e.value))
    }

    /// The To header value, raw.
    #[must_use]
    pub fn to_header(&self) -> Option<&[u8]> {
        self.ix.keys.to.and_then(|i| self.ix.headers.get(i as usize)).map(|e| self.slot(e.value))
    }

    // ----- headers -----------------------------------------------------------------------

    /// The body (possibly empty). For a datagram it is exactly Content-Length bytes, or the
    /// rest of the datagram when Content-Length is absent (RFC 3261 §18.3).
    #[must_use]
    pub fn body(&self) -> &[u8] {
        self.slot(self.ix.body)
    }

    /// The body as a `Bytes` sharing the message buffer.
    #[must_use]
    pub fn body_bytes(&self) -> Bytes {
        self.slot_bytes(self.ix.body)
    }

    /// The whole buffer the message was parsed from (or built into).
    #[must_use]
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    /// Heap bytes this message's index holds besides its buffer: the boxed start line, header
    /// index, keys and body ranges, the header index's spill when it has more lines than fit
    /// inline, and the list of owned pieces an edit made (not the pieces' bytes, which are
    /// message buffers like [`Message::buffer`]). With `size_of::<Message>()` this is what
    /// keeping a message costs beyond its bytes.
    #[must_use]
    pub fn index_bytes(&self) -> usize {
        let spill = if self.ix.headers.spilled() { self.ix.headers.capacity() } else { 0 };
        std::mem::size_of::<Parts>()
            + spill * std::mem::size_of::<Entry>()
            + self.ix.owned.capacity() * std::mem::size_of::<Bytes>()
    }

    /// Number of header lines.
    #[must_use]
    pub fn header_count(&self) -> usize {
        self.ix.headers.len()
    }

    /// Every header line in order, unknown ones included.
    pub fn lines(&self) -> impl Iterator<Item = HeaderLine<'_>> + '_ {
        self.ix.headers.iter().map(move |e| HeaderLine {
            name: e.name,
            name_text: self.slot(e.name_text),
            value: self.slot(e.value),
        })
    }

    /// The raw lines of a known header, in order.
    pub fn header_lines(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> + '_ {
        self.ix.headers.iter().filter(move |e| e.name == name).map(move |e| self.slot(e.value))
    }

    /// The lines of a header by name as written (case-insensitive): the way to read
    /// [`HeaderName::Other`] headers such as `X-Custom`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let known = HeaderName::from_bytes(name.as_bytes());
        self.ix
            .headers
            .iter()
            .filter(move |e| {
                if known == HeaderName::Other {
                    e.name == HeaderName::Other
                        && self.slot(e.name_text).eq_ignore_ascii_case(name.as_bytes())
                } else {
                    e.name == known
                }
            })
            .map(move |e| self.slot(e.value))
    }

    /// Every value of a header: for list headers ([`HeaderName::is_list`]) each element of
    /// every line, split at commas outside quotes and `<>` (RFC 3261 §7.3.1); otherwise each
    /// line.
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> + '_ {
        let list = name.is_list();
        self.header_lines(name).flat_map(move |line| {
            // An empty list line (`Supported:`) has no elements.
            let mut it = split_list(line);
            if list && line.is_empty() {
                let _ = it.next();
            }
            let mut whole = Some(line);
            std::iter::from_fn(move || if list { it.next() } else { whole.take() })
        })
    }

    /// The first value of a header (see [`Message::values`]).
    #[must_use]
    pub fn header(&self, name: HeaderName) -> Option<&[u8]> {
        self.values(name).next()
    }

    /// The first value of a header as text, if it is valid UTF-8.
    #[must_use]
    pub fn header_str(&self, name: HeaderName) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of a header as a `Bytes` sharing the buffer, for state that outlives
    /// the message (route sets, dialog ids).
    #[must_use]
    pub fn header_bytes(&self, name: HeaderName) -> Option<Bytes> {
        let e = self.ix.headers.iter().find(|e| e.name == name)?;
        let line = self.slot(e.value);
        let first = if name.is_list() { split_list(line).next()? } else { line };
        let offset = first.as_ptr() as usize - line.as_ptr() as usize;
        Some(self.slot_bytes(e.value.sub(offset, first.len())))
    }

    /// Whether the message has at least one line of `name`.
    #[must_use]
    pub fn has(&self, name: HeaderName) -> bool {
        self.ix.headers.iter().any(|e| e.name == name)
    }

    /// The first value of `H`, parsed: `None` if absent, `Some(Err)` if malformed.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::{CSeq, Message, Method};
    /// # let msg = Message::parse(Bytes::from_static(b"BYE sip:a@b SIP/2.0\r\nCSeq: 7 BYE\r\n\r\n"))?;
    /// let cseq = msg.typed::<CSeq>().unwrap().unwrap();
    /// assert_eq!(cseq.number(), 7);
    /// # Ok::<(), sip_message::ParseError>(())
    /// ```
    #[must_use]
    pub fn typed<'a, H: TypedHeader<'a>>(&'a self) -> Option<Result<H, HeaderError>> {
        self.typed_all::<H>().next()
    }

    /// Every value of `H`, each parsed (see [`Message::values`] for how lists are split).
    pub fn typed_all<'a, H: TypedHeader<'a>>(
        &'a self,
    ) -> impl Iterator<Item = Result<H, HeaderError>> + 'a {
        self.values(H::NAME).map(|v| match std::str::from_utf8(v) {
            Ok(s) => H::parse(s),
            Err(e) => Err(HeaderError::new(H::NAME, "not valid UTF-8", e.valid_up_to())),
        })
    }

    // ----- edits --------------------------------------------------------------------------

    fn own(&mut self, bytes: Bytes) -> Slot {
        self.ix.pristine = None;
        self.ix.owned.push(bytes);
        let len = self.ix.owned.last().map_or(0, Bytes::len);
        Slot { src: self.ix.owned.len() as u32, start: 0, end: len as u32 }
    }

    fn new_entry(&mut self, name: HeaderName, value: Bytes) -> Entry {
        let value = self.own(value);
        Entry { name, name_text: Slot::default(), value, line_end: 0 }
    }

    /// Inserts a header line above all others (a proxy pushing its Via, RFC 3261 §16.6 step
    /// 8). Untouched lines keep their bytes.
    ///
    /// # Errors
    /// [`EditError`] if the value contains CR, LF or NUL (header injection) or `name` is
    /// [`HeaderName::Other`] (use [`Message::push_front_named`]).
    pub fn push_front(
        &mut self,
        name: HeaderName,
        value: impl Into<Bytes>,
    ) -> Result<(), EditError> {
        let value = checked_value(value.into())?;
        if name == HeaderName::Other {
            return Err(EditError::UnnamedHeader);
        }
        let entry = self.new_entry(name, value);
        self.ix.headers.insert(0, entry);
        self.rekey(name);
        Ok(())
    }

    /// Inserts a header line of any name above all others.
    ///
    /// # Errors
    /// [`EditError`] if the name is not a token or the value contains CR, LF or NUL.
    pub fn push_front_named(
        &mut self,
        name: &str,
        value: impl Into<Bytes>,
    ) -> Result<(), EditError> {
        let entry = self.named_entry(name, value.into())?;
        let changed = entry.name;
        self.ix.headers.insert(0, entry);
        self.rekey(changed);
        Ok(())
    }

    /// Appends a header line after all others.
    ///
    /// # Errors
    /// As [`Message::push_front`].
    pub fn push_back(
        &mut self,
        name: HeaderName,
        value: impl Into<Bytes>,
    ) -> Result<(), EditError> {
        let value = checked_value(value.into())?;
        if name == HeaderName::Other {
            return Err(EditError::UnnamedHeader);
        }
        let entry = self.new_entry(name, value);
        self.ix.headers.push(entry);
        self.rekey(name);
        Ok(())
    }

    /// Appends a header line of any name.
    ///
    /// # Errors
    /// As [`Message::push_front_named`].
    pub fn push_back_named(
        &mut self,
        name: &str,
        value: impl Into<Bytes>,
    ) -> Result<(), EditError> {
        let entry = self.named_entry(name, value.into())?;
        let changed = entry.name;
        self.ix.headers.push(entry);
        self.rekey(changed);
        Ok(())
    }

    fn named_entry(&mut self, name: &str, value: Bytes) -> Result<Entry, EditError> {
        if !crate::chars::is_token_str(name.as_bytes()) {
            return Err(EditError::BadName);
        }
        let value = checked_value(value)?;
        let known = HeaderName::from_bytes(name.as_bytes());
        let mut entry = self.new_entry(known, value);
        if known == HeaderName::Other {
            entry.name_text = self.own(Bytes::copy_from_slice(name.as_bytes()));
        }
        Ok(entry)
    }

    /// Removes the first value of a header and returns it: for a list header one element (the
    /// rest of its line stays), otherwise the whole first line. A proxy pops its own Route
    /// this way (RFC 3261 §16.4), and the Via it pushed when a response comes back (§16.7).
    pub fn pop_front(&mut self, name: HeaderName) -> Option<Bytes> {
        self.take_front(name, true)
    }

    /// [`pop_front`](Self::pop_front) without returning the value: the same edit, minus the
    /// handle on the removed bytes. Returns whether there was a value to remove.
    pub fn remove_front(&mut self, name: HeaderName) -> bool {
        self.take_front(name, false).is_some()
    }

    /// [`remove_front`](Self::remove_front) when `first` holds for the header's first value
    /// (as [`Message::header`] gives it): a proxy removing the Routes that name it (RFC 3261
    /// §16.4) finds each line once. Returns whether a value was removed.
    pub fn remove_front_if(&mut self, name: HeaderName, first: impl FnOnce(&[u8]) -> bool) -> bool {
        let Some(index) = self.ix.headers.iter().position(|e| e.name == name) else {
            return false;
        };
        // A first line holding one value (no comma: the usual Route) of a list header other
        // than Via (the one list header with keys): its value is the trimmed line, and taking
        // the line out moves only the line numbers the keys hold after it, without the list
        // splitter or the general rekey.
        if name.is_list() && name != HeaderName::Via {
            let lone = match self.ix.headers.get(index).and_then(|e| e.value.in_buf()) {
                Some((v0, v1)) => self
                    .buf
                    .get(v0..v1)
                    .filter(|line| !line.is_empty() && memchr::memchr(b',', line).is_none()),
                None => None,
            };
            if let Some(line) = lone {
                if !first(crate::trim_lws(line)) {
                    return false;
                }
                self.ix.headers.remove(index);
                self.ix.pristine = None;
                let body_len = self.body().len() as u32;
                let keys = &mut self.ix.keys;
                for k in [&mut keys.via, &mut keys.from, &mut keys.to] {
                    if let Some(i) = k.as_mut().filter(|i| usize::from(**i) > index) {
                        *i -= 1;
                    }
                }
                keys.content_length = Some(body_len);
                return true;
            }
        }
        self.remove_front_at(name, index, first)
    }

    /// [`remove_front_if`](Self::remove_front_if) without its one-value shortcut (the
    /// reference its proptest compares the shortcut with).
    #[cfg(test)]
    pub(crate) fn remove_front_if_general(
        &mut self,
        name: HeaderName,
        first: impl FnOnce(&[u8]) -> bool,
    ) -> bool {
        match self.ix.headers.iter().position(|e| e.name == name) {
            Some(index) => self.remove_front_at(name, index, first),
            None => false,
        }
    }

    /// [`remove_front_if`](Self::remove_front_if) of line `index`, the first line of `name`,
    /// split as [`Message::header`] reads it.
    fn remove_front_at(
        &mut self,
        name: HeaderName,
        index: usize,
        first: impl FnOnce(&[u8]) -> bool,
    ) -> bool {
        let Some(&entry) = self.ix.headers.get(index) else { return false };
        let line = self.slot(entry.value);
        let (value, split) = match (name.is_list(), line.is_empty()) {
            (false, _) => (Some(line), None),
            // The first value of a non-empty list line, as `split_list` gives it.
            (true, false) => {
                let split = FirstValue::of(line);
                (line.get(split.start..split.end), Some(split))
            }
            // An empty list line holds no value: `header` reads on to the next line.
            (true, true) => (self.header(name), None),
        };
        if !value.is_some_and(first) {
            return false;
        }
        // The removal splits the line as it was just split (the same bytes).
        match split {
            Some(split) => self.take_split(name, index, entry, split, false).is_some(),
            None => self.take_at(name, index, false).is_some(),
        }
    }

    /// [`pop_front`](Self::pop_front); the popped value is an empty `Bytes` unless `keep`.
    fn take_front(&mut self, name: HeaderName, keep: bool) -> Option<Bytes> {
        let index = self.ix.headers.iter().position(|e| e.name == name)?;
        self.take_at(name, index, keep)
    }

    /// [`take_front`](Self::take_front) of line `index`, the first line of `name`.
    fn take_at(&mut self, name: HeaderName, index: usize, keep: bool) -> Option<Bytes> {
        let entry = *self.ix.headers.get(index)?;
        let line = self.slot(entry.value);
        let split = if name.is_list() {
            FirstValue::of(line)
        } else {
            FirstValue { start: 0, end: line.len(), rest: None }
        };
        self.take_split(name, index, entry, split, keep)
    }

    /// [`take_at`](Self::take_at) of line `index`, `entry`, whose value splits as `split`
    /// into its first value and the rest (the whole value and no rest for a header that is
    /// not a list).
    #[inline]
    fn take_split(
        &mut self,
        name: HeaderName,
        index: usize,
        entry: Entry,
        split: FirstValue,
        keep: bool,
    ) -> Option<Bytes> {
        let line_len = (entry.value.end - entry.value.start) as usize;
        let (first, rest_off) = ((split.start, split.end), split.rest);
        let popped = if keep {
            self.slot_bytes(entry.value.sub(first.0, first.1 - first.0))
        } else {
            Bytes::new()
        };
        match rest_off {
            Some(off) => {
                let len = line_len.saturating_sub(off);
                if let Some(e) = self.ix.headers.get_mut(index) {
                    e.value = entry.value.sub(off, len);
                    e.line_end = 0;
                }
            }
            None => {
                self.ix.headers.remove(index);
                self.rekey_removed(name, index);
                return Some(popped);
            }
        }
        self.rekey(name);
        Some(popped)
    }

    /// Removes the first Via value and returns it, as [`pop_front`](Self::pop_front) of
    /// [`HeaderName::Via`] does: a proxy relaying a response takes off the Via it pushed (RFC
    /// 3261 §16.7 step 3; §18.2.1: only the top value, which may share its line with others,
    /// `Via: a, b` or compact `v: a, b`). The message is left as those edits leave it, the same
    /// bytes on the wire and the same index and keys, but written out at once: a response
    /// that was received and not edited becomes one new buffer that is sent as it is, so
    /// serialising it afterwards copies nothing ([`Message::to_bytes`]). Its index is kept,
    /// not rebuilt: everything after the Via line keeps its place in the new buffer, whose
    /// first bytes (as many as the line lost) are left unused, and only what comes before
    /// moves. Any other message gets the edit itself.
    pub fn pop_top_via(&mut self) -> Option<Bytes> {
        match self.pop_top_via_verbatim(true) {
            Some(popped) => Some(popped),
            None => self.take_front(HeaderName::Via, true),
        }
    }

    /// [`pop_top_via`](Self::pop_top_via) without returning the value (a proxy relaying a
    /// response drops it): the same edit, minus the handle on the removed bytes. Returns
    /// whether there was a Via to remove.
    pub fn remove_top_via(&mut self) -> bool {
        match self.pop_top_via_verbatim(false) {
            Some(_) => true,
            None => self.take_front(HeaderName::Via, false).is_some(),
        }
    }

    /// [`pop_top_via`](Self::pop_top_via) for a message written back verbatim whose bytes are
    /// what [`Message::write_to`] writes (canonical start line, every line ended by CRLF, one
    /// Content-Length spelled as the body's length): the bytes before the top Via line, that
    /// line without its first value (or nothing), and the bytes after it, in one new buffer
    /// where the bytes after the line keep their positions. `None`, with nothing changed, for
    /// any other message (the caller edits it instead). The popped value is an empty `Bytes`
    /// unless `keep`.
    fn pop_top_via_verbatim(&mut self, keep: bool) -> Option<Bytes> {
        let (p0, p1, lines_written) = self.ix.pristine?;
        let (p0, p1) = (p0 as usize, p1 as usize);
        if !self.ix.owned.is_empty() {
            return None;
        }
        let vi = self.ix.headers.iter().position(|e| e.name == HeaderName::Via)?;
        let via = *self.ix.headers.get(vi)?;
        let h0 = self.ix.headers.first()?.name_text.start();
        // The start line is what `write_to` writes: the parser and the builder leave one
        // space after the method or the status code, and sealing checked `SIP/2.0`.
        let canonical = match &self.ix.start {
            StartLine::Request { method, uri } => {
                let m = method.as_bytes();
                uri.start() == p0 + m.len() + 1
                    && self.buf.get(p0..p0 + m.len()) == Some(m)
                    && uri.end as usize + 10 == h0
            }
            StartLine::Response { reason, .. } => {
                reason.start() == p0 + 12 && reason.end as usize + 2 == h0
            }
        };
        if !canonical {
            return None;
        }
        // The lines follow each other (each ended by CRLF: the parser refuses bare line
        // ends), and the one Content-Length is spelled as `write_to` spells it: `write_to`
        // would copy every line as it is.
        // The Content-Length value parsed as the body's length (`pristine` says so): it is
        // spelled as `write_to` spells it unless it has a leading zero.
        // A parsed message says so itself (`lines_written`): only its one Content-Length line
        // (`pristine` says there is one), usually the last, is checked.
        let written = if lines_written {
            self.ix
                .headers
                .iter()
                .rev()
                .find(|e| e.name == HeaderName::ContentLength)
                .is_some_and(|e| unpadded(self.slot(e.value)))
        } else {
            self.lines_as_written(h0, p1)
        };
        if !written {
            return None;
        }
        // The top value and what is left of its line (§7.3.1: a list split at its commas); the
        // line goes when nothing is left.
        let line = self.slot(via.value);
        let split = FirstValue::of(line);
        let rest = split.rest.map(|off| line.get(off..).unwrap_or_default());
        let popped = if keep {
            self.slot_bytes(via.value.sub(split.start, split.end - split.start))
        } else {
            Bytes::new()
        };
        let (cut_start, cut_end) = (via.name_text.start(), via.line_end as usize + 2);
        let name = self.slot(via.name_text);
        let kept_len = rest.map_or(0, |rest| name.len() + rest.len() + 4);
        // The new buffer keeps every position after the cut line: what comes before it (the
        // start line, lines above the Via, what is left of the Via line) ends where the cut
        // line ended, and the bytes in front of the message stay unused. The line only
        // shrinks (`name: rest` is no longer than `name:first, rest`): `lead >= p0`.
        let lead = (cut_end - cut_start).checked_sub(kept_len)? + p0;
        // A `Vec` of exactly `p1` bytes: written whole, it becomes the `Bytes` without a
        // `BytesMut`'s bookkeeping (its `freeze` makes the same `Bytes` of the same `Vec`).
        let mut out: Vec<u8> = Vec::with_capacity(p1);
        out.resize(lead, 0);
        out.extend_from_slice(self.buf.get(p0..cut_start)?);
        let kept = rest.map(|rest| {
            let name_start = out.len();
            out.extend_from_slice(name);
            let name_end = out.len();
            out.extend_from_slice(b": ");
            let value_start = out.len();
            out.extend_from_slice(rest);
            let value_end = out.len();
            out.extend_from_slice(b"\r\n");
            Entry {
                name: HeaderName::Via,
                name_text: Slot::buf(name_start, name_end),
                value: Slot::buf(value_start, value_end),
                line_end: value_end as u32,
            }
        });
        if out.len() != cut_end {
            return None;
        }
        out.extend_from_slice(self.buf.get(cut_end..p1)?);
        // Positions before the cut move on by `lead - p0`; those after it stay.
        let by = (lead - p0) as u32;
        let moved = |s: Slot| {
            if s.start() < cut_start {
                Slot { src: 0, start: s.start + by, end: s.end + by }
            } else {
                s
            }
        };
        match kept {
            Some(entry) => {
                if let Some(e) = self.ix.headers.get_mut(vi) {
                    *e = entry;
                }
            }
            None => {
                self.ix.headers.remove(vi);
            }
        }
        if by != 0 {
            for e in self.ix.headers.iter_mut().take(vi) {
                e.name_text = moved(e.name_text);
                e.value = moved(e.value);
                e.line_end += by;
            }
            match &mut self.ix.start {
                StartLine::Request { uri, .. } => *uri = moved(*uri),
                StartLine::Response { reason, .. } => *reason = moved(*reason),
            }
        }
        let keys = &mut self.ix.keys;
        if kept.is_none() {
            for k in [&mut keys.from, &mut keys.to] {
                if let Some(i) = k.as_mut().filter(|i| usize::from(**i) > vi) {
                    *i -= 1;
                }
            }
        }
        keys.shift_line_spans(moved);
        self.buf = Bytes::from(out);
        self.ix.pristine = Some((lead as u32, p1 as u32, lines_written));
        // The new top Via: the rest of the line, or the next Via line.
        self.rekey_top_via(vi);
        Some(popped)
    }

    /// Whether the header lines, from `h0` on, follow each other each ended by CRLF, the
    /// empty line right before the body, which ends at `p1`, and the one Content-Length line
    /// is spelled without a leading zero: what a parse records in [`Parts::pristine`]
    /// (but the Content-Length), checked line by line for a message that was not parsed.
    fn lines_as_written(&self, h0: usize, p1: usize) -> bool {
        let (mut next, mut length_ok) = (h0, false);
        for e in &self.ix.headers {
            if e.line_end == 0 || e.name_text.start() != next {
                return false;
            }
            if e.name == HeaderName::ContentLength {
                length_ok = unpadded(self.slot(e.value));
            }
            next = e.line_end as usize + 2;
        }
        length_ok
            && self.buf.get(next..next + 2) == Some(b"\r\n")
            && self.ix.body.start() == next + 2
            && self.ix.body.end as usize == p1
    }

    /// Removes every line of a header; returns how many were removed.
    pub fn remove_all(&mut self, name: HeaderName) -> usize {
        let before = self.ix.headers.len();
        self.ix.headers.retain(|e| e.name != name);
        let removed = before - self.ix.headers.len();
        if removed > 0 {
            self.rekey(name);
        }
        removed
    }

    /// Replaces every line of a header with one line holding `value` (at the position of the
    /// first, or at the end if there was none).
    ///
    /// # Errors
    /// As [`Message::push_front`].
    pub fn set(&mut self, name: HeaderName, value: impl Into<Bytes>) -> Result<(), EditError> {
        let value = checked_value(value.into())?;
        if name == HeaderName::Other {
            return Err(EditError::UnnamedHeader);
        }
        let entry = self.new_entry(name, value);
        let mut lines = self.ix.headers.iter().enumerate().filter(|(_, e)| e.name == name);
        match (lines.next().map(|(i, _)| i), lines.next().is_some()) {
            (Some(i), false) => {
                // The only line: replaced in place, the other lines stay where they were.
                if let Some(e) = self.ix.headers.get_mut(i) {
                    *e = entry;
                }
                self.rekey_replaced(name, i);
                return Ok(());
            }
            (Some(i), true) => {
                self.ix.headers.retain(|e| e.name != name);
                self.ix.headers.insert(i.min(self.ix.headers.len()), entry);
            }
            (None, _) => self.ix.headers.push(entry),
        }
        self.rekey(name);
        Ok(())
    }

    /// Sets the Request-URI (RFC 3261 §16.6 step 2, §16.4 strict-route restoration).
    ///
    /// # Errors
    /// [`EditError::NotARequest`] on a response; [`EditError::BadValue`] if `uri` contains
    /// whitespace or control characters.
    pub fn set_request_uri(&mut self, uri: impl Into<Bytes>) -> Result<(), EditError> {
        let uri = uri.into();
        if uri.is_empty() || uri.iter().any(|&c| c <= b' ' || c == 0x7f) {
            return Err(EditError::BadValue);
        }
        if !self.is_request() {
            return Err(EditError::NotARequest);
        }
        let slot = self.own(uri);
        if let StartLine::Request { uri, .. } = &mut self.ix.start {
            *uri = slot;
        }
        Ok(())
    }

    /// Decrements Max-Forwards (RFC 3261 §16.6 step 3), adding `Max-Forwards: 70` first if it
    /// is absent (§16.6: "If the copy does not contain a Max-Forwards header field, the proxy
    /// MUST add one with a field value, which SHOULD be 70"). Returns the new value.
    ///
    /// # Errors
    /// [`EditError::MaxForwardsExhausted`] when it is already 0 (answer 483, §16.3 step 3),
    /// [`EditError::BadValue`] when the present value is malformed.
    pub fn decrement_max_forwards(&mut self) -> Result<u8, EditError> {
        let current = match (self.has(HeaderName::MaxForwards), self.ix.keys.max_forwards) {
            (false, _) => 70,
            (true, Some(n)) => n,
            (true, None) => return Err(EditError::BadValue),
        };
        let next = current.checked_sub(1).ok_or(EditError::MaxForwardsExhausted)?;
        let digits = Decimal::new(u64::from(next));
        self.set(HeaderName::MaxForwards, Bytes::copy_from_slice(digits.as_bytes()))?;
        Ok(next)
    }

    /// Replaces the body (Content-Length follows on serialisation) and, when `content_type`
    /// is given, the Content-Type.
    ///
    /// # Errors
    /// As [`Message::push_front`], for the Content-Type value.
    pub fn set_body(
        &mut self,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Result<(), EditError> {
        if let Some(ct) = content_type {
            self.set(HeaderName::ContentType, Bytes::copy_from_slice(ct.as_bytes()))?;
        }
        let body = body.into();
        self.ix.body = self.own(body);
        self.rekey(HeaderName::Other);
        Ok(())
    }

    /// A copy of this request made for forwarding (RFC 3261 §16.6) in one pass: the start line
    /// with `request_uri` (or the present one), the `front` lines above all others (the first
    /// one on top: a proxy's Via, its Record-Route, §16.6 steps 4 and 8), and every present line
    /// below them as it is, except that `max_forwards`, when given, replaces every Max-Forwards
    /// line with one line holding it (at the place of the first, or at the end if there was
    /// none, §16.6 step 3). Content-Length is written as [`Message::write_to`] writes it.
    ///
    /// The result is what the same edits ([`Message::set_request_uri`],
    /// [`Message::set`] of Max-Forwards, [`Message::push_front`] of the `front` lines from the
    /// last to the first) would give, written into one new buffer: the same bytes on the wire,
    /// and a message that is sent as it is (no line-by-line serialisation), whose lines are
    /// indexed as parsing those bytes would index them. Untouched lines are copied with their
    /// eager keys (top Via branch, tags, Call-ID, CSeq) instead of being parsed again.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::{HeaderName as H, Message};
    /// # let msg = Message::parse(Bytes::from_static(b"BYE sip:b@example.com SIP/2.0\r\n\
    /// #     Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
    /// #     CSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n"))?;
    /// let via = b"SIP/2.0/UDP p.example.com;branch=z9hG4bKp1";
    /// let copy = msg.forwarded(Some("sip:b@192.0.2.4"), &[(H::Via, &via[..])], Some(69))?;
    /// assert_eq!(copy.via_branch(), Some("z9hG4bKp1"));
    /// assert_eq!(copy.max_forwards(), Some(69));
    /// assert_eq!(copy.request_uri_str(), Some("sip:b@192.0.2.4"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`EditError::NotARequest`] on a response; [`EditError::BadValue`] if `request_uri` is
    /// empty or holds whitespace or control characters, or a `front` value holds CR, LF or
    /// NUL; [`EditError::UnnamedHeader`] for a `front` line named [`HeaderName::Other`].
    pub fn forwarded(
        &self,
        request_uri: Option<&str>,
        front: &[(HeaderName, &[u8])],
        max_forwards: Option<u8>,
    ) -> Result<Message, EditError> {
        self.forwarded_restamped(request_uri, front, None, max_forwards)
    }

    /// [`forwarded`](Self::forwarded) of this request with its top Via value replaced by
    /// `top_via` first, when it is given and the request has a Via: the value a proxy stamps
    /// with `received` and `rport` (RFC 3261 §18.2.1, RFC 3581 §4) goes into the copy without
    /// the request itself being edited.
    ///
    /// The result is what [`Message::pop_front`] of [`HeaderName::Via`] followed by
    /// [`Message::push_front`] of `top_via` (the new line above all others), then the edits
    /// [`forwarded`](Self::forwarded) stands for, would give.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::{HeaderName as H, Message};
    /// # let msg = Message::parse(Bytes::from_static(b"BYE sip:b@example.com SIP/2.0\r\n\
    /// #     Via: SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
    /// #     CSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n"))?;
    /// let via = b"SIP/2.0/UDP p.example.com;branch=z9hG4bKp1";
    /// let stamped = b"SIP/2.0/UDP 192.0.2.1;rport=5060;branch=z9hG4bK1";
    /// let copy = msg.forwarded_restamped(None, &[(H::Via, &via[..])], Some(&stamped[..]), Some(69))?;
    /// assert_eq!(copy.values(H::Via).nth(1), Some(&stamped[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`forwarded`](Self::forwarded), and [`EditError::BadValue`] if `top_via` holds
    /// CR, LF or NUL.
    pub fn forwarded_restamped(
        &self,
        request_uri: Option<&str>,
        front: &[(HeaderName, &[u8])],
        top_via: Option<&[u8]>,
        max_forwards: Option<u8>,
    ) -> Result<Message, EditError> {
        let (out, method, uri_slot) =
            self.write_forwarded(request_uri, front, top_via, max_forwards, true)?;
        let mut forwarded = out.finish(self.body(), method, uri_slot);
        // The copied lines are the lines of `buf`, folded as they were.
        forwarded.ix.keys.line_breaks = self.ix.keys.line_breaks;
        Ok(forwarded)
    }

    /// The bytes of [`forwarded_restamped`](Self::forwarded_restamped) (what
    /// [`Message::to_bytes`] of its result gives), written without indexing them: for a copy
    /// that is only sent (an ACK for a 2xx, a stateless forward, RFC 3261 §16.11), with none
    /// of its lines read again.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::{HeaderName as H, Message};
    /// # let msg = Message::parse(Bytes::from_static(b"ACK sip:b@example.com SIP/2.0\r\n\
    /// #     Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
    /// #     CSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n"))?;
    /// let via = b"SIP/2.0/UDP p.example.com;branch=z9hG4bKp1";
    /// let bytes = msg.forwarded_restamped_bytes(None, &[(H::Via, &via[..])], None, Some(69))?;
    /// let copy = msg.forwarded_restamped(None, &[(H::Via, &via[..])], None, Some(69))?;
    /// assert_eq!(bytes, copy.to_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`forwarded_restamped`](Self::forwarded_restamped).
    pub fn forwarded_restamped_bytes(
        &self,
        request_uri: Option<&str>,
        front: &[(HeaderName, &[u8])],
        top_via: Option<&[u8]>,
        max_forwards: Option<u8>,
    ) -> Result<Bytes, EditError> {
        let (out, ..) = self.write_forwarded(request_uri, front, top_via, max_forwards, false)?;
        Ok(Bytes::from(out.finish_bytes(self.body()).0))
    }

    /// [`forwarded_restamped_bytes`](Self::forwarded_restamped_bytes) with what a client
    /// transaction reads of the request (RFC 3261 §17.1), as the writer knows it: the method,
    /// the branch of the top Via (the first Via of `front`, found in the bytes written), the
    /// CSeq method and whether a Call-ID is there (both copied from this request). For a copy
    /// sent on a client transaction (a proxy's forwarded request, §16.6 steps 8-10) with
    /// nothing indexed.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::{HeaderName as H, Message, Method};
    /// # let msg = Message::parse(Bytes::from_static(b"BYE sip:b@example.com SIP/2.0\r\n\
    /// #     Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
    /// #     Call-ID: c1\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n"))?;
    /// let via = b"SIP/2.0/UDP p.example.com;branch=z9hG4bKp1";
    /// let written = msg.forwarded_request_bytes(None, &[(H::Via, &via[..])], None, Some(69))?;
    /// let copy = msg.forwarded_restamped(None, &[(H::Via, &via[..])], None, Some(69))?;
    /// assert_eq!(written.bytes(), &copy.to_bytes());
    /// assert_eq!(written.branch(), Some(&b"z9hG4bKp1"[..]));
    /// assert_eq!((written.method(), written.cseq_method()), (&Method::Bye, Some(&Method::Bye)));
    /// assert!(written.has_call_id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`forwarded_restamped`](Self::forwarded_restamped).
    pub fn forwarded_request_bytes(
        &self,
        request_uri: Option<&str>,
        front: &[(HeaderName, &[u8])],
        top_via: Option<&[u8]>,
        max_forwards: Option<u8>,
    ) -> Result<ForwardedRequest, EditError> {
        let (out, method, uri_slot) =
            self.write_forwarded(request_uri, front, top_via, max_forwards, false)?;
        // The front lines follow the request line, each as `name: value`: the first Via of
        // `front` is the copy's top Via, its value where the request line and the lines before
        // it end.
        let mut at = uri_slot.end as usize + b" SIP/2.0\r\n".len();
        let mut branch = None;
        for &(name, value) in front {
            let value_at = at + name.as_str().len() + 2;
            if name == HeaderName::Via {
                let offset = |i: usize| u32::try_from(value_at + i).ok();
                branch = top_via_branch(value).and_then(|(s, e)| Some((offset(s)?, offset(e)?)));
                break;
            }
            at = value_at + value.len() + 2;
        }
        // A CSeq or Call-ID line put in front would be read before the copied one: not known.
        let copied = |h: HeaderName| front.iter().all(|&(name, _)| name != h);
        let cseq_method = self.cseq_method().filter(|_| copied(HeaderName::CSeq)).cloned();
        let call_id = self.call_id_bytes().is_some() && copied(HeaderName::CallId);
        let bytes = Bytes::from(out.finish_bytes(self.body()).0);
        Ok(ForwardedRequest { bytes, method: method.clone(), branch, cseq_method, call_id })
    }

    /// The one writer of [`forwarded_restamped`](Self::forwarded_restamped) and
    /// [`forwarded_restamped_bytes`](Self::forwarded_restamped_bytes): the copy written up to
    /// its blank line, its lines indexed when `index` is set, with the method and the slot of
    /// the Request-URI written.
    #[inline]
    fn write_forwarded(
        &self,
        request_uri: Option<&str>,
        front: &[(HeaderName, &[u8])],
        top_via: Option<&[u8]>,
        max_forwards: Option<u8>,
        index: bool,
    ) -> Result<(Indexing<'_>, &Method, Slot), EditError> {
        if top_via.is_some_and(breaks_line) {
            return Err(EditError::BadValue);
        }
        // The line whose first value `top_via` replaces (none without a Via).
        let restamp = top_via.and_then(|v| {
            let at = self.ix.headers.iter().position(|e| e.name == HeaderName::Via)?;
            Some((at, v))
        });
        let StartLine::Request { method, uri } = &self.ix.start else {
            return Err(EditError::NotARequest);
        };
        let uri_bytes = match request_uri {
            Some(u) if u.is_empty() || u.bytes().any(|c| c <= b' ' || c == 0x7f) => {
                return Err(EditError::BadValue);
            }
            Some(u) => u.as_bytes(),
            None => self.slot(*uri),
        };
        let mut front_len = 0;
        for (name, value) in front {
            if breaks_line(value) {
                return Err(EditError::BadValue);
            }
            if *name == HeaderName::Other {
                return Err(EditError::UnnamedHeader);
            }
            front_len += name.as_str().len() + value.len() + 4;
        }
        let body = self.body();
        let mut buf = Vec::with_capacity(
            self.serialized_len_hint() + uri_bytes.len() + front_len + body.len(),
        );
        buf.extend_from_slice(method.as_bytes());
        buf.extend_from_slice(b" ");
        let uri_start = buf.len();
        buf.extend_from_slice(uri_bytes);
        let uri_slot = Slot::buf(uri_start, buf.len());
        buf.extend_from_slice(b" SIP/2.0\r\n");
        let ix = index.then(|| {
            let mut ix = Parts::boxed();
            ix.headers.reserve(self.ix.headers.len() + front.len() + 1);
            ix
        });
        let mut out = Indexing { buf, ix, from: &self.buf, run: (0, 0) };
        for &(name, value) in front {
            out.line(name, b"", value);
        }
        if let Some((_, value)) = restamp {
            out.line(HeaderName::Via, b"", value);
        }
        let body_len = Decimal::new(body.len() as u64);
        let body_len = body_len.as_bytes();
        let (mut wrote_length, mut wrote_mf) = (false, false);
        // Where the digits of a Max-Forwards line copied as it is go, once the copy is written.
        let mut mf_patch = None;
        for (old, e) in self.ix.headers.iter().enumerate() {
            match e.name {
                HeaderName::MaxForwards if max_forwards.is_some() => {
                    if let (false, Some(n)) = (wrote_mf, max_forwards) {
                        mf_patch = out.copy_max_forwards_line(self, e, n);
                        if mf_patch.is_none() {
                            out.max_forwards_line(n);
                        }
                    }
                    wrote_mf = true;
                    continue;
                }
                HeaderName::ContentLength => {
                    if wrote_length {
                        continue;
                    }
                    wrote_length = true;
                    if self.slot(e.value) != body_len {
                        out.line(HeaderName::ContentLength, self.slot(e.name_text), body_len);
                        continue;
                    }
                }
                HeaderName::Via if restamp.is_some_and(|(at, _)| at == old) => {
                    // The first value goes (`top_via` is above); the rest of its line stays,
                    // as `pop_front` leaves it. A top Via value the parser judged of the
                    // common shape (`fast_via_branch`: no comma can occur in it) is one value.
                    let value = self.slot(e.value);
                    let judged = self.ix.keys.via_judged.0 == Some(e.value);
                    debug_assert!(!judged || after_first_value(value).is_none());
                    let rest = if judged { None } else { after_first_value(value) };
                    if let Some(rest) = rest {
                        out.line(HeaderName::Via, self.slot(e.name_text), rest);
                    }
                    continue;
                }
                _ => {}
            }
            if e.line_end != 0 && e.name_text.src == 0 && e.value.src == 0 {
                out.copy_line(self, old, e);
            } else {
                out.line(e.name, self.slot(e.name_text), self.slot(e.value));
            }
        }
        if let (false, Some(n)) = (wrote_mf, max_forwards) {
            out.max_forwards_line(n);
        }
        if !wrote_length {
            out.line(HeaderName::ContentLength, b"", body_len);
        }
        out.flush();
        if let (Some(at), Some(n)) = (mf_patch, max_forwards) {
            out.patch_max_forwards(at, n);
        }
        Ok((out, method, uri_slot))
    }

    /// Recomputes the eager keys from scratch.
    #[cfg(test)]
    fn reindex(&mut self) {
        self.ix.pristine = None;
        let mut keys = Keys::default();
        for (i, e) in self.ix.headers.iter().enumerate() {
            // An edit may have introduced a bad Content-Length; serialisation rewrites it
            // anyway, so such an error is not kept here.
            let _ = keys.observe(e.name, i, self.slot(e.value), e.value);
        }
        keys.content_length = Some(self.body().len() as u32);
        self.ix.keys = keys;
    }

    /// Recomputes the eager keys after an edit that added, removed or changed lines of
    /// `changed` only (RFC 3261 §16.6 and §16.7 edits touch one header each). Each key depends
    /// on the lines of its own name alone (the first Via, the first From, ...), so the lines of
    /// `changed` are observed afresh, the other keys keep their values, and the line positions,
    /// which shift with any insertion or removal, are found again.
    fn rekey(&mut self, changed: HeaderName) {
        self.ix.pristine = None;
        let body_len = self.body().len() as u32;
        let mut fresh = Keys::default();
        let (mut via, mut from, mut to) = (None, None, None);
        for (i, e) in self.ix.headers.iter().enumerate() {
            match e.name {
                HeaderName::Via => via = via.or(Some(i as u16)),
                HeaderName::From => from = from.or(Some(i as u16)),
                HeaderName::To => to = to.or(Some(i as u16)),
                _ => {}
            }
            if e.name == changed {
                // A bad Content-Length is rewritten on serialisation: not an error here.
                let _ = fresh.observe(e.name, i, self.slot(e.value), e.value);
            }
        }
        let keys = &mut self.ix.keys;
        match changed {
            HeaderName::Via => (keys.branch, keys.via_judged) = (fresh.branch, fresh.via_judged),
            HeaderName::From => {
                (keys.from_tag, keys.from_judged) = (fresh.from_tag, fresh.from_judged)
            }
            HeaderName::To => (keys.to_tag, keys.to_judged) = (fresh.to_tag, fresh.to_judged),
            HeaderName::CallId => keys.call_id = fresh.call_id,
            HeaderName::CSeq => {
                (keys.cseq_number, keys.cseq_method, keys.cseq_seen) =
                    (fresh.cseq_number, fresh.cseq_method, fresh.cseq_seen);
            }
            HeaderName::MaxForwards => {
                (keys.max_forwards, keys.max_forwards_seen) =
                    (fresh.max_forwards, fresh.max_forwards_seen);
            }
            HeaderName::ContentLength => {
                keys.content_length_lines = fresh.content_length_lines;
                // An edited line may be one `observe` refuses.
                keys.lengths_judged = JudgedAll(false);
            }
            _ => {}
        }
        (keys.via, keys.from, keys.to) = (via, from, to);
        keys.content_length = Some(body_len);
    }

    /// [`rekey`](Self::rekey) after the removal of one line of `changed`, the `at`-th: the
    /// lines after it moved up by one, and the key of `changed` is observed afresh only when
    /// it came from that line (it then comes from the next line of its name, if any). Keys
    /// that depend on more than the first line of their name are recomputed by `rekey`.
    fn rekey_removed(&mut self, changed: HeaderName, at: usize) {
        let slot = match changed {
            HeaderName::Via => self.ix.keys.via,
            HeaderName::From => self.ix.keys.from,
            HeaderName::To => self.ix.keys.to,
            HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::MaxForwards
            | HeaderName::ContentLength => {
                self.rekey(changed);
                return;
            }
            _ => None,
        };
        self.ix.pristine = None;
        let mut fresh = Keys::default();
        if slot == Some(at as u16) {
            let next = self.ix.headers.iter().enumerate().skip(at).find(|(_, e)| e.name == changed);
            if let Some((i, e)) = next {
                // A bad Content-Length is rewritten on serialisation: not an error here.
                let _ = fresh.observe(e.name, i, self.slot(e.value), e.value);
            }
        }
        let body_len = self.body().len() as u32;
        let keys = &mut self.ix.keys;
        let moved = |k: &mut Option<u16>| {
            if let Some(i) = k.as_mut().filter(|i| usize::from(**i) > at) {
                *i -= 1;
            }
        };
        moved(&mut keys.via);
        moved(&mut keys.from);
        moved(&mut keys.to);
        if slot == Some(at as u16) {
            keys.adopt_line_key(changed, &fresh);
        }
        keys.content_length = Some(body_len);
    }

    /// [`rekey`](Self::rekey) after line `at`, the only line of `changed`, got a new value:
    /// no line moved, and the key of `changed` comes from that line alone. Keys that depend
    /// on more than the first line of their name are recomputed by `rekey`.
    fn rekey_replaced(&mut self, changed: HeaderName, at: usize) {
        if matches!(
            changed,
            HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::MaxForwards
                | HeaderName::ContentLength
        ) {
            self.rekey(changed);
            return;
        }
        self.ix.pristine = None;
        let mut fresh = Keys::default();
        if let Some(e) = self.ix.headers.get(at) {
            // Not a Content-Length line: no error to ignore.
            let _ = fresh.observe(e.name, at, self.slot(e.value), e.value);
        }
        let body_len = self.body().len() as u32;
        self.ix.keys.adopt_line_key(changed, &fresh);
        self.ix.keys.content_length = Some(body_len);
    }

    // ----- serialisation ------------------------------------------------------------------

    /// Bytes the serialised message will need at most (a capacity hint).
    #[must_use]
    pub fn serialized_len_hint(&self) -> usize {
        self.buf.len() + self.ix.owned.iter().map(|b| b.len() + 32).sum::<usize>() + 32
    }

    /// Appends the message to `out` (RFC 3261 §7): untouched header lines byte for byte,
    /// edited or created ones as `Name: value`, and a Content-Length that always equals the
    /// body's length (written once, where the first Content-Length was, or added at the end).
    pub fn write_to(&self, out: &mut BytesMut) {
        if let Some((start, end, _)) = self.ix.pristine {
            out.extend_from_slice(self.buf.get(start as usize..end as usize).unwrap_or_default());
            return;
        }
        out.reserve(self.serialized_len_hint());
        match &self.ix.start {
            StartLine::Request { method, uri } => {
                out.extend_from_slice(method.as_bytes());
                out.extend_from_slice(b" ");
                out.extend_from_slice(self.slot(*uri));
                out.extend_from_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                out.extend_from_slice(b"SIP/2.0 ");
                let digits = Decimal::new(u64::from(*code));
                out.extend_from_slice(digits.as_bytes());
                out.extend_from_slice(b" ");
                out.extend_from_slice(self.slot(*reason));
                out.extend_from_slice(b"\r\n");
            }
        }
        let body = self.body();
        let body_len = Decimal::new(body.len() as u64);
        let body_len = body_len.as_bytes();
        let mut wrote_length = false;
        // Untouched lines that follow each other in the buffer, CRLF included, are copied as
        // one run (an edit usually leaves most lines so).
        let mut run = (0, 0);
        let flush = |out: &mut BytesMut, run: &mut (usize, usize)| {
            if run.0 < run.1 {
                out.extend_from_slice(self.buf.get(run.0..run.1).unwrap_or_default());
            }
            *run = (0, 0);
        };
        for e in &self.ix.headers {
            let value = self.slot(e.value);
            if e.name == HeaderName::ContentLength {
                if wrote_length {
                    continue;
                }
                wrote_length = true;
                if value != body_len {
                    flush(out, &mut run);
                    write_line(out, self.slot(e.name_text), HeaderName::ContentLength, body_len);
                    continue;
                }
            }
            if e.line_end != 0 && e.name_text.src == 0 && e.value.src == 0 {
                let (start, end) = (e.name_text.start as usize, e.line_end as usize);
                if self.buf.get(end..end + 2) == Some(b"\r\n") {
                    if run.1 != start || run.0 == run.1 {
                        flush(out, &mut run);
                        run.0 = start;
                    }
                    run.1 = end + 2;
                    continue;
                }
                flush(out, &mut run);
                out.extend_from_slice(self.buf.get(start..end).unwrap_or_default());
                out.extend_from_slice(b"\r\n");
            } else {
                flush(out, &mut run);
                write_line(out, self.slot(e.name_text), e.name, value);
            }
        }
        flush(out, &mut run);
        if !wrote_length {
            write_line(out, b"", HeaderName::ContentLength, body_len);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }

    /// The serialised message as one buffer. A message that was parsed and never edited is
    /// returned as it was received when its Content-Length was present and exact.
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        if let Some((start, end, _)) = self.ix.pristine {
            return self.buf.slice(start as usize..end as usize);
        }
        let mut out = BytesMut::new();
        self.write_to(&mut out);
        out.freeze()
    }
}

/// A request written as bytes by [`Message::forwarded_request_bytes`], with what a client
/// transaction reads of it (RFC 3261 §17.1), as the writer knew it while writing: no parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedRequest {
    /// The request as sent.
    bytes: Bytes,
    /// The method of its request line.
    method: Method,
    /// Where the `branch` of its top Via lies in `bytes`, when the writer put that Via there
    /// (the first Via of the front lines) and it has one.
    branch: Option<(u32, u32)>,
    /// The CSeq method, when the CSeq line was copied from a request that had one.
    cseq_method: Option<Method>,
    /// Whether a well-formed Call-ID was copied.
    call_id: bool,
}

impl ForwardedRequest {
    /// The request as written (what [`Message::to_bytes`] of
    /// [`Message::forwarded_restamped`]'s copy gives).
    #[must_use]
    #[inline]
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The request as written, owned.
    #[must_use]
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// The method of the request line.
    #[must_use]
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The `branch` parameter of the top Via, read where it lies in [`bytes`](Self::bytes);
    /// `None` when that Via was not written in front (it came from the request copied) or has
    /// no branch: read the request parsed then.
    #[must_use]
    #[inline]
    pub fn branch(&self) -> Option<&[u8]> {
        let (start, end) = self.branch?;
        self.bytes.get(start as usize..end as usize)
    }

    /// The CSeq method (RFC 3261 §8.1.1.5); `None` when the request copied had no
    /// well-formed CSeq or a CSeq line was put in front.
    #[must_use]
    #[inline]
    pub fn cseq_method(&self) -> Option<&Method> {
        self.cseq_method.as_ref()
    }

    /// Whether the request has a well-formed Call-ID copied from the request it was written
    /// from (`false` when a Call-ID line was put in front: read the request parsed then).
    #[must_use]
    #[inline]
    pub fn has_call_id(&self) -> bool {
        self.call_id
    }
}

/// A message being written line by line by [`Message::forwarded`], indexed as it is written.
struct Indexing<'a> {
    /// The bytes written: a `Vec`, whose appends are lighter than a `BytesMut`'s, and which
    /// becomes the message's `Bytes` as a `BytesMut` would (`BytesMut::freeze` converts the
    /// same `Vec`).
    buf: Vec<u8>,
    /// The index and keys of the lines written (the message's parts to be); `None` for a
    /// copy written as bytes only.
    ix: Option<Box<Parts>>,
    /// The buffer untouched lines are copied from.
    from: &'a [u8],
    /// Untouched lines of `from` that follow each other, CRLF included, indexed already and
    /// not yet copied: copied as one run (as [`Message::write_to`] copies them) when a
    /// written line or the end comes.
    run: (usize, usize),
}

impl Indexing<'_> {
    /// The request written: the end of the header, `body`, and the message, its one
    /// Content-Length line holding the body's length.
    #[inline(always)]
    fn finish(self, body: &[u8], method: &Method, uri: Slot) -> Message {
        let body_len = body.len() as u32;
        let (buf, ix, body) = self.finish_bytes(body);
        let mut ix = ix.unwrap_or_else(Parts::boxed);
        ix.keys.content_length = Some(body_len);
        ix.keys.content_length_lines = 1;
        ix.start = StartLine::Request { method: method.clone(), uri };
        Message::indexed(Bytes::from(buf), ix, body)
    }

    /// The bytes written: the end of the header and `body` appended, with the index (when
    /// kept) and the slot of the body.
    #[inline(always)]
    fn finish_bytes(self, body: &[u8]) -> (Vec<u8>, Option<Box<Parts>>, Slot) {
        let Indexing { mut buf, ix, .. } = self;
        buf.extend_from_slice(b"\r\n");
        let body_start = buf.len();
        buf.extend_from_slice(body);
        let body = Slot::buf(body_start, buf.len());
        (buf, ix, body)
    }

    /// Writes the digits of `n` at `at`, where a Max-Forwards line copied as it is holds as
    /// many digits ([`copy_max_forwards_line`](Self::copy_max_forwards_line)).
    fn patch_max_forwards(&mut self, at: usize, n: u8) {
        let (digits, len) = u8_digits(n);
        if let (Some(old), Some(digits)) = (self.buf.get_mut(at..at + len), digits.get(..len)) {
            old.copy_from_slice(digits);
        }
    }

    /// Whether Max-Forwards line `e` of `from`, as parsed, is written as
    /// [`max_forwards_line`](Self::max_forwards_line) writes `n`, but for its digits:
    /// `Max-Forwards: ` and as many digits as `n` has, ended by CRLF.
    fn plain_max_forwards(&self, from: &Message, e: &Entry, n: Option<u8>) -> bool {
        let Some(n) = n else { return false };
        let name = HeaderName::MaxForwards.as_str().as_bytes();
        let (line_start, end) = (e.name_text.start(), e.line_end as usize);
        let name_end = line_start + name.len();
        e.line_end != 0
            && e.name_text.src == 0
            && e.value.src == 0
            && e.name_text.end as usize == name_end
            && e.value.start() == name_end + 2
            && e.value.end == e.line_end
            && end - e.value.start() == u8_digits(n).1
            && from.buf.get(line_start..name_end) == Some(name)
            && from.buf.get(name_end..name_end + 2) == Some(b": ")
            && from.buf.get(end..end + 2) == Some(b"\r\n")
    }

    /// Copies the pending run of untouched lines.
    fn flush(&mut self) {
        if self.run.0 < self.run.1 {
            self.buf.extend_from_slice(self.from.get(self.run.0..self.run.1).unwrap_or_default());
        }
        self.run = (0, 0);
    }

    /// Writes `name_text: value` (the canonical name when `name_text` is empty), as
    /// [`Message::write_to`] writes an edited line, and indexes it as the parser would.
    fn line(&mut self, name: HeaderName, name_text: &[u8], value: &[u8]) {
        self.flush();
        let name_start = self.buf.len();
        let name_text = if name_text.is_empty() { name.as_str().as_bytes() } else { name_text };
        self.buf.reserve(name_text.len() + value.len() + 4);
        self.buf.extend_from_slice(name_text);
        let name_end = self.buf.len();
        self.buf.extend_from_slice(b": ");
        let value_from = self.buf.len();
        self.buf.extend_from_slice(value);
        let content_end = self.buf.len();
        self.buf.extend_from_slice(b"\r\n");
        let Some(ix) = &mut self.ix else { return };
        let raw = RawLine { name, name_start, name_end, value_from, content_end };
        // A value the parser would refuse (a bad Content-Length an edit put there) is written
        // as the edits would write it; its key stays unset, as after the edit.
        let _ = index_header(&mut ix.headers, &mut ix.keys, &self.buf, raw);
    }

    /// Writes `Max-Forwards: n` as [`line`](Self::line) writes it, and indexes it as the parser
    /// would without reading the digits back: the value has no whitespace to trim, and the
    /// first Max-Forwards line's key is `n`.
    fn max_forwards_line(&mut self, n: u8) {
        self.flush();
        let name = HeaderName::MaxForwards;
        let digits = Decimal::new(u64::from(n));
        let digits = digits.as_bytes();
        let name_start = self.buf.len();
        self.buf.reserve(name.as_str().len() + digits.len() + 4);
        self.buf.extend_from_slice(name.as_str().as_bytes());
        let name_end = self.buf.len();
        self.buf.extend_from_slice(b": ");
        let value_from = self.buf.len();
        self.buf.extend_from_slice(digits);
        let content_end = self.buf.len();
        self.buf.extend_from_slice(b"\r\n");
        let Some(ix) = &mut self.ix else { return };
        ix.headers.push(Entry {
            name,
            name_text: Slot::buf(name_start, name_end),
            value: Slot::buf(value_from, content_end),
            line_end: content_end as u32,
        });
        if !ix.keys.max_forwards_seen {
            ix.keys.max_forwards_seen = true;
            ix.keys.max_forwards = Some(n);
        }
    }

    /// [`max_forwards_line`](Self::max_forwards_line) of `n` for line `e` of `from`, a
    /// Max-Forwards line untouched since parsing and written as that line would be
    /// (`Max-Forwards: ` and as many digits as `n` has, then CRLF): the line joins the run of
    /// untouched lines as it is, and the place of its digits in the copy is returned, to be
    /// overwritten with `n` once the run is copied. `None`, with nothing written, for any other
    /// line.
    fn copy_max_forwards_line(&mut self, from: &Message, e: &Entry, n: u8) -> Option<usize> {
        if !self.plain_max_forwards(from, e, Some(n)) {
            return None;
        }
        let name = HeaderName::MaxForwards.as_str().as_bytes();
        let (line_start, end) = (e.name_text.start(), e.line_end as usize);
        let digits = (e.value.end - e.value.start) as usize;
        if self.run.1 != line_start || self.run.0 == self.run.1 {
            self.flush();
            self.run.0 = line_start;
        }
        self.run.1 = end + 2;
        let name_start = self.buf.len() + (line_start - self.run.0);
        let value_from = name_start + name.len() + 2;
        let content_end = value_from + digits;
        if let Some(ix) = &mut self.ix {
            ix.headers.push(Entry {
                name: HeaderName::MaxForwards,
                name_text: Slot::buf(name_start, name_start + name.len()),
                value: Slot::buf(value_from, content_end),
                line_end: content_end as u32,
            });
            if !ix.keys.max_forwards_seen {
                ix.keys.max_forwards_seen = true;
                ix.keys.max_forwards = Some(n);
            }
        }
        Some(value_from)
    }

    /// Copies line `e` (number `old`) of `from`, untouched since parsing, byte for byte, and
    /// carries its eager keys over instead of observing its value again: `from`'s keys are
    /// what observing its lines gives, and a key line of `from` that is the first of its kind
    /// here too (every earlier line of its name was copied before it) gives the same key.
    fn copy_line(&mut self, from: &Message, old: usize, e: &Entry) {
        let line_start = e.name_text.start();
        let end = e.line_end as usize;
        let name_start = if from.buf.get(end..end + 2) == Some(b"\r\n") {
            // Joins the pending run (the line and its CRLF, as they are), copied later.
            if self.run.1 != line_start || self.run.0 == self.run.1 {
                self.flush();
                self.run.0 = line_start;
            }
            self.run.1 = end + 2;
            self.buf.len() + (line_start - self.run.0)
        } else {
            self.flush();
            let raw = from.buf.get(line_start..end).unwrap_or_default();
            let name_start = self.buf.len();
            self.buf.reserve(raw.len() + 2);
            self.buf.extend_from_slice(raw);
            self.buf.extend_from_slice(b"\r\n");
            name_start
        };
        let Some(ix) = &mut self.ix else { return };
        let shift = |s: Slot| {
            let start = name_start + (s.start as usize - line_start);
            Slot::buf(start, start + (s.end - s.start) as usize)
        };
        let value = shift(e.value);
        let at = ix.headers.len();
        ix.headers.push(Entry {
            name: e.name,
            name_text: shift(e.name_text),
            value,
            line_end: (name_start + (e.line_end as usize - line_start)) as u32,
        });
        let keys = &mut ix.keys;
        let mine = Some(old as u16);
        let carry = |k: Option<Slot>| k.and_then(|k| k.rebase(e.value, value));
        match e.name {
            HeaderName::Via if keys.via.is_none() && from.ix.keys.via == mine => {
                keys.via = Some(at as u16);
                keys.branch = carry(from.ix.keys.branch);
            }
            HeaderName::From if keys.from.is_none() && from.ix.keys.from == mine => {
                keys.from = Some(at as u16);
                keys.from_tag = carry(from.ix.keys.from_tag);
            }
            HeaderName::To if keys.to.is_none() && from.ix.keys.to == mine => {
                keys.to = Some(at as u16);
                keys.to_tag = carry(from.ix.keys.to_tag);
            }
            HeaderName::CallId
                if keys.call_id.is_none() && from.ix.keys.call_id == Some(e.value) =>
            {
                keys.call_id = Some(value);
            }
            HeaderName::CSeq if !keys.cseq_seen && from.ix.keys.cseq_seen => {
                keys.cseq_seen = true;
                keys.cseq_number = from.ix.keys.cseq_number;
                keys.cseq_method.clone_from(&from.ix.keys.cseq_method);
            }
            name => {
                // The value's bytes as they are in `from` (the copy may not be written yet).
                let _ = keys.observe(name, at, from.slot(e.value), value);
            }
        }
    }
}

/// The decimal digits of `n` as [`Decimal`] writes them (no leading zero), in the first of the
/// three bytes, and how many there are.
fn u8_digits(n: u8) -> ([u8; 3], usize) {
    match n {
        0..=9 => ([b'0' + n, 0, 0], 1),
        10..=99 => ([b'0' + n / 10, b'0' + n % 10, 0], 2),
        _ => ([b'0' + n / 100, b'0' + n / 10 % 10, b'0' + n % 10], 3),
    }
}

/// What [`Message::pop_front`] leaves of list line `line` once its first value is taken off
/// (`None`: the line goes).
fn after_first_value(line: &[u8]) -> Option<&[u8]> {
    line.get(FirstValue::of(line).rest?..)
}

/// How [`split_list`] splits a list line into its first value and the rest: the first value's
/// range (trimmed of LWS), and where the second value starts (after the comma and any LWS;
/// `None` when the line holds one value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FirstValue {
    start: usize,
    end: usize,
    rest: Option<usize>,
}

impl FirstValue {
    /// The split of `line`, found with vectorised searches instead of `split_list`'s
    /// byte-by-byte walk: a line without a comma is one value (as `split_list` finds first);
    /// otherwise the first comma outside quotes and `<...>` ends the first value, a `<` skipping
    /// to the next `>` and a quote to its closing quote (past backslash escapes), as
    /// `split_list`'s quote and bracket states do.
    #[inline]
    fn of(line: &[u8]) -> FirstValue {
        if memchr::memchr(b',', line).is_none() {
            return FirstValue::single(line);
        }
        let mut i = 0;
        let first_end = loop {
            let Some(j) = line.get(i..).and_then(|s| memchr::memchr3(b',', b'"', b'<', s)) else {
                return FirstValue::single(line);
            };
            let j = i + j;
            match line.get(j) {
                Some(b'<') => match line.get(j + 1..).and_then(|s| memchr::memchr(b'>', s)) {
                    Some(k) => i = j + 1 + k + 1,
                    None => return FirstValue::single(line),
                },
                Some(b'"') => {
                    let mut q = j + 1;
                    loop {
                        let Some(k) = line.get(q..).and_then(|s| memchr::memchr2(b'"', b'\\', s))
                        else {
                            return FirstValue::single(line);
                        };
                        if line.get(q + k) == Some(&b'"') {
                            i = q + k + 1;
                            break;
                        }
                        q += k + 2;
                    }
                }
                _ => break j,
            }
        };
        let (start, end) = trimmed(line, 0, first_end);
        let mut rest = first_end + 1;
        while line.get(rest).is_some_and(|&c| is_lws(c)) {
            rest += 1;
        }
        FirstValue { start, end, rest: Some(rest.min(line.len())) }
    }

    /// A line holding one value: all of it, trimmed.
    #[inline]
    fn single(line: &[u8]) -> FirstValue {
        let (start, end) = trimmed(line, 0, line.len());
        FirstValue { start, end, rest: None }
    }

    /// The split as `split_list` makes it.
    #[cfg(test)]
    fn walked(line: &[u8]) -> FirstValue {
        let offset = |piece: &[u8]| piece.as_ptr() as usize - line.as_ptr() as usize;
        let mut pieces = split_list(line);
        let first = pieces.next().unwrap_or(line);
        let start = offset(first);
        let rest = pieces.next().map(offset);
        FirstValue { start, end: start + first.len(), rest }
    }
}

/// Whether `c` is linear whitespace as `trim_lws` trims it.
#[inline]
fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// `line[from..to]` without leading and trailing LWS, as offsets in `line` (as `trim_lws` trims).
#[inline]
fn trimmed(line: &[u8], from: usize, to: usize) -> (usize, usize) {
    let (mut s, mut e) = (from, to);
    while s < e && line.get(s).is_some_and(|&c| is_lws(c)) {
        s += 1;
    }
    while e > s && line.get(e - 1).is_some_and(|&c| is_lws(c)) {
        e -= 1;
    }
    (s, e)
}

/// Writes `name: value\r\n`, using the name as written when there is one.
fn write_line(out: &mut BytesMut, name_text: &[u8], name: HeaderName, value: &[u8]) {
    if name_text.is_empty() {
        out.extend_from_slice(name.as_str().as_bytes());
    } else {
        out.extend_from_slice(name_text);
    }
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Rejects values that would inject a line break (or a NUL, which no SIP header carries raw).
fn checked_value(value: Bytes) -> Result<Bytes, EditError> {
    if breaks_line(&value) {
        return Err(EditError::BadValue);
    }
    Ok(value)
}

/// Whether a value holds CR, LF or NUL.
#[inline]
fn breaks_line(value: &[u8]) -> bool {
    memchr::memchr3(b'\r', b'\n', 0, value).is_some()
}

/// Why an edit was refused. The message is left unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditError {
    /// The value contains CR, LF or NUL, which would inject a line (or is otherwise unusable).
    BadValue,
    /// The header name is not a token.
    BadName,
    /// [`HeaderName::Other`] carries no spelling: use the `*_named` methods.
    UnnamedHeader,
    /// The edit applies to requests only.
    NotARequest,
    /// Max-Forwards is already 0: answer 483 Too Many Hops (RFC 3261 §16.3 step 3).
    MaxForwardsExhausted,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EditError::BadValue => "header value contains CR, LF or NUL",
            EditError::BadName => "header name is not a token",
            EditError::UnnamedHeader => "HeaderName::Other has no spelling; use a *_named method",
            EditError::NotARequest => "the message is not a request",
            EditError::MaxForwardsExhausted => "Max-Forwards is already 0",
        })
    }
}

impl std::error::Error for EditError {}

impl PartialEq for Message {
    /// Semantic equality: the same start line, the same header lines in order (names compared
    /// as classified, values byte for byte), and the same body. Content-Length lines are
    /// skipped: serialisation derives them from the body.
    fn eq(&self, other: &Self) -> bool {
        let start_eq = match (&self.ix.start, &other.ix.start) {
            (
                StartLine::Request { method: m1, uri: u1 },
                StartLine::Request { method: m2, uri: u2 },
            ) => m1 == m2 && self.slot(*u1) == other.slot(*u2),
            (
                StartLine::Response { code: c1, reason: r1 },
                StartLine::Response { code: c2, reason: r2 },
            ) => c1 == c2 && self.slot(*r1) == other.slot(*r2),
            _ => false,
        };
        start_eq && self.body() == other.body() && {
            let (a, b) = (comparable_lines(self), comparable_lines(other));
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(x, y)| x.0 == y.0 && x.1.eq_ignore_ascii_case(y.1) && x.2 == y.2)
        }
    }
}

impl Eq for Message {}

/// The header lines that take part in [`Message`] equality.
fn comparable_lines(m: &Message) -> Vec<(HeaderName, &[u8], &[u8])> {
    m.ix.headers
        .iter()
        .filter(|e| e.name != HeaderName::ContentLength)
        .map(|e| {
            let name: &[u8] = if e.name == HeaderName::Other { m.slot(e.name_text) } else { &[] };
            (e.name, name, m.slot(e.value))
        })
        .collect()
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Message");
        match &self.ix.start {
            StartLine::Request { method, uri } => {
                d.field("method", method);
                d.field("uri", &String::from_utf8_lossy(self.slot(*uri)));
            }
            StartLine::Response { code, reason } => {
                d.field("status", code);
                d.field("reason", &String::from_utf8_lossy(self.slot(*reason)));
            }
        }
        let headers: Vec<_> = self
            .lines()
            .map(|l| {
                (
                    String::from_utf8_lossy(l.name_text).into_owned(),
                    String::from_utf8_lossy(l.value).into_owned(),
                )
            })
            .collect();
        d.field("headers", &headers);
        d.field("body_len", &self.body().len());
        d.finish()
    }
}

impl fmt::Display for Message {
    /// The serialised message, lossily decoded as UTF-8 (for people and tests).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A message is its buffer and one pointer: cheap to move between layers. A typical
    /// message keeps its header index in that one allocation, and a clone copies it whole.
    #[test]
    fn message_is_small_and_its_index_inline() {
        assert!(std::mem::size_of::<Message>() <= 40, "{}", std::mem::size_of::<Message>());
        let mut text = b"INVITE sip:b@example.com SIP/2.0\r\n".to_vec();
        for i in 0..HEADERS_CAPACITY + 3 {
            text.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
        }
        text.extend_from_slice(b"\r\n");
        let long = Message::parse(Bytes::from(text)).unwrap();
        assert!(long.ix.headers.spilled());
        let copy = long.clone();
        assert_eq!(copy, long);
        assert_eq!(copy.lines().count(), HEADERS_CAPACITY + 3);
        let short =
            Message::parse(Bytes::from_static(b"SIP/2.0 200 OK\r\nX-A: 1\r\n\r\n")).unwrap();
        assert!(!short.ix.headers.spilled());
        assert!(!short.clone().ix.headers.spilled());
        assert_eq!(short.clone().to_bytes(), short.to_bytes());
        // what keeping each costs besides its bytes: the box, and the spill of the long one
        assert_eq!(short.index_bytes(), std::mem::size_of::<Parts>());
        assert!(
            long.index_bytes()
                >= std::mem::size_of::<Parts>()
                    + (HEADERS_CAPACITY + 3) * std::mem::size_of::<Entry>()
        );
    }

    /// One edit of the kinds a proxy and a UA make.
    #[derive(Clone, Debug)]
    enum Edit {
        PushFront(HeaderName, &'static str),
        PushBack(HeaderName, &'static str),
        PushFrontNamed(&'static str, &'static str),
        PushBackNamed(&'static str, &'static str),
        PopFront(HeaderName),
        RemoveAll(HeaderName),
        Set(HeaderName, &'static str),
        DecrementMaxForwards,
        SetBody(&'static str),
    }

    impl Edit {
        /// Applies the edit to `m`; the tests ignore the result (an edit may not apply).
        fn apply(&self, m: &mut Message) -> Result<(), EditError> {
            match *self {
                Edit::PushFront(n, v) => m.push_front(n, v),
                Edit::PushBack(n, v) => m.push_back(n, v),
                Edit::PushFrontNamed(n, v) => m.push_front_named(n, v),
                Edit::PushBackNamed(n, v) => m.push_back_named(n, v),
                Edit::PopFront(n) => m.pop_front(n).map(drop).ok_or(EditError::BadValue),
                Edit::RemoveAll(n) => {
                    m.remove_all(n);
                    Ok(())
                }
                Edit::Set(n, v) => m.set(n, v),
                Edit::DecrementMaxForwards => m.decrement_max_forwards().map(drop),
                Edit::SetBody(b) => m.set_body(Some("application/sdp"), b),
            }
        }
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let name = prop::sample::select(vec![
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::MaxForwards,
            HeaderName::ContentLength,
            HeaderName::Route,
            HeaderName::Other,
        ]);
        let value = prop::sample::select(vec![
            "SIP/2.0/UDP p.example.com;branch=z9hG4bKp1",
            "SIP/2.0/UDP q ; BRANCH = z9hG4bKq , SIP/2.0/UDP r;branch=z9hG4bKr",
            "<sip:a@b>;tag=t1",
            "\"x;tag=no\" <sip:a@b;tag=no>",
            "call-1@host",
            "bad call id",
            "7 INVITE",
            "7INVITE",
            "69",
            "300",
            "12",
            "",
        ]);
        let named = prop::sample::select(vec!["v", "f", "t", "i", "X-A", "max-forwards", "l"]);
        prop_oneof![
            (name.clone(), value.clone()).prop_map(|(n, v)| Edit::PushFront(n, v)),
            (name.clone(), value.clone()).prop_map(|(n, v)| Edit::PushBack(n, v)),
            (named.clone(), value.clone()).prop_map(|(n, v)| Edit::PushFrontNamed(n, v)),
            (named, value.clone()).prop_map(|(n, v)| Edit::PushBackNamed(n, v)),
            name.clone().prop_map(Edit::PopFront),
            name.clone().prop_map(Edit::RemoveAll),
            (name, value).prop_map(|(n, v)| Edit::Set(n, v)),
            Just(Edit::DecrementMaxForwards),
            prop::sample::select(vec!["", "v=0\r\n"]).prop_map(Edit::SetBody),
        ]
    }

    const BASE: &[u8] = b"INVITE sip:b@c SIP/2.0\r\n\
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\r\n\
        Route: <sip:p@q;lr>\r\n\
        From: <sip:a@b>;tag=f\r\n\
        To: <sip:b@c>\r\n\
        Call-ID: x bad\r\n\
        Call-ID: good@host\r\n\
        CSeq: 1 INVITE\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Re-observing only the edited header's lines gives the keys a full re-observation
        /// of every line gives.
        #[test]
        fn rekey_after_each_edit_equals_a_full_reindex(
            edits in prop::collection::vec(edit(), 1..12)
        ) {
            let mut m = Message::parse(Bytes::from_static(BASE)).unwrap();
            for e in edits {
                let _ = e.apply(&mut m);
                let mut full = m.clone();
                full.reindex();
                prop_assert_eq!(&m.ix.keys, &full.ix.keys);
                // And the keys are what parsing the serialised message finds.
                let again = Message::parse(m.to_bytes()).unwrap();
                prop_assert_eq!(m.via_branch(), again.via_branch());
                prop_assert_eq!(m.from_tag(), again.from_tag());
                prop_assert_eq!(m.to_tag(), again.to_tag());
                prop_assert_eq!(m.call_id(), again.call_id());
                prop_assert_eq!(m.cseq_number(), again.cseq_number());
                prop_assert_eq!(m.cseq_method(), again.cseq_method());
                prop_assert_eq!(m.max_forwards(), again.max_forwards());
                prop_assert_eq!(m.from_header(), again.from_header());
                prop_assert_eq!(m.to_header(), again.to_header());
            }
        }
    }

    /// Bases for [`forwarded_equals_the_edits`]: compact names, odd spacing, a folded line, a
    /// Content-Length in the middle, two Max-Forwards, none.
    const FORWARD_BASES: &[&[u8]] = &[
        BASE,
        b"BYE sip:b@c SIP/2.0\r\n\
          v:  SIP/2.0/UDP a.example.com;branch=z9hG4bKa , SIP/2.0/TCP b;branch=z9hG4bKb\r\n\
          Max-Forwards: 7\r\n\
          l: 5\r\n\
          f: <sip:a@b>;tag=f\r\n\
          Subject: one,\r\n two\r\n\
          t: <sip:b@c>;tag=t\r\n\
          i: call@host\r\n\
          Max-Forwards: 9\r\n\
          CSeq: 2 BYE\r\n\r\nv=0\r\n",
        b"OPTIONS sip:b@c SIP/2.0\r\n\
          Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\r\n\
          From: <sip:a@b>;tag=f\r\n\
          To: <sip:b@c>\r\n\
          Call-ID: c@h\r\n\
          CSeq: 3 OPTIONS\r\n\
          X-A: x\r\n\r\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// `forwarded` writes the bytes the successive edits serialise to, indexed as parsing
        /// them indexes them, whatever edits came before.
        #[test]
        fn forwarded_equals_the_edits(
            base in 0..FORWARD_BASES.len(),
            edits in prop::collection::vec(edit(), 0..6),
            uri in prop::option::of(prop::sample::select(vec!["sip:x@192.0.2.9", "sip:b@c"])),
            front in prop::collection::vec(
                (
                    prop::sample::select(vec![
                        HeaderName::Via,
                        HeaderName::RecordRoute,
                        HeaderName::Route,
                        HeaderName::CSeq,
                        HeaderName::MaxForwards,
                    ]),
                    prop::sample::select(vec![
                        "SIP/2.0/UDP p.example.com;branch=z9hG4bKp1.2",
                        "<sip:p.example.com;lr>",
                        " 8 BYE ",
                        "12",
                    ]),
                ),
                0..3,
            ),
            max_forwards in prop::option::of(0u8..=255),
            top_via in prop::option::of(prop::sample::select(vec![
                "SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bKa;received=192.0.2.1",
                "SIP/2.0/TCP b;branch=z9hG4bKb ",
            ])),
        ) {
            let mut m = Message::parse(Bytes::copy_from_slice(FORWARD_BASES[base])).unwrap();
            for e in edits {
                let _ = e.apply(&mut m);
            }
            let lines: Vec<(HeaderName, &[u8])> =
                front.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            let copy = match top_via {
                None => m.forwarded(uri, &lines, max_forwards).unwrap(),
                Some(v) => {
                    m.forwarded_restamped(uri, &lines, Some(v.as_bytes()), max_forwards).unwrap()
                }
            };
            let mut edited = m.clone();
            if let Some(v) = top_via
                && edited.pop_front(HeaderName::Via).is_some()
            {
                edited.push_front(HeaderName::Via, v).unwrap();
            }
            if let Some(uri) = uri {
                edited.set_request_uri(uri).unwrap();
            }
            if let Some(n) = max_forwards {
                edited.set(HeaderName::MaxForwards, n.to_string()).unwrap();
            }
            for (n, v) in front.iter().rev() {
                edited.push_front(*n, *v).unwrap();
            }
            let bytes = edited.to_bytes();
            prop_assert_eq!(&copy.to_bytes(), &bytes);
            // The bytes-only writer gives the same bytes.
            let top_via = top_via.map(str::as_bytes);
            let written = m.forwarded_restamped_bytes(uri, &lines, top_via, max_forwards);
            prop_assert_eq!(written.as_ref(), Ok(&bytes));
            // So does the writer that reports what a client transaction reads, and what it
            // reports is what the copy's index says.
            let report = m.forwarded_request_bytes(uri, &lines, top_via, max_forwards).unwrap();
            prop_assert_eq!(report.bytes(), &bytes);
            prop_assert_eq!(Some(report.method()), copy.method());
            let front_via = front.iter().any(|(n, _)| *n == HeaderName::Via);
            if front_via {
                prop_assert_eq!(report.branch(), copy.via_branch_bytes());
            } else {
                prop_assert_eq!(report.branch(), None);
            }
            if front.iter().all(|(n, _)| *n != HeaderName::CSeq) {
                prop_assert_eq!(report.cseq_method(), copy.cseq_method());
            } else {
                prop_assert_eq!(report.cseq_method(), None);
            }
            prop_assert_eq!(report.has_call_id(), copy.call_id_bytes().is_some());
            prop_assert!(copy.ix.pristine.is_some());
            if let Ok(parsed) = Message::parse(bytes) {
                prop_assert_eq!(&copy.ix.keys, &parsed.ix.keys);
                prop_assert_eq!(copy.lines().collect::<Vec<_>>(), parsed.lines().collect::<Vec<_>>());
                prop_assert_eq!(copy.body(), parsed.body());
                prop_assert_eq!(copy.request_uri_str(), parsed.request_uri_str());
            }
        }
    }

    /// Bases for [`pop_top_via_equals_pop_front`]: the first of each group is written as
    /// `write_to` writes it (the one-copy path), the others are not (the edit path).
    const RELAY_BASES: &[(&[u8], bool)] = &[
        (
            b"SIP/2.0 180 Ringing\r\n\
              Via: SIP/2.0/UDP p.example.com;branch=z9hG4bKp\r\n\
              Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa;received=192.0.2.1\r\n\
              Record-Route: <sip:p.example.com;lr>\r\n\
              From: <sip:a@b>;tag=f\r\n\
              To: <sip:b@c>;tag=t\r\n\
              Call-ID: c@h\r\n\
              CSeq: 1 INVITE\r\n\
              Content-Length: 0\r\n\r\n",
            true,
        ),
        (
            b"SIP/2.0 200 OK\r\n\
              f: <sip:a@b>;tag=f\r\n\
              v:  SIP/2.0/UDP p.example.com;branch=z9hG4bKp ,SIP/2.0/TCP b;branch=z9hG4bKb\r\n\
              t: <sip:b@c>;tag=t\r\n\
              Subject: one,\r\n two\r\n\
              i: c@h\r\n\
              v: SIP/2.0/UDP a;branch=z9hG4bKa\r\n\
              CSeq: 2 BYE\r\n\
              l: 5\r\n\r\nv=0\r\n",
            true,
        ),
        (
            b"SIP/2.0 486 Busy Here\r\n\
              Via: SIP/2.0/UDP p;branch=z9hG4bKp\r\n\
              From: <sip:a@b>;tag=f\r\n\
              To: <sip:b@c>;tag=t\r\n\
              Call-ID: c@h\r\n\
              CSeq: 1 INVITE\r\n\
              Content-Length: 0\r\n\r\n",
            true,
        ),
        (
            b"INVITE sip:b@c SIP/2.0\r\n\
              Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa, SIP/2.0/UDP x;branch=z9hG4bKx\r\n\
              From: <sip:a@b>;tag=f\r\n\
              To: <sip:b@c>\r\n\
              Call-ID: c@h\r\n\
              CSeq: 1 INVITE\r\n\
              Max-Forwards: 70\r\n\
              Content-Length: 0\r\n\r\n",
            true,
        ),
        // A top Via line ending in an empty folded line (its value keeps that CR LF; the
        // popped value does not), and one of a single value with a tab before it.
        (
            b"SIP/2.0 180 Ringing\r\n\
              Via: SIP/2.0/UDP p;branch=z9hG4bKp\r\n \r\n\
              Via:\tSIP/2.0/UDP a;branch=z9hG4bKa\r\n\
              CSeq: 1 INVITE\r\n\
              Content-Length: 0\r\n\r\n",
            true,
        ),
        // A Reason-Phrase starting with a space (written back as it is).
        (
            b"SIP/2.0 200  OK\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKp\r\nCSeq: 1 BYE\r\n\
              Content-Length: 0\r\n\r\n",
            true,
        ),
        // A Content-Length of `00`, none, no Via at all: written otherwise than as received,
        // or nothing to pop.
        (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKp\r\nCSeq: 1 BYE\r\n\
              Content-Length: 00\r\n\r\n",
            false,
        ),
        (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKp\r\nVia: SIP/2.0/UDP q\r\n\
              CSeq: 1 BYE\r\n\r\n",
            false,
        ),
        (b"SIP/2.0 200 OK\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n", false),
    ];

    /// The index and keys of a message sent as it is, with positions counted from where the
    /// message starts in its buffer.
    fn rebased(m: &Message) -> String {
        let o = m.ix.pristine.map_or(0, |p| p.0);
        let sub = |s: Slot| Slot { src: s.src, start: s.start - o, end: s.end - o };
        let mut keys = m.ix.keys.clone();
        // Set while a folded line may be left (a popped Via may have taken the last one):
        // checked on its own, as at least what a parse of the bytes sets.
        keys.line_breaks = false;
        keys.branch = keys.branch.map(sub);
        keys.from_tag = keys.from_tag.map(sub);
        keys.to_tag = keys.to_tag.map(sub);
        keys.call_id = keys.call_id.map(sub);
        let headers: Vec<Entry> =
            m.ix.headers
                .iter()
                .map(|e| Entry {
                    name_text: sub(e.name_text),
                    value: sub(e.value),
                    line_end: e.line_end - o,
                    ..*e
                })
                .collect();
        let start = match &m.ix.start {
            StartLine::Request { uri, .. } => sub(*uri),
            StartLine::Response { reason, .. } => sub(*reason),
        };
        format!("{keys:?} {headers:?} {start:?} {:?}", sub(m.ix.body))
    }

    /// Everything observable of two messages that should be the same one.
    fn assert_same(a: &Message, b: &Message) {
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_eq!(a, b);
        assert_eq!(a.via_branch(), b.via_branch());
        assert_eq!(a.top_via(), b.top_via());
        assert_eq!(a.from_tag(), b.from_tag());
        assert_eq!(a.to_tag(), b.to_tag());
        assert_eq!(a.call_id(), b.call_id());
        assert_eq!(a.cseq_number(), b.cseq_number());
        assert_eq!(a.cseq_method(), b.cseq_method());
        assert_eq!(a.max_forwards(), b.max_forwards());
        assert_eq!(a.content_length(), b.content_length());
        assert_eq!(a.from_header(), b.from_header());
        assert_eq!(a.to_header(), b.to_header());
        assert_eq!(a.status(), b.status());
        assert_eq!(a.reason(), b.reason());
        assert_eq!(a.request_uri_str(), b.request_uri_str());
        assert_eq!(a.body(), b.body());
        assert_eq!(
            a.values(HeaderName::Via).collect::<Vec<_>>(),
            b.values(HeaderName::Via).collect::<Vec<_>>()
        );
    }

    /// What the parser records in `pristine` is what checking every line finds, for
    /// each relay base and each of its lines ended by a bare LF (parsed with limits that
    /// allow it, so never recorded), and a folded or padded line among them.
    #[test]
    fn lines_written_is_the_lines_checked() {
        let lf = Limits::default().allow_bare_lf(true);
        let mut checked = 0;
        for (bytes, _) in RELAY_BASES {
            let breaks: Vec<usize> = bytes
                .windows(2)
                .enumerate()
                .filter(|(_, w)| *w == b"\r\n")
                .map(|(i, _)| i)
                .collect();
            let mut variants = vec![(bytes.to_vec(), Limits::default()), (bytes.to_vec(), lf)];
            for &at in &breaks {
                let mut v = bytes.to_vec();
                v.remove(at);
                variants.push((v, lf));
            }
            for (v, limits) in variants {
                let Ok(m) = Message::parse_with(Bytes::from(v), &limits) else { continue };
                let Some((p0, p1, written)) = m.ix.pristine else { continue };
                let h0 = m.ix.headers.first().map_or(p0 as usize, |e| e.name_text.start());
                let lines = m.lines_as_written(h0, p1 as usize);
                let length = m.values(HeaderName::ContentLength).all(unpadded);
                assert!(!written || lines || !length, "{:?}", m.to_bytes());
                if !limits.bare_lf_allowed() {
                    assert_eq!(written && length, lines, "{:?}", m.to_bytes());
                    checked += 1;
                }
                // A copy keeps the record; a message the builder indexes makes none.
                assert_eq!(m.clone().ix.pristine, m.ix.pristine);
            }
        }
        assert!(checked >= RELAY_BASES.len() - 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// `pop_top_via` leaves the message `pop_front(Via)` leaves (same popped value, bytes,
        /// lines and keys), and one taken the one-copy way is indexed as parsing its bytes
        /// indexes them.
        #[test]
        fn pop_top_via_equals_pop_front(
            base in 0..RELAY_BASES.len(),
            edits in prop::collection::vec(edit(), 0..4),
            pops in 1..4usize,
        ) {
            let (bytes, verbatim) = RELAY_BASES[base];
            let mut fast = Message::parse(Bytes::copy_from_slice(bytes)).unwrap();
            for e in &edits {
                let _ = e.apply(&mut fast);
            }
            let mut slow = fast.clone();
            for pop in 0..pops {
                let had_via = fast.has(HeaderName::Via);
                prop_assert_eq!(fast.pop_top_via(), slow.pop_front(HeaderName::Via));
                assert_same(&fast, &slow);
                if verbatim && edits.is_empty() && pop == 0 {
                    // The one-copy path was taken: the result is sent as it is.
                    prop_assert!(had_via && fast.ix.pristine.is_some());
                    prop_assert!(fast.ix.owned.is_empty());
                }
                if fast.ix.pristine.is_some() {
                    let parsed = Message::parse(fast.to_bytes()).unwrap();
                    prop_assert_eq!(rebased(&fast), rebased(&parsed));
                    prop_assert!(fast.ix.keys.line_breaks || !parsed.ix.keys.line_breaks);
                    assert_same(&fast, &parsed);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The vectorised split of a list line's first value is `split_list`'s.
        #[test]
        fn first_value_is_split_lists(line in "[a, \"<>\\\\\r\n\t;=]{0,32}") {
            let line = line.as_bytes();
            prop_assert_eq!(FirstValue::of(line), FirstValue::walked(line));
            let mut pieces = split_list(line);
            let first = pieces.next().unwrap();
            let split = FirstValue::of(line);
            prop_assert_eq!(line.get(split.start..split.end), Some(first));
            prop_assert_eq!(split.rest.is_some(), pieces.next().is_some());
        }

        /// `remove_top_via` and `remove_front` make the edits `pop_top_via` and `pop_front`
        /// make.
        #[test]
        fn removing_equals_popping(
            base in 0..RELAY_BASES.len(),
            edits in prop::collection::vec(edit(), 0..4),
            pops in 1..4usize,
        ) {
            let (bytes, _) = RELAY_BASES[base];
            let mut popped = Message::parse(Bytes::copy_from_slice(bytes)).unwrap();
            for e in &edits {
                let _ = e.apply(&mut popped);
            }
            let mut removed = popped.clone();
            let (mut front_popped, mut front_removed) = (popped.clone(), popped.clone());
            let mut front_if = popped.clone();
            for _ in 0..pops {
                prop_assert_eq!(popped.pop_top_via().is_some(), removed.remove_top_via());
                assert_same(&popped, &removed);
                prop_assert_eq!(popped.ix.pristine, removed.ix.pristine);
                for name in [HeaderName::Via, HeaderName::Subject, HeaderName::From] {
                    let first_value = front_popped.header(name).map(<[u8]>::to_vec);
                    let take = first_value.as_ref().is_some_and(|l| l.len() % 2 == 0);
                    let seen = std::cell::Cell::new(None);
                    prop_assert_eq!(
                        front_if.remove_front_if(name, |l| {
                            seen.set(Some(l.to_vec()));
                            l.len() % 2 == 0
                        }),
                        take
                    );
                    prop_assert_eq!(seen.take(), first_value);
                    prop_assert_eq!(
                        front_popped.pop_front(name).is_some(),
                        front_removed.remove_front(name)
                    );
                    assert_same(&front_popped, &front_removed);
                    if take {
                        assert_same(&front_popped, &front_if);
                    } else {
                        front_if = front_popped.clone();
                    }
                }
            }
        }
    }

    /// `remove_front_if` asks about the value `header` gives (an empty first list line has
    /// none: the next line's) and removes what `remove_front` removes.
    #[test]
    fn remove_front_if_reads_the_first_value_as_header_does() {
        for (lines, first) in [
            ("Route: <sip:a;lr>, <sip:b>\r\nRoute: <sip:c>\r\n", "<sip:a;lr>"),
            ("Route:\r\nRoute: <sip:c>, <sip:d>\r\n", "<sip:c>"),
            ("Route: \"x,y\" <sip:e>,<sip:f>\r\n", "\"x,y\" <sip:e>"),
            ("Subject: a, b\r\n", "a, b"),
        ] {
            let text = format!("BYE sip:b@c SIP/2.0\r\n{lines}CSeq: 2 BYE\r\n\r\n");
            let m = Message::parse(Bytes::from(text)).unwrap();
            let name =
                if lines.starts_with("Route") { HeaderName::Route } else { HeaderName::Subject };
            assert_eq!(m.header(name), Some(first.as_bytes()));
            let mut kept = m.clone();
            assert!(!kept.remove_front_if(name, |v| v != first.as_bytes()));
            assert_same(&kept, &m);
            let (mut fast, mut slow) = (m.clone(), m.clone());
            let mut seen = Vec::new();
            assert!(fast.remove_front_if(name, |v| {
                seen = v.to_vec();
                true
            }));
            assert_eq!(seen, first.as_bytes());
            assert!(slow.remove_front(name));
            assert_same(&fast, &slow);
        }
    }

    #[test]
    fn u8_digits_are_the_decimal_digits() {
        for n in 0..=u8::MAX {
            let (digits, len) = u8_digits(n);
            assert_eq!(&digits[..len], Decimal::new(u64::from(n)).as_bytes());
        }
    }

    /// A Max-Forwards line written as `forwarded` writes it keeps its place in the run of
    /// copied lines and gets the new digits in place; one with another spelling or digit
    /// count is written anew. Either way the copy reads as its bytes parse.
    #[test]
    fn max_forwards_is_rewritten_in_place_or_anew() {
        for (line, n) in [
            ("Max-Forwards: 70", 69),
            ("Max-Forwards: 7", 6),
            ("Max-Forwards: 10", 9),
            ("max-forwards: 70", 69),
            ("Max-Forwards:70", 69),
            ("Max-Forwards: 070", 69),
        ] {
            let text = format!(
                "BYE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKa\r\n{line}\r\n\
                 CSeq: 2 BYE\r\nMax-Forwards: 3\r\nContent-Length: 0\r\n\r\n"
            );
            let m = Message::parse(Bytes::from(text)).unwrap();
            let via = b"SIP/2.0/UDP p;branch=z9hG4bKp";
            let copy = m.forwarded(None, &[(HeaderName::Via, &via[..])], Some(n)).unwrap();
            let mut edited = m.clone();
            edited.set(HeaderName::MaxForwards, n.to_string()).unwrap();
            edited.push_front(HeaderName::Via, &via[..]).unwrap();
            let bytes = edited.to_bytes();
            assert_eq!(copy.to_bytes(), bytes, "{line}");
            let parsed = Message::parse(bytes).unwrap();
            assert_eq!(copy.ix.keys, parsed.ix.keys, "{line}");
            assert_eq!(copy.max_forwards(), Some(n));
            assert_eq!(copy.lines().collect::<Vec<_>>(), parsed.lines().collect::<Vec<_>>());
        }
    }

    #[test]
    fn forwarded_refuses_what_the_edits_refuse() {
        let m = Message::parse(Bytes::from_static(BASE)).unwrap();
        assert_eq!(m.forwarded(Some("sip:a b"), &[], None), Err(EditError::BadValue));
        assert_eq!(m.forwarded(Some(""), &[], None), Err(EditError::BadValue));
        let bad: &[u8] = b"x\r\nInjected: 1";
        assert_eq!(m.forwarded(None, &[(HeaderName::Via, bad)], None), Err(EditError::BadValue));
        assert_eq!(
            m.forwarded(None, &[(HeaderName::Other, &b"x"[..])], None),
            Err(EditError::UnnamedHeader)
        );
        let response = Message::parse(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n")).unwrap();
        assert_eq!(response.forwarded(None, &[], None), Err(EditError::NotARequest));
        assert_eq!(
            m.forwarded_restamped(None, &[], Some(&b"SIP/2.0/UDP a\r\nX: y"[..]), None),
            Err(EditError::BadValue)
        );
        // The bytes-only writer refuses the same arguments with the same errors.
        let via: &[u8] = b"SIP/2.0/UDP a\r\nX: y";
        type Case<'a> =
            (&'a Message, Option<&'a str>, &'a [(HeaderName, &'a [u8])], Option<&'a [u8]>);
        let cases: [Case<'_>; 6] = [
            (&m, Some("sip:a b"), &[], None),
            (&m, Some(""), &[], None),
            (&m, None, &[(HeaderName::Via, bad)], None),
            (&m, None, &[(HeaderName::Other, b"x")], None),
            (&response, None, &[], None),
            (&m, None, &[], Some(via)),
        ];
        for (msg, uri, front, top_via) in cases {
            let indexed = msg.forwarded_restamped(uri, front, top_via, Some(9));
            assert!(indexed.is_err());
            assert_eq!(
                msg.forwarded_restamped_bytes(uri, front, top_via, Some(9)),
                indexed.map(|c| c.to_bytes())
            );
        }
    }

    #[test]
    fn request_uri_bytes_follows_the_request_uri() {
        let mut m = Message::parse(Bytes::from_static(BASE)).unwrap();
        assert_eq!(m.request_uri_bytes().as_deref(), Some(&b"sip:b@c"[..]));
        m.set_request_uri("sip:x@192.0.2.9").unwrap();
        assert_eq!(m.request_uri_bytes().as_deref(), Some(&b"sip:x@192.0.2.9"[..]));
        assert_eq!(m.request_uri_raw(), Some(&b"sip:x@192.0.2.9"[..]));
        let response = Message::parse(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n")).unwrap();
        assert_eq!(response.request_uri_bytes(), None);
        assert_eq!(response.request_uri_raw(), None);
    }
}
