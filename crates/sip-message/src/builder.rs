//! Building requests and responses into one buffer.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::chars::is_ws;
use crate::message::{Entry, Parts, Slot, StartLine};
use crate::parse::{RawLine, body_slot, check_request_uri, index_header};
use crate::{
    Decimal, HeaderName, Limits, Message, Method, ParseError, ParseErrorKind, canonical_reason,
};

/// Writes a new request or response straight into one buffer, indexing each line as it
/// writes it, so a built message is exactly what parsing its bytes would give (the same index,
/// the same eager keys, the same errors) and `Content-Length` is always right.
///
/// ```
/// use sip_message::{HeaderName as H, MessageBuilder, Method};
///
/// let invite = MessageBuilder::request(&Method::Invite, "sip:bob@biloxi.example.com")
///     .header(H::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds")
///     .header(H::MaxForwards, "70")
///     .header(H::To, "Bob <sip:bob@biloxi.example.com>")
///     .header(H::From, "Alice <sip:alice@atlanta.example.com>;tag=1928301774")
///     .header(H::CallId, "a84b4c76e66710@pc33.atlanta.example.com")
///     .header(H::CSeq, "314159 INVITE")
///     .body("application/sdp", "v=0\r\n")
///     .build()?;
/// assert_eq!(invite.content_length(), Some(5));
///
/// let ringing = MessageBuilder::response_to(&invite, 180, None).to_tag("a6c85cf").build()?;
/// assert_eq!(ringing.to_tag(), Some("a6c85cf"));
/// assert_eq!(ringing.via_branch(), Some("z9hG4bK776asdhds"));
/// # Ok::<(), sip_message::BuildError>(())
/// ```
#[derive(Debug)]
pub struct MessageBuilder(Box<State>);

/// The builder's state, boxed so that the builder moves as one pointer through its by-value
/// methods (its index and keys are a few hundred bytes).
#[derive(Debug, Default)]
struct State {
    /// The bytes written (a `Vec`, whose appends are cheaper than a `BytesMut`'s; it becomes
    /// the message's `Bytes` without a copy).
    buf: Vec<u8>,
    body: Option<Bytes>,
    error: Option<BuildError>,
    /// The To line [`MessageBuilder::response_to`] wrote last, not indexed yet, so that
    /// `to_tag` can still extend it.
    pending_to: Option<PendingTo>,
    /// The last line written is the To line [`MessageBuilder::to_tag`] wrote with its tag
    /// (another `to_tag` then does nothing, as for a To that had a tag).
    to_tagged: bool,
    limits: Limits,
    index: Index,
}

/// A To line written at the end of the buffer and not indexed yet.
#[derive(Clone, Copy, Debug)]
struct PendingTo {
    /// Where the line starts.
    start: usize,
    /// Where its value starts.
    value_from: usize,
    /// Where its content ends (the CR).
    content_end: usize,
    /// The request's To had a tag: `to_tag` adds none.
    tagged: bool,
    /// The key of the line as the request's keys give it, when the line is a copy of the
    /// request's keyed To line: its tag as a range of the value (`Some(None)`: no tag).
    /// `None`: indexing the line finds its key.
    known: Option<Option<(usize, usize)>>,
}

/// What the parser would record for the bytes written so far (RFC 3261 §7).
#[derive(Debug, Default)]
struct Index {
    /// End of the start line (the index of its CR).
    start_end: usize,
    /// The start line as the parser would record it (`None` until written, or for an
    /// extension method, which is left to the parser's token rules).
    start: Option<StartLine>,
    /// Where the Request-URI's structure is wrong, as the parser reports it.
    uri_error: Option<usize>,
    /// The header index and keys (inside the parts the built message takes over, so that
    /// building allocates no index of its own).
    ix: Box<Parts>,
    /// The first error the parser's key extraction gave, with the index of its header line.
    first_error: Option<(usize, ParseError)>,
    /// The longest header line, for [`Limits::line_length`].
    longest_line: usize,
    /// A value with a line break (a folded line copied from a request) or an extension
    /// method was written: the bytes are indexed by parsing them, whose rules for folding and
    /// for method tokens then apply as they are.
    reparse: bool,
}

impl Index {
    /// Records a line just written whose value needs no trimming (`name` at `name_start`, the
    /// value from `value_from` to `content_end`), as indexing it would, without its keys;
    /// returns the value's slot.
    #[inline(always)]
    fn push_written(
        &mut self,
        name: HeaderName,
        name_start: usize,
        value_from: usize,
        content_end: usize,
    ) -> Slot {
        self.longest_line = self.longest_line.max(content_end - name_start);
        let value = Slot::buf(value_from, content_end);
        self.ix.headers.push(Entry {
            name,
            name_text: Slot::buf(name_start, name_start + name.as_str().len()),
            value,
            line_end: content_end as u32,
        });
        value
    }
}

/// The key of a line, as the caller of a keyed writer gives it (see
/// [`MessageBuilder::via_with_branch`], [`MessageBuilder::addr_with_tag`],
/// [`MessageBuilder::call_id`]).
#[derive(Clone, Debug)]
enum LineKey {
    /// The branch parameter of a Via value, as a range of the value.
    Branch(Range<usize>),
    /// The tag parameter of a From or To value, as a range of the value, if it has one.
    Tag(Option<Range<usize>>),
    /// The value is a `callid`.
    CallId,
}

/// A [`MessageBuilder`]'s state kept from one message to the next by
/// [`MessageBuilder::build_in`], for [`MessageBuilder::request_in`] and
/// [`MessageBuilder::response_to_in`]: a sender that builds many messages (a user agent) then
/// allocates no builder state for each. Empty until a message is built into it.
///
/// It also keeps the indexes of messages given back by [`BuilderSpare::recycle`], for the
/// messages built next: those then allocate no index of their own.
#[derive(Debug, Default)]
pub struct BuilderSpare {
    /// The builder state kept from the last message built.
    state: Option<Box<State>>,
    /// Indexes of messages given back by [`BuilderSpare::recycle`], emptied, for the messages
    /// built next (up to [`KEPT_PARTS`]).
    parts: SmallVec<[Box<Parts>; KEPT_PARTS]>,
}

/// How many emptied message indexes a [`BuilderSpare`] keeps.
const KEPT_PARTS: usize = 4;

impl BuilderSpare {
    /// Takes back `message`, which its sender no longer needs (sent and not kept, or let go
    /// by the one keeping it): its index, emptied, is that of a message built after, which
    /// then allocates none of its own. Its bytes are dropped as the message would drop them
    /// (a clone of the message, or of its bytes, kept elsewhere is unchanged).
    ///
    /// ```
    /// use sip_message::{BuilderSpare, HeaderName as H, MessageBuilder, Method};
    ///
    /// let mut spare = BuilderSpare::default();
    /// for n in 1..=3 {
    ///     let options = MessageBuilder::request_in(&mut spare, &Method::Options, "sip:a@b", 512)
    ///         .header(H::Via, "SIP/2.0/UDP h.example.com;branch=z9hG4bK1")
    ///         .cseq(n, &Method::Options)
    ///         .build_in(&mut spare)?;
    ///     assert_eq!(options.cseq_number(), Some(n));
    ///     // Sent, not kept: the next message takes its index.
    ///     spare.recycle(options);
    /// }
    /// # Ok::<(), sip_message::BuildError>(())
    /// ```
    pub fn recycle(&mut self, message: Message) {
        if self.parts.len() < KEPT_PARTS {
            let Message { buf, mut ix } = message;
            drop(buf);
            ix.clear();
            self.parts.push(ix);
        }
    }
}

/// The To, From, Call-ID and CSeq of a request, with the keys its writer knows: the argument of
/// [`MessageBuilder::request_lines`].
#[derive(Clone, Debug)]
pub struct RequestLines<'a> {
    /// The To value.
    pub to: &'a [u8],
    /// Where the tag of `to` lies, as for [`MessageBuilder::addr_with_tag`] (`None`: it has
    /// none).
    pub to_tag: Option<Range<usize>>,
    /// The From value.
    pub from: &'a [u8],
    /// Where the tag of `from` lies, as for [`MessageBuilder::addr_with_tag`].
    pub from_tag: Option<Range<usize>>,
    /// The Call-ID, a `callid` as for [`MessageBuilder::call_id`].
    pub call_id: &'a [u8],
    /// The CSeq number.
    pub cseq: u32,
    /// The CSeq method (the request's).
    pub method: &'a Method,
}

