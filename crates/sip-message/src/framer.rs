//! Stream framing (TCP, TLS): finding where one message ends in a byte stream.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::parse::parse_small_number;
use crate::{HeaderName, Limits};

/// What the framer found at the front of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// One whole message (headers and Content-Length bytes of body), ready for
    /// [`Message::parse`](crate::Message::parse). A frame that does not parse deserves a 400;
    /// the stream itself is still in sync.
    Message(Bytes),
    /// A double CRLF between messages: an RFC 5626 §3.5.1 keep-alive ping, to be answered
    /// with a single CRLF.
    Ping,
    /// A single CRLF between messages: an RFC 5626 §3.5.1 pong (or a stray line break, which
    /// RFC 3261 §7.5 says to ignore).
    Pong,
}

/// Why a stream cannot be framed. Every framing error is fatal to the stream: the framer never
/// resynchronises onto bytes a peer chose, so the connection should be closed (RFC 3261 §18.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameError {
    /// The header section ended without a Content-Length, which streams require (§18.3).
    MissingContentLength,
    /// Content-Length is malformed, negative or too large to represent.
    BadContentLength,
    /// Several Content-Length headers disagree.
    ConflictingContentLength,
    /// The header section is not terminated within the message size limit, or headers plus
    /// Content-Length exceed it.
    MessageTooLarge,
    /// The buffer grew past [`Limits::max_stream_buffer`] (the caller kept feeding a stream
    /// the framer already declared broken, or its buffer policy is wrong).
    BufferFull,
    /// An earlier error already closed this stream.
    Poisoned,
}

impl FrameError {
    /// A short description, fit for a log line or a reason phrase.
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            FrameError::MissingContentLength => "Missing Content-Length on stream transport",
            FrameError::BadContentLength => "Bad Content-Length",
            FrameError::ConflictingContentLength => "Conflicting Content-Length values",
            FrameError::MessageTooLarge => "Message too large",
            FrameError::BufferFull => "Stream buffer full",
            FrameError::Poisoned => "Stream already failed",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for FrameError {}

/// An incremental framer for SIP over a stream transport (RFC 3261 §7.5, §18.3; RFC 5626
/// §3.5.1 keep-alives), in the style of tokio-util's `Decoder`.
///
/// Append received bytes to a `BytesMut` and call [`Framer::decode`] until it answers
/// `Ok(None)` ("need more"). Bytes are scanned once: the framer remembers how far it looked
/// for the end of the header section and, once found, the Content-Length, so a message
/// trickling in a byte at a time costs linear, not quadratic, time. The buffer must only be
/// appended to between calls.
///
/// ```
/// use bytes::BytesMut;
/// use sip_message::{Frame, Framer, Limits};
///
/// let mut framer = Framer::new(Limits::default());
/// let mut buf = BytesMut::from(&b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nhi"[..]);
/// assert_eq!(framer.decode(&mut buf), Ok(Some(Frame::Ping)));
/// let Ok(Some(Frame::Message(msg))) = framer.decode(&mut buf) else { panic!() };
/// assert!(msg.ends_with(b"\r\n\r\nhi"));
/// assert_eq!(framer.decode(&mut buf), Ok(None));
/// ```
#[derive(Clone, Debug)]
pub struct Framer {
    limits: Limits,
    /// Offset up to which the buffer was searched for CRLFCRLF without finding it.
    scanned: usize,
    /// Once the header section is found: the offset where the body starts and its length.
    framed: Option<(usize, usize)>,
    poisoned: bool,
}

impl Framer {
    /// A framer with these limits (message size, stream buffer).
    #[must_use]
    pub fn new(limits: Limits) -> Framer {
        Framer { limits, scanned: 0, framed: None, poisoned: false }
    }

    /// Whether a framing error has closed this stream.
    #[must_use]
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Bytes of the current partial message already examined (for metrics and tests).
    #[must_use]
    pub fn scanned(&self) -> usize {
        self.scanned
    }

    /// Takes the next frame off the front of `buf`, or answers `Ok(None)` when more bytes
    /// are needed.
    ///
    /// # Errors
    /// A [`FrameError`] when the stream cannot be framed; every later call answers
    /// [`FrameError::Poisoned`]. Close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if self.poisoned {
            return Err(FrameError::Poisoned);
        }
        let result = self.decode_inner(buf);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if self.framed.is_none() && self.scanned == 0 {
            // Between messages: CRLF keep-alives (RFC 5626 §3.5.1, RFC 3261 §7.5). The rule
            // looks at no byte past the keep-alive except to tell a ping from a pong, so the
            // frames do not depend on how the stream was cut into reads.
            match buf.as_ref() {
                [b'\r', b'\n', b'\r', b'\n', ..] => {
                    let _ = buf.split_to(4);
                    return Ok(Some(Frame::Ping));
                }
                // Maybe the start of a ping: wait for the fourth byte.
                b"\r\n\r" | b"\r" | b"" => return Ok(None),
                [b'\r', b'\n', ..] => {
                    let _ = buf.split_to(2);
                    return Ok(Some(Frame::Pong));
                }
                _ => {}
            }
        }
        if buf.len() > self.limits.stream_buffer() {
            return Err(FrameError::BufferFull);
        }
        let (body_start, body_len) = match self.framed {
            Some(framed) => framed,
            None => {
                // Resume the search three bytes back: the terminator may straddle reads.
                let from = self.scanned.saturating_sub(3);
                let found =
                    buf.get(from..).and_then(|tail| memchr::memmem::find(tail, b"\r\n\r\n"));
                let Some(at) = found.map(|i| from + i) else {
                    self.scanned = buf.len();
                    if buf.len() > self.limits.message_size() {
                        return Err(FrameError::MessageTooLarge);
                    }
                    return Ok(None);
                };
                let body_start = at + 4;
                if body_start > self.limits.message_size() {
                    return Err(FrameError::MessageTooLarge);
                }
                let len = content_length(buf.get(..at).unwrap_or_default())?;
                self.framed = Some((body_start, len));
                self.scanned = body_start;
                (body_start, len)
            }
        };
        let total = body_start.checked_add(body_len).ok_or(FrameError::MessageTooLarge)?;
        if total > self.limits.message_size() {
            return Err(FrameError::MessageTooLarge);
        }
        if buf.len() < total {
            return Ok(None);
        }
        self.framed = None;
        self.scanned = 0;
        Ok(Some(Frame::Message(buf.split_to(total).freeze())))
    }
}

