//! Validation, separate from syntax: what a UAS must reject although the bytes parse.

use std::fmt;

use crate::message::Slot;

use crate::{
    HeaderError, HeaderName, Message, ParseError, ParseErrorKind, TypedHeader, Uri, UriError,
    canonical_reason,
};

/// Why a message that parsed must still be refused, and the status a UAS answers a request
/// with (RFC 3261 §8.2, §16.3; RFC 4475 §3.1.2 and §3.3). Responses that fail validation are
/// dropped rather than answered (§18.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    status: u16,
    problem: Problem,
}

/// What was wrong with a message; see [`Rejection`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The bytes did not parse at all.
    Syntax(ParseErrorKind),
    /// A mandatory header is absent (RFC 3261 §8.1.1).
    Missing(HeaderName),
    /// A header that takes one value has several (RFC 3261 §7.3.1, RFC 4475 §3.3.8).
    Multiple(HeaderName),
    /// A header value does not match its grammar.
    Malformed(HeaderError),
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5, RFC 4475 §3.1.2.15).
    CSeqMethodMismatch,
    /// The Request-URI does not parse.
    RequestUri(UriError),
    /// The Request-URI carries headers, which a Request-URI may not (RFC 3261 §19.1.1 table 1,
    /// RFC 4475 §3.1.2.11).
    RequestUriHeaders,
    /// The Request-URI scheme is not one this element handles (RFC 3261 §8.2.2.1: 416).
    UnsupportedScheme,
}

impl Rejection {
    /// The rejection for a message that did not parse.
    #[must_use]
    pub const fn from_parse_error(e: &ParseError) -> Rejection {
        Rejection { status: e.kind().status(), problem: Problem::Syntax(e.kind()) }
    }

    /// The status a UAS answers with (400, 416, 505, 513).
    #[must_use]
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// What was wrong.
    #[must_use]
    pub const fn problem(&self) -> Problem {
        self.problem
    }

    /// The reason phrase to send: the standard phrase and, in parentheses, what was wrong,
    /// e.g. `Bad Request (CSeq method does not match request method)`.
    #[must_use]
    pub fn reason_phrase(&self) -> String {
        self.to_string()
    }
}

impl From<ParseError> for Rejection {
    fn from(e: ParseError) -> Self {
        Rejection::from_parse_error(&e)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Syntax(kind) => f.write_str(kind.reason()),
            Problem::Missing(name) => write!(f, "Missing {name} header"),
            Problem::Multiple(name) => write!(f, "Multiple {name} headers"),
            Problem::Malformed(e) => write!(f, "Malformed {} header: {}", e.name(), e.what()),
            Problem::CSeqMethodMismatch => f.write_str("CSeq method does not match request method"),
            Problem::RequestUri(e) => write!(f, "Malformed Request-URI: {}", e.what()),
            Problem::RequestUriHeaders => f.write_str("Request-URI must not contain headers"),
            Problem::UnsupportedScheme => f.write_str("Request-URI scheme not supported"),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", canonical_reason(self.status), self.problem)
    }
}

impl std::error::Error for Rejection {}

/// Headers every message must have, in the order their absence is reported (RFC 3261
/// §8.1.1; Max-Forwards only on requests, see [`Message::validate`]).
const REQUIRED: [HeaderName; 7] = [
    HeaderName::To,
    HeaderName::From,
    HeaderName::CSeq,
    HeaderName::CallId,
    HeaderName::Via,
    HeaderName::MaxForwards,
    // Not required, but single (see `SINGLE`): counted in the same pass.
    HeaderName::ContentType,
];

/// The place in the counts of [`REQUIRED`] of a header that is not in it (past their end).
const NOT_REQUIRED: usize = REQUIRED.len();

/// The position of `name` in [`REQUIRED`], by one `match` rather than a search (every header
/// line of every validated message is looked up).
#[inline]
fn required_index(name: HeaderName) -> Option<usize> {
    let k = match name {
        HeaderName::To => 0,
        HeaderName::From => 1,
        HeaderName::CSeq => 2,
        HeaderName::CallId => 3,
        HeaderName::Via => 4,
        HeaderName::MaxForwards => 5,
        HeaderName::ContentType => 6,
        _ => return None,
    };
    Some(k)
}

/// Which header values a validation judges: all that the stack interprets (a UAS, §8.2), or
/// only those a proxy needs to forward the request (§16.3 step 1).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every header the stack interprets ([`Message::validate`]).
    Whole,
    /// The headers of [`Message::validate_for_forwarding`].
    Forwarding,
}

impl Scope {
    /// Whether this scope judges the values of `name`.
    #[inline]
    fn covers(self, name: HeaderName) -> bool {
        match self {
            Scope::Whole => true,
            Scope::Forwarding => matches!(
                name,
                HeaderName::To
                    | HeaderName::From
                    | HeaderName::CallId
                    | HeaderName::CSeq
                    | HeaderName::Via
                    | HeaderName::MaxForwards
                    | HeaderName::Route
                    | HeaderName::ProxyRequire
            ),
        }
    }
}

/// Headers that may appear once at most (RFC 3261 §7.3.1: only list headers may repeat).
const SINGLE: [HeaderName; 6] = [
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::From,
    HeaderName::To,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
];

/// List headers whose grammar allows an empty value (RFC 3261 §25.1).
const EMPTY_LIST_OK: [HeaderName; 5] = [
    HeaderName::Accept,
    HeaderName::AcceptEncoding,
    HeaderName::AcceptLanguage,
    HeaderName::Allow,
    HeaderName::Supported,
];

/// Free-text headers: not grounds for a rejection, however they are written.
const FREE_TEXT: [HeaderName; 4] =
    [HeaderName::UserAgent, HeaderName::Server, HeaderName::Subject, HeaderName::Organization];

/// Request-URI schemes a SIP element handles by default.
const SCHEMES: [&str; 3] = ["sip", "sips", "tel"];

impl Message {
    /// Checks what RFC 3261 requires of a message beyond its syntax, as a UAS or proxy does
    /// before handing a request on (§8.2.1–§8.2.2, §16.3): the mandatory headers (To, From,
    /// CSeq, Call-ID, Via, and Max-Forwards except on an RFC 2543 request, whose top Via
    /// branch lacks the `z9hG4bK` cookie); single-value headers present once; every header
    /// the stack interprets well-formed; the CSeq method equal to the request method; a
    /// Request-URI that parses, carries no headers and has a scheme in `sip`, `sips`, `tel`.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::Message;
    /// let msg = Message::parse(Bytes::from_static(
    ///     b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
    ///       Max-Forwards: 70\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n\
    ///       Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
    /// ))?;
    /// let rejection = msg.validate().unwrap_err();
    /// assert_eq!(rejection.status(), 400);
    /// assert_eq!(rejection.to_string(), "Bad Request (CSeq method does not match request method)");
    /// # Ok::<(), sip_message::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// The first [`Rejection`] found, with the status to answer.
    pub fn validate(&self) -> Result<(), Rejection> {
        self.validate_in(Scope::Whole)
    }

    /// The check a proxy makes before forwarding a request (RFC 3261 §16.3 step 1): the
    /// parts involved in validating and forwarding it must be well-formed, and "any other
    /// components, well-formed or not, SHOULD be ignored and remain unchanged when the message
    /// is forwarded".
    ///
    /// It is [`Message::validate`] with the header values judged only for the headers a
    /// proxy interprets: To, From, Call-ID and CSeq (transaction matching, §17.2.3, and the
    /// loop hash of §16.6 step 8), Via (§16.6 step 8, §16.7 step 3), Max-Forwards (§16.3
    /// step 3), Route (§16.4) and Proxy-Require (§16.3 step 5). The mandatory headers, the
    /// single-value rule for those headers, the CSeq method and the Request-URI (scheme: 416,
    /// §16.3 step 2) are checked as `validate` checks them; a malformed Contact, Content-Type
    /// or any other header is forwarded as it came, for the user agent behind the proxy to
    /// judge.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::Message;
    /// let msg = Message::parse(Bytes::from_static(
    ///     b"INVITE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
    ///       Max-Forwards: 70\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n\
    ///       Call-ID: x\r\nCSeq: 1 INVITE\r\nContact: <<sip:b@h>\r\n\r\n",
    /// ))?;
    /// assert!(msg.validate().is_err(), "a UAS rejects the malformed Contact");
    /// assert!(msg.validate_for_forwarding().is_ok(), "a proxy forwards it untouched");
    /// # Ok::<(), sip_message::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// The first [`Rejection`] found, with the status to answer.
    pub fn validate_for_forwarding(&self) -> Result<(), Rejection> {
        self.validate_in(Scope::Forwarding)
    }

    /// [`Message::validate`] over the headers `scope` covers.
    fn validate_in(&self, scope: Scope) -> Result<(), Rejection> {
        let bad = |problem| Err(Rejection { status: 400, problem });
        // The branch is a token (ASCII), so its bytes answer as its text would.
        let rfc2543 = !self.via_branch_bytes().is_some_and(|b| b.starts_with(b"z9hG4bK"));
        // How many lines each header of `REQUIRED` has (saturating at 2), counted in one pass;
        // the checks below then run in the order they always did, so the first problem found
        // is the same.
        // The values are checked in the same pass ([`check_headers`] line by line), and the
        // first malformed one kept for after the missing and multiple headers.
        let mut count = [0_u8; REQUIRED.len()];
        let (mut section, mut malformed) = (None, None);
        let keys = &self.ix.keys;
        for e in &self.ix.headers {
            // One match per line gives its place in `REQUIRED` (`NOT_REQUIRED` for the other
            // names) and whether its value is judged already:
            // - the Call-ID key's line was found to be `word ["@" word]` when the key was
            //   taken (the parser's and every edit's `is_call_id`), which is what
            //   `plain_call_id` accepts;
            // - the top Via, From and To lines the fast walks accepted when they were indexed
            //   (`Keys::via_judged`);
            // - the Content-Length lines, when the parser found them all well-formed
            //   (`Keys::lengths_judged`): `1*DIGIT` below 2^32, as `plain_number` accepts;
            // - the first CSeq and Max-Forwards lines, when their keys parsed
            //   (`parse_cseq`, `parse_small_number` up to 255): `1*DIGIT` below 2^31, then
            //   SP or HTAB (a value without a line break) and a token, or `1*DIGIT` up to 255,
            //   which is what `plain_number` and the typed parsers accept.
            let (k, judged) = match e.name {
                HeaderName::To => (0, keys.to_judged.0 == Some(e.value)),
                HeaderName::From => (1, keys.from_judged.0 == Some(e.value)),
                HeaderName::CSeq => {
                    (2, count[2] == 0 && keys.cseq_method.is_some() && !self.may_break(e.value))
                }
                HeaderName::CallId => (3, keys.call_id == Some(e.value)),
                HeaderName::Via => (4, keys.via_judged.0 == Some(e.value)),
                HeaderName::MaxForwards => (5, count[5] == 0 && keys.max_forwards.is_some()),
                HeaderName::ContentType => (6, false),
                HeaderName::ContentLength => (NOT_REQUIRED, keys.lengths_judged.0),
                HeaderName::Contact => (NOT_REQUIRED, contact_vouched(self, e.value)),
                _ => (NOT_REQUIRED, false),
            };
            if let Some(c) = count.get_mut(k) {
                *c = (*c + 1).min(2);
            }
            if malformed.is_none() && !judged && scope.covers(e.name) {
                malformed = check_entry(self, &mut section, e).err();
            }
        }
        let lines = |name: HeaderName| required_index(name).and_then(|k| count.get(k)).copied();
        let max_forwards_required = self.is_request() && !rfc2543;
        for name in REQUIRED.into_iter().take_while(|&n| n != HeaderName::ContentType) {
            if name == HeaderName::MaxForwards && !max_forwards_required {
                continue;
            }
            if lines(name) == Some(0) {
                return bad(Problem::Missing(name));
            }
        }
        for name in SINGLE.into_iter().filter(|&n| scope.covers(n)) {
            let more_than_one = match lines(name) {
                Some(n) => n > 1,
                None => self.header_lines(name).nth(1).is_some(),
            };
            if more_than_one {
                return bad(Problem::Multiple(name));
            }
        }
        if let Some(e) = malformed {
            return bad(Problem::Malformed(e));
        }
        let (Some(method), Some(raw)) = (self.method(), self.request_uri_raw()) else {
            return Ok(());
        };
        // A SIP or SIPS URI, judged as `Uri::parse` would judge it without building it: its
        // scheme is one of `SCHEMES`, so only its headers can be wrong. The walk reads the
        // bytes; a URI it reads to the end is ASCII, so text. Anything else (a bad URI,
        // another scheme, a URI the walk needs as text) goes the long way below, and a
        // Request-URI that is not text is left alone, as it always was.
        // The parser's walk, when it read the Request-URI to its end (`Keys::uri_judged`).
        let judged = match &self.ix.start {
            crate::message::StartLine::Request { uri, .. } => {
                self.ix.keys.uri_judged.0 == Some(*uri)
            }
            crate::message::StartLine::Response { .. } => false,
        };
        let sip = match judged {
            true => Some(false),
            false => match crate::uri::walk_sip_uri_bytes(raw, 0) {
                Some(crate::uri::SipWalk::Ends { end, headers }) if end == raw.len() => {
                    Some(headers)
                }
                _ => None,
            },
        };
        let uri = match sip {
            Some(_) => "",
            None => match std::str::from_utf8(raw) {
                Ok(uri) => uri,
                Err(_) => return Ok(()),
            },
        };
        if self.cseq_method() != Some(method) {
            return bad(Problem::CSeqMethodMismatch);
        }
        if let Some(headers) = sip {
            return if headers { bad(Problem::RequestUriHeaders) } else { Ok(()) };
        }
        if let crate::uri::SipCheck::Valid { headers } = crate::uri::check_sip_uri(uri) {
            return if headers { bad(Problem::RequestUriHeaders) } else { Ok(()) };
        }
        let uri = Uri::parse(uri).map_err(|e| Rejection {
            status: if SCHEMES.iter().any(|s| scheme_of(uri).eq_ignore_ascii_case(s)) {
                400
            } else {
                416
            },
            problem: Problem::RequestUri(e),
        })?;
        if !SCHEMES.iter().any(|s| uri.scheme().eq_ignore_ascii_case(s)) {
            return Err(Rejection { status: 416, problem: Problem::UnsupportedScheme });
        }
        if uri.as_sip().is_some_and(|sip| sip.has_headers()) {
            return bad(Problem::RequestUriHeaders);
        }
        Ok(())
    }
}