/// Why a message could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A value contains CR, LF or NUL, which would inject a header line.
    BadValue(HeaderName),
    /// A header name is not a token.
    BadName,
    /// The Request-URI is empty or contains whitespace or control characters.
    BadRequestUri,
    /// The reason phrase contains a control character.
    BadReason,
    /// The status code is outside 100..=699.
    BadStatus,
    /// [`MessageBuilder::to_tag`] was called after another header was added.
    ToTagTooLate,
    /// The bytes written do not parse (for example a limit was exceeded).
    Parse(ParseError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::BadValue(name) => write!(f, "value of {name} contains CR, LF or NUL"),
            BuildError::BadName => f.write_str("header name is not a token"),
            BuildError::BadRequestUri => f.write_str("Request-URI is empty or contains whitespace"),
            BuildError::BadReason => f.write_str("reason phrase contains a control character"),
            BuildError::BadStatus => f.write_str("status code outside 100..=699"),
            BuildError::ToTagTooLate => f.write_str("to_tag() must follow response_to()"),
            BuildError::Parse(e) => write!(f, "built message does not parse: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Parse(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ParseError> for BuildError {
    fn from(e: ParseError) -> Self {
        BuildError::Parse(e)
    }
}

impl MessageBuilder {
    fn with_capacity(capacity: usize) -> Self {
        // `Box::default` writes the state in place; a `Box::new` of a state built on the
        // stack would copy its few hundred bytes into the allocation.
        let mut state = Box::<State>::default();
        state.buf = Vec::with_capacity(capacity);
        MessageBuilder(state)
    }

    /// [`with_capacity`](Self::with_capacity) in the state `spare` keeps, if it keeps one
    /// (left as new by [`build_in`](Self::build_in)).
    #[inline]
    fn with_capacity_in(spare: &mut BuilderSpare, capacity: usize) -> Self {
        match spare.state.take() {
            Some(mut state) => {
                state.buf = Vec::with_capacity(capacity);
                MessageBuilder(state)
            }
            None => Self::with_capacity(capacity),
        }
    }

    /// Starts a request line: `Method SP Request-URI SP SIP/2.0` (RFC 3261 §7.1).
    #[must_use]
    pub fn request(method: &Method, uri: &str) -> Self {
        Self::request_with_capacity(method, uri, 512)
    }

    /// [`MessageBuilder::request`] into a buffer of `capacity` bytes, for a caller that knows
    /// the request will be larger than the default (a body): the buffer then never grows, which
    /// would copy it.
    #[must_use]
    pub fn request_with_capacity(method: &Method, uri: &str, capacity: usize) -> Self {
        Self::with_capacity(capacity).request_line(method, uri)
    }

    /// [`MessageBuilder::request_with_capacity`] in the state `spare` keeps from a message
    /// built before with [`build_in`](Self::build_in): the same builder, without the
    /// allocation of its state.
    #[must_use]
    pub fn request_in(
        spare: &mut BuilderSpare,
        method: &Method,
        uri: &str,
        capacity: usize,
    ) -> Self {
        Self::with_capacity_in(spare, capacity).request_line(method, uri)
    }

    /// Writes the request line into a new builder `b`.
    fn request_line(mut self, method: &Method, uri: &str) -> Self {
        let b = &mut self;
        let method_bytes = method.as_bytes();
        let uri_start = method_bytes.len() + 1;
        let uri_error = check_request_uri(uri.as_bytes()).err();
        // A URI the parser takes is not empty (its scheme starts it) and holds no space,
        // control or DEL (refused anywhere in it): only a refused one is searched for them.
        if uri_error.is_some() && (uri.is_empty() || has_space_or_control(uri.as_bytes())) {
            b.0.error = Some(BuildError::BadRequestUri);
        }
        let index = &mut b.0.index;
        index.reparse = matches!(method, Method::Extension(_));
        let uri_slot = Slot::buf(uri_start, uri_start + uri.len());
        index.start = Some(StartLine::Request { method: method.clone(), uri: uri_slot });
        index.uri_error = uri_error.map(|off| uri_start + off);
        b.0.buf.reserve(uri_start + uri.len() + 10);
        b.0.buf.extend_from_slice(method_bytes);
        b.0.buf.extend_from_slice(b" ");
        b.0.buf.extend_from_slice(uri.as_bytes());
        b.0.buf.extend_from_slice(b" SIP/2.0");
        b.0.index.start_end = b.0.buf.len();
        b.0.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Starts a status line: `SIP/2.0 SP Status-Code SP Reason-Phrase` (RFC 3261 §7.2); the
    /// reason defaults to [`canonical_reason`].
    #[must_use]
    pub fn response(status: u16, reason: Option<&str>) -> Self {
        Self::response_with_capacity(status, reason, 512)
    }

    /// [`MessageBuilder::response`] into a buffer of `capacity` bytes.
    fn response_with_capacity(status: u16, reason: Option<&str>, capacity: usize) -> Self {
        Self::with_capacity(capacity).status_line(status, reason)
    }

    /// Writes the status line into a new builder `b`.
    fn status_line(mut self, status: u16, reason: Option<&str>) -> Self {
        let b = &mut self;
        if !(100..=699).contains(&status) {
            b.0.error = Some(BuildError::BadStatus);
        }
        // The canonical reasons are printable text (a test checks them all).
        if reason.is_some_and(|r| r.bytes().any(|c| (c < 0x20 && c != b'\t') || c == 0x7f)) {
            b.0.error = Some(BuildError::BadReason);
        }
        let reason = reason.unwrap_or(canonical_reason(status));
        b.0.buf.reserve(12 + reason.len() + 2);
        if (100..=699).contains(&status) {
            // `SIP/2.0 `, the three digits and the space as one write (what the decimal
            // digits of a code in range are).
            let mut head = *b"SIP/2.0 000 ";
            let digits = [status / 100, status / 10 % 10, status % 10];
            for (d, n) in head.iter_mut().skip(8).zip(digits) {
                *d = b'0' + n as u8;
            }
            b.0.buf.extend_from_slice(&head);
        } else {
            b.0.buf.extend_from_slice(b"SIP/2.0 ");
            let digits = Decimal::new(u64::from(status));
            b.0.buf.extend_from_slice(digits.as_bytes());
            b.0.buf.extend_from_slice(b" ");
        }
        let reason_start = b.0.buf.len();
        b.0.buf.extend_from_slice(reason.as_bytes());
        b.0.index.start_end = b.0.buf.len();
        // RFC 3261 §7.2: the parser's checks of the Status-Line hold by construction (a code
        // of three digits in range, a reason without controls, UTF-8 as a `str` is).
        let reason = Slot::buf(reason_start, b.0.buf.len());
        b.0.index.start = Some(StartLine::Response { code: status, reason });
        b.0.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Starts a response to `request` (RFC 3261 §8.2.6.2): Via lines in order, From, To,
    /// Call-ID and CSeq copied as received (and Timestamp for a 100, §8.2.6.1). Add a To tag
    /// with [`MessageBuilder::to_tag`] (every response but 100 to a dialog-forming request
    /// needs one, §8.2.6.2).
    #[must_use]
    pub fn response_to(request: &Message, status: u16, reason: Option<&str>) -> Self {
        // Room for the copied lines, a tag, Content-Length and what the caller adds, in one
        // allocation (growing a buffer copies it).
        Self::response_with_capacity(status, reason, request.buffer().len() + 256)
            .copy_request_lines(request, status)
    }

    /// [`MessageBuilder::response_to`] in the state `spare` keeps from a message built before
    /// with [`build_in`](Self::build_in): the same builder, without the allocation of its
    /// state.
    #[must_use]
    pub fn response_to_in(
        spare: &mut BuilderSpare,
        request: &Message,
        status: u16,
        reason: Option<&str>,
    ) -> Self {
        Self::with_capacity_in(spare, request.buffer().len() + 256)
            .status_line(status, reason)
            .copy_request_lines(request, status)
    }

    /// Copies the lines of `request` a response to it carries (see
    /// [`response_to`](Self::response_to)) into `b`, whose status line is written.
    fn copy_request_lines(self, request: &Message, status: u16) -> Self {
        let mut b = self;
        let mut to = None;
        // Lines of the request's buffer copied as they are, a run of adjacent lines at a time.
        let mut run = RawRun::default();
        // Without a folded line in the buffer, its lines copy as they are (see `raw_line_of`).
        let raw = !request.ix.keys.line_breaks;
        for e in &request.ix.headers {
            match e.name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {}
                HeaderName::Timestamp if status == 100 => {}
                // The first To line is written last, so that to_tag() may still add a tag.
                HeaderName::To => {
                    to = to.or(Some(e.value));
                    continue;
                }
                _ => continue,
            }
            match raw_line_of(e).filter(|_| raw && !b.0.index.reparse) {
                Some(line) => b.0.copy_raw(request, e, line, &mut run),
                None => {
                    b.0.flush_run(request, &mut run);
                    b.0.copied_line(request, e);
                }
            }
        }
        b.0.flush_run(request, &mut run);
        if let Some(to) = to {
            let breaks = request.may_break(to);
            // The request's To key was observed on this very value (the first To line's):
            // its tag, as a range of the value, is the copy's.
            let keys = &request.ix.keys;
            let keyed = keys.to.and_then(|i| request.ix.headers.get(usize::from(i)));
            let known = match (keyed, keys.to_tag) {
                (Some(e), None) if e.value == to => Some(None),
                (Some(e), Some(tag)) if e.value == to => tag
                    .rebase(to, Slot::buf(0, request.slot(to).len()))
                    .and_then(Slot::in_buf)
                    .map(Some),
                _ => None,
            };
            // `request.to_tag().is_some()`, with the UTF-8 check only for a tag that is not
            // ASCII (a token tag never is).
            let tagged = request
                .to_tag_bytes()
                .is_some_and(|t| t.is_ascii() || std::str::from_utf8(t).is_ok());
            b.0.pending_to_line(request.slot(to), breaks, tagged, known);
        }
        b
    }

    /// Adds `;tag=TAG` to the To header copied by [`MessageBuilder::response_to`] unless the
    /// request's To already had a tag (RFC 3261 §8.2.6.2, §12.1.1).
    #[must_use]
    pub fn to_tag(mut self, tag: &str) -> Self {
        let state = &mut *self.0;
        match state.pending_to.take() {
            Some(to) if to.tagged => state.pending_to = Some(to),
            Some(to) => {
                if !crate::chars::is_token_str(tag.as_bytes()) {
                    // The build fails with this error whatever else the bytes hold.
                    state.error = Some(BuildError::BadValue(HeaderName::To));
                }
                // The To line is the last line written (every other line indexes it first):
                // the tag goes at the end of its value.
                state.buf.truncate(to.content_end);
                state.buf.reserve(5 + tag.len() + 2);
                state.buf.extend_from_slice(b";tag=");
                state.buf.extend_from_slice(tag.as_bytes());
                let content_end = state.buf.len();
                state.buf.extend_from_slice(b"\r\n");
                let value = state.buf.get(to.value_from..to.content_end).unwrap_or_default();
                // A value `<URI>` (its first `>` its last byte) with `;tag=TOKEN` after it: the
                // parser's tag is the one written (`tag_param` takes the parameters after the
                // `>`), and there is nothing to trim.
                let plain = value.first() == Some(&b'<')
                    && memchr::memchr(b'>', value) == Some(value.len() - 1)
                    && state.error.is_none()
                    && !state.index.reparse;
                if plain {
                    let index = &mut state.index;
                    let at = index.ix.headers.len();
                    let slot =
                        index.push_written(HeaderName::To, to.start, to.value_from, content_end);
                    #[cfg(debug_assertions)]
                    let observed = {
                        let mut keys = index.ix.keys.clone();
                        let (s, e) = slot.in_buf().unwrap_or_default();
                        let value = state.buf.get(s..e).unwrap_or_default();
                        let _ = keys.observe(HeaderName::To, at, value, slot);
                        keys
                    };
                    let keys = &mut index.ix.keys;
                    if keys.to.is_none() {
                        keys.to = Some(at as u16);
                        keys.to_tag =
                            Some(slot.sub(content_end - tag.len() - to.value_from, tag.len()));
                    }
                    #[cfg(debug_assertions)]
                    debug_assert_eq!(*keys, observed, "the To tag written is not the parser's");
                } else {
                    state.index_line(HeaderName::To, to.start, to.value_from, content_end);
                }
                state.to_tagged = true;
            }
            None if state.to_tagged => {}
            None => state.error = Some(BuildError::ToTagTooLate),
        }
        self
    }

    /// Adds a header line `Name: value`.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        if name == HeaderName::Other {
            self.0.error = Some(BuildError::BadName);
        } else if breaks_line(value) {
            self.0.error = Some(BuildError::BadValue(name));
        } else if name != HeaderName::ContentLength {
            self.0.flush_to();
            self.0.line(name, name.line_prefix(), name.as_str().len(), value);
        }
        self
    }

    /// Adds `CSeq: number method` (RFC 3261 §20.16) as [`header`](Self::header) adds that
    /// line, with the CSeq key taken from the arguments instead of parsed back from the value.
    #[must_use]
    pub fn cseq(mut self, number: u32, method: &Method) -> Self {
        let digits = Decimal::new(u64::from(number));
        if number > CSEQ_MAX || matches!(method, Method::Extension(_)) {
            // The parser's rules for these are its own (a number out of range, any token).
            let mut value =
                Vec::with_capacity(digits.as_bytes().len() + 1 + method.as_bytes().len());
            value.extend_from_slice(digits.as_bytes());
            value.push(b' ');
            value.extend_from_slice(method.as_bytes());
            return self.header(HeaderName::CSeq, value);
        }
        let state = &mut *self.0;
        state.flush_to();
        let name = HeaderName::CSeq;
        let (head, name_len) = (name.line_prefix(), name.as_str().len());
        let (digits, method_bytes) = (digits.as_bytes(), method.as_bytes());
        let name_start = state.buf.len();
        state.buf.reserve(head.len() + 2 + digits.len() + 1 + method_bytes.len() + 2);
        state.buf.extend_from_slice(head);
        if head.len() == name_len {
            state.buf.extend_from_slice(b": ");
        }
        let value_from = state.buf.len();
        state.buf.extend_from_slice(digits);
        state.buf.extend_from_slice(b" ");
        state.buf.extend_from_slice(method_bytes);
        let content_end = state.buf.len();
        state.buf.extend_from_slice(b"\r\n");
        let index = &mut state.index;
        if index.reparse {
            return self;
        }
        // What indexing the line gives: the value has no white space to trim, and
        // `parse_cseq` reads back `number` (in range) and `method` (a known method).
        index.push_written(name, name_start, value_from, content_end);
        let keys = &mut index.ix.keys;
        if !keys.cseq_seen {
            keys.cseq_seen = true;
            keys.cseq_number = number;
            keys.cseq_method = Some(method.clone());
        }
        self
    }

    /// Adds `Via: value` as [`header`](Self::header) adds that line, with the Via key taken
    /// from the caller instead of searched for in the value: `value[branch]` must be the
    /// `branch` parameter of its first via-parm as the parser finds it (RFC 3261 §20.42,
    /// §8.1.1.7), for a caller that wrote the value around a branch it drew.
    ///
    /// A range outside `value` or empty adds the line as [`header`](Self::header) does. Debug
    /// builds check the key against the parser's; in a release build a wrong one leaves the
    /// message's [`Message::via_branch`] disagreeing with its bytes.
    #[must_use]
    pub fn via_with_branch(self, value: &[u8], branch: Range<usize>) -> Self {
        if branch.start >= branch.end || branch.end > value.len() {
            return self.header(HeaderName::Via, value);
        }
        self.keyed(HeaderName::Via, b"Via: ", value, LineKey::Branch(branch))
    }

    /// Adds `name: value` for `name` To or From as [`header`](Self::header) adds that line,
    /// with the tag key taken from the caller instead of searched for in the value (RFC 3261
    /// §20.20, §20.39): `value[tag]` must be the `tag` parameter the parser finds in `value`
    /// (`None`: it finds none), as in a `[display-name] <URI>` the caller wrote with its own
    /// `;tag=TOKEN` after the `>`.
    ///
    /// Another `name`, or a range outside `value` or empty, adds the line as
    /// [`header`](Self::header) does. Debug builds check the key against the parser's; in a
    /// release build a wrong one leaves the message's tag disagreeing with its bytes.
    #[must_use]
    pub fn addr_with_tag(self, name: HeaderName, value: &[u8], tag: Option<Range<usize>>) -> Self {
        let head: &'static [u8] = match name {
            HeaderName::To => b"To: ",
            HeaderName::From => b"From: ",
            _ => return self.header(name, value),
        };
        if tag.as_ref().is_some_and(|t| t.start >= t.end || t.end > value.len()) {
            return self.header(name, value);
        }
        self.keyed(name, head, value, LineKey::Tag(tag))
    }

    /// Adds `Call-ID: value` as [`header`](Self::header) adds that line, with the Call-ID key
    /// taken as the value instead of checked: `value` must be a `callid` (`word ["@" word]`,
    /// RFC 3261 §20.8, §25.1), as a Call-ID the caller drew or took from a message's key is.
    ///
    /// Debug builds check the key against the parser's; in a release build a value that is no
    /// `callid` leaves the message's [`Message::call_id`] disagreeing with its bytes.
    #[must_use]
    pub fn call_id(self, value: &[u8]) -> Self {
        self.keyed(HeaderName::CallId, b"Call-ID: ", value, LineKey::CallId)
    }

    /// Adds the To, From, Call-ID and CSeq lines of `lines` in that order: the same bytes, index
    /// and keys as [`addr_with_tag`](Self::addr_with_tag) for the To and the From,
    /// [`call_id`](Self::call_id) and [`cseq`](Self::cseq) give one after the other (and the
    /// same error), written with one reservation and the four lines indexed together (RFC 3261
    /// §8.1.1: the request's identifying lines, whose keys the writer knows).
    ///
    /// ```
    /// use sip_message::{MessageBuilder, Method, RequestLines};
    ///
    /// let bye = MessageBuilder::request(&Method::Bye, "sip:bob@192.0.2.4")
    ///     .request_lines(&RequestLines {
    ///         to: b"<sip:bob@biloxi.example.com>;tag=a6c85cf",
    ///         to_tag: Some(33..40),
    ///         from: b"<sip:alice@atlanta.example.com>;tag=1928301774",
    ///         from_tag: Some(36..46),
    ///         call_id: b"a84b4c76e66710",
    ///         cseq: 231,
    ///         method: &Method::Bye,
    ///     })
    ///     .build()?;
    /// assert_eq!(bye.to_tag(), Some("a6c85cf"));
    /// assert_eq!(bye.from_tag(), Some("1928301774"));
    /// assert_eq!(bye.cseq_number(), Some(231));
    /// # Ok::<(), sip_message::BuildError>(())
    /// ```
    #[must_use]
    pub fn request_lines(mut self, lines: &RequestLines<'_>) -> Self {
        let RequestLines { to, from, call_id, cseq, method, .. } = *lines;
        let (to_tag, from_tag) = (lines.to_tag.clone(), lines.from_tag.clone());
        let fits = |tag: &Option<Range<usize>>, v: &[u8]| {
            tag.as_ref().is_none_or(|t| t.start < t.end && t.end <= v.len())
        };
        // What `keyed_line` indexes without the parser's trimming.
        let trimmed = |v: &[u8]| {
            !v.first().is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
                && !v.last().is_some_and(|&c| is_ws(c))
        };
        let fast = fits(&to_tag, to)
            && fits(&from_tag, from)
            && cseq <= CSEQ_MAX
            && !matches!(method, Method::Extension(_))
            && !self.0.index.reparse
            && trimmed(to)
            && trimmed(from)
            && trimmed(call_id);
        if !fast {
            return self
                .addr_with_tag(HeaderName::To, to, to_tag)
                .addr_with_tag(HeaderName::From, from, from_tag)
                .call_id(call_id)
                .cseq(cseq, method);
        }
        let state = &mut *self.0;
        state.flush_to();
        // The three values are checked for a line break in one pass over the bytes written
        // (see below): the rest of the buffer as it was, for a value that has one.
        let written = state.buf.len();
        let digits = Decimal::new(u64::from(cseq));
        let (digits, method_bytes) = (digits.as_bytes(), method.as_bytes());
        let buf = &mut state.buf;
        buf.reserve(to.len() + from.len() + call_id.len() + digits.len() + method_bytes.len() + 40);
        // `To: v CRLF From: v CRLF Call-ID: v CRLF CSeq: n m CRLF`, each line's starts noted.
        let to_line = buf.len();
        buf.extend_from_slice(b"To: ");
        buf.extend_from_slice(to);
        let to_end = buf.len();
        // Two spaces where the line's CRLF goes, so that the values and what lies between
        // them hold a byte below 14 only if a value does.
        buf.extend_from_slice(b"  From: ");
        buf.extend_from_slice(from);
        let from_end = buf.len();
        buf.extend_from_slice(b"  Call-ID: ");
        buf.extend_from_slice(call_id);
        let call_id_end = buf.len();
        // `breaks_any([to, from, call_id])`, its first test made once on the bytes from the
        // To value to the end of the Call-ID value.
        let values = buf.get(to_line + 4..call_id_end).unwrap_or_default();
        if has_byte_below_14(values) && breaks_any([to, from, call_id]) {
            buf.truncate(written);
            return self
                .addr_with_tag(HeaderName::To, to, to_tag)
                .addr_with_tag(HeaderName::From, from, from_tag)
                .call_id(call_id)
                .cseq(cseq, method);
        }
        for end in [to_end, from_end] {
            if let Some(crlf) = buf.get_mut(end..end + 2) {
                crlf.copy_from_slice(b"\r\n");
            }
        }
        buf.extend_from_slice(b"\r\nCSeq: ");
        buf.extend_from_slice(digits);
        buf.extend_from_slice(b" ");
        buf.extend_from_slice(method_bytes);
        let cseq_end = buf.len();
        buf.extend_from_slice(b"\r\n");
        let (from_line, call_id_line, cseq_line) = (to_end + 2, from_end + 2, call_id_end + 2);
        let index = &mut state.index;
        #[cfg(debug_assertions)]
        let before = index.ix.keys.clone();
        let at = index.ix.headers.len();
        // The four entries `push_written` would push, pushed as one.
        let entry = |name: HeaderName, line: usize, value_from: usize, end: usize| Entry {
            name,
            name_text: Slot::buf(line, line + name.as_str().len()),
            value: Slot::buf(value_from, end),
            line_end: end as u32,
        };
        let (to_slot, from_slot, call_id_slot) = (
            Slot::buf(to_line + 4, to_end),
            Slot::buf(from_line + 6, from_end),
            Slot::buf(call_id_line + 9, call_id_end),
        );
        index.ix.headers.extend_from_slice(&[
            entry(HeaderName::To, to_line, to_line + 4, to_end),
            entry(HeaderName::From, from_line, from_line + 6, from_end),
            entry(HeaderName::CallId, call_id_line, call_id_line + 9, call_id_end),
            entry(HeaderName::CSeq, cseq_line, cseq_line + 6, cseq_end),
        ]);
        let longest = (to_end - to_line)
            .max(from_end - from_line)
            .max(call_id_end - call_id_line)
            .max(cseq_end - cseq_line);
        index.longest_line = index.longest_line.max(longest);
        let keys = &mut index.ix.keys;
        if keys.to.is_none() {
            keys.to = Some(at as u16);
            keys.to_tag = to_tag.map(|t| to_slot.sub(t.start, t.len()));
        }
        if keys.from.is_none() {
            keys.from = Some(at as u16 + 1);
            keys.from_tag = from_tag.map(|t| from_slot.sub(t.start, t.len()));
        }
        if keys.call_id.is_none() {
            keys.call_id = Some(call_id_slot);
        }
        if !keys.cseq_seen {
            keys.cseq_seen = true;
            keys.cseq_number = cseq;
            keys.cseq_method = Some(method.clone());
        }
        #[cfg(debug_assertions)]
        {
            // The keys the parser would observe on the four lines.
            let mut observed = before;
            let cseq_slot = Slot::buf(cseq_line + 6, cseq_end);
            for (i, (name, slot)) in [
                (HeaderName::To, to_slot),
                (HeaderName::From, from_slot),
                (HeaderName::CallId, call_id_slot),
                (HeaderName::CSeq, cseq_slot),
            ]
            .into_iter()
            .enumerate()
            {
                let (s, e) = slot.in_buf().unwrap_or_default();
                let value = state.buf.get(s..e).unwrap_or_default();
                let _ = observed.observe(name, at + i, value, slot);
            }
            debug_assert_eq!(*keys, observed, "the keys given are not the parser's");
        }
        self
    }

    /// Writes `head` and `value`, and indexes the line with the key `key` gives (see
    /// [`State::keyed_line`]).
    #[inline(always)]
    fn keyed(mut self, name: HeaderName, head: &[u8], value: &[u8], key: LineKey) -> Self {
        if breaks_line(value) {
            self.0.error = Some(BuildError::BadValue(name));
        } else {
            self.0.keyed_line(name, head, value, key);
        }
        self
    }

    /// Adds a header line with any name (e.g. `X-Custom`).
    #[must_use]
    pub fn header_named(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        if !crate::chars::is_token_str(name.as_bytes()) {
            self.0.error = Some(BuildError::BadName);
        } else if breaks_line(value) {
            self.0.error = Some(BuildError::BadValue(HeaderName::Other));
        } else {
            let known = HeaderName::from_bytes(name.as_bytes());
            if known != HeaderName::ContentLength {
                self.0.flush_to();
                self.0.line(known, name.as_bytes(), name.len(), value);
            }
        }
        self
    }
    /// Adds the lines of `block`, as [`header`](Self::header) would add them one by one: the
    /// same bytes, index and errors, written as one copy with the block's index entries moved
    /// into place instead of each line being checked and indexed again.
    #[must_use]
    pub fn headers(mut self, block: &HeaderBlock) -> Self {
        if block.keyed || block.error.is_some() {
            // Lines whose keys depend on the lines before them, or a line refused: one by one,
            // for the same keys and the same error.
            for (name, value) in &block.lines {
                self = self.header(*name, value);
            }
            return self;
        }
        if block.entries.is_empty() {
            // Only Content-Length lines, which `header` ignores without flushing the To.
            return self;
        }
        let state = &mut *self.0;
        state.flush_to();
        let base = state.buf.len();
        state.buf.extend_from_slice(&block.bytes);
        let index = &mut state.index;
        if index.reparse {
            return self;
        }
        index.longest_line = index.longest_line.max(block.longest_line);
        // The block's entries copied as one block, then moved to where its bytes now are.
        let from = index.ix.headers.len();
        index.ix.headers.extend_from_slice(&block.entries);
        for e in index.ix.headers.get_mut(from..).unwrap_or_default() {
            e.name_text = e.name_text.shifted(base);
            e.value = e.value.shifted(base);
            e.line_end = (base + e.line_end as usize) as u32;
        }
        // RFC 3261 §8.1.1.6: the first Max-Forwards line gives the key.
        if let Some(max_forwards) = block.max_forwards
            && !index.ix.keys.max_forwards_seen
        {
            index.ix.keys.max_forwards_seen = true;
            index.ix.keys.max_forwards = max_forwards;
        }
        self
    }

    /// Sets the body and its Content-Type (Content-Length is written by [`build`](Self::build)).
    #[must_use]
    pub fn body(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut b = self.header(HeaderName::ContentType, content_type);
        b.0.body = Some(body.into());
        b
    }

    /// Parses the result with these limits instead of the defaults.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.0.limits = limits;
        self
    }

    /// Writes Content-Length and the body, and indexes the message.
    ///
    /// # Errors
    /// The first [`BuildError`] met while building, or [`BuildError::Parse`] if the written
    /// bytes do not form a message within the limits.
    pub fn build(self) -> Result<Message, BuildError> {
        self.build_with(None)
    }

    /// [`build`](Self::build), keeping the builder's state (emptied) in `spare` for the next
    /// builder made with it ([`MessageBuilder::request_in`],
    /// [`MessageBuilder::response_to_in`]): the same message, and one allocation less for
    /// each message built after the first.
    ///
    /// ```
    /// use sip_message::{BuilderSpare, HeaderName as H, MessageBuilder, Method};
    ///
    /// let mut spare = BuilderSpare::default();
    /// for n in 1..=2 {
    ///     let options = MessageBuilder::request_in(&mut spare, &Method::Options, "sip:a@b", 512)
    ///         .header(H::Via, "SIP/2.0/UDP h.example.com;branch=z9hG4bK1")
    ///         .cseq(n, &Method::Options)
    ///         .build_in(&mut spare)?;
    ///     assert_eq!(options.cseq_number(), Some(n));
    /// }
    /// # Ok::<(), sip_message::BuildError>(())
    /// ```
    ///
    /// # Errors
    /// As [`build`](Self::build) (the state is then not kept).
    pub fn build_in(self, spare: &mut BuilderSpare) -> Result<Message, BuildError> {
        self.build_with(Some(spare))
    }

    /// [`build`](Self::build), and the state emptied into `spare` when there is one.
    #[inline(always)]
    fn build_with(mut self, spare: Option<&mut BuilderSpare>) -> Result<Message, BuildError> {
        let state = &mut *self.0;
        if let Some(e) = state.error {
            return Err(e);
        }
        state.flush_to();
        let body = state.body.take().unwrap_or_default();
        state.buf.reserve(24 + body.len());
        let name = HeaderName::ContentLength;
        match u32::try_from(body.len()) {
            // The only Content-Length line (`header` writes none): its key is the body's
            // length, as parsing the digits back gives (RFC 3261 §20.14). The line and the
            // empty line after it written as `write` and the CRLF below write them, a length
            // below 10 as its one digit.
            Ok(n) if !state.index.reparse && state.index.ix.keys.content_length.is_none() => {
                let (head, name_len) = (name.line_prefix(), name.as_str().len());
                let name_start = state.buf.len();
                state.buf.extend_from_slice(head);
                if head.len() == name_len {
                    state.buf.extend_from_slice(b": ");
                }
                let value_from = state.buf.len();
                match u8::try_from(n) {
                    Ok(digit) if digit < 10 => state.buf.push(b'0' + digit),
                    _ => state.buf.extend_from_slice(Decimal::new(u64::from(n)).as_bytes()),
                }
                let content_end = state.buf.len();
                state.buf.extend_from_slice(b"\r\n\r\n");
                let index = &mut state.index;
                index.push_written(name, name_start, value_from, content_end);
                index.ix.keys.content_length = Some(n);
                index.ix.keys.content_length_lines =
                    index.ix.keys.content_length_lines.saturating_add(1);
            }
            _ => {
                let digits = Decimal::new(body.len() as u64);
                state.line(name, name.line_prefix(), name.as_str().len(), digits.as_bytes());
                state.buf.extend_from_slice(b"\r\n");
            }
        }
        let body_start = state.buf.len();
        state.buf.extend_from_slice(&body);
        let buf = Bytes::from(std::mem::take(&mut state.buf));
        let limits = &state.limits;
        let index = &mut state.index;
        if index.reparse {
            return Ok(Message::parse_with(buf, limits)?);
        }
        // The checks of the parser, in its order (RFC 3261 §7, §18.3).
        if buf.len() > limits.message_size() {
            return Err(parse_error(ParseErrorKind::MessageTooLarge, limits.message_size()));
        }
        if index.start_end > limits.line_length() {
            return Err(parse_error(ParseErrorKind::LineTooLong, 0));
        }
        if let Some(at) = index.uri_error {
            return Err(parse_error(ParseErrorKind::RequestUri, at));
        }
        let Some(start) = index.start.take() else {
            return Ok(Message::parse_with(buf, limits)?);
        };
        if index.ix.headers.len() > limits.headers()
            || index.longest_line > limits.line_length()
            || index.first_error.is_some()
        {
            first_line_error(index, limits)?;
        }
        let body = body_slot(&index.ix.keys, buf.len(), body_start)?;
        let mut ix = match spare {
            Some(spare) => {
                // The next message's parts, and the state as new around them.
                let next = spare.parts.pop().unwrap_or_else(Parts::boxed);
                let ix = std::mem::replace(&mut index.ix, next);
                state.reset();
                spare.state = Some(self.0);
                ix
            }
            None => self.0.index.ix,
        };
        ix.start = start;
        Ok(Message::indexed(buf, ix, body))
    }
}

