//! A cursor over one header value, tolerant of linear whitespace and line folding, with the
//! lexical rules of RFC 3261 §25.1 that every typed header shares: LWS/SWS, separators with
//! optional whitespace around them, tokens, quoted strings, comments, numbers and hosts.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

pub(crate) use crate::chars::in_class;
use crate::chars::{TOKEN, is_ws, run_len};
use crate::uri::{parse_ipv4, scan_host};
use crate::{HeaderError, HeaderName, Host, Method};

/// Decodes a value that may be a `quoted-string` (RFC 3261 §25.1): strips the surrounding
/// double quotes and resolves `\` quoted-pairs; any other value is returned as it is. Folded
/// line breaks (CRLF followed by whitespace) are removed, leaving the whitespace, since "all
/// linear white space, including folding, has the same semantics as SP".
///
/// Borrows when nothing needs decoding, which is the common case.
///
/// ```
/// use sip_message::unquote;
/// assert_eq!(unquote(r#""J Rosenberg \\\"""#), r#"J Rosenberg \""#);
/// assert_eq!(unquote("token"), "token");
/// ```
#[must_use]
pub fn unquote(value: &str) -> Cow<'_, str> {
    match strip_pair(value, '"', '"') {
        Some(inner) => decode(inner, true),
        None => decode(value, false),
    }
}

/// `s` without its first and last characters if they are `open` and `close` (the quotes of a
/// quoted-string, the parentheses of a comment, the brackets of an IPv6 reference).
pub(crate) fn strip_pair(s: &str, open: char, close: char) -> Option<&str> {
    s.strip_prefix(open).and_then(|inner| inner.strip_suffix(close))
}

/// Replaces folded line breaks (CRLF + WSP) by their whitespace and, when `escapes` is set,
/// resolves quoted-pairs. Borrows when there is nothing to do.
pub(crate) fn decode(s: &str, escapes: bool) -> Cow<'_, str> {
    let special = |c: char| c == '\r' || c == '\n' || (escapes && c == '\\');
    if !s.contains(special) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {}
            '\\' if escapes => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A position in one header value; every typed parser walks its value with one.