/// Whether the Contact value at `value` is the judged From value (`Keys::from_judged`) up to
/// its `>`: the usual Contact of a request, the sender's own address. The fast walk accepted
/// that From value, `[display] <sip:...>` and then at most `;tag=token`; its only `>` ends
/// the `<...>` (the display name, the URI and the tag hold none), so such a Contact is that
/// `[display] <sip:...>` alone, which the walk accepts as a Contact too (`fast_address`
/// without a tag): it is judged without the walk (a test checks it).
#[inline]
fn contact_vouched(msg: &Message, value: Slot) -> bool {
    let Some(from) = msg.ix.keys.from_judged.0 else {
        return false;
    };
    let contact = msg.slot(value);
    contact.last() == Some(&b'>') && msg.slot(from).get(..contact.len()) == Some(contact)
}

/// Checks every header value the stack interprets, in order; the first malformed one's error.
///
/// Each value is first put to [`plain_accepts`], a one-pass check of its common shape on the
/// bytes; only a value it does not accept is taken as text (the header section checked as
/// UTF-8 once, the first time one is needed) and judged by [`check_header_str`] or
/// [`check_header`], which give the verdict and the error.
#[cfg(test)]
fn check_headers(msg: &Message) -> Result<(), HeaderError> {
    let mut section = None;
    msg.ix.headers.iter().try_for_each(|e| check_entry(msg, &mut section, e))
}

/// The check of [`check_headers`] for the line `e` of `msg`; `section` is the header section
/// once a value has needed it.
#[inline]
fn check_entry<'m>(
    msg: &'m Message,
    section: &mut Option<HeaderSection<'m>>,
    e: &crate::message::Entry,
) -> Result<(), HeaderError> {
    if plain_accepts(e.name, msg.slot(e.value)) {
        return Ok(());
    }
    let section = section.get_or_insert_with(|| HeaderSection::of(msg));
    match section.text_of(e.value) {
        Some(text) => check_header_str(e.name, text),
        None => check_header(e.name, msg.slot(e.value)),
    }
}

/// Whether [`check_header`] is certain to accept `value` for `name`, found on the bytes by the
/// one-pass checks of the common shapes (a `<sip:...>` address with token parameters, a plain
/// Via, digits, a Call-ID, `type/subtype`, a list of tokens), which accept only printable
/// ASCII (text, so no UTF-8 check is needed), or because `name` is a free-text header.
/// `false` says nothing: the value then takes the checks of [`check_header_str`].
#[inline]
fn plain_accepts(name: HeaderName, value: &[u8]) -> bool {
    if fast_accepts(name, value) {
        return true;
    }
    let one: fn(&[u8], HeaderName) -> bool = match name {
        HeaderName::UserAgent
        | HeaderName::Server
        | HeaderName::Subject
        | HeaderName::Organization => return true,
        HeaderName::Via => |v, _| crate::headers::plain_via_bytes(v),
        HeaderName::From
        | HeaderName::To
        | HeaderName::Contact
        | HeaderName::Route
        | HeaderName::RecordRoute
        | HeaderName::Path
        | HeaderName::ServiceRoute
        | HeaderName::HistoryInfo
        | HeaderName::ReplyTo
        | HeaderName::ReferTo => crate::headers::plain_address_accepts,
        HeaderName::CallId => return crate::headers::plain_call_id(value),
        HeaderName::ContentType => return crate::headers::plain_media_type(value),
        HeaderName::CSeq
        | HeaderName::MaxForwards
        | HeaderName::ContentLength
        | HeaderName::Expires
        | HeaderName::MinExpires
            if !name.is_list() =>
        {
            return crate::headers::plain_number(value, name);
        }
        HeaderName::Allow
        | HeaderName::Supported
        | HeaderName::Require
        | HeaderName::ProxyRequire
        | HeaderName::Unsupported
        | HeaderName::ContentEncoding
            if name.is_list() =>
        {
            return is_token_list(value);
        }
        _ => return false,
    };
    // A value these walks accept whole is one element as `split_list` cuts it: it starts with
    // `<` or `SIP/2.0/` and ends in a token or `>` (nothing to trim), and holds no comma but
    // inside the `<...>` of an address (token, host and Via bytes hold none), where
    // `split_list` does not cut.
    if one(value, name) {
        return true;
    }
    if !name.is_list() {
        return false;
    }
    // As `quick_accepts`: each element `split_list` cuts (the whole value was the one).
    let lws = |c: Option<&u8>| matches!(c, Some(b' ' | b'\t' | b'\r' | b'\n'));
    if !lws(value.first()) && !lws(value.last()) && memchr::memchr(b',', value).is_none() {
        return false;
    }
    crate::split_list(value).all(|piece| !piece.is_empty() && one(piece, name))
}

/// Whether `value` of `name` has the one shape a user agent or proxy of this stack writes
/// (RFC 3261 §20.10, §20.42): an address `<sip:[user@]host[:port]*(;lr)>`, with `;tag=token`
/// on From and To, or a Via `SIP/2.0/UDP host[:port]` with `rport[=port]`, `branch=token` and
/// `received=IPv4` each at most once, everything lower case, the host an IPv4 address or a
/// host name whose last label starts with a letter, a port of one to five digits without a
/// leading zero up to 65535. Read once, byte by byte, with no general walk: a strict subset
/// of what [`plain_accepts`] accepts (a test checks it on the interop corpus and mutations),
/// so `true` is its answer; `false` says nothing.
#[inline]
fn fast_accepts(name: HeaderName, value: &[u8]) -> bool {
    match name {
        HeaderName::From | HeaderName::To => fast_address(value, true),
        HeaderName::Contact | HeaderName::Route | HeaderName::RecordRoute => {
            fast_address(value, false)
        }
        HeaderName::Via => fast_via(value),
        _ => false,
    }
}

/// Letters, digits and `-`, `_`, `.`: the user characters [`fast_address`] takes.
// Runs at compile time only: every index is below 256 by construction.
#[allow(clippy::indexing_slicing)]
static FAST_USER: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
        c += 1;
    }
    t
};

/// Whether `b` is one or more token characters (RFC 3261 §25.1).
#[inline]
fn all_token(b: &[u8]) -> bool {
    !b.is_empty() && crate::chars::run_len(&crate::chars::TOKEN, b) == b.len()
}

/// See [`fast_accepts`]: `<sip:[user@]host[:port]*(;lr)>`, then `;tag=token` if `tag`, after
/// a display name of tokens each followed by one space (as SIPp writes `sipp <sip:...>`).
#[inline]
fn fast_address(v: &[u8], tag: bool) -> bool {
    fast_address_tag(v, tag).is_some()
}

/// [`fast_address`], with what it found: `None` when the value is not of its shape, else
/// `Some` of the span of the `tag` value (`None` without one), which is where
/// `tag_param` of the parser finds it in a value of this shape. The parser asks it first for
/// the From and To keys, and records a value it accepts, which [`Message::validate`] then
/// takes as judged.
#[inline(always)]
pub(crate) fn fast_address_tag(v: &[u8], tag: bool) -> Option<Option<(usize, usize)>> {
    let rest = after_token_display(v).strip_prefix(b"<sip:")?;
    // The user: a short run (a few bytes), read byte by byte; without an `@` after it, the
    // host starts right after `<sip:`.
    let mut user = 0;
    while let Some(&c) = rest.get(user)
        && crate::chars::in_class(&FAST_USER, c)
    {
        user += 1;
    }
    let host = match rest.get(user) {
        Some(b'@') if user > 0 => rest.get(user + 1..)?,
        _ => rest,
    };
    let mut after = fast_host_port(host)?;
    while let Some(rest) = after.strip_prefix(b";lr") {
        after = rest;
    }
    let params = after.strip_prefix(b">")?;
    if params.is_empty() {
        return Some(None);
    }
    match params.strip_prefix(b";tag=") {
        Some(t) if tag && all_token(t) => Some(Some((v.len() - t.len(), v.len()))),
        _ => None,
    }
}

/// `v` after its display name when that is tokens each followed by one space
/// (`display-name = *(token LWS)`, RFC 3261 §20.10, §25.1), else `v` itself.
#[inline(always)]
fn after_token_display(v: &[u8]) -> &[u8] {
    if v.first() == Some(&b'<') {
        // No display name (the usual value): nothing to skip.
        return v;
    }
    let mut rest = v;
    loop {
        let n = crate::chars::run_len(&crate::chars::TOKEN, rest);
        match rest.get(n..) {
            Some([b' ', after @ ..]) if n > 0 => rest = after,
            _ => return rest,
        }
    }
}

/// See [`fast_accepts`]: `SIP/2.0/UDP host[:port]` and the parameters `rport[=port]`,
/// `branch=token`, `received=IPv4`, each at most once, in any order.
#[inline]
fn fast_via(v: &[u8]) -> bool {
    fast_via_branch(v).is_some()
}

/// [`fast_via`], with what it found: `None` when the value is not of its shape, else `Some`
/// of the span of the `branch` value (`None` without one), which is where `top_via_branch` of
/// the parser finds it in a value of this shape. The parser asks it first for the top Via
/// key, and records a value it accepts, which [`Message::validate`] then takes as judged.
#[inline(always)]
pub(crate) fn fast_via_branch(v: &[u8]) -> Option<Option<(usize, usize)>> {
    let rest = v.strip_prefix(b"SIP/2.0/UDP ")?;
    let mut rest = fast_host_port(rest)?;
    let (mut rport, mut received) = (false, false);
    let mut branch = None;
    while let Some(param) = rest.strip_prefix(b";") {
        let end = if let Some(b) = param.strip_prefix(b"branch=") {
            let n = crate::chars::run_len(&crate::chars::TOKEN, b);
            if n == 0 || branch.is_some() {
                return None;
            }
            let at = v.len() - b.len();
            branch = Some((at, at + n));
            7 + n
        } else if let Some(ip) = param.strip_prefix(b"received=") {
            if std::mem::replace(&mut received, true) {
                return None;
            }
            9 + fast_ipv4_len(ip)?
        } else if param.starts_with(b"rport") {
            if std::mem::replace(&mut rport, true) {
                return None;
            }
            match param.get(5) {
                Some(b'=') => 6 + fast_port_len(param.get(6..).unwrap_or_default())?,
                _ => 5,
            }
        } else {
            return None;
        };
        rest = param.get(end..).unwrap_or_default();
        if !rest.is_empty() && rest.first() != Some(&b';') {
            return None;
        }
    }
    rest.is_empty().then_some(branch)
}