/// Header lines fixed once and added to many messages with [`MessageBuilder::headers`] (a user
/// agent's Contact, Allow, Supported, Max-Forwards...): written and indexed when the block is
/// made, so that adding them is one copy of the bytes and of the index entries.
///
/// ```
/// use sip_message::{HeaderBlock, HeaderName as H, MessageBuilder, Method};
///
/// let block = HeaderBlock::new(&[(H::MaxForwards, "70"), (H::Allow, "INVITE, ACK, BYE")]);
/// let options = MessageBuilder::request(&Method::Options, "sip:bob@biloxi.example.com")
///     .header(H::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds")
///     .headers(&block)
///     .build()?;
/// assert_eq!(options.max_forwards(), Some(70));
/// assert_eq!(options.header_lines(H::Allow).next(), Some(&b"INVITE, ACK, BYE"[..]));
/// # Ok::<(), sip_message::BuildError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HeaderBlock {
    /// The lines as given, for the paths that add them one by one.
    lines: Vec<(HeaderName, Box<[u8]>)>,
    /// The lines as [`MessageBuilder::header`] writes them.
    bytes: Box<[u8]>,
    /// Their index entries, with slots counted from the start of `bytes`.
    entries: Box<[Entry]>,
    /// The longest line.
    longest_line: usize,
    /// The Max-Forwards key of the first Max-Forwards line, if there is one.
    max_forwards: Option<Option<u8>>,
    /// The error adding the lines gives.
    error: Option<BuildError>,
    /// A line names a header whose key depends on the lines before it (Via, From, To,
    /// Call-ID, CSeq: only the first line of each gives the key).
    keyed: bool,
}

