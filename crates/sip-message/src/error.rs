//! Errors: why bytes were not a SIP message, why a header value or URI did not parse.

use std::fmt;

use crate::HeaderName;

/// Why bytes were not a SIP message (RFC 3261 §7, §25). `Copy`, no allocation: hostile input is
/// cheap to reject.
///
/// A UAS that receives such a request answers with [`ParseErrorKind::status`] and a reason
/// phrase built from [`ParseErrorKind::reason`], if enough of the message parsed to build a
/// response at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ParseErrorKind,
    offset: usize,
}

/// What was wrong; see [`ParseError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Nothing but CRLFs (or nothing at all).
    Empty,
    /// The message is larger than [`Limits::max_message_size`](crate::Limits).
    MessageTooLarge,
    /// A line is longer than [`Limits::max_line_length`](crate::Limits).
    LineTooLong,
    /// More header lines than [`Limits::max_headers`](crate::Limits).
    TooManyHeaders,
    /// The start line is neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2).
    StartLine,
    /// The method is not a token (RFC 3261 §25.1).
    Method,
    /// The Request-URI is missing, contains whitespace or `<>`, or is not an absolute URI.
    RequestUri,
    /// The SIP-Version is not `SIP/2.0` (answered with 505, RFC 3261 §8.2.2... and §21.5.7).
    Version,
    /// The Status-Code is not exactly three digits in 100..=699 (RFC 3261 §7.2).
    StatusCode,
    /// The Reason-Phrase contains a control character.
    ReasonPhrase,
    /// A header name is empty or is not a token.
    HeaderName,
    /// A header line has no colon.
    MissingColon,
    /// A header value contains a control character other than HTAB.
    HeaderValue,
    /// A line ends with a bare LF or CR where CRLF is required (RFC 3261 §7).
    BareLineEnding,
    /// The header section does not end with an empty line.
    Truncated,
    /// Content-Length is not a number, is negative, or does not fit.
    ContentLength,
    /// Several Content-Length headers disagree (RFC 4475 §3.3.9).
    ConflictingContentLength,
    /// Content-Length is larger than the bytes that follow the headers (RFC 3261 §18.3).
    BodyTruncated,
}

impl ParseError {
    /// A new error of `kind` at byte `offset` of the input.
    #[must_use]
    pub const fn new(kind: ParseErrorKind, offset: usize) -> Self {
        ParseError { kind, offset }
    }

    /// What was wrong.
    #[must_use]
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Byte offset into the input where the problem was found.
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

impl ParseErrorKind {
    /// What went wrong, in words fit for a reason phrase (e.g. `"Bad Content-Length"`).
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Empty => "Empty message",
            Self::MessageTooLarge => "Message too large",
            Self::LineTooLong => "Line too long",
            Self::TooManyHeaders => "Too many headers",
            Self::StartLine => "Malformed start line",
            Self::Method => "Malformed method",
            Self::RequestUri => "Malformed Request-URI",
            Self::Version => "Unsupported SIP version",
            Self::StatusCode => "Malformed status code",
            Self::ReasonPhrase => "Malformed reason phrase",
            Self::HeaderName => "Malformed header name",
            Self::MissingColon => "Header line without colon",
            Self::HeaderValue => "Control character in header value",
            Self::BareLineEnding => "Line not terminated by CRLF",
            Self::Truncated => "Header section not terminated",
            Self::ContentLength => "Bad Content-Length",
            Self::ConflictingContentLength => "Conflicting Content-Length values",
            Self::BodyTruncated => "Content-Length larger than body",
        }
    }

    /// The status a UAS answers a request with this error (RFC 3261 §21.4.1, §21.4.12,
    /// §21.5.7): 505 for the version, 513 for size, 400 for everything else.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            Self::Version => 505,
            Self::MessageTooLarge => 513,
            Self::Empty
            | Self::LineTooLong
            | Self::TooManyHeaders
            | Self::StartLine
            | Self::Method
            | Self::RequestUri
            | Self::StatusCode
            | Self::ReasonPhrase
            | Self::HeaderName
            | Self::MissingColon
            | Self::HeaderValue
            | Self::BareLineEnding
            | Self::Truncated
            | Self::ContentLength
            | Self::ConflictingContentLength
            | Self::BodyTruncated => 400,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind.reason(), self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Why a header value did not match its grammar. `Copy`, no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderError {
    name: HeaderName,
    what: &'static str,
    offset: usize,
}

impl HeaderError {
    /// A new error: `what` went wrong at byte `offset` of the value of header `name`.
    #[must_use]
    pub const fn new(name: HeaderName, what: &'static str, offset: usize) -> Self {
        HeaderError { name, what, offset }
    }

    /// The header whose value was malformed.
    #[must_use]
    pub const fn name(&self) -> HeaderName {
        self.name
    }

    /// What was expected or wrong, e.g. `"expected token"`.
    #[must_use]
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// Byte offset into the header value.
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The same error attributed to another header (typed parsers shared by several headers).
    #[must_use]
    pub const fn with_name(self, name: HeaderName) -> Self {
        HeaderError { name, ..self }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Malformed {} header: {} at byte {}", self.name, self.what, self.offset)
    }
}

impl std::error::Error for HeaderError {}

/// Why a URI did not parse (RFC 3261 §19.1, §25; RFC 3966). `Copy`, no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UriError {
    what: &'static str,
    offset: usize,
}

impl UriError {
    /// A new error: `what` went wrong at byte `offset` of the URI.
    #[must_use]
    pub const fn new(what: &'static str, offset: usize) -> Self {
        UriError { what, offset }
    }

    /// What was expected or wrong, e.g. `"bad port"`.
    #[must_use]
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// Byte offset into the URI.
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Malformed URI: {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for UriError {}