/// A host (see [`fast_accepts`]) and an optional port at the front of `b`; what follows.
#[inline(always)]
fn fast_host_port(b: &[u8]) -> Option<&[u8]> {
    let host_char = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-');
    let n = match fast_ipv4_len(b) {
        Some(n) if !b.get(n).is_some_and(host_char) => n,
        _ => fast_hostname_len(b)?,
    };
    let rest = b.get(n..)?;
    let Some(port) = rest.strip_prefix(b":") else {
        return Some(rest);
    };
    port.get(fast_port_len(port)?..)
}

/// The value of `c` if it is an ASCII digit.
#[inline(always)]
fn digit(c: Option<&u8>) -> Option<u32> {
    let d = c?.wrapping_sub(b'0');
    (d < 10).then_some(u32::from(d))
}

/// The length of the port at the front of `b`: one to five digits, no leading zero, at most
/// 65535.
#[inline(always)]
fn fast_port_len(b: &[u8]) -> Option<usize> {
    let first = digit(b.first())?;
    if first == 0 {
        return None;
    }
    let (mut value, mut digits) = (first, 1);
    while let Some(d) = digit(b.get(digits)) {
        if digits == 5 {
            return None;
        }
        value = value * 10 + d;
        digits += 1;
    }
    (value <= 65535).then_some(digits)
}

/// The length of the IPv4 address at the front of `b`: four parts of one to three digits
/// joined by dots, each at most 255, without leading zeros. Each part is read digit by digit
/// with no loop: a first digit, then (unless it is a zero) up to two more, and no digit after.
#[inline(always)]
fn fast_ipv4_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut value = digit(b.get(i))?;
        i += 1;
        if value != 0
            && let Some(d) = digit(b.get(i))
        {
            value = value * 10 + d;
            i += 1;
            if let Some(d) = digit(b.get(i)) {
                value = value * 10 + d;
                i += 1;
            }
        }
        if value > 255 || digit(b.get(i)).is_some() {
            return None;
        }
    }
    Some(i)
}

/// The length of the host name at the front of `b`: labels of letters, digits and inner
/// hyphens joined by dots, the last starting with a letter, and no host character after it.
#[inline]
fn fast_hostname_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let start = i;
        while let Some(c) = b.get(i)
            && (c.is_ascii_alphanumeric() || *c == b'-')
        {
            i += 1;
        }
        let label = b.get(start..i)?;
        if label.is_empty() || label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return None;
        }
        if b.get(i) != Some(&b'.') {
            return label.first().is_some_and(u8::is_ascii_alphabetic).then_some(i);
        }
        i += 1;
    }
}

fn scheme_of(uri: &str) -> &str {
    uri.split_once(':').map_or(uri, |(s, _)| s)
}

/// The part of the message buffer that holds the header values, checked as UTF-8 once so that
/// each value can be cut from it instead of being checked on its own.
struct HeaderSection<'m> {
    /// Offset in the buffer of the first byte of `text`.
    start: usize,
    /// The bytes from the first value to the end of the last one, if they are UTF-8.
    text: Option<&'m str>,
}

impl<'m> HeaderSection<'m> {
    fn of(msg: &'m Message) -> Self {
        // Values added by edits live outside the buffer and are left out of the range.
        let (mut start, mut end) = (usize::MAX, 0);
        for e in &msg.ix.headers {
            if let Some((s, e)) = e.value.in_buf() {
                start = start.min(s);
                end = end.max(e);
            }
        }
        let text = msg.buf.get(start..end).and_then(|b| std::str::from_utf8(b).ok());
        HeaderSection { start, text }
    }

    /// The text of `value` if it lies inside the checked section on character boundaries;
    /// `None` otherwise (the caller then checks it on its own).
    #[inline]
    fn text_of(&self, value: Slot) -> Option<&'m str> {
        let text = self.text?;
        let (s, e) = value.in_buf()?;
        text.get(s.checked_sub(self.start)?..e.checked_sub(self.start)?)
    }
}

/// [`check_header`] for a value known to be UTF-8 text.
#[inline]
fn check_header_str(name: HeaderName, value: &str) -> Result<(), HeaderError> {
    struct Check;
    impl crate::typed::StrVisitor for Check {
        type Output = Result<(), HeaderError>;

        fn visit<'a, H: TypedHeader<'a> + fmt::Debug>(&mut self, text: &'a str) -> Self::Output {
            check_text::<H>(text)
        }
    }
    if FREE_TEXT.contains(&name) || quick_accepts(name, value) {
        return Ok(());
    }
    crate::typed::visit_typed_str(name, value, &mut Check).unwrap_or(Ok(()))
}

/// Whether [`check_text`] is certain to accept `value` for `name`, found by check-only walks of
/// the same grammars ([`via_is_valid`](crate::headers::via_is_valid),
/// [`address_is_valid`](crate::headers::address_is_valid)) that build no typed header:
/// `false` when a value does not match, and for the headers they do not cover. Only a `true`
/// is taken as an answer; on `false` the typed parsers run and give the verdict and the error,
/// so the rejection is always the one they give.
#[inline]
fn quick_accepts(name: HeaderName, value: &str) -> bool {
    let one: fn(&str, HeaderName) -> bool = match name {
        HeaderName::Via => |v, _| crate::headers::via_is_valid(v),
        HeaderName::From
        | HeaderName::To
        | HeaderName::Contact
        | HeaderName::Route
        | HeaderName::RecordRoute
        | HeaderName::Path
        | HeaderName::ServiceRoute
        | HeaderName::HistoryInfo
        | HeaderName::ReplyTo
        | HeaderName::ReferTo
        | HeaderName::ReferredBy => crate::headers::address_is_valid,
        HeaderName::CallId => return crate::headers::call_id_is_valid(value),
        HeaderName::ContentType => return crate::headers::content_type_is_valid(value),
        HeaderName::CSeq
        | HeaderName::MaxForwards
        | HeaderName::ContentLength
        | HeaderName::Expires
        | HeaderName::MinExpires
            if !name.is_list() =>
        {
            return crate::headers::number_is_valid(value, name);
        }
        HeaderName::Allow
        | HeaderName::Supported
        | HeaderName::Require
        | HeaderName::ProxyRequire
        | HeaderName::Unsupported
        | HeaderName::ContentEncoding
            if name.is_list() =>
        {
            // As `check_text`: an empty value is good where the grammar allows it.
            return is_token_list(value.as_bytes())
                || (EMPTY_LIST_OK.contains(&name) && value.trim().is_empty());
        }
        _ => return false,
    };
    if !name.is_list() {
        return one(value, name);
    }
    let bytes = value.as_bytes();
    // A value without a comma that starts and ends with no whitespace (as the parser trims
    // it) is the one element `split_list` would cut from it: checked as it is.
    let lws = |c: Option<&u8>| matches!(c, Some(b' ' | b'\t' | b'\r' | b'\n'));
    if !lws(bytes.first()) && !lws(bytes.last()) && memchr::memchr(b',', bytes).is_none() {
        // None of these headers may be empty (`check_text` refuses an empty element).
        return !value.is_empty() && one(value, name);
    }
    // Each element as `check_text` cuts it (none of these headers may be empty).
    crate::split_list(bytes).all(|piece| {
        let offset = (piece.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
        value
            .get(offset..offset.wrapping_add(piece.len()))
            .is_some_and(|piece| !piece.is_empty() && one(piece, name))
    })
}

/// Whether `value` is one or more tokens separated by commas, with linear whitespace
/// characters around them: what `check_text` accepts for a list of `token`s (Allow,
/// Supported, Require, ...), which it splits at the commas (there are no quotes or brackets to
/// honour) and trims, leaving each element one token. `false` for an empty value or element,
/// which `check_text` judges (some of these headers may be empty).
fn is_token_list(b: &[u8]) -> bool {
    use crate::chars::{TOKEN, in_class};
    let mut i = 0;
    // Each element: whitespace, a token, whitespace; then a comma and the next element, or
    // the end. Byte by byte: the tokens of these lists (methods, option tags) are short.
    loop {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = b.get(i) {
            i += 1;
        }
        let start = i;
        while let Some(&c) = b.get(i)
            && in_class(&TOKEN, c)
        {
            i += 1;
        }
        if i == start {
            return false;
        }
        loop {
            match b.get(i) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => i += 1,
                Some(b',') => break,
                Some(_) => return false,
                None => return true,
            }
        }
        i += 1;
    }
}

/// Parses one header value, given as text, with `H`: the whole value, or each element of a
/// list header.
fn check_text<'a, H: TypedHeader<'a>>(text: &'a str) -> Result<(), HeaderError> {
    if !H::NAME.is_list() {
        return H::parse(text).map(drop);
    }
    // `Allow = "Allow" HCOLON [Method *(COMMA Method)]`, and likewise Accept, Supported,
    // Accept-Encoding and Accept-Language: these may be empty (RFC 3261 §25.1).
    if text.trim().is_empty() && EMPTY_LIST_OK.contains(&H::NAME) {
        return Ok(());
    }
    let value = text.as_bytes();
    for piece in crate::split_list(value) {
        // The pieces are cut at ASCII bytes (commas and whitespace) of a value that is valid
        // UTF-8, so each is valid UTF-8 too: take it from `text` rather than checking it again.
        let offset = (piece.as_ptr() as usize).wrapping_sub(value.as_ptr() as usize);
        let piece = match text.get(offset..offset.wrapping_add(piece.len())) {
            Some(piece) => piece,
            None => std::str::from_utf8(piece)
                .map_err(|e| HeaderError::new(H::NAME, "not valid UTF-8", e.valid_up_to()))?,
        };
        if piece.is_empty() {
            return Err(HeaderError::new(H::NAME, "empty list element", 0));
        }
        H::parse(piece)?;
    }
    Ok(())
}