impl HeaderBlock {
    /// The lines `name: value`, in order, checked as [`MessageBuilder::header`] checks them
    /// (a bad line makes the builder it is added to fail as that would).
    #[must_use]
    pub fn new<V: AsRef<[u8]>>(lines: &[(HeaderName, V)]) -> Self {
        let mut b = MessageBuilder::with_capacity(
            lines.iter().map(|(n, v)| n.as_str().len() + v.as_ref().len() + 4).sum(),
        );
        for (name, value) in lines {
            b = b.header(*name, value);
        }
        let state = *b.0;
        HeaderBlock {
            lines: lines.iter().map(|(n, v)| (*n, v.as_ref().into())).collect(),
            bytes: state.buf.as_slice().into(),
            entries: state.index.ix.headers.as_slice().into(),
            longest_line: state.index.longest_line,
            max_forwards: state
                .index
                .ix
                .keys
                .max_forwards_seen
                .then_some(state.index.ix.keys.max_forwards),
            error: state.error,
            keyed: lines.iter().any(|(n, _)| {
                matches!(
                    n,
                    HeaderName::Via
                        | HeaderName::From
                        | HeaderName::To
                        | HeaderName::CallId
                        | HeaderName::CSeq
                )
            }),
        }
    }

    /// The lines as they are written, `Name: value CRLF` each.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl State {
    /// Empties a state whose message was built (its buffer and parts taken, new parts in
    /// place): as [`State::default`] makes it, with those parts.
    fn reset(&mut self) {
        let State { buf, body, error, pending_to, to_tagged, limits, index } = self;
        debug_assert!(buf.capacity() == 0 && body.is_none());
        *error = None;
        *pending_to = None;
        *to_tagged = false;
        *limits = Limits::default();
        let Index { start_end, start, uri_error, ix: _, first_error, longest_line, reparse } =
            index;
        *start_end = 0;
        *start = None;
        *uri_error = None;
        *first_error = None;
        *longest_line = 0;
        *reparse = false;
    }