///
/// Slices are only ever cut where the cursor stands on an ASCII byte or at the end (inside
/// quoted strings and comments it steps over UTF-8 bytes but never cuts there), so every slice
/// lies on character boundaries.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
    name: HeaderName,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `src`, the value of header `name` (used in errors).
    pub(crate) fn new(src: &'a str, name: HeaderName) -> Self {
        Cursor { src, pos: 0, name }
    }

    /// Byte offset into the value.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Goes back (or forward) to `pos`, a value earlier returned by [`Cursor::pos`].
    pub(crate) fn reset(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// The byte under the cursor.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.byte(self.pos)
    }

    #[inline]
    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// The whole value as text.
    #[inline]
    pub(crate) fn src(&self) -> &'a str {
        self.src
    }

    /// The whole value as bytes.
    #[inline]
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    /// Whether the whole value has been consumed.
    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// The text from `start` up to the cursor.
    #[inline]
    pub(crate) fn since(&self, start: usize) -> &'a str {
        self.slice(start, self.pos)
    }

    /// The text between two positions earlier returned by [`Cursor::pos`].
    #[inline]
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.src.get(from..to).unwrap_or("")
    }

    /// The unconsumed rest of the value.
    #[cfg(test)]
    pub(crate) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    /// An error: `what` went wrong at the cursor.
    pub(crate) fn err(&self, what: &'static str) -> HeaderError {
        self.err_at(what, self.pos)
    }

    /// An error: `what` went wrong at byte `offset`.
    pub(crate) fn err_at(&self, what: &'static str, offset: usize) -> HeaderError {
        HeaderError::new(self.name, what, offset)
    }

    /// Length of the linear whitespace at `at`: `LWS = [*WSP CRLF] 1*WSP`, repeated. A bare LF
    /// followed by whitespace also counts as a fold (for messages read with bare-LF lenience).
    #[inline]
    fn lws_len(&self, at: usize) -> usize {
        // Fast path: most separators are not surrounded by whitespace.
        if !matches!(self.byte(at), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            return 0;
        }
        let mut i = at;
        loop {
            match (self.byte(i), self.byte(i + 1), self.byte(i + 2)) {
                (Some(b' ' | b'\t'), _, _) => i += 1,
                (Some(b'\r'), Some(b'\n'), Some(b' ' | b'\t')) => i += 3,
                (Some(b'\n'), Some(b' ' | b'\t'), _) => i += 2,
                _ => return i - at,
            }
        }
    }

    /// Skips `SWS` (optional linear whitespace); says whether there was any.
    #[inline]
    pub(crate) fn skip_sws(&mut self) -> bool {
        let n = self.lws_len(self.pos);
        self.pos += n;
        n > 0
    }

    /// `LWS`: at least one whitespace character, or a fold.
    #[inline]
    pub(crate) fn lws(&mut self, what: &'static str) -> Result<(), HeaderError> {
        if self.skip_sws() { Ok(()) } else { Err(self.err(what)) }
    }

    /// Consumes `prefix` if the value continues with exactly these bytes; returns its text.
    pub(crate) fn take_prefix(&mut self, prefix: &str) -> Option<&'a str> {
        let start = self.pos;
        let rest = self.src.as_bytes().get(start..)?;
        if !rest.starts_with(prefix.as_bytes()) {
            return None;
        }
        self.pos = start + prefix.len();
        Some(self.since(start))
    }

    /// Consumes `c` if it is the next byte.
    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// `SWS c SWS`: a separator such as `SEMI`, `EQUAL`, `SLASH`, `COLON` or `COMMA`. On a miss
    /// the cursor does not move.
    #[inline]
    pub(crate) fn sep(&mut self, c: u8) -> bool {
        let start = self.pos;
        self.skip_sws();
        if self.eat(c) {
            self.skip_sws();
            true
        } else {
            self.pos = start;
            false
        }
    }

    /// Like [`Cursor::sep`] but required.
    pub(crate) fn expect_sep(&mut self, c: u8, what: &'static str) -> Result<(), HeaderError> {
        if self.sep(c) { Ok(()) } else { Err(self.err_at(what, self.pos + self.lws_len(self.pos))) }
    }

    /// The longest run of bytes in `table` (an ASCII class); may be empty.
    #[inline]
    pub(crate) fn take_class(&mut self, table: &[bool; 256]) -> &'a str {
        // The classes are ASCII-only, so one table lookup per byte decides (no separate
        // `is_ascii` test as in `take_while`).
        let start = self.pos;
        let rest = self.src.as_bytes().get(start..).unwrap_or_default();
        let n = rest.iter().position(|&c| !in_class(table, c)).unwrap_or(rest.len());
        self.pos = start + n;
        self.since(start)
    }

    /// [`Cursor::take_class`] for runs that are often long (a Call-ID, a URI): four bytes
    /// per step while the run lasts.
    #[inline]
    pub(crate) fn take_long_class(&mut self, table: &[bool; 256]) -> &'a str {
        let start = self.pos;
        self.pos = start + run_len(table, self.src.as_bytes().get(start..).unwrap_or_default());
        self.since(start)
    }

    /// The longest run of ASCII bytes satisfying `f` (a non-ASCII byte always ends the run).
    #[inline]
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = self.src.as_bytes().get(start..).unwrap_or_default();
        let n = rest.iter().position(|&c| !(c.is_ascii() && f(c))).unwrap_or(rest.len());
        self.pos = start + n;
        self.since(start)
    }

    /// `token`, if one starts here.
    #[inline]
    pub(crate) fn token(&mut self) -> Option<&'a str> {
        Some(self.take_class(&TOKEN)).filter(|t| !t.is_empty())
    }

    /// A required `token`.
    #[inline]
    pub(crate) fn expect_token(&mut self, what: &'static str) -> Result<&'a str, HeaderError> {
        self.token().ok_or_else(|| self.err(what))
    }

    /// `1*DIGIT` as a number of type `T`; a value that does not fit `T` is an error (RFC 4475
    /// §3.1.2.4: overlarge scalars are rejected, not wrapped or saturated).
    pub(crate) fn number<T: TryFrom<u64>>(&mut self, what: &'static str) -> Result<T, HeaderError> {
        let start = self.pos;
        let mut value: Option<u64> = Some(0);
        while let Some(c @ b'0'..=b'9') = self.peek() {
            value = value
                .and_then(|v| v.checked_mul(10))
                .and_then(|v| v.checked_add(u64::from(c - b'0')));
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(what));
        }
        value
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| self.err_at("number too large", start))
    }

    /// Exactly `n` digits (`2DIGIT`, `3DIGIT`, ...) as a number of type `T`.
    pub(crate) fn fixed_number<T: TryFrom<u64>>(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<T, HeaderError> {
        let start = self.pos;
        if self.take_while(|c| c.is_ascii_digit()).len() != n {
            return Err(self.err_at(what, start));
        }
        self.pos = start;
        self.number(what)
    }

    /// `delta-seconds = 1*DIGIT`, at most 2^32-1 (RFC 3261 §20.19).
    pub(crate) fn delta_seconds(&mut self) -> Result<u32, HeaderError> {
        self.number("expected delta-seconds")
    }

    /// `quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE` (the cursor is on the
    /// opening quote). Returns the raw text, quotes included; [`unquote`] decodes it.
    ///
    /// `qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII`,
    /// `quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)`.
    pub(crate) fn quoted_string(&mut self) -> Result<&'a str, HeaderError> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(self.err("expected quoted string"));
        }
        loop {
            match self.peek() {
                None => return Err(self.err_at("unterminated quoted string", start)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(self.since(start));
                }
                Some(b'\\') => match self.byte(self.pos + 1) {
                    Some(0x00..=0x09 | 0x0B..=0x0C | 0x0E..=0x7F) => self.pos += 2,
                    _ => return Err(self.err("invalid quoted-pair")),
                },
                Some(_) => self.text_char("control character in quoted string")?,
            }
        }
    }

    /// `comment = LPAREN *(ctext / quoted-pair / comment) RPAREN` (the cursor is on `(`).
    /// Returns the raw text, parentheses included.
    ///
    /// `ctext = %x21-27 / %x2A-5B / %x5D-7E / UTF8-NONASCII / LWS`
    pub(crate) fn comment(&mut self) -> Result<&'a str, HeaderError> {
        let start = self.pos;
        if !self.eat(b'(') {
            return Err(self.err("expected comment"));
        }
        let mut depth = 1_usize;
        while depth > 0 {
            match self.peek() {
                None => return Err(self.err_at("unterminated comment", start)),
                Some(b'(') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b')') => {
                    depth -= 1;
                    self.pos += 1;
                }
                Some(b'\\') => match self.byte(self.pos + 1) {
                    Some(0x00..=0x09 | 0x0B..=0x0C | 0x0E..=0x7F) => self.pos += 2,
                    _ => return Err(self.err("invalid quoted-pair")),
                },
                Some(_) => self.text_char("control character in comment")?,
            }
        }
        Ok(self.since(start))
    }

    /// A `comment`'s text, without the outer parentheses (the cursor is on `(`).
    pub(crate) fn comment_text(&mut self) -> Result<&'a str, HeaderError> {
        let raw = self.comment()?;
        Ok(strip_pair(raw, '(', ')').unwrap_or(raw))
    }

    /// One character of quoted-string or comment text: LWS, visible ASCII or UTF-8 (the value
    /// is a `str`, so non-ASCII bytes are well-formed UTF-8). Delimiters are the caller's.
    fn text_char(&mut self, what: &'static str) -> Result<(), HeaderError> {
        let n = self.lws_len(self.pos);
        match self.peek() {
            _ if n > 0 => self.pos += n,
            Some(0x21..=0x7E | 0x80..=0xFF) => self.pos += 1,
            _ => return Err(self.err(what)),
        }
        Ok(())
    }

    /// `host = hostname / IPv4address / IPv6reference` (RFC 3261 §25.1).
    pub(crate) fn host(&mut self) -> Result<Host<'a>, HeaderError> {
        let start = self.pos;
        if self.eat(b'[') {
            let inner = self.take_while(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
            if !self.eat(b']') {
                return Err(self.err("expected ']' after IPv6 address"));
            }
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| self.err_at("invalid IPv6 address", start));
        }
        let scan = scan_host(self.src.as_bytes(), start);
        self.pos = scan.end;
        let text = self.since(start);
        let host = if scan.dotted_digits {
            parse_ipv4(text).map(Host::Ipv4)
        } else {
            scan.hostname.then_some(Host::Domain(text))
        };
        host.ok_or_else(|| self.err_at("invalid host", start))
    }

    /// Whether [`Cursor::host`] would accept the host here; the cursor then stands where it
    /// would leave it. Nothing is converted (an IPv4 address is only checked).
    #[inline]
    pub(crate) fn host_ok(&mut self) -> bool {
        if self.peek() == Some(b'[') {
            return self.host().is_ok();
        }
        match crate::uri::host_end(self.src, self.pos) {
            Some(end) => {
                self.pos = end;
                true
            }
            None => false,
        }
    }

    /// Whether `1*DIGIT` is here with a value below `limit` (at most 2^32), as
    /// [`Cursor::number`] reads it and a range check then bounds it; the cursor then stands
    /// after the digits.
    #[inline]
    pub(crate) fn digits_below(&mut self, limit: u64) -> bool {
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            // Saturates where `number` would overflow and fail: at or above `limit` alike.
            value = value.saturating_mul(10).saturating_add(u64::from(c - b'0'));
            self.pos += 1;
        }
        self.pos > start && value < limit
    }

    /// Whether [`Cursor::port`] would accept the port here; the cursor then stands where it
    /// would leave it.
    #[inline]
    pub(crate) fn port_ok(&mut self) -> bool {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            // Held below 2^20 (anything above 65535 is refused alike), so it cannot overflow.
            value = (value * 10 + u32::from(c - b'0')).min(1 << 20);
            self.pos += 1;
        }
        self.pos > start && value <= u32::from(u16::MAX)
    }

    /// `port = 1*DIGIT`, at most 65535.
    pub(crate) fn port(&mut self) -> Result<u16, HeaderError> {
        self.number("expected port")
    }

    /// `SWS` then the end of the value; anything else is an error.
    pub(crate) fn finish(&mut self) -> Result<(), HeaderError> {
        self.skip_sws();
        if self.at_end() { Ok(()) } else { Err(self.err("unexpected character")) }
    }
}