/// Parses every value of a header the stack interprets with its typed parser. Free-text
/// headers (User-Agent, Server, Subject, Organization) are not grounds for a rejection.
fn check_header(name: HeaderName, value: &[u8]) -> Result<(), HeaderError> {
    struct Check;
    impl crate::HeaderVisitor for Check {
        type Output = Result<(), HeaderError>;

        fn visit<'a, H: TypedHeader<'a> + fmt::Debug>(&mut self, value: &'a [u8]) -> Self::Output {
            let text = std::str::from_utf8(value)
                .map_err(|e| HeaderError::new(H::NAME, "not valid UTF-8", e.valid_up_to()))?;
            check_text::<H>(text)
        }
    }
    if FREE_TEXT.contains(&name) {
        return Ok(());
    }
    crate::visit_typed(name, value, &mut Check).unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;

    /// The header loop of `validate` as it was: every value checked on its own.
    fn headers_reference(msg: &Message) -> Result<(), HeaderError> {
        msg.lines().try_for_each(|line| check_header(line.name, line.value))
    }

    fn headers_now(msg: &Message) -> Result<(), HeaderError> {
        check_headers(msg)
    }

    const VALUES: [&[u8]; 14] = [
        b"Via: SIP/2.0/UDP h;branch=z9hG4bK1",
        b"Via: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/TCP \xc3\xa9x",
        b"Via: SIP/2.0/UDP h\xff;branch=1",
        b"Contact: \"\xc3\xa9\" <sip:a@b>",
        b"Contact: \"\xff\" <sip:a@b>",
        b"Contact: <sip:a@b>, ,<sip:c@d>",
        b"Subject: \xff\xfe",
        b"Subject: caf\xc3\xa9",
        b"Allow: ",
        b"Supported: timer, \xff",
        b"X-Thing: \xe9",
        b"Max-Forwards: 70",
        b"Route: <sip:p;lr>,<sip:\xc3\xa9>",
        b"Expires: 3x",
    ];

    fn message(lines: &[usize]) -> Message {
        let mut raw = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
        for &i in lines {
            raw.extend_from_slice(VALUES.get(i).copied().unwrap_or_default());
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        Message::parse(Bytes::from(raw)).unwrap()
    }

    #[test]
    fn a_bad_byte_anywhere_falls_back_to_checking_each_value() {
        // A Subject that is not UTF-8 is no ground for rejection, and must not hide a later
        // malformed header or turn a good one into a rejection.
        let ok = message(&[6, 0, 3]);
        assert_eq!(headers_now(&ok), Ok(()));
        let bad = message(&[6, 0, 4]);
        assert_eq!(headers_now(&bad), headers_reference(&bad));
        assert!(headers_now(&bad).is_err());
    }

    #[test]
    fn edited_values_outside_the_buffer_are_checked_too() {
        let mut msg = message(&[0, 3]);
        msg.push_front(HeaderName::Via, Bytes::from_static(b"SIP/2.0/UDP x;branch=")).unwrap();
        assert!(headers_now(&msg).is_err());
        assert_eq!(headers_now(&msg), headers_reference(&msg));
    }

    proptest! {
        #[test]
        fn header_checks_match_the_reference(lines in proptest::collection::vec(0..VALUES.len(), 0..6)) {
            let msg = message(&lines);
            prop_assert_eq!(headers_now(&msg), headers_reference(&msg));
        }
    }

    /// `validate` as it was before the header counts were taken in one pass and the header
    /// section was cut by slot: the reference for `validate_matches_the_reference`.
    fn validate_reference(msg: &Message) -> Result<(), Rejection> {
        let bad = |problem| Err(Rejection { status: 400, problem });
        let rfc2543 = !msg.via_branch().is_some_and(|b| b.starts_with("z9hG4bK"));
        let required = [
            HeaderName::To,
            HeaderName::From,
            HeaderName::CSeq,
            HeaderName::CallId,
            HeaderName::Via,
            HeaderName::MaxForwards,
        ];
        let max_forwards_required = msg.is_request() && !rfc2543;
        for name in required {
            if name == HeaderName::MaxForwards && !max_forwards_required {
                continue;
            }
            if !msg.has(name) {
                return bad(Problem::Missing(name));
            }
        }
        for name in SINGLE {
            if msg.header_lines(name).nth(1).is_some() {
                return bad(Problem::Multiple(name));
            }
        }
        headers_reference(msg)
            .map_err(|e| Rejection { status: 400, problem: Problem::Malformed(e) })?;
        let (Some(method), Some(uri)) = (msg.method(), msg.request_uri_str()) else {
            return Ok(());
        };
        if msg.cseq_method() != Some(method) {
            return bad(Problem::CSeqMethodMismatch);
        }
        let uri = Uri::parse(uri).map_err(|e| Rejection {
            status: if SCHEMES.iter().any(|s| scheme_of(uri).eq_ignore_ascii_case(s)) {
                400
            } else {
                416
            },
            problem: Problem::RequestUri(e),
        })?;
        if !SCHEMES.iter().any(|s| uri.scheme().eq_ignore_ascii_case(s)) {
            return Err(Rejection { status: 416, problem: Problem::UnsupportedScheme });
        }
        if uri.as_sip().is_some_and(|sip| sip.has_headers()) {
            return bad(Problem::RequestUriHeaders);
        }
        Ok(())
    }

    const START_LINES: [&[u8]; 7] = [
        b"INVITE sip:bob@example.com SIP/2.0",
        b"OPTIONS sip:192.0.2.2:5060;transport=udp SIP/2.0",
        b"BYE sip:bob@192.0.2.2?subject=x SIP/2.0",
        b"ACK tel:+1-201-555-0123 SIP/2.0",
        b"INVITE http://example.com/x SIP/2.0",
        b"SIP/2.0 200 OK",
        b"SIP/2.0 180 Ringing",
    ];

    /// Lines of every header `validate` looks at, well-formed and not, repeated or not.
    const LINES: [&[u8]; 30] = [
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKYNytaa59n1CPEofz",
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKra.47;received=192.0.2.1",
        b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=1234",
        b"v: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK2, SIP/2.0/UDP h",
        b"Via: SIP/2.0/UDP 192.0.2.300;branch=z9hG4bK3",
        b"Max-Forwards: 70",
        b"Max-Forwards: 256",
        b"To: <sip:bob@example.com>",
        b"To: <sip:bob@example.com>;tag=a6c85cf",
        b"t: Bob <sip:bob@example.com>;tag=",
        b"From: <sip:alice@192.0.2.1:5060>;tag=ehjSVhY3Cs",
        b"f: \"Alice\" <sip:alice@atlanta.com>;tag=1928301774",
        b"From: sip:alice@atlanta.com;tag=88sja8x",
        b"Call-ID: ZYPppvUnt9UsulUWbL3l@192.0.2.1",
        b"i: a84b4c76e66710",
        b"Call-ID: a@b@c",
        b"CSeq: 1 INVITE",
        b"CSeq: 2 BYE",
        b"CSeq: 314159 OPTIONS",
        b"CSeq: 1 ACK",
        b"CSeq: x INVITE",
        b"Contact: <sip:alice@192.0.2.1:5060>",
        b"m: <sip:bob@192.0.2.2:5060>;expires=60, <sip:b2@h>",
        b"Contact: *",
        b"Record-Route: <sip:192.0.2.10:5060;lr>",
        b"Route: <sip:192.0.2.10:5060;lr;lr>",
        b"Content-Type: application/sdp",
        b"c: text/plain",
        b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS",
        b"Subject: \xff",
    ];

    fn raw_message(start: usize, lines: &[usize]) -> Vec<u8> {
        let mut raw = START_LINES.get(start).copied().unwrap_or_default().to_vec();
        raw.extend_from_slice(b"\r\n");
        for &i in lines {
            raw.extend_from_slice(LINES.get(i).copied().unwrap_or_default());
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw
    }

    /// `is_token_list` as it was: a state machine over the bytes.
    fn is_token_list_reference(value: &str) -> bool {
        use crate::chars::{TOKEN, in_class};
        // 0: before an element's token; 1: in it; 2: after it (only whitespace or a comma next).
        let mut state = 0_u8;
        for &c in value.as_bytes() {
            state = match (c, state) {
                (b' ' | b'\t' | b'\r' | b'\n', 0) => 0,
                (b' ' | b'\t' | b'\r' | b'\n', _) => 2,
                (b',', 1 | 2) => 0,
                (c, 0 | 1) if in_class(&TOKEN, c) => 1,
                _ => return false,
            };
        }
        state != 0
    }

    proptest! {
        #[test]
        fn token_list_matches_the_reference(v in "[a-c1 \t\r\n,;\u{e9}]{0,12}") {
            prop_assert_eq!(is_token_list(v.as_bytes()), is_token_list_reference(&v), "{:?}", v);
        }
    }

    #[test]
    fn required_index_is_the_position_in_required() {
        for name in HeaderName::ALL.iter().copied().chain([HeaderName::Other]) {
            assert_eq!(required_index(name), REQUIRED.iter().position(|&n| n == name), "{name}");
        }
    }

    #[test]
    fn forwarding_ignores_the_headers_a_proxy_does_not_use() {
        let base = "INVITE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                    Max-Forwards: 70\r\nFrom: <sip:b@example.com>;tag=1\r\n\
                    To: <sip:a@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n";
        let with = |extra: &str| {
            Message::parse(Bytes::from(format!("{base}{extra}\r\n").into_bytes())).unwrap()
        };
        // Not the proxy's business: forwarded as they came.
        for extra in [
            "Contact: <<sip:b@h>\r\n",
            "Content-Type: nonsense\r\nContent-Type: text/plain\r\n",
            "Expires: soon\r\n",
            "Record-Route: <sip:p1;lr\r\n",
        ] {
            let msg = with(extra);
            assert!(msg.validate().is_err(), "{extra}");
            assert_eq!(msg.validate_for_forwarding(), Ok(()), "{extra}");
        }
        // The proxy's own: refused as `validate` refuses them.
        for (extra, problem) in [
            ("Route: <sip:p1;lr\r\n", "Malformed Route header"),
            ("Proxy-Require: a b\r\n", "Malformed Proxy-Require header"),
            ("Call-ID: y\r\n", "Multiple Call-ID headers"),
        ] {
            let msg = with(extra);
            let r = msg.validate_for_forwarding().unwrap_err();
            assert_eq!(msg.validate(), Err(r));
            assert!(r.to_string().contains(problem), "{r}");
        }
        let bad_uri = base.replace("sip:a@example.com SIP", "sip:a@example.com?x=1 SIP");
        let msg = Message::parse(Bytes::from(format!("{bad_uri}\r\n").into_bytes())).unwrap();
        assert_eq!(
            msg.validate_for_forwarding().map_err(|r| r.problem()),
            Err(Problem::RequestUriHeaders)
        );
    }

    #[test]
    fn a_complete_request_and_response_pass() {
        let request = raw_message(0, &[0, 5, 7, 10, 13, 16, 21, 26]);
        let msg = Message::parse(Bytes::from(request)).unwrap();
        assert_eq!(msg.validate(), Ok(()));
        let response = raw_message(5, &[1, 0, 8, 10, 13, 16, 21]);
        let msg = Message::parse(Bytes::from(response)).unwrap();
        assert_eq!(msg.validate(), Ok(()));
        let two_to = raw_message(0, &[0, 5, 7, 8, 10, 13, 16]);
        let msg = Message::parse(Bytes::from(two_to)).unwrap();
        assert_eq!(msg.validate().map_err(|r| r.problem()), Err(Problem::Multiple(HeaderName::To)));
    }

    /// What `validate` takes for granted of the Call-ID key's line: `plain_call_id` accepts
    /// it.
    fn call_id_key_is_plain(msg: &Message) -> Result<(), TestCaseError> {
        if let Some(slot) = msg.ix.keys.call_id {
            let v = msg.slot(slot);
            prop_assert!(crate::headers::plain_call_id(v), "{:?}", v);
        }
        Ok(())
    }

    /// What `validate` takes for granted of the first CSeq and Max-Forwards lines whose keys
    /// parsed: the typed check accepts them (a CSeq value only without a line break).
    fn number_keys_are_plain(msg: &Message) -> Result<(), TestCaseError> {
        let keys = &msg.ix.keys;
        for (name, keyed) in [
            (HeaderName::CSeq, keys.cseq_method.is_some()),
            (HeaderName::MaxForwards, keys.max_forwards.is_some()),
        ] {
            let first = msg.ix.headers.iter().find(|e| e.name == name);
            if let Some(e) = first
                && keyed
                && (name == HeaderName::MaxForwards || !msg.may_break(e.value))
            {
                let v = msg.slot(e.value);
                prop_assert_eq!(check_header(name, v), Ok(()), "{:?}", v);
            }
        }
        Ok(())
    }

    /// What `validate` takes for granted of the judged top Via, From and To: each is the value
    /// of its key's line, and the fast walk accepts it.
    fn via_judged_is_fast(msg: &Message) -> Result<(), TestCaseError> {
        let keys = &msg.ix.keys;
        for (judged, line, name) in [
            (keys.via_judged, keys.via, HeaderName::Via),
            (keys.from_judged, keys.from, HeaderName::From),
            (keys.to_judged, keys.to, HeaderName::To),
        ] {
            if let Some(slot) = judged.0 {
                let e = line.and_then(|i| msg.ix.headers.get(usize::from(i)));
                prop_assert_eq!(e.map(|e| (e.name, e.value)), Some((name, slot)));
                prop_assert!(fast_accepts(name, msg.slot(slot)), "{:?}", msg.slot(slot));
            }
        }
        Ok(())
    }

    #[test]
    fn the_stacks_via_is_judged_as_it_is_parsed() {
        let msg = Message::parse(Bytes::from_static(
            b"BYE sip:bob@192.0.2.2:5060 SIP/2.0\r\n\
              Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKBZvI0DRnP26sY5zq\r\n\
              Via: SIP/2.0/UDP 192.0.2.9\r\n\
              Max-Forwards: 70\r\nTo: <sip:bob@192.0.2.2:5060>;tag=sdsAkKt08I\r\n\
              From: <sip:alice@192.0.2.1:5060>;tag=hxgWaR3BVr\r\n\
              Call-ID: St0Buvkg4XhLVPSssxVc@192.0.2.1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let value = |i: usize| msg.ix.headers.get(i).map(|e| e.value);
        assert_eq!(msg.ix.keys.via_judged.0, value(0));
        assert_eq!(msg.ix.keys.to_judged.0, value(3));
        assert_eq!(msg.ix.keys.from_judged.0, value(4));
        assert_eq!(msg.to_tag(), Some("sdsAkKt08I"));
        assert_eq!(msg.from_tag(), Some("hxgWaR3BVr"));
        // A response is not validated: nothing is judged as it is parsed.
        let response = Message::parse(Bytes::from_static(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKB\r\n\
              To: <sip:bob@192.0.2.2:5060>;tag=s\r\nFrom: <sip:alice@192.0.2.1>;tag=h\r\n\
              Call-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let keys = &response.ix.keys;
        assert_eq!((keys.via_judged.0, keys.from_judged.0, keys.to_judged.0), (None, None, None));
        assert_eq!(response.via_branch(), Some("z9hG4bKB"));
        assert_eq!(msg.via_branch(), Some("z9hG4bKBZvI0DRnP26sY5zq"));
        assert_eq!(msg.validate(), Ok(()));
        // An edit observes the key's line afresh, judging nothing (the memo only saves a
        // walk): the next Via after a pop, a Via pushed in front. The other memos stay, moved
        // with their values when the pop rewrites the buffer.
        let mut popped = msg.clone();
        popped.pop_top_via().unwrap();
        assert_eq!(popped.ix.keys.via_judged.0, None);
        assert_eq!(popped.via_branch(), None);
        let value = |m: &Message, i: usize| m.ix.headers.get(i).map(|e| e.value);
        assert_eq!(popped.ix.keys.from_judged.0, value(&popped, 3));
        assert_eq!(popped.ix.keys.to_judged.0, value(&popped, 2));
        let mut edited = msg;
        edited.push_front(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK3").unwrap();
        assert_eq!(edited.ix.keys.via_judged.0, None);
        assert_eq!(edited.via_branch(), Some("z9hG4bK3"));
        for m in [&popped, &edited] {
            assert!(via_judged_is_fast(m).is_ok());
            assert_eq!(m.validate(), validate_reference(m));
        }
    }

    #[test]
    fn the_corpus_call_id_keys_are_plain() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
        let mut keyed = 0;
        for sub in ["valid", "invalid"] {
            let Ok(entries) = std::fs::read_dir(format!("{dir}/{sub}")) else { continue };
            for entry in entries.flatten() {
                let Ok(raw) = std::fs::read(entry.path()) else { continue };
                let Ok(msg) = Message::parse(Bytes::from(raw)) else { continue };
                assert!(call_id_key_is_plain(&msg).is_ok(), "{:?}", entry.path());
                assert!(via_judged_is_fast(&msg).is_ok(), "{:?}", entry.path());
                assert!(number_keys_are_plain(&msg).is_ok(), "{:?}", entry.path());
                assert_eq!(msg.validate(), validate_reference(&msg), "{:?}", entry.path());
                keyed += usize::from(msg.ix.keys.call_id.is_some());
            }
        }
        assert!(keyed > 20, "{keyed}");
    }

    proptest! {
        #[test]
        fn validate_matches_the_reference(
            start in 0..START_LINES.len(),
            lines in proptest::collection::vec(0..LINES.len(), 0..12),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        ) {
            let mut raw = raw_message(start, &lines);
            // A few bytes changed anywhere (to one of the bytes the grammar turns on, or any
            // byte): the messages that still parse must get the same verdict.
            for (at, b) in edits {
                let special = b";,:@<>\" =/ \t\xff";
                let byte = special.get(usize::from(b) % 16).copied().unwrap_or(b);
                let len = raw.len();
                if let Some(c) = raw.get_mut(at % len) {
                    *c = byte;
                }
            }
            if let Ok(msg) = Message::parse(Bytes::from(raw)) {
                call_id_key_is_plain(&msg)?;
                via_judged_is_fast(&msg)?;
                number_keys_are_plain(&msg)?;
                prop_assert_eq!(msg.validate(), validate_reference(&msg));
                // §16.3 step 1: the proxy's check is the same with fewer headers judged, so it
                // passes whatever `validate` passes, and what it refuses `validate` refuses.
                let forwarding = msg.validate_for_forwarding();
                if msg.validate().is_ok() {
                    prop_assert_eq!(forwarding, Ok(()));
                } else if forwarding.is_err() {
                    prop_assert!(msg.validate().is_err());
                }
                if let Err(r) = forwarding
                    && let Problem::Malformed(e) = r.problem()
                {
                    prop_assert!(Scope::Forwarding.covers(e.name()), "{:?}", r);
                }
            }
        }

        #[test]
        fn validate_matches_the_reference_after_edits(
            lines in proptest::collection::vec(0..LINES.len(), 0..10),
            pushed in proptest::collection::vec(0..LINES.len(), 0..3),
        ) {
            // Values added by edits live outside the buffer.
            let mut msg = Message::parse(Bytes::from(raw_message(0, &lines))).unwrap();
            for i in pushed {
                let line = LINES.get(i).copied().unwrap_or_default();
                let Some(colon) = line.iter().position(|&c| c == b':') else { continue };
                let name = HeaderName::from_bytes(line.get(..colon).unwrap_or_default());
                let value = line.get(colon + 2..).unwrap_or_default();
                if name != HeaderName::Other {
                    let _ = msg.push_front(name, Bytes::copy_from_slice(value));
                }
            }
            call_id_key_is_plain(&msg)?;
            via_judged_is_fast(&msg)?;
            number_keys_are_plain(&msg)?;
            prop_assert_eq!(msg.validate(), validate_reference(&msg));
        }

        #[test]
        fn judged_lengths_are_well_formed_through_edits(
            lines in proptest::collection::vec(0..LENGTHS.len(), 0..3),
            edits in proptest::collection::vec((0u8..5, 0..LENGTHS.len()), 0..4),
            response in any::<bool>(),
        ) {
            // Content-Length lines as parsed (only well-formed ones parse), then edited with
            // any value: the lines `validate` takes as judged must be well-formed, and its
            // verdict the one of checking every line.
            let mut raw = if response {
                b"SIP/2.0 200 OK\r\n".to_vec()
            } else {
                b"BYE sip:b@192.0.2.2 SIP/2.0\r\nMax-Forwards: 70\r\n".to_vec()
            };
            raw.extend_from_slice(
                b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <sip:b@192.0.2.2>;tag=1\r\n\
                  From: <sip:a@192.0.2.1>;tag=2\r\nCall-ID: c@h\r\nCSeq: 2 BYE\r\n",
            );
            for &i in &lines {
                raw.extend_from_slice(b"Content-Length: ");
                raw.extend_from_slice(LENGTHS.get(i).copied().unwrap_or_default());
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"\r\n");
            let Ok(mut msg) = Message::parse(Bytes::from(raw)) else { return Ok(()) };
            let name = HeaderName::ContentLength;
            for (op, v) in edits {
                let v = Bytes::from_static(LENGTHS.get(v).copied().unwrap_or_default());
                match op {
                    0 => drop(msg.push_front(name, v)),
                    1 => drop(msg.push_back(name, v)),
                    2 => drop(msg.set(name, v)),
                    3 => drop(msg.remove_front(name)),
                    _ => drop(msg.push_back_named("l", v)),
                }
            }
            if msg.ix.keys.lengths_judged.0 {
                for line in msg.header_lines(name) {
                    prop_assert_eq!(check_header(name, line), Ok(()), "{:?}", line);
                }
            }
            prop_assert_eq!(msg.validate(), validate_reference(&msg));
        }

        #[test]
        fn number_keys_judge_as_the_typed_checks(
            cseq in proptest::collection::vec(0..NUMBER_PIECES.len(), 0..5),
            max_forwards in proptest::collection::vec(0..NUMBER_PIECES.len(), 0..4),
            edited in any::<bool>(),
            second in any::<bool>(),
        ) {
            // CSeq and Max-Forwards values of digits, whitespace (folds too) and tokens: the
            // lines the keys judge must be the lines the typed checks accept.
            let value = |pieces: &[usize]| -> Vec<u8> {
                pieces.iter().flat_map(|&i| NUMBER_PIECES.get(i).copied().unwrap_or_default())
                    .copied().collect()
            };
            let mut raw = b"BYE sip:b@192.0.2.2 SIP/2.0\r\n\
                Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nTo: <sip:b@192.0.2.2>;tag=1\r\n\
                From: <sip:a@192.0.2.1>;tag=2\r\nCall-ID: c@h\r\nCSeq: ".to_vec();
            raw.extend(value(&cseq));
            raw.extend_from_slice(b"\r\nMax-Forwards: ");
            raw.extend(value(&max_forwards));
            if second {
                raw.extend_from_slice(b"\r\nMax-Forwards: 7\r\nCSeq: 2 BYE");
            }
            raw.extend_from_slice(b"\r\n\r\n");
            let Ok(mut msg) = Message::parse(Bytes::from(raw)) else { return Ok(()) };
            if edited {
                let _ = msg.push_front(HeaderName::CSeq, Bytes::from(value(&max_forwards)));
                let _ = msg.push_back(HeaderName::MaxForwards, Bytes::from(value(&cseq)));
            }
            number_keys_are_plain(&msg)?;
            prop_assert_eq!(msg.validate(), validate_reference(&msg));
            prop_assert_eq!(msg.validate_for_forwarding().is_ok(), msg.validate().is_ok());
        }

        #[test]
        fn validate_matches_the_reference_after_key_edits(
            lines in proptest::collection::vec(0..LINES.len(), 0..10),
            start in 0..START_LINES.len(),
            edits in proptest::collection::vec((0u8..8, 0..VIAS.len()), 0..4),
        ) {
            // The judged top Via through the edits that change Via lines: a pop (verbatim or
            // not), a removal, a line added in front or at the back, a new value.
            let Ok(mut msg) = Message::parse(Bytes::from(raw_message(start, &lines))) else {
                return Ok(());
            };
            via_judged_is_fast(&msg)?;
            for (op, via) in edits {
                let via_value = VIAS.get(via).copied().unwrap_or_default();
                let addr = ADDRESSES.get(via % ADDRESSES.len()).copied().unwrap_or_default();
                let name = if via % 2 == 0 { HeaderName::From } else { HeaderName::To };
                match op {
                    0 => drop(msg.pop_top_via()),
                    1 => drop(msg.remove_top_via()),
                    2 => drop(msg.push_front(HeaderName::Via, via_value)),
                    3 => drop(msg.push_back(HeaderName::Via, via_value)),
                    4 => drop(msg.set(HeaderName::Via, via_value)),
                    5 => drop(msg.set(name, addr)),
                    6 => drop(msg.push_front(name, addr)),
                    _ => drop(msg.remove_front(name)),
                }
                via_judged_is_fast(&msg)?;
                prop_assert_eq!(msg.validate(), validate_reference(&msg));
                let reparsed = Message::parse(msg.to_bytes()).unwrap();
                prop_assert_eq!(msg.via_branch(), reparsed.via_branch());
                prop_assert_eq!(msg.from_tag(), reparsed.from_tag());
                prop_assert_eq!(msg.to_tag(), reparsed.to_tag());
            }
        }
    }

    /// Content-Length values for `judged_lengths_are_well_formed_through_edits`.
    const LENGTHS: [&[u8]; 7] = [b"0", b"00", b"4294967295", b"4294967296", b"x", b"1 2", b"-1"];

    /// Pieces of the CSeq and Max-Forwards values of `number_keys_judge_as_the_typed_checks`.
    const NUMBER_PIECES: [&[u8]; 16] = [
        b"1",
        b"0",
        b"70",
        b"255",
        b"256",
        b"2147483647",
        b"2147483648",
        b" ",
        b"\t",
        b"\r\n ",
        b"\r\n\t",
        b"BYE",
        b"INVITE",
        b"x/y",
        b",",
        b"-",
    ];

    /// From and To values for the edits of `validate_matches_the_reference_after_key_edits`.
    const ADDRESSES: [&str; 4] = [
        "<sip:alice@192.0.2.1:5060>;tag=hxgWaR3BVr",
        "<sip:bob@192.0.2.2:5060>",
        "\"Bob\" <sip:bob@example.com>;tag=9",
        "<sip:bob@192.0.2.256>;tag=1",
    ];

    /// Via values for the edits of `validate_matches_the_reference_after_key_edits`.
    const VIAS: [&str; 5] = [
        "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1",
        "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK2;received=192.0.2.3",
        "SIP/2.0/TCP h.example.com;branch=z9hG4bK3",
        "SIP/2.0/UDP 192.0.2.300;branch=z9hG4bK4",
        "SIP/2.0/UDP a, SIP/2.0/UDP b;branch=z9hG4bK5",
    ];

    /// The headers `quick_accepts` covers.
    const QUICK: [HeaderName; 25] = [
        HeaderName::CallId,
        HeaderName::ContentType,
        HeaderName::CSeq,
        HeaderName::MaxForwards,
        HeaderName::ContentLength,
        HeaderName::Expires,
        HeaderName::MinExpires,
        HeaderName::Allow,
        HeaderName::Supported,
        HeaderName::Require,
        HeaderName::ProxyRequire,
        HeaderName::Unsupported,
        HeaderName::ContentEncoding,
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::Contact,
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Path,
        HeaderName::ServiceRoute,
        HeaderName::HistoryInfo,
        HeaderName::ReplyTo,
        HeaderName::ReferTo,
        HeaderName::ReferredBy,
    ];

    /// The quick walk and `check_header_str` judge `v` as the typed parser alone does.
    fn judged_as_typed(name: HeaderName, v: &str) -> Result<(), TestCaseError> {
        let typed = typed_only(name, v);
        prop_assert_eq!(quick_accepts(name, v), typed.is_ok(), "{} {:?}", name, v);
        prop_assert_eq!(check_header_str(name, v), typed);
        // The byte-level walks accept only what the typed parsers accept.
        if plain_accepts(name, v.as_bytes()) {
            prop_assert!(typed.is_ok(), "{} {:?}", name, v);
        }
        Ok(())
    }

    /// `plain_accepts` on bytes that need not be UTF-8 accepts only what `check_header`
    /// (which checks the UTF-8 first) accepts.
    fn bytes_judged_as_checked(name: HeaderName, v: &[u8]) -> Result<(), TestCaseError> {
        if plain_accepts(name, v) {
            prop_assert_eq!(check_header(name, v), Ok(()), "{} {:?}", name, v);
        }
        // A list value the walks take whole is the one element `split_list` cuts.
        let whole = match name {
            HeaderName::Via => crate::headers::plain_via_bytes(v),
            _ => crate::headers::plain_address_accepts(v, name),
        };
        if name.is_list() && whole {
            let pieces: Vec<&[u8]> = crate::split_list(v).collect();
            prop_assert_eq!(pieces, vec![v], "{} {:?}", name, v);
        }
        Ok(())
    }

    #[test]
    fn a_comma_inside_the_brackets_is_one_element() {
        for v in ["<sip:a,b@h>", "<sip:a,b@h>;q=0.5", "<sip:a@h;lr>"] {
            let judged = bytes_judged_as_checked(HeaderName::Contact, v.as_bytes());
            assert!(judged.is_ok(), "{v}");
            assert_eq!(
                plain_accepts(HeaderName::Route, v.as_bytes()),
                typed_only(HeaderName::Route, v).is_ok(),
                "{v}"
            );
        }
    }

    /// `check_header_str` without the check-only walks: the typed parsers alone.
    fn typed_only(name: HeaderName, value: &str) -> Result<(), HeaderError> {
        struct Check;
        impl crate::typed::StrVisitor for Check {
            type Output = Result<(), HeaderError>;

            fn visit<'a, H: TypedHeader<'a> + fmt::Debug>(
                &mut self,
                text: &'a str,
            ) -> Self::Output {
                check_text::<H>(text)
            }
        }
        if FREE_TEXT.contains(&name) {
            return Ok(());
        }
        crate::typed::visit_typed_str(name, value, &mut Check).unwrap_or(Ok(()))
    }

    /// Values of the covered headers: every one in the interop corpus (RFC 4475 torture
    /// tests and real-world captures, valid and invalid), and a few awkward ones by hand.
    fn seeds() -> &'static [String] {
        static SEEDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        SEEDS.get_or_init(|| {
            let mut out: Vec<String> = [
                "SIP/2.0/UDP [2001:db8::9:1]:5060;received=[2001:db8::9:255];branch=z9hG4bKas3",
                "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;maddr=[::1];ttl=16",
                "SIP  /   2.0\r\n  /UDP\r\n    192.0.2.2;branch=390skdjuw;rport=5060;x=\"a;b\"",
                "SIP/2.0/TCP h.example.com:5061;rport;branch=z9hG4bK1, SIP/2.0/UDP h2",
                "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
                "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n newvalue ;\
                 \r\n  secondparam ; q = 0.33;expires=60",
                "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
                "Bob<sip:bob@[::1]:5060;transport=tcp?subject=x&y=z>;tag=a",
                "<sips:user;par=u%40example.net:pw@example.com;lr;maddr=1.2.3.4>;cid=\"a@b\"",
                "<tel:+1-201-555-0123>, <mailto:a@b>, <http://x/y?z>",
                "*",
                "<sip:192.0.2.10:5060;lr>,<sip:p2.example.com;lr>",
                // Known parameters with values their headers refuse, the first or a later one.
                "SIP/2.0/UDP h;branch",
                "SIP/2.0/UDP h;branch=\"z9hG4bK1\"",
                "SIP/2.0/UDP h;received=a.example.com",
                "SIP/2.0/UDP h;rport=70000;branch=z9hG4bK1",
                "SIP/2.0/UDP h;ttl=0016",
                "SIP/2.0/UDP h;maddr=\"x\"",
                "SIP/2.0/UDP h;branch=z9hG4bK1;branch",
                "<sip:a@b>;tag",
                "<sip:a@b>;tag=\"x\"",
                "sip:a@b;tag=1;TAG=\"x\"",
                "<sip:a@b>;q=1.5",
                "<sip:a@b>;expires=x;q=0.5",
                "<sip:a@b>;cid=x",
                "INVITE, ACK, CANCEL, BYE, OPTIONS",
                "a84b4c76e66710",
                "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com",
                "a@b@c",
                "@b",
                "a@",
                "application/sdp",
                "multipart/signed;protocol=\"application/pkcs7-signature\";micalg=sha1",
                "text/plain ; charset = utf-8",
                "text/plain;charset",
                "*/*",
                "1 INVITE",
                "1  INVITE",
                "2147483647 ACK",
                "00000000000000000000000000001 ACK",
                "0000000000000000000000068",
                "2147483647 X",
                "2147483648 BYE",
                "4294967295",
                "4294967296",
                "18446744073709551616",
                "255",
                "256",
                "12 \r\n INVITE \r\n ",
                "1\r\nINVITE",
                "timer,100rel , path",
                " gzip ",
                "a,,b",
                "",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
            for sub in ["valid", "invalid"] {
                let Ok(entries) = std::fs::read_dir(format!("{dir}/{sub}")) else { continue };
                for entry in entries.flatten() {
                    let Ok(raw) = std::fs::read(entry.path()) else { continue };
                    let Ok(msg) = Message::parse(Bytes::from(raw)) else { continue };
                    for line in msg.lines() {
                        if let (true, Ok(v)) =
                            (QUICK.contains(&line.name), std::str::from_utf8(line.value))
                        {
                            out.push(v.to_string());
                        }
                    }
                }
            }
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]
        #[test]
        fn plain_walks_on_bytes_accept_only_what_the_checks_accept(
            seed in any::<usize>(),
            name in 0..QUICK.len(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        ) {
            // Seeds with bytes replaced by anything (not UTF-8, controls, DEL, non-ASCII).
            let seeds = seeds();
            let mut v = seeds.get(seed % seeds.len()).cloned().unwrap_or_default().into_bytes();
            for (at, byte) in edits {
                let len = v.len();
                if let Some(c) = v.get_mut(at % len.max(1)) {
                    *c = byte;
                }
            }
            let name = QUICK.get(name).copied().unwrap_or(HeaderName::Via);
            bytes_judged_as_checked(name, &v)?;
        }
    }

    #[test]
    fn plain_walks_take_the_common_values() {
        for (name, v) in [
            (HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKYNytaa59n1CPEofz"),
            (HeaderName::Via, "SIP/2.0/TCP h.example.com;branch=z9hG4bK1;received=192.0.2.9"),
            (HeaderName::To, "<sip:bob@192.0.2.2:5060>;tag=BsWY2mErBD"),
            (HeaderName::From, "<sip:alice@192.0.2.1:5060>;tag=ehjSVhY3Cs"),
            (HeaderName::Contact, "<sip:alice@192.0.2.1:5060>;expires=60;q=0.5"),
            (HeaderName::Route, "<sip:192.0.2.10:5060;lr>,<sip:p2.example.com;lr>"),
            (HeaderName::CallId, "ZYPppvUnt9UsulUWbL3l@192.0.2.1"),
            (HeaderName::CSeq, "1 INVITE"),
            (HeaderName::MaxForwards, "70"),
            (HeaderName::ContentLength, "0"),
            (HeaderName::ContentType, "application/sdp"),
            (HeaderName::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS"),
            (HeaderName::Subject, "caf\u{e9}"),
            // A display name of tokens (SIPp's From and To).
            (HeaderName::To, "Bob <sip:bob@h>"),
        ] {
            assert!(plain_accepts(name, v.as_bytes()), "{name} {v:?}");
            assert_eq!(typed_only(name, v), Ok(()), "{name} {v:?}");
        }
        // Left to the typed parsers: not refused here, only not taken.
        for (name, v) in [
            (HeaderName::Via, "SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1"),
            (HeaderName::Via, "SIP/2.0/UDP h;branch"),
            (HeaderName::Via, "SIP/2.0/UDP h;BRANCH;branch=1"),
            (HeaderName::To, "\"Bob\" <sip:bob@h>"),
            (HeaderName::To, "<sip:b%41@h>"),
            (HeaderName::To, "<sip:bob@h>;tag"),
            (HeaderName::Contact, "<sip:bob@h>;q=2"),
            (HeaderName::Allow, ""),
            (HeaderName::CallId, "a@b@c"),
        ] {
            assert!(!plain_accepts(name, v.as_bytes()), "{name} {v:?}");
        }
        assert!(!plain_accepts(HeaderName::To, b"<sip:b\xff@h>"));
    }

    #[test]
    fn the_corpus_gives_seeds_and_the_walks_take_its_good_values() {
        let seeds = seeds();
        assert!(seeds.len() > 300, "{}", seeds.len());
        // Every seed is judged as the typed parsers judge it, and most are good values that
        // the walks accept without falling back.
        let mut accepted = 0;
        for v in seeds {
            for name in QUICK {
                let quick = quick_accepts(name, v);
                assert_eq!(quick, typed_only(name, v).is_ok(), "{name} {v:?}");
                assert!(!plain_accepts(name, v.as_bytes()) || quick, "{name} {v:?}");
                accepted += usize::from(quick);
            }
        }
        assert!(accepted > 400, "{accepted}");
    }

    /// One edit of a value: a byte the grammars turn on, or a piece of syntax, put in or
    /// over a byte, or a byte removed.
    fn mutate(v: &str, edits: &[(usize, u8, u8)]) -> Option<String> {
        const BYTES: &[u8] = b";,:@<>\"=/ \t\\[]?%.&*+-_~'()!`0a9Zz";
        const PIECES: [&str; 28] = [
            "\r\n ",
            "\n\t",
            "\r\n",
            "::",
            "[::1]",
            "[2001:db8::1]",
            ";lr",
            ";tag=",
            "=",
            "\"\\\"",
            "\u{e9}",
            "%4",
            "%41",
            "sips:",
            ",",
            " ;  x = \"y\" ",
            ";branch",
            ";branch=\"b\"",
            ";received=a.b",
            ";received=[::2]",
            ";rport=70000",
            ";rport",
            ";ttl=256",
            ";maddr=x..y",
            ";q=1.5",
            ";expires=9999999999",
            ";cid=\"c@d\"",
            ";tag",
        ];
        let mut b = v.as_bytes().to_vec();
        for &(at, what, how) in edits {
            let at = at % (b.len() + 1);
            let insert: Vec<u8> = if what < 128 {
                vec![BYTES.get(usize::from(what) % BYTES.len()).copied().unwrap_or(b';')]
            } else {
                let piece = PIECES.get(usize::from(what) % PIECES.len()).copied().unwrap_or("");
                piece.as_bytes().to_vec()
            };
            match how % 3 {
                0 => {
                    b.splice(at..at, insert);
                }
                1 if at < b.len() => {
                    b.splice(at..at + 1, insert);
                }
                _ if at < b.len() => {
                    b.remove(at);
                }
                _ => b.extend(insert),
            }
        }
        String::from_utf8(b).ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]
        #[test]
        fn quick_walks_judge_mutated_values_as_the_typed_parsers(
            seed in any::<usize>(),
            name in 0..QUICK.len(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4),
        ) {
            let seeds = seeds();
            let v = seeds.get(seed % seeds.len()).cloned().unwrap_or_default();
            let name = QUICK.get(name).copied().unwrap_or(HeaderName::Via);
            if let Some(v) = mutate(&v, &edits) {
                judged_as_typed(name, &v)?;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn quick_walks_judge_arbitrary_values_as_the_typed_parsers(
            v in "[ -~\t\r\n\u{e9}]{0,40}",
            name in 0..QUICK.len(),
        ) {
            let name = QUICK.get(name).copied().unwrap_or(HeaderName::Via);
            judged_as_typed(name, &v)?;
        }

        #[test]
        fn quick_walks_judge_header_like_values_as_the_typed_parsers(
            v in concat!(
                "(SIP ?/ ?2\\.0 ?/ ?UDP |\"[a\\\\\"]*\" ?|<sips?:([a-z%0-9]+(:[a-z]*)?@)?",
                "([a-z0-9.-]+|\\[[0-9a-f:.]+\\])(:[0-9]{1,6})?(;[a-z]+(=[a-z0-9:]*)?)*",
                "(\\?[a-z]+=[a-z]*)?>|[a-z0-9]+|[0-9.]{1,12}",
                "|[;,=:/@<>()\\[\\]? ]|;branch=|;tag=|;received=|;rport|;q=|;expires=|;ttl=",
                "|;maddr=|\r\n |\\\\){0,14}",
            ),
            name in 0..QUICK.len(),
        ) {
            let name = QUICK.get(name).copied().unwrap_or(HeaderName::Via);
            judged_as_typed(name, &v)?;
        }

        #[test]
        fn plain_addresses_are_judged_as_the_typed_parsers(
            uri in proptest::sample::select(vec![
                "<sip:a@b.c>", "<sip:bob@192.0.2.2:5060>", "<SIPS:b;lr>", "<sip:a@b?h=v>",
                "<sip:[::1]:5>", "<sip:a@-b>", "<sip:a@1.2.3>", "<sip:a@b:99999>", "<sip:a@b",
                "<sip:a@b;=x>", "<tel:+1>", "<sip:a@b> ", " <sip:a@b>", "\"A\" <sip:a@b>",
            ]),
            params in proptest::collection::vec(proptest::sample::select(vec![
                ";tag", ";tag=", ";TaG=x1", ";tag=a.b", ";tag=\"q\"", ";q=0.5", ";Q=2", ";q",
                ";expires=60", ";EXPIRES=x", ";expires", ";lr", ";x=y:z", "; tag=1", ";",
                ";cid=\"a\"", ";cid=a", " ", ",",
            ]), 0..4),
            name in proptest::sample::select(vec![
                HeaderName::From, HeaderName::To, HeaderName::Contact, HeaderName::Route,
                HeaderName::ReferTo, HeaderName::ReferredBy,
            ]),
        ) {
            let v = format!("{uri}{}", params.concat());
            judged_as_typed(name, &v)?;
        }

        #[test]
        fn uri_check_matches_uri_parse(
            scheme in proptest::sample::select(vec!["sip:", "sips:", "SIP:", "sIpS:", "tel:", "x:", ""]),
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "alice", "b%41", "%4", "%zz", "@", ":", "5060", "70000", "1.2.3.4", "256.1.1.1",
                "1.2.3", "[::1]", "[::1", "[x]", "example.com", "a..b", "-a", "a-", ";", "=",
                "lr", "?", "&", "h=v", "+1-201", "\u{e9}", " ", ">", ",", "$", "/",
            ]), 0..8),
        ) {
            let v = format!("{scheme}{}", pieces.concat());
            prop_assert_eq!(crate::uri::is_valid_uri(&v), Uri::parse(&v).is_ok(), "{:?}", v);
        }
    }

    /// The headers [`fast_accepts`] reads.
    const FAST: [HeaderName; 6] = [
        HeaderName::From,
        HeaderName::To,
        HeaderName::Contact,
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Via,
    ];

    /// The walks as they were before they returned what they found: the reference the
    /// rewritten ones are checked against.
    mod reference {
        use super::super::{FAST_USER, all_token, fast_hostname_len};

        /// See [`fast_accepts`]: `<sip:[user@]host[:port]*(;lr)>`, then `;tag=token` if `tag`, after
        /// a display name of tokens each followed by one space (as SIPp writes `sipp <sip:...>`).
        pub(super) fn fast_address(v: &[u8], tag: bool) -> bool {
            let Some(rest) = after_token_display(v).strip_prefix(b"<sip:") else {
                return false;
            };
            let user = crate::chars::run_len(&FAST_USER, rest);
            let host = match rest.get(user) {
                Some(b'@') if user > 0 => rest.get(user + 1..).unwrap_or_default(),
                _ => rest,
            };
            let Some(after) = fast_host_port(host) else {
                return false;
            };
            let mut after = after;
            while let Some(rest) = after.strip_prefix(b";lr") {
                after = rest;
            }
            let Some(params) = after.strip_prefix(b">") else {
                return false;
            };
            if params.is_empty() {
                return true;
            }
            match params.strip_prefix(b";tag=") {
                Some(t) if tag => all_token(t),
                _ => false,
            }
        }

        /// `v` after its display name when that is tokens each followed by one space
        /// (`display-name = *(token LWS)`, RFC 3261 §20.10, §25.1), else `v` itself.
        #[inline(always)]
        fn after_token_display(v: &[u8]) -> &[u8] {
            if v.first() == Some(&b'<') {
                // No display name (the usual value): nothing to skip.
                return v;
            }
            let mut rest = v;
            loop {
                let n = crate::chars::run_len(&crate::chars::TOKEN, rest);
                match rest.get(n..) {
                    Some([b' ', after @ ..]) if n > 0 => rest = after,
                    _ => return rest,
                }
            }
        }

        /// See [`fast_accepts`]: `SIP/2.0/UDP host[:port]` and the parameters `rport[=port]`,
        /// `branch=token`, `received=IPv4`, each at most once, in any order.
        pub(super) fn fast_via(v: &[u8]) -> bool {
            let Some(rest) = v.strip_prefix(b"SIP/2.0/UDP ") else {
                return false;
            };
            let Some(mut rest) = fast_host_port(rest) else {
                return false;
            };
            let (mut rport, mut branch, mut received) = (false, false, false);
            while let Some(param) = rest.strip_prefix(b";") {
                let (seen, value_end) = if let Some(b) = param.strip_prefix(b"branch=") {
                    let n = crate::chars::run_len(&crate::chars::TOKEN, b);
                    (&mut branch, (n > 0).then_some(7 + n))
                } else if let Some(ip) = param.strip_prefix(b"received=") {
                    (&mut received, fast_ipv4_len(ip).map(|n| 9 + n))
                } else if let Some(port) = param.strip_prefix(b"rport=") {
                    (&mut rport, fast_port_len(port).map(|n| 6 + n))
                } else if param.starts_with(b"rport") {
                    (&mut rport, Some(5))
                } else {
                    return false;
                };
                let Some(end) = value_end else {
                    return false;
                };
                if std::mem::replace(seen, true) {
                    return false;
                }
                rest = param.get(end..).unwrap_or_default();
                if !rest.is_empty() && rest.first() != Some(&b';') {
                    return false;
                }
            }
            rest.is_empty()
        }

        /// A host (see [`fast_accepts`]) and an optional port at the front of `b`; what follows.
        fn fast_host_port(b: &[u8]) -> Option<&[u8]> {
            let host_char = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-');
            let n = match fast_ipv4_len(b) {
                Some(n) if !b.get(n).is_some_and(host_char) => n,
                _ => fast_hostname_len(b)?,
            };
            let rest = b.get(n..)?;
            let Some(port) = rest.strip_prefix(b":") else {
                return Some(rest);
            };
            port.get(fast_port_len(port)?..)
        }

        /// The length of the port at the front of `b`: one to five digits, no leading zero, at most
        /// 65535.
        fn fast_port_len(b: &[u8]) -> Option<usize> {
            let mut value: u32 = 0;
            let mut digits = 0;
            while let Some(&c @ b'0'..=b'9') = b.get(digits) {
                if digits == 5 || (digits == 0 && c == b'0') {
                    return None;
                }
                value = value * 10 + u32::from(c - b'0');
                digits += 1;
            }
            (digits > 0 && value <= 65535).then_some(digits)
        }

        /// The length of the IPv4 address at the front of `b`: four parts of one to three digits
        /// joined by dots, each at most 255, without leading zeros.
        fn fast_ipv4_len(b: &[u8]) -> Option<usize> {
            let mut i = 0;
            for part in 0..4 {
                if part > 0 {
                    if b.get(i) != Some(&b'.') {
                        return None;
                    }
                    i += 1;
                }
                let start = i;
                let mut value: u32 = 0;
                while let Some(&c @ b'0'..=b'9') = b.get(i) {
                    if i - start == 3 || (i > start && value == 0) {
                        return None;
                    }
                    value = value * 10 + u32::from(c - b'0');
                    i += 1;
                }
                if i == start || value > 255 {
                    return None;
                }
            }
            Some(i)
        }
    }

    /// `fast_accepts` takes only values the typed parsers accept (so `plain_accepts`, which
    /// asks it first, answers as it did), and of the walks' shapes: one list element.
    fn fast_judged_as_checked(name: HeaderName, v: &[u8]) -> Result<(), TestCaseError> {
        if fast_accepts(name, v) {
            prop_assert_eq!(check_header(name, v), Ok(()), "{} {:?}", name, v);
            let pieces: Vec<&[u8]> = crate::split_list(v).collect();
            prop_assert_eq!(pieces, vec![v], "{} {:?}", name, v);
        }
        Ok(())
    }

    #[test]
    fn fast_walks_take_what_the_stack_writes() {
        for (name, v) in [
            (HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKYNytaa59n1CPEofz"),
            (HeaderName::Via, "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKra.47;received=192.0.2.1"),
            (HeaderName::Via, "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"),
            (HeaderName::To, "<sip:bob@192.0.2.2:5060>;tag=BsWY2mErBD"),
            (HeaderName::From, "<sip:alice@192.0.2.1:5060>;tag=ehjSVhY3Cs"),
            (HeaderName::To, "<sip:bob@biloxi.example.com>"),
            (HeaderName::Contact, "<sip:alice@192.0.2.1:5060>"),
            (HeaderName::Route, "<sip:192.0.2.10:5060;lr>"),
            (HeaderName::Route, "<sip:192.0.2.10:5060;lr;lr>"),
            (
                HeaderName::Via,
                "SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bKBZvI0;received=192.0.2.1",
            ),
            (HeaderName::RecordRoute, "<sip:p1.example.com;lr>"),
            // SIPp's From and To (a display-name token).
            (HeaderName::From, "sipp <sip:sipp@127.0.0.1:25080>;tag=1SIPpTag001"),
            (HeaderName::To, "service <sip:service@127.0.0.1:25060>"),
            (HeaderName::To, "Bob Smith <sip:bob@biloxi.example.com>;tag=a6c85cf"),
        ] {
            assert!(fast_accepts(name, v.as_bytes()), "{name} {v:?}");
            assert_eq!(typed_only(name, v), Ok(()), "{name} {v:?}");
        }
        for (name, v) in [
            (HeaderName::Via, "SIP/2.0/UDP 192.0.2.300;branch=z9hG4bK1"),
            (HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;branch=z9hG4bK2"),
            (HeaderName::Via, "SIP/2.0/UDP h;rport=65536"),
            (HeaderName::Via, "SIP/2.0/UDP h;rport;rport=5060"),
            (HeaderName::Via, "SIP/2.0/UDP 1.2.3"),
            (HeaderName::To, "<sip:bob@h:65536>"),
            (HeaderName::To, "<sip:bob@h:05060>"),
            (HeaderName::To, "<sip:bob@-h>"),
            (HeaderName::To, "<sip:bob@h>;tag"),
            (HeaderName::Contact, "<sip:bob@h>;tag=1"),
            (HeaderName::Route, "<sip:a@b>,<sip:c@d>"),
            (HeaderName::From, "sipp<sip:sipp@127.0.0.1>"),
            (HeaderName::From, "sipp  <sip:sipp@127.0.0.1>"),
            (HeaderName::From, " <sip:sipp@127.0.0.1>"),
            (HeaderName::From, "\"sipp\" <sip:sipp@127.0.0.1>"),
            (HeaderName::From, "s\u{e9} <sip:sipp@127.0.0.1>"),
        ] {
            assert!(!fast_accepts(name, v.as_bytes()), "{name} {v:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn fast_walks_accept_only_what_the_checks_accept(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "<sip:", "<SIP:", "<sips:", "SIP/2.0/UDP ", "SIP/2.0/TCP ", "SIP/2.0/UDP", " ",
                "alice", "a-b", "a_b", "a.b", "-", "_", ".", "..", "%41", "@", "@@", ":", "::",
                "192.0.2.1", "192.0.2.300", "1.2.3", "1.2.3.4.5", "01.2.3.4", "0.0.0.0",
                "255.255.255.255", "256", "example.com", "ex-ample.com", "example-.com",
                "1example.com", "a.1", "com.", "5060", "0", "65535", "65536", "99999", "123456",
                "00", ";lr", ";LR", ";lr=1", ";transport=udp", ">", ">>", ";tag=", ";tag",
                ";TAG=x", "x1", "a.b!%*_+`'~", "\"q\"", ";", "=", ",", ";branch=",
                ";branch=z9hG4bK1", ";rport", ";rport=1", ";rportx", ";received=",
                ";received=192.0.2.9", ";received=a.b", ";ttl=1", "[::1]", "\r\n ", "\t",
                "\u{e9}", "sipp ", "a b ", "a.b!%*_+`'~ ", "  ",
            ]), 0..10),
            name in 0..FAST.len(),
        ) {
            let v = pieces.concat();
            let name = FAST.get(name).copied().unwrap_or(HeaderName::Via);
            fast_judged_as_checked(name, v.as_bytes())?;
        }

        #[test]
        fn fast_walks_judge_near_shapes_as_the_checks(
            head in proptest::sample::select(vec!["<sip:", "SIP/2.0/UDP ", "<sip:a@", "<sip:-@",
                "sipp <sip:sipp@", "a b <sip:", "a.b!%*_+`'~ <sip:a@", "\"q\" <sip:", "a  <sip:",
                " <sip:", "a\t<sip:", "a<sip:", "a, b <sip:", "a;b <sip:", "a@b <sip:"]),
            host in proptest::sample::select(vec![
                "192.0.2.1", "0.0.0.0", "255.255.255.255", "192.0.2.256", "1.2.3", "01.2.3.4",
                "1.02.3.4", "example.com", "a", "a1", "1a", "a-1.b-2.c", "a-.b", "a..b", "a.b.",
                "1.2.3.4a", "1.2.3.4.5", "9.9.9.9.com", "x.1", "",
            ]),
            port in proptest::sample::select(vec!["", ":5060", ":0", ":1", ":65535", ":65536",
                ":05060", ":", ":999999", ":12a"]),
            tail in proptest::collection::vec(proptest::sample::select(vec![
                ";lr", ">", ";tag=x", ";tag=a.b-c!%*_+`'~", ";tag=", ";branch=z9hG4bK1",
                ";branch=", ";rport", ";rport=5", ";received=192.0.2.1", ";received=1.2.3",
                ";received=192.0.2.1x", ";rport=5060", ";rport=0", ";rport=65536",
                ";rport=05060", ";rport=", ";lr;lr", ";", ",", " ", "x",
            ]), 0..4),
            name in 0..FAST.len(),
        ) {
            let v = format!("{head}{host}{port}{}", tail.concat());
            let name = FAST.get(name).copied().unwrap_or(HeaderName::Via);
            fast_judged_as_checked(name, v.as_bytes())?;
            // The fast walks are a subset of the plain walks, which judge exactly as the
            // typed parsers (whose verdict `plain_accepts` gives for what it takes).
            // (A display name is no shape of the plain address walk: those take the checks.)
            if fast_accepts(name, v.as_bytes()) && !v.starts_with(|c: char| c != '<' && c != 'S') {
                let plain = match name {
                    HeaderName::Via => crate::headers::plain_via_bytes(v.as_bytes()),
                    _ => crate::headers::plain_address_accepts(v.as_bytes(), name),
                };
                prop_assert!(plain, "{} {:?}", name, v);
            }
        }

        /// A Contact the judged From vouches for (`contact_vouched`) is one the fast walk
        /// accepts as a Contact, so `validate` judges it as it did; and a request's validation
        /// is the same with the vouch as with the checks alone.
        #[test]
        fn a_contact_vouched_for_by_the_from_line_is_one_the_walk_accepts(
            head in proptest::sample::select(vec!["<sip:", "<sip:a@", "sipp <sip:sipp@",
                "a b <sip:", "\"q\" <sip:", " <sip:", "a<sip:", "<sip:a.b@", "<sip:@"]),
            host in proptest::sample::select(vec![
                "192.0.2.1", "192.0.2.256", "01.2.3.4", "example.com", "a-.b", "x.1", "",
            ]),
            port in proptest::sample::select(vec!["", ":5060", ":0", ":65536", ":"]),
            uri_tail in proptest::sample::select(vec!["", ";lr", ";lr;lr", ";transport=udp",
                ";x>"]),
            tag in proptest::sample::select(vec!["", ";tag=1", ";tag=a>b", ";tag=", ";x=1"]),
            cut in 0usize..8,
            contact_tail in proptest::sample::select(vec!["", ">", ";expires=5", ">;x=1"]),
        ) {
            let from = format!("{head}{host}{port}{uri_tail}>{tag}");
            // A Contact cut from the From value (at its `>` or elsewhere), with a tail or not.
            let close = from.find('>').unwrap_or(from.len());
            let end = (close + 1).saturating_sub(cut % 3).min(from.len());
            let contact = format!("{}{contact_tail}", &from[..end]);
            let wire = format!(
                "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                 Max-Forwards: 70\r\nTo: <sip:b@h>\r\nFrom: {from}\r\nCall-ID: c\r\n\
                 CSeq: 1 INVITE\r\nContact: {contact}\r\nContent-Length: 0\r\n\r\n"
            );
            let Ok(msg) = Message::parse(Bytes::from(wire)) else {
                return Ok(());
            };
            let Some(line) = msg.ix.headers.iter().find(|e| e.name == HeaderName::Contact)
            else {
                return Err(TestCaseError::fail("no Contact line"));
            };
            if contact_vouched(&msg, line.value) {
                prop_assert!(fast_address(msg.slot(line.value), false), "{}", contact);
            }
            // Without the From memo nothing is vouched for: the checks alone.
            let mut unjudged = msg.clone();
            unjudged.ix.keys.from_judged = crate::message::Judged(None);
            prop_assert!(!contact_vouched(&unjudged, line.value));
            prop_assert_eq!(msg.validate(), unjudged.validate());
        }

        #[test]
        fn fast_walks_judge_as_they_did_and_find_the_parsers_keys(
            head in proptest::sample::select(vec!["<sip:", "SIP/2.0/UDP ", "<sip:a@", "<sip:-@",
                "sipp <sip:sipp@", "a b <sip:", "\"q\" <sip:", " <sip:", "a<sip:", "<sip:a.b@",
                "SIP/2.0/UDP  ", "SIP/2.0/udp ", "<sip:@", "<sip:a@@"]),
            host in proptest::sample::select(vec![
                "192.0.2.1", "0.0.0.0", "255.255.255.255", "192.0.2.256", "1.2.3", "01.2.3.4",
                "1.02.3.4", "1.2.3.04", "1.2.3.0", "1.2.3.1000", "300.1.1.1", "example.com",
                "a", "a1", "1a", "a-1.b-2.c", "a-.b", "a..b", "a.b.", "1.2.3.4a", "1.2.3.4.5",
                "9.9.9.9.com", "x.1", "", "10.0.0.255", "10.0.0.25x",
            ]),
            port in proptest::sample::select(vec!["", ":5060", ":0", ":1", ":65535", ":65536",
                ":05060", ":", ":999999", ":12a", ":99999", ":10000"]),
            tail in proptest::collection::vec(proptest::sample::select(vec![
                ";lr", ">", ";tag=x", ";tag=a.b-c!%*_+`'~", ";tag=", ";branch=z9hG4bK1",
                ";branch=", ";rport", ";rport=5", ";received=192.0.2.1", ";received=1.2.3",
                ";received=192.0.2.1x", ";rport=5060", ";rport=0", ";rport=65536",
                ";rport=05060", ";rport=", ";lr;lr", ";", ",", " ", "x", ";rportx", ";BRANCH=a",
                ";branch=a/b", ";tag=a;tag=b", ";x=1", "\"",
            ]), 0..5),
        ) {
            let v = format!("{head}{host}{port}{}", tail.concat());
            let b = v.as_bytes();
            prop_assert_eq!(fast_via(b), reference::fast_via(b), "{:?}", v);
            for tag in [true, false] {
                prop_assert_eq!(fast_address(b, tag), reference::fast_address(b, tag), "{:?}", v);
            }
            if let Some(branch) = fast_via_branch(b) {
                prop_assert_eq!(branch, crate::parse::top_via_branch(b), "{:?}", v);
            }
            if let Some(tag) = fast_address_tag(b, true) {
                prop_assert_eq!(tag, crate::parse::tag_param(b), "{:?}", v);
            }
        }

        #[test]
        fn fast_walks_judge_as_they_did_on_any_bytes(
            seed in any::<usize>(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        ) {
            let seeds = seeds();
            let mut v = seeds.get(seed % seeds.len()).cloned().unwrap_or_default().into_bytes();
            for (at, byte) in edits {
                let len = v.len();
                if let Some(c) = v.get_mut(at % len.max(1)) {
                    *c = byte;
                }
            }
            prop_assert_eq!(fast_via(&v), reference::fast_via(&v));
            prop_assert_eq!(fast_address(&v, true), reference::fast_address(&v, true));
            prop_assert_eq!(fast_address(&v, false), reference::fast_address(&v, false));
            if let Some(branch) = fast_via_branch(&v) {
                prop_assert_eq!(branch, crate::parse::top_via_branch(&v));
            }
            if let Some(tag) = fast_address_tag(&v, true) {
                prop_assert_eq!(tag, crate::parse::tag_param(&v));
            }
        }

        #[test]
        fn fast_walks_accept_only_what_the_checks_accept_after_edits(
            seed in any::<usize>(),
            name in 0..FAST.len(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        ) {
            let seeds = seeds();
            let mut v = seeds.get(seed % seeds.len()).cloned().unwrap_or_default().into_bytes();
            for (at, byte) in edits {
                let len = v.len();
                if let Some(c) = v.get_mut(at % len.max(1)) {
                    *c = byte;
                }
            }
            let name = FAST.get(name).copied().unwrap_or(HeaderName::Via);
            fast_judged_as_checked(name, &v)?;
        }
    }
}