    /// Indexes the To line [`MessageBuilder::response_to`] left pending. Inlined into each
    /// writer (it runs before every line; there is rarely a pending To), the indexing kept out
    /// of line.
    #[inline(always)]
    fn flush_to(&mut self) {
        self.to_tagged = false;
        if let Some(to) = self.pending_to.take() {
            self.index_pending_to(to);
        }
    }

    /// Indexes the pending To line `to` (see [`flush_to`](Self::flush_to)).
    #[inline(never)]
    fn index_pending_to(&mut self, to: PendingTo) {
        let value = self.buf.get(to.value_from..to.content_end).unwrap_or_default();
        // A value with nothing to trim (a parsed value has nothing), its key known.
        let trimmed = !value.first().is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
            && !value.last().is_some_and(|&c| is_ws(c));
        match to.known {
            Some(tag) if trimmed && !self.index.reparse => {
                let index = &mut self.index;
                let at = index.ix.headers.len();
                let slot =
                    index.push_written(HeaderName::To, to.start, to.value_from, to.content_end);
                #[cfg(debug_assertions)]
                let observed = {
                    let mut keys = index.ix.keys.clone();
                    let _ = keys.observe(HeaderName::To, at, value, slot);
                    keys
                };
                let keys = &mut index.ix.keys;
                if keys.to.is_none() {
                    keys.to = Some(at as u16);
                    keys.to_tag = tag.map(|(s, e)| slot.sub(s, e - s));
                }
                #[cfg(debug_assertions)]
                debug_assert_eq!(*keys, observed, "the To key carried is not the parser's");
            }
            _ => self.index_line(HeaderName::To, to.start, to.value_from, to.content_end),
        }
    }

    /// Writes `To: value` as [`raw_line`](Self::raw_line) does, leaving it to be indexed by
    /// [`flush_to`](Self::flush_to) or extended with a tag by [`MessageBuilder::to_tag`].
    /// `may_break`: the value may hold a line break ([`Message::may_break`]).
    fn pending_to_line(
        &mut self,
        value: &[u8],
        may_break: bool,
        tagged: bool,
        known: Option<Option<(usize, usize)>>,
    ) {
        if may_break && has_line_break(value) {
            self.index.reparse = true;
        }
        let name = HeaderName::To;
        let (start, value_from, content_end) =
            self.write(name.line_prefix(), name.as_str().len(), value);
        self.pending_to = Some(PendingTo { start, value_from, content_end, tagged, known });
    }

    /// Writes a value taken from a parsed message, which may hold folded line breaks.
    fn raw_line(&mut self, name: HeaderName, value: &[u8]) {
        if has_line_break(value) {
            self.index.reparse = true;
        }
        self.line(name, name.line_prefix(), name.as_str().len(), value);
    }

    /// Writes the line `e` of `request` as [`raw_line`](Self::raw_line) does, and carries
    /// its eager keys over from the request instead of observing the value again: the
    /// request's keys are what observing its lines gives (the parser and every edit keep them
    /// so), the lines of each key header are copied all and in order, so the line a key came
    /// from in the request is the line it comes from in the response, at the same place in
    /// the same bytes.
    fn copied_line(&mut self, request: &Message, e: &Entry) {
        let value = request.slot(e.value);
        let trimmed =
            !value.first().is_some_and(|&c| is_ws(c)) && !value.last().is_some_and(|&c| is_ws(c));
        if !trimmed || self.index.reparse || (request.may_break(e.value) && has_line_break(value)) {
            self.raw_line(e.name, value);
            return;
        }
        let name = e.name;
        let (name_start, value_from, content_end) =
            self.write(name.line_prefix(), name.as_str().len(), value);
        let index = &mut self.index;
        let at = index.ix.headers.len();
        let slot = index.push_written(name, name_start, value_from, content_end);
        index.ix.keys.carry_copied(&request.ix.keys, name, at, e.value, slot);
    }

    /// Indexes the line `e` of `request`, whose raw line is `start..end` of the request's
    /// buffer ([`raw_line_of`]), as the copy of that line the run `run` will write at the end
    /// of the buffer (the line joins the run when it follows the run's last line in the
    /// request, else the run is written and a new one starts): the entry is the request's,
    /// moved to where the copy lands, and its keys are carried as
    /// [`copied_line`](Self::copied_line) carries them. Parsing the copied bytes gives that
    /// entry: the line is the same bytes, without a fold (the request has none).
    #[inline(always)]
    fn copy_raw(&mut self, request: &Message, e: &Entry, line: RawLineOf, run: &mut RawRun) {
        let RawLineOf { start, name_end, value: (value_start, value_end), end } = line;
        if run.end == 0 || start != run.end + 2 {
            self.flush_run(request, run);
            // The run starts where the buffer ends now (nothing is written until it is).
            *run = RawRun { start, end, to: self.buf.len() };
        } else {
            run.end = end;
        }
        // An offset of the request's buffer inside the run, moved to where the run lands (the
        // sum wraps as the difference would not: every offset is at least `run.start`).
        let delta = run.to.wrapping_sub(run.start);
        let moved = |at: usize| at.wrapping_add(delta);
        let value = Slot::buf(moved(value_start), moved(value_end));
        let index = &mut self.index;
        index.longest_line = index.longest_line.max(end - start);
        let at = index.ix.headers.len();
        index.ix.headers.push(Entry {
            name: e.name,
            name_text: Slot::buf(moved(start), moved(name_end)),
            value,
            line_end: moved(end) as u32,
        });
        index.ix.keys.carry_copied(&request.ix.keys, e.name, at, e.value, value);
    }

    /// Writes the lines of `run` (see [`copy_raw`](Self::copy_raw)) and CRLF, and empties it.
    fn flush_run(&mut self, request: &Message, run: &mut RawRun) {
        if run.end == 0 {
            return;
        }
        let lines = request.buffer().get(run.start..run.end).unwrap_or_default();
        self.buf.reserve(lines.len() + 2);
        self.buf.extend_from_slice(lines);
        self.buf.extend_from_slice(b"\r\n");
        *run = RawRun::default();
    }

    /// Writes `head` (a header name and `": "`), `value` and CRLF, and indexes the line as
    /// [`line`](Self::line) would, with the key of the line taken from `key` instead of
    /// observed on the value. A value with white space to trim is indexed the parser's way (the
    /// callers' values never are).
    #[inline(always)]
    fn keyed_line(&mut self, name: HeaderName, head: &[u8], value: &[u8], key: LineKey) {
        self.flush_to();
        let name_start = self.buf.len();
        self.buf.reserve(head.len() + value.len() + 2);
        self.buf.extend_from_slice(head);
        let value_from = self.buf.len();
        self.buf.extend_from_slice(value);
        let content_end = self.buf.len();
        self.buf.extend_from_slice(b"\r\n");
        let name_end = name_start + name.as_str().len();
        let trimmed = !value.first().is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
            && !value.last().is_some_and(|&c| is_ws(c));
        if !trimmed || self.index.reparse {
            self.index_line_named(name, name_start, name_end, value_from, content_end);
            return;
        }
        let index = &mut self.index;
        let at = index.ix.headers.len();
        let slot = index.push_written(name, name_start, value_from, content_end);
        #[cfg(debug_assertions)]
        let observed = {
            let mut keys = index.ix.keys.clone();
            let _ = keys.observe(name, at, value, slot);
            keys
        };
        let keys = &mut index.ix.keys;
        match key {
            LineKey::Branch(branch) if keys.via.is_none() => {
                keys.via = Some(at as u16);
                keys.branch = Some(slot.sub(branch.start, branch.len()));
            }
            LineKey::Tag(tag) if name == HeaderName::From && keys.from.is_none() => {
                keys.from = Some(at as u16);
                keys.from_tag = tag.map(|t| slot.sub(t.start, t.len()));
            }
            LineKey::Tag(tag) if name == HeaderName::To && keys.to.is_none() => {
                keys.to = Some(at as u16);
                keys.to_tag = tag.map(|t| slot.sub(t.start, t.len()));
            }
            LineKey::CallId if keys.call_id.is_none() => keys.call_id = Some(slot),
            _ => {}
        }
        #[cfg(debug_assertions)]
        debug_assert_eq!(
            *keys,
            observed,
            "the key given for {name} is not the parser's in {:?}",
            String::from_utf8_lossy(value)
        );
    }

    /// Writes `head [": "] value CRLF`; returns where the line starts, where its value starts
    /// and where its content ends (the CR).
    #[inline(always)]
    fn write(&mut self, head: &[u8], name_len: usize, value: &[u8]) -> (usize, usize, usize) {
        let name_start = self.buf.len();
        self.buf.reserve(head.len() + value.len() + 4);
        self.buf.extend_from_slice(head);
        if head.len() == name_len {
            self.buf.extend_from_slice(b": ");
        }
        let value_from = self.buf.len();
        self.buf.extend_from_slice(value);
        let content_end = self.buf.len();
        self.buf.extend_from_slice(b"\r\n");
        (name_start, value_from, content_end)
    }