/// Finds the Content-Length (or `l`) header in a header section (lines separated by CRLF;
/// continuation lines start with whitespace and are skipped).
fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    let mut found: Option<u64> = None;
    for line in head.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else { continue };
        let name = crate::typed::trim_lws(line.get(..colon).unwrap_or_default());
        if line.first().is_some_and(|&c| c == b' ' || c == b'\t')
            || HeaderName::from_bytes(name) != HeaderName::ContentLength
        {
            continue;
        }
        let value = crate::typed::trim_lws(line.get(colon + 1..).unwrap_or_default());
        let n =
            parse_small_number(value, u64::from(u32::MAX)).ok_or(FrameError::BadContentLength)?;
        match found {
            Some(prev) if prev != n => return Err(FrameError::ConflictingContentLength),
            _ => found = Some(n),
        }
    }
    found.map(|n| n as usize).ok_or(FrameError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MESSAGE sip:a@b SIP/2.0\r\nl: 5\r\nVia: x\r\n\r\nhello";

    fn frames(framer: &mut Framer, buf: &mut BytesMut) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Ok(Some(f)) = framer.decode(buf) {
            out.push(f);
        }
        out
    }

    #[test]
    fn byte_at_a_time_yields_the_same_message() {
        let mut framer = Framer::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in MSG.iter().chain(MSG) {
            buf.extend_from_slice(&[b]);
            got.extend(frames(&mut framer, &mut buf));
        }
        assert_eq!(
            got,
            [Frame::Message(Bytes::from_static(MSG)), Frame::Message(Bytes::from_static(MSG))]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn missing_content_length_is_fatal() {
        // RFC 3261 §18.3: Content-Length MUST be used with stream transports.
        let mut framer = Framer::new(Limits::default());
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"[..]);
        assert_eq!(framer.decode(&mut buf), Err(FrameError::MissingContentLength));
        buf.extend_from_slice(MSG);
        assert_eq!(framer.decode(&mut buf), Err(FrameError::Poisoned));
    }

    #[test]
    fn bad_and_conflicting_lengths_are_fatal() {
        for (head, err) in [
            (&b"A sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n"[..], FrameError::BadContentLength),
            (
                b"A sip:a SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab",
                FrameError::ConflictingContentLength,
            ),
            (b"A sip:a SIP/2.0\r\nl: 99999999999\r\n\r\n", FrameError::BadContentLength),
            (b"A sip:a SIP/2.0\r\nl: 4000000000\r\n\r\n", FrameError::MessageTooLarge),
        ] {
            let mut framer = Framer::new(Limits::default());
            assert_eq!(framer.decode(&mut BytesMut::from(head)), Err(err));
        }
    }

    #[test]
    fn keepalives_between_messages() {
        let mut framer = Framer::new(Limits::default());
        let mut buf = BytesMut::from(&b"\r\n\r\n\r\n"[..]);
        assert_eq!(framer.decode(&mut buf), Ok(Some(Frame::Ping)));
        assert_eq!(framer.decode(&mut buf), Ok(Some(Frame::Pong)));
        buf.extend_from_slice(b"\r");
        assert_eq!(framer.decode(&mut buf), Ok(None));
    }

    #[test]
    fn keepalive_framing_does_not_depend_on_read_boundaries() {
        // Found by the `framing` fuzz target: "\r\n" then "\r<junk>" was a pong when read in
        // two pieces but part of the next frame when read whole.
        let data = b"\r\n\rA sip:a SIP/2.0\r\nl: 0\r\n\r\n";
        let mut whole = Framer::new(Limits::default());
        let mut buf = BytesMut::from(&data[..]);
        let a = frames(&mut whole, &mut buf);
        let mut split = Framer::new(Limits::default());
        let mut buf = BytesMut::from(&data[..2]);
        let mut b = frames(&mut split, &mut buf);
        buf.extend_from_slice(&data[2..]);
        b.extend(frames(&mut split, &mut buf));
        assert_eq!(a, b);
        assert_eq!(a.first(), Some(&Frame::Pong));
    }

    #[test]
    fn unterminated_headers_hit_the_size_limit() {
        let limits = Limits::default().max_message_size(100);
        let mut framer = Framer::new(limits);
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\n"[..]);
        assert_eq!(framer.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&[b'a'; 100]);
        assert_eq!(framer.decode(&mut buf), Err(FrameError::MessageTooLarge));
    }

    #[test]
    fn never_rescans_the_header_section() {
        let mut framer = Framer::new(Limits::default());
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nVia: abc"[..]);
        assert_eq!(framer.decode(&mut buf), Ok(None));
        assert_eq!(framer.scanned(), buf.len());
    }
}