/// The [`Method`] of a token the parser has already checked; a method is any token, so the
/// fallback only guards against misuse.
pub(crate) fn method_of(token: &str) -> Method {
    Method::from_bytes(token.as_bytes())
        .unwrap_or_else(|| Method::Extension(bytes::Bytes::copy_from_slice(token.as_bytes())))
}

/// Parses a whole string as `host` (hostname, IPv4 address or bracketed IPv6 reference).
pub(crate) fn parse_host(s: &str) -> Option<Host<'_>> {
    let mut cur = Cursor::new(s, HeaderName::Other);
    cur.host().ok().filter(|_| cur.at_end())
}

/// `IPv4address / IPv6address`, the latter also in brackets (RFC 3261 §20.42 `received`,
/// which RFC 5118 §4.5 asks parsers to accept bracketed).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let bare = strip_pair(s, '[', ']');
    match bare {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None if s.contains(':') => s.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => parse_ipv4(s).map(IpAddr::V4),
    }
}

/// Whether `s` holds only text characters and folds: no control characters but HTAB and the
/// CRLF of a fold (header values reach the typed parsers with folds left in).
pub(crate) fn is_text(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n') && b.get(i + 2).is_some_and(|&n| is_ws(n)),
        b'\n' => b.get(i + 1).is_some_and(|&n| is_ws(n)),
        b'\t' => true,
        c => c >= 0x20 && c != 0x7F,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(s: &str) -> Cursor<'_> {
        Cursor::new(s, HeaderName::Other)
    }

    /// `Cursor::host` for a hostname or IPv4 address as it was: scan, then classify.
    fn host_reference(s: &str) -> (Result<Host<'_>, HeaderError>, usize) {
        let mut c = cur(s);
        let start = c.pos();
        c.take_while(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
        let host = crate::uri::classify_host(c.since(start))
            .ok_or_else(|| c.err_at("invalid host", start));
        (host, c.pos())
    }

    #[test]
    fn classes_read_by_take_class_are_ascii_only() {
        // `take_class` relies on it to skip the `is_ascii` test of `take_while`.
        for table in [
            &TOKEN,
            &crate::chars::WORD,
            &super::super::params::TOKEN_OR_COLON,
            &super::super::name_addr::URI_IN_BRACKETS,
            &super::super::name_addr::URI_OF_ADDR_SPEC,
        ] {
            assert!((0x80..=0xFF_u8).all(|c| !in_class(table, c)));
        }
    }

    proptest::proptest! {
        #[test]
        fn host_ok_and_port_ok_match_host_and_port(
            s in "[a-c0-3.\\-:;\\[\\] \u{e9}]{0,14}|[0-9]{0,8}x?",
        ) {
            let (mut a, mut b) = (cur(&s), cur(&s));
            let ok = a.host().is_ok();
            proptest::prop_assert_eq!(b.host_ok(), ok);
            if ok {
                proptest::prop_assert_eq!(a.pos(), b.pos());
            }
            let (mut a, mut b) = (cur(&s), cur(&s));
            let ok = a.port().is_ok();
            proptest::prop_assert_eq!(b.port_ok(), ok);
            if ok {
                proptest::prop_assert_eq!(a.pos(), b.pos());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn host_matches_the_reference(s in "[a-c0-3.\\-:; \u{e9}]{0,14}") {
            let mut c = cur(&s);
            let host = c.host();
            proptest::prop_assert_eq!((host, c.pos()), host_reference(&s));
        }
    }

    #[test]
    fn sws_skips_folds_but_not_a_bare_line_break() {
        // RFC 3261 §25.1: LWS = [*WSP CRLF] 1*WSP.
        let mut c = cur(" \t\r\n  x");
        assert!(c.skip_sws());
        assert_eq!(c.rest(), "x");
        let mut c = cur("\r\nx");
        assert!(!c.skip_sws());
        assert_eq!(c.pos(), 0);
    }

    #[test]
    fn separator_allows_whitespace_on_both_sides_and_restores_on_miss() {
        let mut c = cur("  /\r\n  2.0");
        assert!(c.sep(b'/'));
        assert_eq!(c.rest(), "2.0");
        let mut c = cur("  x");
        assert!(!c.sep(b'/'));
        assert_eq!(c.pos(), 0);
    }

    #[test]
    fn quoted_string_honours_quoted_pairs() {
        // RFC 4475 §3.1.1.1 wsinv: "J Rosenberg \\\"" is J Rosenberg \"
        let mut c = cur(r#""J Rosenberg \\\""  <"#);
        assert_eq!(c.quoted_string(), Ok(r#""J Rosenberg \\\"""#));
        assert_eq!(c.rest(), "  <");
    }

    #[test]
    fn quoted_string_accepts_escaped_controls() {
        // RFC 4475 §3.1.1.2 intmeth: quoted-pairs for BEL, NUL and DEL.
        let s = "\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F\"";
        assert_eq!(cur(s).quoted_string(), Ok(s));
        assert_eq!(unquote(s), "BEL:\x07 NUL:\x00 DEL:\x7F");
    }

    #[test]
    fn quoted_string_rejects_unterminated_and_raw_controls() {
        // RFC 4475 §3.1.2.6 quotbal.
        assert!(cur(r#""Mr. J. User <sip:j.user@example.com>"#).quoted_string().is_err());
        assert!(cur("\"a\x01b\"").quoted_string().is_err());
        assert!(cur("\"a\\").quoted_string().is_err());
    }

    #[test]
    fn comment_nests() {
        let mut c = cur("(0.8.11pre28 (i386/linux)) x");
        assert_eq!(c.comment(), Ok("(0.8.11pre28 (i386/linux))"));
        assert!(cur("(open (inner)").comment().is_err());
    }

    #[test]
    fn number_rejects_overflow_of_its_type() {
        // RFC 4475 §3.1.2.4 scalar02: huge values are errors, not wrapped.
        assert_eq!(cur("0068").number::<u8>("n"), Ok(68));
        assert!(cur("256").number::<u8>("n").is_err());
        assert!(cur("10000000000000000000000").number::<u32>("n").is_err());
        assert!(cur("x").number::<u32>("n").is_err());
    }

    #[test]
    fn hosts_are_classified() {
        assert_eq!(parse_host("example.com."), Some(Host::Domain("example.com.")));
        assert_eq!(
            parse_host("192.0.2.1"),
            Some(Host::Ipv4(std::net::Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(parse_host("[2001:db8::1]"), Some(Host::Ipv6("2001:db8::1".parse().unwrap())));
        assert_eq!(parse_host("9x.example.com"), Some(Host::Domain("9x.example.com")));
        for bad in [
            "",
            "1.2.3",
            "256.1.1.1",
            "-a.com",
            "a-.com",
            "a..b",
            "a.1",
            "[::1",
            "[x]",
            "sip.194.213.29.100",
        ] {
            assert_eq!(parse_host(bad), None, "{bad}");
        }
    }

    #[test]
    fn ip_accepts_bracketed_ipv6() {
        // RFC 5118 §4.5: received=[IPv6] must be accepted.
        assert_eq!(parse_ip("[2001:db8::9]"), Some("2001:db8::9".parse().unwrap()));
        assert_eq!(parse_ip("2001:db8::9"), Some("2001:db8::9".parse().unwrap()));
        assert_eq!(parse_ip("192.0.2.1"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(parse_ip("host.example.com"), None);
    }

    #[test]
    fn unquote_borrows_plain_text_and_drops_fold_breaks() {
        assert!(matches!(unquote(r#""plain""#), Cow::Borrowed("plain")));
        assert_eq!(unquote("\"a\r\n b\""), "a b");
        assert_eq!(unquote("\"\""), "");
        assert_eq!(unquote("\""), "\"");
    }

    #[test]
    fn text_allows_folds_only() {
        assert!(is_text("a\r\n b\tc"));
        assert!(!is_text("a\r\nb"));
        assert!(!is_text("a\x00b"));
    }
}