    /// Writes `head [": "] value CRLF` and indexes the line as the parser would. `head` is the
    /// name as written (`name_len` bytes), or that and `": "` already (a
    /// [`HeaderName::line_prefix`], one copy instead of two).
    ///
    /// A value with nothing to trim (the usual one) is indexed as it was given: the entry
    /// pushed as [`index_header`] would push it, and its keys observed on `value` itself, the
    /// bytes just written, instead of reading them back and trimming them.
    #[inline(always)]
    fn line(&mut self, name: HeaderName, head: &[u8], name_len: usize, value: &[u8]) {
        let (name_start, value_from, content_end) = self.write(head, name_len, value);
        let name_end = name_start + name_len;
        // `index_header` trims SP, HTAB, CR and LF before the value and SP, HTAB after it.
        let trimmed = !value.first().is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
            && !value.last().is_some_and(|&c| is_ws(c));
        let index = &mut self.index;
        if !trimmed || index.reparse {
            self.index_line_named(name, name_start, name_end, value_from, content_end);
            return;
        }
        index.longest_line = index.longest_line.max(content_end - name_start);
        let at = index.ix.headers.len();
        let slot = Slot::buf(value_from, content_end);
        index.ix.headers.push(Entry {
            name,
            name_text: Slot::buf(name_start, name_end),
            value: slot,
            line_end: content_end as u32,
        });
        if let Err(k) = index.ix.keys.observe(name, at, value, slot) {
            index.first_error.get_or_insert((at, ParseError::new(k, value_from)));
        }
    }

    /// Indexes the line of a known header just written (its name as [`HeaderName::as_str`]).
    #[inline]
    fn index_line(&mut self, name: HeaderName, start: usize, value_from: usize, end: usize) {
        self.index_line_named(name, start, start + name.as_str().len(), value_from, end);
    }

    /// Indexes the line just written from `name_start` to `content_end` as the parser would.
    #[inline(always)]
    fn index_line_named(
        &mut self,
        name: HeaderName,
        name_start: usize,
        name_end: usize,
        value_from: usize,
        content_end: usize,
    ) {
        let index = &mut self.index;
        if index.reparse {
            return;
        }
        index.longest_line = index.longest_line.max(content_end - name_start);
        let raw = RawLine { name, name_start, name_end, value_from, content_end };
        let at = index.ix.headers.len();
        if let Err(e) = index_header(&mut index.ix.headers, &mut index.ix.keys, &self.buf, raw) {
            index.first_error.get_or_insert((at, e));
        }
    }
}

/// Adjacent header lines of a request's buffer that [`MessageBuilder::response_to`] copies as
/// one slice: `start..end` of the request's buffer (the first line's name to the last line's
/// CR; `end == 0` for no run), written at `to` in the response's.
#[derive(Clone, Copy, Debug, Default)]
struct RawRun {
    start: usize,
    end: usize,
    to: usize,
}

/// The raw line of `e` (from its name to its CR) in its message's buffer, when copying those
/// bytes is copying the line as [`MessageBuilder::header`] would write it but for the case of
/// the name and the white space around the value: a line the parser indexed (not an edit's),
/// its name written in full (not compact), one byte between the name and the value (the
/// colon, for a line `Name:value`) or two (`": "`). The caller checks that the buffer has no
/// folded line.
#[inline]
fn raw_line_of(e: &Entry) -> Option<RawLineOf> {
    let (name_start, name_end) = e.name_text.in_buf()?;
    let (value_start, value_end) = e.value.in_buf()?;
    let end = e.line_end as usize;
    (name_end - name_start == e.name.as_str().len()
        && (value_start == name_end + 2 || value_start == name_end + 1)
        && value_end <= end)
        .then_some(RawLineOf { start: name_start, name_end, value: (value_start, value_end), end })
}

/// A raw line [`raw_line_of`] found, as offsets of its message's buffer: where it starts (its
/// name), where its name ends, its value, and where it ends (its CR).
#[derive(Clone, Copy, Debug)]
struct RawLineOf {
    start: usize,
    name_end: usize,
    value: (usize, usize),
    end: usize,
}

fn parse_error(kind: ParseErrorKind, offset: usize) -> BuildError {
    BuildError::Parse(ParseError::new(kind, offset))
}

/// The first error the parser meets in the header lines: too many lines, a line too long, or a
/// key it could not extract, checked line by line in that order.
fn first_line_error(index: &Index, limits: &Limits) -> Result<(), BuildError> {
    for (i, e) in index.ix.headers.iter().enumerate() {
        let line_start = e.name_text.start();
        if i >= limits.headers() {
            return Err(parse_error(ParseErrorKind::TooManyHeaders, line_start));
        }
        if e.line_end as usize - line_start > limits.line_length() {
            return Err(parse_error(ParseErrorKind::LineTooLong, line_start));
        }
        match index.first_error {
            Some((at, error)) if at == i => return Err(BuildError::Parse(error)),
            _ => {}
        }
    }
    Ok(())
}

/// The largest CSeq number (RFC 3261 §8.1.1.5: less than 2**31).
const CSEQ_MAX: u32 = 0x7fff_ffff;

/// Whether a value holds CR, LF or NUL, which would inject a header line.
///
/// All three are below 14, which few value bytes are (a TAB is): only a value with a byte
/// below 14 ([`has_byte_below_14`]) is searched for the three.
#[inline]
fn breaks_line(value: &[u8]) -> bool {
    has_byte_below_14(value) && memchr::memchr3(b'\r', b'\n', 0, value).is_some()
}

/// Whether one of `values` holds CR, LF or NUL: [`breaks_line`] of each, with the bytes below
/// 14 looked for in the three first (one inlined pass each, no call) and the three searched
/// only when one has such a byte.
#[inline(always)]
fn breaks_any(values: [&[u8]; 3]) -> bool {
    let [a, b, c] = values;
    (has_byte_below_14(a) | has_byte_below_14(b) | has_byte_below_14(c))
        && values.iter().any(|v| memchr::memchr3(b'\r', b'\n', 0, v).is_some())
}

/// Whether a value holds CR or LF (a folded line copied from a parsed message), searched as
/// [`breaks_line`] searches.
#[inline]
fn has_line_break(value: &[u8]) -> bool {
    has_byte_below_14(value) && memchr::memchr2(b'\r', b'\n', value).is_some()
}

/// Whether `uri` holds a space, a control character or DEL (which a Request-URI may not),
/// eight bytes at a time as [`has_byte_below_14`] reads them: a word has a byte below 0x21
/// when `(w - 0x21 * ONES) & !w & HIGH` is nonzero, and a DEL when that test for a zero byte
/// of `w ^ (0x7f * ONES)` is.
#[inline]
fn has_space_or_control(uri: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let flags = |w: u64| {
        let del = w ^ (ONES * 0x7f);
        (w.wrapping_sub(ONES * 0x21) & !w) | (del.wrapping_sub(ONES) & !del)
    };
    let words = uri.chunks_exact(8);
    let tail = words.remainder();
    let mut acc = words
        .fold(0, |acc, w| acc | w.first_chunk::<8>().map_or(0, |w| flags(u64::from_ne_bytes(*w))));
    if !tail.is_empty() {
        match uri.last_chunk::<8>() {
            Some(last) => acc |= flags(u64::from_ne_bytes(*last)),
            None => return tail.iter().any(|&c| c <= b' ' || c == 0x7f),
        }
    }
    acc & HIGH != 0
}

