//! Explicit limits on what a parser or framer accepts, with defaults and setters.

/// Limits that bound the work and memory spent on one message (RFC 3261 leaves them to the
/// implementation; hitting one is a typed error, never a growing allocation).
///
/// Lenience is opt-in and named: [`Limits::allow_bare_lf`] accepts LF line endings that RFC 3261
/// §7 does not allow but some devices send.
///
/// ```
/// use sip_message::Limits;
/// let limits = Limits::default().max_headers(64).max_message_size(8 * 1024);
/// assert_eq!(limits.headers(), 64);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    max_message_size: usize,
    max_headers: usize,
    max_line_length: usize,
    max_stream_buffer: usize,
    allow_bare_lf: bool,
}

impl Default for Limits {
    /// 64 KiB messages (the largest UDP datagram), 256 header lines, 8 KiB lines, a 128 KiB
    /// stream buffer, CRLF line endings required.
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
            max_line_length: 8 * 1024,
            max_stream_buffer: 128 * 1024,
            allow_bare_lf: false,
        }
    }
}

impl Limits {
    /// Largest whole message (start line, headers and body) in bytes.
    #[must_use]
    pub const fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Most header lines (a folded line counts once; a comma list counts once).
    #[must_use]
    pub const fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Longest start line or header line, folded continuation lines included.
    #[must_use]
    pub const fn max_line_length(mut self, bytes: usize) -> Self {
        self.max_line_length = bytes;
        self
    }

    /// Most bytes a stream [`Framer`](crate::Framer) buffers before it gives up on the stream.
    #[must_use]
    pub const fn max_stream_buffer(mut self, bytes: usize) -> Self {
        self.max_stream_buffer = bytes;
        self
    }

    /// Accept a bare LF as a line ending (not RFC 3261 §7, but sent by some broken devices).
    #[must_use]
    pub const fn allow_bare_lf(mut self, allow: bool) -> Self {
        self.allow_bare_lf = allow;
        self
    }

    /// The message size limit.
    #[must_use]
    pub const fn message_size(&self) -> usize {
        self.max_message_size
    }

    /// The header count limit.
    #[must_use]
    pub const fn headers(&self) -> usize {
        self.max_headers
    }

    /// The line length limit.
    #[must_use]
    pub const fn line_length(&self) -> usize {
        self.max_line_length
    }

    /// The stream buffer limit.
    #[must_use]
    pub const fn stream_buffer(&self) -> usize {
        self.max_stream_buffer
    }

    /// Whether bare LF line endings are accepted.
    #[must_use]
    pub const fn bare_lf_allowed(&self) -> bool {
        self.allow_bare_lf
    }
}