/// Whether a byte of `value` is below 14 (CR, LF, NUL, TAB and the other low controls),
/// eight bytes at a time.
///
/// For each word `w`, `(w - 14 * ONES) & !w & HIGH` is nonzero exactly when a byte of `w` is
/// below 14 (for a bound up to 128 the borrow of the subtraction starts only at such a
/// byte), so the words are or-ed together and tested once. The bytes after the last whole
/// word are read as the value's last eight bytes (overlapping the words before), or one by
/// one for a value shorter than a word.
#[inline]
fn has_byte_below_14(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let below_14 = |w: u64| w.wrapping_sub(ONES * 14) & !w;
    let word = |w: &[u8; 8]| below_14(u64::from_ne_bytes(*w));
    let Some(last) = value.last_chunk::<8>() else {
        return value.iter().any(|&c| c < 14);
    };
    // Sixteen bytes a step, then the last eight (overlapping the words before).
    let acc = value.chunks_exact(16).fold(word(last), |acc, pair| match pair.split_first_chunk() {
        Some((a, rest)) => acc | word(a) | rest.first_chunk().map_or(0, word),
        None => acc,
    });
    let tail = value.len() % 16;
    let acc = match value.get(value.len() - tail..).and_then(|t| t.first_chunk::<8>()) {
        Some(w) => acc | word(w),
        None => acc,
    };
    acc & HIGH != 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use std::ops::Range;

    use bytes::Bytes;

    use super::{breaks_any, breaks_line, has_byte_below_14, has_line_break, has_space_or_control};
    use crate::{BuildError, HeaderName as H, Message, MessageBuilder, Method};

    /// One line written with its key given ([`MessageBuilder::via_with_branch`],
    /// [`MessageBuilder::addr_with_tag`], [`MessageBuilder::call_id`]) or plainly.
    #[derive(Clone, Debug)]
    enum Line {
        Via(String, Range<usize>),
        Addr(H, String, Option<Range<usize>>),
        CallId(String),
        Plain(H, String),
    }

    impl Line {
        fn keyed(&self, b: MessageBuilder) -> MessageBuilder {
            match self {
                Line::Via(v, branch) => b.via_with_branch(v.as_bytes(), branch.clone()),
                Line::Addr(name, v, tag) => b.addr_with_tag(*name, v.as_bytes(), tag.clone()),
                Line::CallId(v) => b.call_id(v.as_bytes()),
                Line::Plain(name, v) => b.header(*name, v),
            }
        }

        fn plain(&self, b: MessageBuilder) -> MessageBuilder {
            match self {
                Line::Via(v, _) => b.header(H::Via, v),
                Line::Addr(name, v, _) => b.header(*name, v),
                Line::CallId(v) => b.header(H::CallId, v),
                Line::Plain(name, v) => b.header(*name, v),
            }
        }
    }

    /// A Via whose first via-parm's branch is the range given (or an empty or out-of-range
    /// range, which the builder does not take as a key).
    fn via() -> impl Strategy<Value = Line> {
        let branch = "z9hG4bK[A-Za-z0-9.~!%*_+`'-]{1,12}";
        let sent_by = "(192\\.0\\.2\\.[0-9]{1,3}|[a-z]{1,8}\\.example\\.com)(:[0-9]{1,5})?";
        (
            prop::sample::select(vec!["UDP", "TCP", "TLS", "WS"]),
            sent_by,
            branch,
            0usize..5,
            any::<bool>(),
        )
            .prop_map(|(transport, sent_by, branch, shape, bad_range)| {
                let head = format!("SIP/2.0/{transport} {sent_by}");
                let (before, after) = match shape {
                    0 => (";branch=", ""),
                    1 => (";rport;branch=", ""),
                    2 => (";branch=", ";rport"),
                    3 => (";received=192.0.2.9;BRANCH=", ";x=\"a;b\""),
                    _ => (" ; branch = ", " ;rport"),
                };
                let at = head.len() + before.len();
                let value = format!("{head}{before}{branch}{after}");
                let range = if bad_range { at..at } else { at..at + branch.len() };
                Line::Via(value, range)
            })
    }

    /// A From or To: `[display-name] <URI>` with the tag given, or with none.
    fn addr() -> impl Strategy<Value = Line> {
        let display = prop::sample::select(vec![
            "",
            "Bob ",
            "Alice Smith ",
            "\"Bob; <x>, \\\"tag=1\\\"\" ",
            "\"\" ",
        ]);
        let uri = "sip:[a-z]{1,6}@[a-z0-9.]{1,10}(:[0-9]{1,4})?(;transport=udp|;tag=u)?";
        let tag = prop::option::of("[A-Za-z0-9.~!%*_+`'-]{1,12}");
        (any::<bool>(), display, uri, tag).prop_map(|(to, display, uri, tag)| {
            let name = if to { H::To } else { H::From };
            let mut value = format!("{display}<{uri}>");
            let range = tag.map(|tag| {
                value.push_str(";tag=");
                let at = value.len();
                value.push_str(&tag);
                at..value.len()
            });
            Line::Addr(name, value, range)
        })
    }

    /// A Call-ID, `word ["@" word]`, or one with space around it (indexed the parser's way).
    fn call_id() -> impl Strategy<Value = Line> {
        let word = "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,12}";
        (word, prop::option::of(word), any::<bool>()).prop_map(|(a, b, spaced)| {
            let value = match b {
                Some(b) => format!("{a}@{b}"),
                None => a,
            };
            Line::CallId(if spaced { format!(" {value}") } else { value })
        })
    }

    fn line() -> impl Strategy<Value = Line> {
        prop_oneof![
            via(),
            addr(),
            call_id(),
            prop::sample::select(vec![
                (H::Via, "SIP/2.0/UDP p.example.com;branch=z9hG4bKp"),
                (H::To, "<sip:x@y>;tag=p"),
                (H::From, "\"x\" <sip:x@y>"),
                (H::CallId, "p@q"),
                (H::Contact, "<sip:c@d>"),
                (H::MaxForwards, "70"),
            ])
            .prop_map(|(name, v)| Line::Plain(name, v.to_string())),
        ]
    }

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
        To: Bob <sip:bob@biloxi.example.com>\r\n\
        From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Content-Length: 0\r\n\r\n";

    /// The builder started as `kind` says: a request (an extension method's is indexed by
    /// parsing), or a response to an INVITE with or without a To tag.
    fn start(kind: u8) -> MessageBuilder {
        match kind {
            0 => MessageBuilder::request(&Method::Bye, "sip:bob@192.0.2.2"),
            1 => MessageBuilder::request(&Method::Extension("FOO".into()), "sip:bob@192.0.2.2"),
            _ => {
                let request = Message::parse(Bytes::from_static(INVITE.as_bytes()));
                let b = MessageBuilder::response_to(&request.unwrap(), 200, None);
                if kind == 3 { b.to_tag("a6c85cf") } else { b }
            }
        }
    }

    /// Everything of a built message: its bytes, its index and its keys.
    fn whole(m: &Result<Message, BuildError>) -> Result<(Bytes, String, String), BuildError> {
        m.as_ref()
            .map(|m| (m.to_bytes(), format!("{:?}", m.ix.headers), format!("{:?}", m.ix.keys)))
            .map_err(|e| *e)
    }

    /// A response to a request with folded lines (RFC 3261 §7.3.1) copies them as the builder
    /// did when it searched every copied value for a line break: the request's flag says a
    /// value of its buffer may hold one, and the built response is what parsing its bytes
    /// gives (the same bytes, index and keys), 100 (Trying) included.
    #[test]
    fn responses_copy_folded_lines_as_parsed() {
        let lines = [
            // Each line plain, then folded.
            "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK77\r\n",
            "Via: SIP/2.0/UDP pc33.example.com\r\n ;branch=z9hG4bK77\r\n",
            "From: <sip:a@example.com>;tag=1\r\n",
            "From: <sip:a@example.com>\r\n\t;tag=1\r\n",
            "To: <sip:b@example.com>\r\n",
            "To: <sip:b@example.com>\r\n  ;tag=2\r\n",
            "Call-ID: c1\r\n",
            "Call-ID: \r\n c1\r\n",
        ];
        for mask in 0u32..16 {
            let pick =
                |i: usize| lines.get(2 * i + ((mask >> i) & 1) as usize).copied().unwrap_or("");
            let request = format!(
                "INVITE sip:b@example.com SIP/2.0\r\n{}{}{}{}CSeq: 1 INVITE\r\n\
                 Content-Length: 0\r\n\r\n",
                pick(0),
                pick(1),
                pick(2),
                pick(3)
            );
            let parsed = Message::parse(Bytes::from(request)).unwrap();
            assert_eq!(parsed.ix.keys.line_breaks, mask != 0, "{mask:#b}");
            // A forwarded copy keeps the folded lines, and the flag.
            let forwarded = parsed.forwarded(Some("sip:b@192.0.2.7"), &[], Some(69)).unwrap();
            assert_eq!(forwarded.ix.keys.line_breaks, mask != 0, "{mask:#b}");
            for (request, status) in [100, 180, 200]
                .into_iter()
                .flat_map(|status| [(&parsed, status), (&forwarded, status)])
            {
                let built = MessageBuilder::response_to(request, status, None)
                    .to_tag("x9")
                    .build()
                    .unwrap();
                let parsed = Message::parse(built.to_bytes()).unwrap();
                assert_eq!(built.parse_state(), parsed.parse_state(), "{mask:#b} {status}");
                // The folded Call-ID's value is `c1`, after the fold: no break to copy.
                assert_eq!(built.ix.keys.line_breaks, mask & 0b0111 != 0, "{mask:#b} {status}");
                if status == 100 {
                    let trying = request.trying().unwrap();
                    let plain = MessageBuilder::response_to(request, 100, None).build().unwrap();
                    assert_eq!(trying.to_bytes(), plain.to_bytes(), "{mask:#b}");
                    assert_eq!(trying.parse_state(), plain.parse_state(), "{mask:#b}");
                }
            }
        }
    }

    #[test]
    fn status_lines_are_the_code_in_decimal() {
        // The status line written with its digits as one piece is the code's decimal text,
        // and parses back to the code and reason (with a reason given or the canonical one).
        for code in 0..=1000u16 {
            for reason in [None, Some("Fine"), Some("")] {
                let built = MessageBuilder::response(code, reason).build();
                if !(100..=699).contains(&code) {
                    assert_eq!(built.unwrap_err(), BuildError::BadStatus, "{code}");
                    continue;
                }
                let built = built.unwrap();
                let text = reason.unwrap_or(crate::canonical_reason(code));
                let line = format!("SIP/2.0 {code} {text}\r\n");
                assert!(built.to_bytes().starts_with(line.as_bytes()), "{code}");
                let parsed = Message::parse(built.to_bytes()).unwrap();
                assert_eq!(parsed.status(), Some(code));
                assert_eq!(built.parse_state(), parsed.parse_state(), "{code}");
            }
        }
    }

    #[test]
    fn content_lengths_are_the_body_length_in_decimal() {
        // One digit written as a byte, more through the decimal text: the same line, and the
        // message the parser finds in the bytes.
        for len in (0..=12).chain([99, 100, 1000, 4096]) {
            let body = vec![b'x'; len];
            let built = MessageBuilder::request(&Method::Options, "sip:a@b")
                .header(H::Via, "SIP/2.0/UDP h;branch=z9hG4bK1")
                .body("text/plain", body.clone())
                .build()
                .unwrap();
            let bytes = built.to_bytes();
            let tail = format!("Content-Length: {len}\r\n\r\n");
            let head = bytes.len() - len;
            assert!(bytes[..head].ends_with(tail.as_bytes()), "{len}");
            assert_eq!(built.content_length(), Some(len as u32));
            assert_eq!(built.body(), &body[..]);
            let parsed = Message::parse(bytes).unwrap();
            assert_eq!(built.parse_state(), parsed.parse_state(), "{len}");
        }
    }

    #[test]
    fn canonical_reasons_are_printable() {
        // `response` takes them without the check of a reason given.
        for code in 0..=999 {
            let reason = crate::canonical_reason(code);
            assert!(!reason.bytes().any(|c| (c < 0x20 && c != b'\t') || c == 0x7f), "{code}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// A message built with the keys given is the message built with `header`, the keys
        /// found by indexing: the same bytes, the same index, the same keys (and the same
        /// error), whichever lines come first (only the first of each names the key).
        #[test]
        fn given_keys_are_the_keys_indexing_finds(
            kind in 0u8..4,
            lines in prop::collection::vec(line(), 0..7),
            tag_after in any::<bool>(),
        ) {
            let (mut keyed, mut plain) = (start(kind), start(kind));
            for line in &lines {
                keyed = line.keyed(keyed);
                plain = line.plain(plain);
            }
            if tag_after {
                keyed = keyed.to_tag("late");
                plain = plain.to_tag("late");
            }
            let (keyed, plain) = (keyed.build(), plain.build());
            prop_assert_eq!(whole(&keyed), whole(&plain));
            if let Ok(m) = &keyed {
                // And both are what parsing the bytes gives.
                let parsed = Message::parse(m.to_bytes()).unwrap();
                prop_assert_eq!(format!("{:?}", parsed.ix.keys), format!("{:?}", m.ix.keys));
            }
        }

        /// `request_lines` is `addr_with_tag` for the To and the From, `call_id` and `cseq`
        /// one after the other: the same bytes, index, keys and error, after any lines.
        #[test]
        fn request_lines_are_the_four_keyed_lines(
            kind in 0u8..4,
            before in prop::collection::vec(line(), 0..4),
            (to, from) in (addr(), addr()),
            call_id in call_id(),
            cseq in prop_oneof![1u32..100_000, Just(0x7fff_ffff), Just(0x8000_0000)],
            method in prop::sample::select(vec![
                Method::Bye, Method::Ack, Method::Invite, Method::Extension("FOO".into()),
            ]),
            (bad, spoil_to_tag) in (0u8..13, any::<bool>()),
        ) {
            // A tab after the first character of `value`, its tag moved along.
            let tab_at_1 = |value: &mut String, tag: &mut Option<Range<usize>>| {
                let at = value.char_indices().nth(1).map_or(value.len(), |(i, _)| i);
                value.insert(at, '\t');
                if let Some(t) = tag.as_mut().filter(|t| t.start >= at) {
                    *t = t.start + 1..t.end + 1;
                }
            };
            let (Line::Addr(_, mut to, mut to_tag), Line::Addr(_, mut from, mut from_tag), Line::CallId(mut call_id)) =
                (to, from, call_id) else { unreachable!() };
            match bad {
                0 => to.push_str("\r\nX: y"),
                // A break or a NUL in the other values, a tab (below 14, no break) in an address.
                8 => from.push_str("\nX: y"),
                9 => call_id.push('\r'),
                10 => from.insert(0, '\0'),
                11 => tab_at_1(&mut from, &mut from_tag),
                12 => tab_at_1(&mut to, &mut to_tag),
                1 => to.push(' '),
                2 if spoil_to_tag => to_tag = Some(0..0),
                3 => to_tag = Some(0..to.len() + 1),
                _ => {}
            }
            let (mut lines, mut chain) = (start(kind), start(kind));
            for line in &before {
                lines = line.keyed(lines);
                chain = line.keyed(chain);
            }
            let lines = lines.request_lines(&super::RequestLines {
                to: to.as_bytes(),
                to_tag: to_tag.clone(),
                from: from.as_bytes(),
                from_tag: from_tag.clone(),
                call_id: call_id.as_bytes(),
                cseq,
                method: &method,
            });
            let chain = chain
                .addr_with_tag(H::To, to.as_bytes(), to_tag)
                .addr_with_tag(H::From, from.as_bytes(), from_tag)
                .call_id(call_id.as_bytes())
                .cseq(cseq, &method);
            prop_assert_eq!(whole(&lines.build()), whole(&chain.build()));
        }

        /// Builders made in a kept state (`request_in`, `response_to_in`, `build_in`) build
        /// what fresh ones build, message after message, a failed build included.
        #[test]
        fn kept_states_build_as_new_ones(
            messages in prop::collection::vec(
                (
                    0u8..4,
                    prop::collection::vec(line(), 0..6),
                    any::<bool>(),
                    any::<bool>(),
                    0u8..5,
                ),
                1..5,
            ),
        ) {
            let mut spare = super::BuilderSpare::default();
            let request = Message::parse(Bytes::from_static(INVITE.as_bytes())).unwrap();
            let mut built: Vec<Result<Message, BuildError>> = Vec::new();
            for (kind, lines, tag, limit, recycle) in &messages {
                // Indexes given back before this message: of a message built before, of the
                // request edited (owned pieces, a key changed), of a long message (its header
                // index spilled), of a message parsed.
                match recycle {
                    1 => {
                        if let Some(Ok(kept)) = built.last() {
                            spare.recycle(Message::clone(kept));
                        }
                    }
                    2 => {
                        let mut edited = request.clone();
                        edited.push_front(H::Via, "SIP/2.0/UDP h.example.com;branch=z9hG4bKx").unwrap();
                        edited.pop_front(H::To);
                        prop_assert!(edited.ix.owned.capacity() > 0);
                        spare.recycle(edited);
                    }
                    3 => {
                        let long = (0..17).fold(MessageBuilder::request(&Method::Bye, "sip:b@h"), |b, n| {
                            b.header(H::Subject, format!("s{n}"))
                        });
                        let long = long.build().unwrap();
                        prop_assert!(long.ix.headers.spilled());
                        spare.recycle(long);
                    }
                    4 => spare.recycle(request.clone()),
                    _ => {}
                }
                let (mut kept, mut fresh) = match kind {
                    0 => (
                        MessageBuilder::request_in(&mut spare, &Method::Bye, "sip:b@192.0.2.2", 64),
                        MessageBuilder::request_with_capacity(&Method::Bye, "sip:b@192.0.2.2", 64),
                    ),
                    1 => (
                        MessageBuilder::request_in(&mut spare, &Method::Extension("FOO".into()), "sip:b@h", 512),
                        MessageBuilder::request(&Method::Extension("FOO".into()), "sip:b@h"),
                    ),
                    _ => (
                        MessageBuilder::response_to_in(&mut spare, &request, 180 + u16::from(*kind), None),
                        MessageBuilder::response_to(&request, 180 + u16::from(*kind), None),
                    ),
                };
                if *tag {
                    kept = kept.to_tag("t1");
                    fresh = fresh.to_tag("t1");
                }
                for line in lines {
                    kept = line.keyed(kept);
                    fresh = line.keyed(fresh);
                }
                if *limit {
                    // A limit the message may exceed: the build fails alike.
                    kept = kept.limits(crate::Limits::default().max_headers(4));
                    fresh = fresh.limits(crate::Limits::default().max_headers(4));
                }
                let (kept, fresh) = (kept.build_in(&mut spare), fresh.build());
                prop_assert_eq!(whole(&kept), whole(&fresh));
                // A recycled index is as new: no heap of the message it came from.
                prop_assert_eq!(
                    kept.as_ref().map(Message::index_bytes).ok(),
                    fresh.as_ref().map(Message::index_bytes).ok()
                );
                if let (Ok(k), Ok(f)) = (&kept, &fresh) {
                    prop_assert_eq!(k.buffer(), f.buffer());
                    prop_assert_eq!(format!("{:?}", k.ix), format!("{:?}", f.ix));
                }
                built.push(kept);
            }
        }

        /// A response copies the request's Via, From, Call-ID and CSeq lines as they are
        /// written (a run of adjacent lines as one slice, compact names written out): the
        /// built response is what parsing its bytes gives, and it has the request's keys.
        #[test]
        fn responses_copy_lines_as_parsed(
            lines in prop::collection::vec(prop::sample::select(vec![
                "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
                "VIA:SIP/2.0/UDP b.example.com;branch=z9hG4bK2 ",
                "v: SIP/2.0/TCP c.example.com;branch=z9hG4bK3",
                "From: <sip:a@example.com>;tag=f1",
                "from :<sip:a@example.com>;tag=f2",
                "f: <sip:a@example.com>",
                "To: <sip:b@example.com>",
                "t: Bob <sip:b@example.com>;tag=t1",
                "Call-ID: c1@example.com",
                "i:c2",
                "Call-ID:  spaced ",
                "CSeq: 7 INVITE",
                "cseq:  8 INVITE",
                "Timestamp: 54",
                "Max-Forwards: 70",
                "Contact: <sip:a@192.0.2.1>",
            ]), 0..10),
            status in prop::sample::select(vec![100u16, 180, 200, 486]),
            tag in any::<bool>(),
        ) {
            let mut text = String::from("INVITE sip:b@example.com SIP/2.0\r\n");
            for line in &lines {
                text.push_str(line);
                text.push_str("\r\n");
            }
            text.push_str("Content-Length: 0\r\n\r\n");
            let request = Message::parse(Bytes::from(text)).unwrap();
            let mut b = MessageBuilder::response_to(&request, status, None);
            // A tag needs a To to go to.
            if tag && request.to_header().is_some() {
                b = b.to_tag("x1");
            }
            let built = b.build().unwrap();
            let parsed = Message::parse(built.to_bytes()).unwrap();
            prop_assert_eq!(built.parse_state(), parsed.parse_state());
            prop_assert_eq!(built.via_branch(), request.via_branch());
            prop_assert_eq!(built.from_tag(), request.from_tag());
            prop_assert_eq!(built.call_id(), request.call_id());
            prop_assert_eq!(built.cseq_number(), request.cseq_number());
            let copied = |m: &Message| {
                m.lines()
                    .filter(|l| matches!(l.name, H::Via | H::From | H::CallId | H::CSeq))
                    .map(|l| (l.name, l.value.to_vec()))
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(copied(&built), copied(&request));
        }

        /// The word-at-a-time check of a Request-URI finds one space, control or DEL
        /// anywhere in URI bytes.
        #[test]
        fn space_or_control_is_found_anywhere(
            clean in prop::collection::vec(0x21u8..0x7f, 0..40),
            c in any::<u8>(),
            at in 0usize..40,
        ) {
            prop_assert!(!has_space_or_control(&clean));
            let mut u = clean.clone();
            u.insert(at.min(clean.len()), c);
            prop_assert_eq!(has_space_or_control(&u), c <= b' ' || c == 0x7f);
        }

        /// A Request-URI the parser takes is never one `request` refuses as empty or holding a
        /// space, a control or DEL: `request_line` looks for those only in a URI the parser
        /// refuses, and the builder's error is the one of the check of every URI.
        #[test]
        fn request_uris_refused_for_spaces_are_refused_by_the_parser(
            uri in prop::collection::vec(
                prop::sample::select(b"sip:a@b.c;=<>\"\t\r\n\x00\x1f \x7f\xc3\xa9+-.".to_vec()),
                0..24,
            ),
        ) {
            let refused = uri.is_empty() || has_space_or_control(&uri);
            if crate::parse::check_request_uri(&uri).is_ok() {
                prop_assert!(!refused);
            }
            if let Ok(text) = std::str::from_utf8(&uri) {
                let built = MessageBuilder::request(&Method::Options, text).build();
                prop_assert_eq!(
                    matches!(built, Err(BuildError::BadRequestUri)),
                    refused,
                    "{:?}",
                    text
                );
            }
        }

        /// The word-at-a-time check finds CR, LF and NUL wherever memchr does.
        #[test]
        fn breaks_line_is_the_search_for_the_three(
            v in prop::collection::vec(
                prop_oneof![any::<u8>(), 0u8..16, Just(b'\r'), Just(b'\n'), Just(0u8)],
                0..80,
            ),
            clean in prop::collection::vec(32u8..127, 0..40),
        ) {
            prop_assert_eq!(breaks_line(&v), memchr::memchr3(b'\r', b'\n', 0, &v).is_some());
            prop_assert_eq!(has_line_break(&v), memchr::memchr2(b'\r', b'\n', &v).is_some());
            prop_assert_eq!(has_byte_below_14(&v), v.iter().any(|&c| c < 14));
            let space_or_control = |s: &[u8]| s.iter().any(|&c| c <= b' ' || c == 0x7f);
            prop_assert_eq!(has_space_or_control(&v), space_or_control(&v));
            let mut w = clean.clone();
            w.extend_from_slice(&v);
            prop_assert_eq!(breaks_line(&w), memchr::memchr3(b'\r', b'\n', 0, &w).is_some());
            prop_assert_eq!(has_space_or_control(&w), space_or_control(&w));
            for at in 0..=clean.len() {
                for c in [b'\r', b'\n', 0, b'\t', 13, 14] {
                    let mut u = clean.clone();
                    u.insert(at, c);
                    prop_assert_eq!(breaks_line(&u), matches!(c, b'\r' | b'\n' | 0));
                    prop_assert_eq!(has_line_break(&u), matches!(c, b'\r' | b'\n'));
                    prop_assert_eq!(has_byte_below_14(&u), c < 14);
                    // The fused check of three values is the check of each, wherever the
                    // value with the byte stands among them.
                    let any = |vs: [&[u8]; 3]| vs.iter().any(|v| breaks_line(v));
                    for vs in [[&u[..], &clean, &w], [&clean, &u, &w], [&w, &clean, &u]] {
                        prop_assert_eq!(breaks_any(vs), any(vs));
                    }
                }
            }
        }
    }
}
