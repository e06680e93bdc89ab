//! The datagram parser: one pass over the bytes building the header index and the eager keys.
//!
//! RFC 3261 §7 (message format), §7.3.1 (header field format and folding), §7.5 and §18.3
//! (framing), §25 (grammar). Lines are found by a word-at-a-time search for CR and LF, so a
//! bare CR or LF is seen at no extra cost; every other byte of a header value is looked at only by the eager key
//! parsers (for the handful of headers they need) or later by a typed parse.

use bytes::Bytes;

use crate::chars::{TOKEN, in_class, is_token, is_ws, run_len};
use crate::message::{Entry, Headers, Judged, JudgedAll, Keys, Message, Slot, StartLine};
use crate::validate::{fast_address_tag, fast_via_branch};
use crate::{HeaderName, Limits, Method, ParseError, ParseErrorKind as K};

/// Where a line ends: `content_end` is the index of its CR (or bare LF), `next` the first byte
/// of the following line.
struct LineEnd {
    content_end: usize,
    next: usize,
    /// The line was folded (it spans a line break, RFC 3261 §7.3.1).
    folded: bool,
}

/// `0x01` in every byte of a word.
const LOW_BYTES: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` (little-endian) below `n` (`n <= 0x80`), as their high bits. Only the
/// lowest flag is exact (a borrow out of a flagged byte may flag the next one too), which is
/// all the scans below use: no byte below the lowest flag is below `n`.
#[inline(always)]
const fn bytes_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(LOW_BYTES * n as u64) & !w & HIGH_BITS
}

/// The index of the byte whose high bit is the lowest set bit of `flags` (not zero), in the
/// word read at `at`.
#[inline(always)]
fn first_flagged(at: usize, flags: u64) -> usize {
    at + (flags.trailing_zeros() / 8) as usize
}

/// The first byte at or after `from` that is one of `set`, eight bytes per step: the searches
/// of the eager key parsers, over the tens of bytes before a parameter or a `>`, where a call to
/// `memchr` costs more than the search.
#[inline(always)]
fn find_any<const N: usize>(s: &[u8], from: usize, set: [u8; N]) -> Option<usize> {
    let mut rest = s.get(from..)?;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let w = u64::from_le_bytes(*word);
        // Each term's lowest flag is exact, so the lowest flag of them all is the first hit.
        let hits =
            set.iter().fold(0, |acc, &c| acc | bytes_below(w ^ (LOW_BYTES * u64::from(c)), 1));
        if hits != 0 {
            return Some(first_flagged(s.len() - rest.len(), hits));
        }
        rest = tail;
    }
    let at = s.len() - rest.len();
    rest.iter().position(|c| set.contains(c)).map(|p| at + p)
}

/// The first CR or LF at or after `from`. Sixteen bytes are looked at per step, as two words,
/// for any byte below 0x0e (CR, LF, and HTAB or another control, which are passed over), so
/// that a header line of tens of bytes takes two or three steps instead of a call to `memchr2`.
#[inline(always)]
fn find_line_break(b: &[u8], from: usize) -> Option<usize> {
    let mut rest = b.get(from..)?;
    while let Some((block, tail)) = rest.split_first_chunk::<16>() {
        let (lo, hi) = block.split_at(8);
        let (Some(lo), Some(hi)) = (lo.first_chunk::<8>(), hi.first_chunk::<8>()) else {
            break;
        };
        let lo = bytes_below(u64::from_le_bytes(*lo), 0x0e);
        let hi = bytes_below(u64::from_le_bytes(*hi), 0x0e);
        if lo | hi == 0 {
            rest = tail;
            continue;
        }
        let k = if lo != 0 { first_flagged(0, lo) } else { first_flagged(8, hi) };
        if matches!(block.get(k), Some(b'\r' | b'\n')) {
            return Some(b.len() - rest.len() + k);
        }
        rest = rest.get(k + 1..).unwrap_or_default();
    }
    let at = b.len() - rest.len();
    rest.iter().position(|&c| c == b'\r' || c == b'\n').map(|p| at + p)
}

/// The first `:` in the 24 bytes from `from`, if the buffer holds them: where a header name
/// of at most 19 bytes (the longest known one) written right before its colon ends. With it
/// come the words of the bytes before it, as [`HeaderName::lookup_words`] takes them (the
/// bytes zero-padded to three words), masked out of the words read for the search.
#[inline(always)]
fn colon_near(b: &[u8], from: usize) -> Option<(usize, [u64; 3])> {
    /// The colons of `w`, as their high bits (the lowest one exact).
    #[inline(always)]
    fn colons(w: u64) -> u64 {
        bytes_below(w ^ (LOW_BYTES * u64::from(b':')), 1)
    }
    /// The bytes of a word below its lowest flag, as a mask.
    #[inline(always)]
    fn below(flags: u64) -> u64 {
        ((flags & flags.wrapping_neg()) >> 7).wrapping_sub(1)
    }
    let (w0, rest) = b.get(from..)?.split_first_chunk::<8>()?;
    let w0 = u64::from_le_bytes(*w0);
    let c = colons(w0);
    if c != 0 {
        return Some((first_flagged(from, c), [w0 & below(c), 0, 0]));
    }
    let (w1, rest) = rest.split_first_chunk::<8>()?;
    let w1 = u64::from_le_bytes(*w1);
    let c = colons(w1);
    if c != 0 {
        return Some((first_flagged(from + 8, c), [w0, w1 & below(c), 0]));
    }
    let w2 = u64::from_le_bytes(*rest.first_chunk::<8>()?);
    let c = colons(w2);
    if c != 0 {
        return Some((first_flagged(from + 16, c), [w0, w1, w2 & below(c)]));
    }
    None
}

/// Finds the end of the line that starts at or before `from`; a header line ends at a CRLF not
/// followed by SP or HTAB when `fold` is set (RFC 3261 §7.3.1).
#[inline(always)]
fn line_end(b: &[u8], from: usize, fold: bool, limits: &Limits) -> Result<LineEnd, ParseError> {
    let mut at = from;
    loop {
        let Some(pos) = find_line_break(b, at) else {
            return Err(ParseError::new(K::Truncated, b.len()));
        };
        // The common break: CRLF and then a byte that does not fold the line.
        if let Some(&[b'\r', b'\n', c]) = b.get(pos..).and_then(<[u8]>::first_chunk::<3>)
            && !(fold && is_ws(c))
        {
            return Ok(LineEnd { content_end: pos, next: pos + 2, folded: at != from });
        }
        // The line break and the byte after it, read as one slice pattern.
        let (len, after) = match b.get(pos..).unwrap_or_default() {
            [b'\r', b'\n', rest @ ..] => (2, rest.first()),
            [b'\n', rest @ ..] if limits.bare_lf_allowed() => (1, rest.first()),
            [b'\r'] => return Err(ParseError::new(K::Truncated, b.len())),
            _ => return Err(ParseError::new(K::BareLineEnding, pos)),
        };
        if fold && after.is_some_and(|&c| is_ws(c)) {
            at = pos + len;
            continue;
        }
        return Ok(LineEnd { content_end: pos, next: pos + len, folded: at != from });
    }
}

/// The header name of the line at `pos`: its [`HeaderName`], where it ends and where the value
/// may start (just after the colon). `header-name: token; then *(SP / HTAB) ":"` (HCOLON,
/// RFC 3261 §7.3.1, §25.1).
///
/// The common line is a known name written right before its colon: the bytes up to the first
/// `:` are looked up as they are, and a known name needs no token scan (every known name,
/// in any case, is a token). Anything else takes the byte-by-byte path.
#[inline(always)]
fn header_name(b: &[u8], pos: usize) -> Result<(HeaderName, usize, usize), ParseError> {
    if let Some((colon, words)) = colon_near(b, pos) {
        let name =
            HeaderName::lookup_words(words, colon - pos, || b.get(pos..colon).unwrap_or_default());
        if name != HeaderName::Other {
            return Ok((name, colon, colon + 1));
        }
    }
    header_name_scanned(b, pos)
}

/// [`header_name`] byte by byte: the token, optional whitespace, the colon.
#[inline(always)]
fn header_name_scanned(b: &[u8], pos: usize) -> Result<(HeaderName, usize, usize), ParseError> {
    let name_end = token_end(b, pos);
    let mut i = name_end;
    if name_end == pos {
        return Err(ParseError::new(
            if b.get(i).is_some_and(|&c| is_ws(c)) { K::HeaderName } else { K::MissingColon },
            i,
        ));
    }
    while b.get(i).is_some_and(|&c| is_ws(c)) {
        i += 1;
    }
    match b.get(i) {
        Some(b':') => i += 1,
        Some(b'\r' | b'\n') | None => return Err(ParseError::new(K::MissingColon, i)),
        Some(_) if i == name_end => return Err(ParseError::new(K::HeaderName, i)),
        Some(_) => return Err(ParseError::new(K::MissingColon, i)),
    }
    let name = HeaderName::from_bytes(b.get(pos..name_end).unwrap_or_default());
    Ok((name, name_end, i))
}

/// Parses one datagram (RFC 3261 §7, §18.3). See [`Message::parse_with`].
pub(crate) fn parse(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    let b: &[u8] = &buf;
    if b.len() > limits.message_size() {
        return Err(ParseError::new(K::MessageTooLarge, limits.message_size()));
    }
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let mut pos = 0;
    loop {
        match (b.get(pos), b.get(pos + 1)) {
            (Some(b'\r'), Some(b'\n')) => pos += 2,
            (Some(b'\n'), _) if limits.bare_lf_allowed() => pos += 1,
            _ => break,
        }
    }
    if pos >= b.len() {
        return Err(ParseError::new(K::Empty, pos));
    }
    let origin = pos;

    let line = line_end(b, pos, false, limits)?;
    if line.content_end - pos > limits.line_length() {
        return Err(ParseError::new(K::LineTooLong, pos));
    }
    let (start, uri) = parse_start_line_deferred(&buf, pos, line.content_end)?;
    pos = line.next;

    // Only requests are validated (RFC 3261 §8.2, §16.3): only theirs are judged as indexed.
    let judge = matches!(start, StartLine::Request { .. });
    let mut message = Message::started(buf, start);
    // A Content-Length line `observe` refuses fails the parse: if it returns, every one of
    // them is well-formed.
    message.ix.keys.lengths_judged = JudgedAll(true);
    let b: &[u8] = &message.buf;
    let headers = &mut message.ix.headers;
    let keys = &mut message.ix.keys;
    // The lines indexed so far (`headers.len()`, counted here: the index is inline up to its
    // capacity, and its length a branch to read).
    let mut count = 0;
    let lines: Result<usize, ParseError> = 'lines: loop {
        // A header line starts with its name, never with CR or LF: one byte tells it from the
        // empty line ending the headers (or from a malformed line, which `header_line` reports).
        if let Some(b'\r' | b'\n') | None = b.get(pos) {
            match (b.get(pos), b.get(pos + 1)) {
                (Some(b'\r'), Some(b'\n')) => break Ok(pos + 2),
                (Some(b'\n'), _) if limits.bare_lf_allowed() => break Ok(pos + 1),
                (None, _) | (Some(b'\r'), None) => {
                    break Err(ParseError::new(K::Truncated, pos));
                }
                _ => {}
            }
        }
        if count >= limits.headers() {
            break Err(ParseError::new(K::TooManyHeaders, pos));
        }
        let (line, next, folded) = match header_line(b, pos, limits) {
            Ok(line) => line,
            Err(e) => break 'lines Err(e),
        };
        keys.line_breaks |= folded;
        if let Err(e) = index_line(headers, keys, b, line, judge) {
            break Err(e);
        }
        count += 1;
        pos = next;
    };
    // The Request-URI left to judge comes before every header line: its error comes first.
    if let UriVerdict::Pending(uri) = uri {
        keys.uri_judged = judge_request_uri(b, uri, keys.to_judged)?;
    }
    let body_start = lines?;

    let body = body_slot(keys, b.len(), body_start)?;
    // Each header line ended by CRLF (the only line break the limits allow) and the lines
    // read one after the other: as `write_to` writes them.
    message.seal(origin, body, !limits.bare_lf_allowed());
    Ok(message)
}

/// The header line starting at `pos` (not the empty line ending the headers), where the
/// next line starts, and whether the line was folded.
#[inline(always)]
fn header_line(
    b: &[u8],
    pos: usize,
    limits: &Limits,
) -> Result<(RawLine, usize, bool), ParseError> {
    let (name, name_end, value_from) = header_name(b, pos)?;
    let line = line_end(b, value_from, true, limits)?;
    if line.content_end - pos > limits.line_length() {
        return Err(ParseError::new(K::LineTooLong, pos));
    }
    let raw =
        RawLine { name, name_start: pos, name_end, value_from, content_end: line.content_end };
    Ok((raw, line.next, line.folded))
}

/// One header line located in the buffer: where its name is, where its value may start (just
/// after the colon) and where its content ends (the CR of its final CRLF).
pub(crate) struct RawLine {
    pub(crate) name: HeaderName,
    pub(crate) name_start: usize,
    pub(crate) name_end: usize,
    pub(crate) value_from: usize,
    pub(crate) content_end: usize,
}

/// Indexes one header line: trims SWS around the value (folded whitespace included, RFC 3261
/// §7.3.1), pushes its [`Entry`] and observes its eager keys. Shared by the parser and
/// [`MessageBuilder`](crate::MessageBuilder), which indexes the lines as it writes them.
///
/// # Errors
/// A framing error from [`Keys::observe`], at the value's offset. The entry is pushed first.
#[inline(always)]
pub(crate) fn index_header(
    headers: &mut Headers,
    keys: &mut Keys,
    b: &[u8],
    line: RawLine,
) -> Result<(), ParseError> {
    index_line(headers, keys, b, line, false)
}

/// [`index_header`], the keys observed by [`Keys::observe_judging`] with `judge`.
#[inline(always)]
fn index_line(
    headers: &mut Headers,
    keys: &mut Keys,
    b: &[u8],
    line: RawLine,
    judge: bool,
) -> Result<(), ParseError> {
    let mut v_start = line.value_from;
    match b.get(v_start..).and_then(<[u8]>::first_chunk::<2>) {
        // The common values, starting with a byte that is no whitespace (and so not the CR
        // ending the line): right at `value_from` (as the builder indexes its lines), or after
        // the one SP most senders write after the colon.
        Some(&[c, _]) if c > b' ' => {}
        Some(&[b' ', c]) if c > b' ' => v_start += 1,
        _ => {
            while v_start < line.content_end
                && b.get(v_start).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
            {
                v_start += 1;
            }
        }
    }
    let mut v_end = line.content_end;
    while v_end > v_start && b.get(v_end - 1).is_some_and(|&c| is_ws(c)) {
        v_end -= 1;
    }
    let index = headers.len();
    let slot = Slot::buf(v_start, v_end);
    headers.push(Entry {
        name: line.name,
        name_text: Slot::buf(line.name_start, line.name_end),
        value: slot,
        line_end: line.content_end as u32,
    });
    let value = b.get(v_start..v_end).unwrap_or_default();
    keys.observe_judging(line.name, index, value, slot, judge)
        .map_err(|k| ParseError::new(k, v_start))
}

/// The body of a message whose headers end at `body_start` in a buffer of `len` bytes.
///
/// RFC 3261 §18.3: a datagram's body is Content-Length bytes; extra bytes are discarded, fewer
/// is an error; without Content-Length the body is the rest of the datagram.
#[inline]
pub(crate) fn body_slot(keys: &Keys, len: usize, body_start: usize) -> Result<Slot, ParseError> {
    let available = len - body_start;
    let body_len = match keys.content_length {
        Some(n) if n as usize > available => {
            return Err(ParseError::new(K::BodyTruncated, body_start));
        }
        Some(n) => n as usize,
        None => available,
    };
    Ok(Slot::buf(body_start, body_start + body_len))
}

/// `Request-Line = Method SP Request-URI SP SIP-Version CRLF` or
/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF` (RFC 3261 §7.1, §7.2).
///
/// With the start line comes the Request-URI's slot when it is judged as `validate` would
/// judge it (see [`Keys::uri_judged`]).
#[cfg(test)]
pub(crate) fn parse_start_line(
    buf: &Bytes,
    start: usize,
    end: usize,
) -> Result<(StartLine, Judged), ParseError> {
    let (line, uri) = parse_start_line_deferred(buf, start, end)?;
    let judged = match uri {
        UriVerdict::Checked => Judged(None),
        UriVerdict::Pending(uri) => judge_request_uri(buf, uri, Judged(None))?,
    };
    Ok((line, judged))
}

/// What the start line's parse says of the Request-URI.
#[derive(Clone, Copy)]
enum UriVerdict {
    /// Checked (no Request-URI, or an ACK's, checked structurally): never judged.
    Checked,
    /// Not checked yet: [`judge_request_uri`] judges it, or fails the parse.
    Pending(Slot),
}

/// The start line, as [`parse_start_line`] reads it, but the Request-URI of a request other
/// than an ACK is left to judge: after the header lines, the To line judged as indexed can
/// vouch for it (see [`judge_request_uri`]).
fn parse_start_line_deferred(
    buf: &Bytes,
    start: usize,
    end: usize,
) -> Result<(StartLine, UriVerdict), ParseError> {
    let line = buf.get(start..end).unwrap_or_default();
    if line.get(..4).is_some_and(|p| p == b"SIP/" || p.eq_ignore_ascii_case(b"SIP/")) {
        return parse_status_line(start, line).map(|s| (s, UriVerdict::Checked));
    }
    // The method is a few bytes: one word-at-a-time step finds the space after it.
    let Some(sp1) = find_any(line, 0, [b' ']) else {
        return Err(ParseError::new(K::StartLine, start));
    };
    // The methods of a call without the call to `Method::from_token`, which gives the same.
    let method = match line.get(..sp1).unwrap_or_default() {
        b"INVITE" => Method::Invite,
        b"ACK" => Method::Ack,
        b"BYE" => Method::Bye,
        other => match Method::from_token(other, Some(buf)) {
            Some(method) => method,
            None => return Err(ParseError::new(K::Method, start)),
        },
    };
    // The last space: right before a version spelled `SIP/2.0` (which holds none), or searched.
    let sp2 = match line.len().checked_sub(8) {
        Some(at) if line.ends_with(b" SIP/2.0") => at,
        _ => match memchr::memrchr(b' ', line) {
            Some(sp2) => sp2,
            None => return Err(ParseError::new(K::StartLine, start)),
        },
    };
    if sp2 == sp1 {
        return Err(ParseError::new(K::StartLine, start + sp1));
    }
    let version = line.get(sp2 + 1..).unwrap_or_default();
    check_version(version, start + sp2 + 1)?;
    let slot = Slot::buf(start + sp1 + 1, start + sp2);
    // An ACK's URI takes the structural check alone: a user agent validates no ACK (the ACK
    // of a 2xx goes to its dialog, that of another final response to its transaction,
    // RFC 3261 §17.2.1), and the walk costs more than the check.
    if method == Method::Ack {
        let uri = line.get(sp1 + 1..sp2).unwrap_or_default();
        check_request_uri(uri)
            .map_err(|off| ParseError::new(K::RequestUri, start + sp1 + 1 + off))?;
        return Ok((StartLine::Request { method, uri: slot }, UriVerdict::Checked));
    }
    Ok((StartLine::Request { method, uri: slot }, UriVerdict::Pending(slot)))
}

/// Judges the Request-URI at `uri` in `b` (of a request but an ACK): judged for `validate`
/// ([`Keys::uri_judged`]) when it is a SIP URI without headers, read to its end by the walk
/// of `Message::validate` (which is then what the structural check accepts: the walk's byte
/// classes hold no whitespace, control, `<`, `>` or `"`); anything else takes the
/// structural check alone, whose error fails the parse.
///
/// `to` is the To value judged as indexed (`fast_address`), if any: one written `<uri>`,
/// with `uri` the Request-URI's very bytes (the usual request outside a dialog, and inside
/// one when the remote target is the To URI), vouches for it without the walk. Such a
/// `uri` is `sip:[user@]host[:port]*(;lr)` in the fast walk's strict grammar, which the walk
/// reads to its end without headers (a test checks it).
#[inline(always)]
fn judge_request_uri(b: &[u8], uri: Slot, to: Judged) -> Result<Judged, ParseError> {
    let (start, end) = uri.in_buf().unwrap_or_default();
    let text = b.get(start..end).unwrap_or_default();
    if let Some((s, e)) = to.0.and_then(Slot::in_buf)
        && let Some([b'<', inner @ .., b'>']) = b.get(s..e).and_then(|v| v.get(..text.len() + 2))
        && inner == text
    {
        return Ok(Judged(Some(uri)));
    }
    let judged = matches!(
        crate::uri::walk_sip_uri_bytes(text, 0),
        Some(crate::uri::SipWalk::Ends { end, headers: false }) if end == text.len()
    );
    if !judged {
        check_request_uri(text).map_err(|off| ParseError::new(K::RequestUri, start + off))?;
    }
    Ok(Judged(judged.then_some(uri)))
}

fn parse_status_line(start: usize, line: &[u8]) -> Result<StartLine, ParseError> {
    // The first space: right after a version spelled `SIP/2.0 ` (which holds none), or searched.
    let sp1 = if line.starts_with(b"SIP/2.0 ") { Some(7) } else { memchr::memchr(b' ', line) };
    let Some(sp1) = sp1 else {
        check_version(line, start)?;
        return Err(ParseError::new(K::StartLine, start + line.len()));
    };
    check_version(line.get(..sp1).unwrap_or_default(), start)?;
    let rest = line.get(sp1 + 1..).unwrap_or_default();
    // Status-Code = 3DIGIT, and then SP (the Reason-Phrase may be empty, RFC 4475 §3.1.1.13).
    let (code, after) = match rest {
        [a, b, c, tail @ ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            (u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'), tail)
        }
        _ => return Err(ParseError::new(K::StatusCode, start + sp1 + 1)),
    };
    if !(100..=699).contains(&code) {
        return Err(ParseError::new(K::StatusCode, start + sp1 + 1));
    }
    let reason_start = start + sp1 + 5;
    let reason_end = start + line.len();
    match after.split_first() {
        Some((b' ', reason)) => {
            // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT /
            // SP / HTAB): printable text, valid UTF-8.
            if !reason_phrase_ok(reason) {
                return Err(ParseError::new(K::ReasonPhrase, reason_start));
            }
        }
        // A digit right after the code: more than three digits (RFC 4475 §3.1.2.17).
        Some(_) => return Err(ParseError::new(K::StatusCode, start + sp1 + 1)),
        None => return Err(ParseError::new(K::StartLine, reason_end)),
    }
    Ok(StartLine::Response { code, reason: Slot::buf(reason_start, reason_end) })
}

/// Whether a Reason-Phrase is printable text (no control but HTAB, no DEL) in valid UTF-8.
/// One pass finds the controls and whether any byte is not ASCII (its high bit); only then is
/// the UTF-8 checked.
#[inline(always)]
fn reason_phrase_ok(reason: &[u8]) -> bool {
    let (control, high) = reason.iter().fold((false, 0), |(control, high), &c| {
        (control | ((c < 0x20 && c != b'\t') || c == 0x7f), high | c)
    });
    !control && (high < 0x80 || std::str::from_utf8(reason).is_ok())
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is supported (RFC 3261 §7.1).
/// Another well-formed version is [`K::Version`] (answered 505); anything else a bad line.
#[inline(always)]
fn check_version(v: &[u8], at: usize) -> Result<(), ParseError> {
    // The exact spelling inline: a 7-byte compare; anything else out of line.
    if v == b"SIP/2.0" {
        return Ok(());
    }
    check_other_version(v, at)
}

/// [`check_version`] for a version not spelled exactly `SIP/2.0`.
#[inline(never)]
fn check_other_version(v: &[u8], at: usize) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let well_formed = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && v.get(4..).and_then(|n| {
            let (major, minor) = std::str::from_utf8(n).ok()?.split_once('.')?;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
            Some(digits(major) && digits(minor))
        }) == Some(true);
    Err(ParseError::new(if well_formed { K::Version } else { K::StartLine }, at))
}

/// What the structural check of the Request-URI refuses: whitespace, controls, DEL, `<`, `>`
/// and `"`.
static NOT_IN_REQUEST_URI: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        // Runs at compile time only: every index is below 256.
        #[allow(clippy::indexing_slicing)]
        {
            t[i] = c <= b' ' || c == 0x7f || c == b'<' || c == b'>' || c == b'"';
        }
        i += 1;
    }
    t
};

/// The first byte of `uri` in [`NOT_IN_REQUEST_URI`], eight bytes per step; the last bytes
/// as the last eight (those already seen hold none), or one at a time in a URI shorter than
/// eight bytes.
#[inline]
fn first_refused_in_uri(uri: &[u8]) -> Option<usize> {
    /// The refused bytes of a word, as their high bits (the lowest one exact).
    #[inline(always)]
    fn refused(word: &[u8; 8]) -> u64 {
        let w = u64::from_le_bytes(*word);
        // Each term's lowest flag is exact, so the lowest flag of them all is the first one.
        // `<` (0x3c) and `>` (0x3e) differ only in bit 0x02: one term finds both.
        let angle = (w ^ (LOW_BYTES * 0x3c)) & (LOW_BYTES * 0xfd);
        [0x7f, b'"'].iter().fold(bytes_below(w, 0x21) | bytes_below(angle, 1), |acc, &c| {
            acc | bytes_below(w ^ (LOW_BYTES * u64::from(c)), 1)
        })
    }
    let mut rest = uri;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let flags = refused(word);
        if flags != 0 {
            return Some(first_flagged(uri.len() - rest.len(), flags));
        }
        rest = tail;
    }
    if rest.is_empty() {
        return None;
    }
    if let Some(last) = uri.last_chunk::<8>() {
        let flags = refused(last);
        return (flags != 0).then(|| first_flagged(uri.len() - 8, flags));
    }
    rest.iter().position(|&c| in_class(&NOT_IN_REQUEST_URI, c))
}

/// A structural check of the Request-URI: `scheme ":" 1*(no whitespace, no controls, no `<>`)`
/// (RFC 3261 §25.1 `Request-URI = SIP-URI / SIPS-URI / absoluteURI`). The full URI grammar is
/// applied by [`Message::validate`]. Returns the offending offset.
#[inline(always)]
pub(crate) fn check_request_uri(uri: &[u8]) -> Result<(), usize> {
    match uri.first() {
        Some(c) if c.is_ascii_alphabetic() => {}
        _ => return Err(0),
    }
    // The common scheme without the byte-by-byte walk (it would stop at the same colon).
    let mut i = if uri.starts_with(b"sip:") { 3 } else { 1 };
    while let Some(&c) = uri.get(i) {
        if c == b':' {
            break;
        }
        if !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')) {
            return Err(i);
        }
        i += 1;
    }
    if i + 1 >= uri.len() {
        return Err(i);
    }
    match first_refused_in_uri(uri) {
        Some(bad) => Err(bad),
        None => Ok(()),
    }
}

impl Keys {
    /// Parses the transaction and framing keys of one header line as it is indexed.
    ///
    /// The key parsers it runs (`top_via_branch`, `tag_param`, `is_call_id`, `parse_cseq`) are
    /// always inlined here: out of line, their calls (registers saved, results through memory)
    /// cost about a tenth of the parse of a typical message.
    ///
    /// Only the first occurrence of each key header is used; whether a single-value header
    /// occurs twice is a semantic question answered by [`Message::validate`]. Errors returned
    /// here are framing errors (Content-Length), fatal to the message.
    #[inline(always)]
    pub(crate) fn observe(
        &mut self,
        name: HeaderName,
        index: usize,
        value: &[u8],
        base: Slot,
    ) -> Result<(), K> {
        self.observe_judging(name, index, value, base, false)
    }

    /// [`observe`](Self::observe), and with `judge` (the parser, for a request: the messages
    /// [`Message::validate`] is asked about) the top Via, From and To values of the shapes
    /// `validate` walks fastest are walked as it walks them, finding their keys, and the
    /// values it accepts are kept as judged ([`Keys::via_judged`]). A value of another shape
    /// takes the key parser alone.
    #[inline(always)]
    pub(crate) fn observe_judging(
        &mut self,
        name: HeaderName,
        index: usize,
        value: &[u8],
        base: Slot,
        judge: bool,
    ) -> Result<(), K> {
        // The key spans found in `value`, as slots of the buffer `value` lies in.
        let at = |(s, e): (usize, usize)| base.sub(s, e - s);
        match name {
            HeaderName::Via if self.via.is_none() => {
                self.via = Some(index as u16);
                // A request's Via of the common shape is walked as validation walks it: that
                // walk finds the branch where `top_via_branch` does, and its verdict is kept.
                (self.branch, self.via_judged) = match judge.then(|| fast_via_branch(value)) {
                    Some(Some(branch)) => (branch.map(at), Judged(Some(base))),
                    _ => (top_via_branch(value).map(at), Judged(None)),
                };
            }
            HeaderName::From if self.from.is_none() => {
                self.from = Some(index as u16);
                // As the Via: `fast_address` finds the tag where `tag_param` does.
                (self.from_tag, self.from_judged) =
                    match judge.then(|| fast_address_tag(value, true)) {
                        Some(Some(tag)) => (tag.map(at), Judged(Some(base))),
                        _ => (tag_param(value).map(at), Judged(None)),
                    };
            }
            HeaderName::To if self.to.is_none() => {
                self.to = Some(index as u16);
                (self.to_tag, self.to_judged) = match judge.then(|| fast_address_tag(value, true)) {
                    Some(Some(tag)) => (tag.map(at), Judged(Some(base))),
                    _ => (tag_param(value).map(at), Judged(None)),
                };
            }
            HeaderName::CallId if self.call_id.is_none() && is_call_id(value) => {
                self.call_id = Some(base);
            }
            HeaderName::CSeq if !self.cseq_seen => {
                self.cseq_seen = true;
                (self.cseq_number, self.cseq_method) = match parse_cseq(value) {
                    Some((number, method)) => (number, Some(method)),
                    None => (0, None),
                };
            }
            HeaderName::MaxForwards if !self.max_forwards_seen => {
                self.max_forwards_seen = true;
                self.max_forwards = parse_short_number(value, 255).map(|n| n as u8);
            }
            HeaderName::ContentLength => {
                // Content-Length = 1*DIGIT; a bad or conflicting value is a framing error
                // (RFC 3261 §18.3, RFC 4475 §3.1.2.2, §3.1.2.3, §3.3.9).
                let n = parse_short_number(value, u64::from(u32::MAX)).ok_or(K::ContentLength)?;
                let n = n as u32;
                match self.content_length {
                    Some(prev) if prev != n => return Err(K::ConflictingContentLength),
                    _ => self.content_length = Some(n),
                }
                self.content_length_lines = self.content_length_lines.saturating_add(1);
            }
            _ => {}
        }
        Ok(())
    }
}

/// [`parse_small_number`], a value of one to three digits (a Max-Forwards, a Content-Length
/// of a short body) read literally, inline; the walk for anything else.
#[inline(always)]
fn parse_short_number(v: &[u8], max: u64) -> Option<u64> {
    let d = |c: u8| u64::from(c - b'0');
    let n = match *v {
        [a @ b'0'..=b'9'] => d(a),
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => d(a) * 10 + d(b),
        [a @ b'0'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => d(a) * 100 + d(b) * 10 + d(c),
        _ => return parse_small_number(v, max),
    };
    (n <= max).then_some(n)
}

/// `1*DIGIT` with no sign, no more than `max` (leading zeros allowed, RFC 4475 §3.1.1.1).
#[inline]
pub(crate) fn parse_small_number(v: &[u8], max: u64) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        if n > max {
            return None;
        }
    }
    Some(n)
}

/// `CSeq = 1*DIGIT LWS Method`, number below 2^31 (RFC 3261 §8.1.1.5, §20.16).
#[inline(always)]
pub(crate) fn parse_cseq(v: &[u8]) -> Option<(u32, Method)> {
    // The usual spelling, one digit, one SP and a method of a call, read literally: what the
    // walk below gives for it.
    match v {
        [d @ b'0'..=b'9', b' ', b'I', b'N', b'V', b'I', b'T', b'E'] => {
            return Some((u32::from(d - b'0'), Method::Invite));
        }
        [d @ b'0'..=b'9', b' ', b'A', b'C', b'K'] => {
            return Some((u32::from(d - b'0'), Method::Ack));
        }
        [d @ b'0'..=b'9', b' ', b'B', b'Y', b'E'] => {
            return Some((u32::from(d - b'0'), Method::Bye));
        }
        _ => {}
    }
    // The digits are read and summed in one pass; the bound keeps the sum far from overflow.
    const MAX: u64 = (1 << 31) - 1;
    let mut number: u64 = 0;
    let mut digits = 0;
    while let Some(&c) = v.get(digits) {
        if !c.is_ascii_digit() {
            break;
        }
        number = number * 10 + u64::from(c - b'0');
        if number > MAX {
            return None;
        }
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    let rest = v.get(digits..)?;
    let ws = rest.iter().position(|&c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))?;
    if ws == 0 {
        return None;
    }
    // The methods of a call without the call to `Method::from_bytes`, which gives the same.
    let method = match rest.get(ws..)? {
        b"INVITE" => Method::Invite,
        b"ACK" => Method::Ack,
        b"BYE" => Method::Bye,
        other => Method::from_bytes(other)?,
    };
    Some((number as u32, method))
}

/// `callid = word [ "@" word ]` (RFC 3261 §25.1), in one pass: `@` is no `word` character,
/// so the value is word characters with at most one `@`, neither first nor last.
#[inline(always)]
fn is_call_id(v: &[u8]) -> bool {
    let word = run_len(&crate::chars::WORD, v);
    match v.get(word..) {
        Some([]) => word > 0,
        Some([b'@', host @ ..]) => {
            word > 0 && !host.is_empty() && run_len(&crate::chars::WORD, host) == host.len()
        }
        _ => false,
    }
}

/// Skips a quoted string starting at `i` (which holds `"`); returns the index after it.
#[inline]
fn skip_quoted(v: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match v.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// The end of the run of token characters starting at `i` (`i` itself if there is none).
#[inline(always)]
fn token_end(v: &[u8], i: usize) -> usize {
    match v.get(i..) {
        Some(rest) => i + rest.iter().position(|&c| !is_token(c)).unwrap_or(rest.len()),
        None => i,
    }
}

/// [`token_end`] for a parameter value, which may run to tens of bytes (a branch, a tag).
#[inline(always)]
fn value_token_end(v: &[u8], i: usize) -> usize {
    match v.get(i..) {
        Some(rest) => i + run_len(&TOKEN, rest),
        None => i,
    }
}

/// The index of the first byte at or after `i` that is not linear whitespace (SP, HTAB and
/// the CR/LF of a fold).
#[inline(always)]
fn skip_lws(v: &[u8], mut i: usize) -> usize {
    while v.get(i).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The value of the first `name` parameter in `;`-separated generic params starting at `from`
/// and ending at a top-level comma or the end: `(start, end)` of the value, trimmed. `name` is
/// given in lower case (parameter names compare case-insensitively, RFC 3261 §7.3.1).
#[inline(always)]
fn find_param(v: &[u8], mut i: usize, name: &[u8]) -> Option<(usize, usize)> {
    debug_assert!(name.iter().all(u8::is_ascii_lowercase));
    loop {
        // Find the next ';' (outside quotes), stopping at a ',' that ends this element.
        loop {
            match v.get(i)? {
                b';' => break,
                b',' => return None,
                b'"' => i = skip_quoted(v, i)?,
                _ => i += 1,
            }
        }
        i = skip_lws(v, i + 1);
        // The parameter is `name` when the bytes here are `name` in either case (a byte whose
        // 0x20 bit set gives a lower-case letter is that letter in either case, and a token
        // character) and no token character follows. Otherwise the search goes on from here:
        // a token holds no ';', ',' or '"', so skipping it byte by byte is the same.
        let is_name = v
            .get(i..i + name.len())
            .is_some_and(|this| this.iter().zip(name).all(|(&a, &b)| a | 0x20 == b))
            && !v.get(i + name.len()).is_some_and(|&c| is_token(c));
        if !is_name {
            continue;
        }
        i = skip_lws(v, i + name.len());
        if v.get(i) != Some(&b'=') {
            return None;
        }
        let s = skip_lws(v, i + 1);
        let e = value_token_end(v, s);
        // The token must end the parameter: a value like `z9hG4bKa/b` is malformed, and a
        // truncated key would match the wrong transaction.
        return match v.get(skip_lws(v, e)) {
            _ if e == s => None,
            None | Some(b';' | b',') => Some((s, e)),
            Some(_) => None,
        };
    }
}

/// The `branch` parameter of the first via-parm (RFC 3261 §20.42). The sent-protocol and
/// sent-by contain no `;`, so the first `;` starts the parameters.
#[inline(always)]
pub(crate) fn top_via_branch(v: &[u8]) -> Option<(usize, usize)> {
    // sent-protocol and sent-by hold neither quotes nor ';', and a ',' first ends the via-parm:
    // one vectorised search skips the ~30 bytes before the parameters.
    let at = memchr::memchr2(b';', b',', v)?;
    // The usual parameters, `;branch=` first or after `;rport`, read as `find_param` reads
    // them: no LWS around the name or the `=`, the value a token that ends the parameter.
    let s = match v.get(at..) {
        Some([b';', b'b', b'r', b'a', b'n', b'c', b'h', b'=', ..]) => at + 8,
        Some(
            [
                b';',
                b'r',
                b'p',
                b'o',
                b'r',
                b't',
                b';',
                b'b',
                b'r',
                b'a',
                b'n',
                b'c',
                b'h',
                b'=',
                ..,
            ],
        ) => at + 14,
        _ => return find_param(v, at, b"branch"),
    };
    let e = value_token_end(v, s);
    if e == s {
        // LWS or no token after the `=`: the long way.
        return find_param(v, at, b"branch");
    }
    match v.get(skip_lws(v, e)) {
        None | Some(b';' | b',') => Some((s, e)),
        Some(_) => None,
    }
}

/// The `tag` parameter of a From or To value (RFC 3261 §20.20, §20.39): parameters follow the
/// `>` of a name-addr, or the first `;` of an addr-spec (§20.10).
#[inline(always)]
pub(crate) fn tag_param(v: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    // Skip a quoted display name, then find '<' ... '>' if present.
    while let Some(&c) = v.get(i) {
        match c {
            b'"' => i = skip_quoted(v, i)?,
            b'<' => {
                let close = find_any(v, i, [b'>'])?;
                // The common shape: nothing after `>` but `;tag=` and the tag, which is what
                // `find_param` finds there too.
                if let Some(tag) = v.get(close + 1..).and_then(|p| p.strip_prefix(b";tag=")) {
                    let n = run_len(&TOKEN, tag);
                    if n > 0 && n == tag.len() {
                        return Some((v.len() - n, v.len()));
                    }
                }
                return find_param(v, close, b"tag");
            }
            b';' => return find_param(v, i, b"tag"),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::chars::TOKEN;

    /// The parser before its word-at-a-time line search and its colon-first header name
    /// lookup: what [`parse`] must agree with on every input.
    fn parse_reference(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        let b: &[u8] = &buf;
        if b.len() > limits.message_size() {
            return Err(ParseError::new(K::MessageTooLarge, limits.message_size()));
        }
        // RFC 3261 §7.5: CRLFs before the start line are ignored.
        let mut pos = 0;
        loop {
            match (b.get(pos), b.get(pos + 1)) {
                (Some(b'\r'), Some(b'\n')) => pos += 2,
                (Some(b'\n'), _) if limits.bare_lf_allowed() => pos += 1,
                _ => break,
            }
        }
        if pos >= b.len() {
            return Err(ParseError::new(K::Empty, pos));
        }
        let origin = pos;

        let line = line_end_reference(b, pos, false, limits)?;
        if line.content_end - pos > limits.line_length() {
            return Err(ParseError::new(K::LineTooLong, pos));
        }
        let (start, _) = parse_start_line(&buf, pos, line.content_end)?;
        pos = line.next;

        let mut message = Message::started(buf, start);
        let b: &[u8] = &message.buf;
        let headers = &mut message.ix.headers;
        let keys = &mut message.ix.keys;
        let body_start = loop {
            match (b.get(pos), b.get(pos + 1)) {
                (Some(b'\r'), Some(b'\n')) => break pos + 2,
                (Some(b'\n'), _) if limits.bare_lf_allowed() => break pos + 1,
                (None, _) | (Some(b'\r'), None) => return Err(ParseError::new(K::Truncated, pos)),
                _ => {}
            }
            if headers.len() >= limits.headers() {
                return Err(ParseError::new(K::TooManyHeaders, pos));
            }
            // header-name: token; then *(SP / HTAB) ":" (HCOLON).
            let name_start = pos;
            let name_end = token_end(b, pos);
            let mut i = name_end;
            if name_end == name_start {
                return Err(ParseError::new(
                    if b.get(i).is_some_and(|&c| is_ws(c)) {
                        K::HeaderName
                    } else {
                        K::MissingColon
                    },
                    i,
                ));
            }
            while b.get(i).is_some_and(|&c| is_ws(c)) {
                i += 1;
            }
            match b.get(i) {
                Some(b':') => i += 1,
                Some(b'\r' | b'\n') | None => return Err(ParseError::new(K::MissingColon, i)),
                Some(_) if i == name_end => return Err(ParseError::new(K::HeaderName, i)),
                Some(_) => return Err(ParseError::new(K::MissingColon, i)),
            }
            let line = line_end_reference(b, i, true, limits)?;
            if line.content_end - name_start > limits.line_length() {
                return Err(ParseError::new(K::LineTooLong, name_start));
            }
            let name = HeaderName::from_bytes(b.get(name_start..name_end).unwrap_or_default());
            keys.line_breaks |= line.folded;
            index_header_reference(
                headers,
                keys,
                b,
                RawLine {
                    name,
                    name_start,
                    name_end,
                    value_from: i,
                    content_end: line.content_end,
                },
            )?;
            pos = line.next;
        };

        let body = body_slot(keys, b.len(), body_start)?;
        message.seal(origin, body, !limits.bare_lf_allowed());
        Ok(message)
    }

    /// `parse_start_line` with `memchr` and `memrchr` for its spaces.
    fn parse_start_line_reference(
        buf: &Bytes,
        start: usize,
        end: usize,
    ) -> Result<StartLine, ParseError> {
        let line = buf.get(start..end).unwrap_or_default();
        if line.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")) {
            let Some(sp1) = memchr::memchr(b' ', line) else {
                check_version(line, start)?;
                return Err(ParseError::new(K::StartLine, start + line.len()));
            };
            check_version(line.get(..sp1).unwrap_or_default(), start)?;
            let rest = line.get(sp1 + 1..).unwrap_or_default();
            let (code, after) = match rest {
                [a, b, c, tail @ ..]
                    if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() =>
                {
                    let d = |x: &u8| u16::from(x - b'0');
                    (d(a) * 100 + d(b) * 10 + d(c), tail)
                }
                _ => return Err(ParseError::new(K::StatusCode, start + sp1 + 1)),
            };
            if !(100..=699).contains(&code) {
                return Err(ParseError::new(K::StatusCode, start + sp1 + 1));
            }
            let reason_start = start + sp1 + 5;
            let reason_end = start + line.len();
            return match after.split_first() {
                Some((b' ', reason)) if !reason_phrase_ok(reason) => {
                    Err(ParseError::new(K::ReasonPhrase, reason_start))
                }
                Some((b' ', _)) => {
                    Ok(StartLine::Response { code, reason: Slot::buf(reason_start, reason_end) })
                }
                Some(_) => Err(ParseError::new(K::StatusCode, start + sp1 + 1)),
                None => Err(ParseError::new(K::StartLine, reason_end)),
            };
        }
        let Some(sp1) = memchr::memchr(b' ', line) else {
            return Err(ParseError::new(K::StartLine, start));
        };
        let Some(method) = Method::from_token(line.get(..sp1).unwrap_or_default(), Some(buf))
        else {
            return Err(ParseError::new(K::Method, start));
        };
        let Some(sp2) = memchr::memrchr(b' ', line) else {
            return Err(ParseError::new(K::StartLine, start));
        };
        if sp2 == sp1 {
            return Err(ParseError::new(K::StartLine, start + sp1));
        }
        check_version(line.get(sp2 + 1..).unwrap_or_default(), start + sp2 + 1)?;
        let uri = line.get(sp1 + 1..sp2).unwrap_or_default();
        check_request_uri(uri)
            .map_err(|off| ParseError::new(K::RequestUri, start + sp1 + 1 + off))?;
        Ok(StartLine::Request { method, uri: Slot::buf(start + sp1 + 1, start + sp2) })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn start_line_matches_the_reference(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                &b"SIP/2.0"[..], b"sip/2.0", b"SIP/2.1", b"SIP/", b" SIP/2.0", b"SIP/2.0 ", b" ",
                b"  ", b"INVITE", b"ACK", b"BYE", b"FOO", b"sip:a@b", b"sip:", b"<", b"200",
                b"180", b"99", b"1000", b"OK", b"\xc3\xa9", b"\x01", b"\t", b"x",
            ]), 0..7),
            lead in 0usize..3,
        ) {
            let mut line = vec![b'\n'; lead];
            line.extend(pieces.concat());
            let buf = Bytes::from(line);
            let new = parse_start_line(&buf, lead.min(buf.len()), buf.len()).map(|(s, _)| s);
            let old = parse_start_line_reference(&buf, lead.min(buf.len()), buf.len());
            prop_assert_eq!(format!("{new:?}"), format!("{old:?}"));
        }
    }

    /// `line_end` with `memchr2`.
    fn line_end_reference(
        b: &[u8],
        from: usize,
        fold: bool,
        limits: &Limits,
    ) -> Result<LineEnd, ParseError> {
        let mut at = from;
        loop {
            let rest = b.get(at..).unwrap_or_default();
            let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
                return Err(ParseError::new(K::Truncated, b.len()));
            };
            let pos = at + i;
            let next = match (b.get(pos), b.get(pos + 1)) {
                (Some(b'\r'), Some(b'\n')) => pos + 2,
                (Some(b'\n'), _) if limits.bare_lf_allowed() => pos + 1,
                (Some(b'\r'), None) => return Err(ParseError::new(K::Truncated, b.len())),
                _ => return Err(ParseError::new(K::BareLineEnding, pos)),
            };
            if fold && b.get(next).is_some_and(|&c| is_ws(c)) {
                at = next;
                continue;
            }
            return Ok(LineEnd { content_end: pos, next, folded: at != from });
        }
    }

    /// `index_header` as it was.
    fn index_header_reference(
        headers: &mut Headers,
        keys: &mut Keys,
        b: &[u8],
        line: RawLine,
    ) -> Result<(), ParseError> {
        let mut v_start = line.value_from;
        while v_start < line.content_end
            && b.get(v_start).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        {
            v_start += 1;
        }
        let mut v_end = line.content_end;
        while v_end > v_start && b.get(v_end - 1).is_some_and(|&c| is_ws(c)) {
            v_end -= 1;
        }
        let index = headers.len();
        let slot = Slot::buf(v_start, v_end);
        headers.push(Entry {
            name: line.name,
            name_text: Slot::buf(line.name_start, line.name_end),
            value: slot,
            line_end: line.content_end as u32,
        });
        let value = b.get(v_start..v_end).unwrap_or_default();
        keys.observe(line.name, index, value, slot).map_err(|k| ParseError::new(k, v_start))
    }

    /// The value of the first `name` parameter in `;`-separated generic params starting at `from`
    /// and ending at a top-level comma or the end: `(start, end)` of the value, trimmed. `name` is
    /// given in lower case (parameter names compare case-insensitively, RFC 3261 §7.3.1).
    fn find_param_reference(v: &[u8], mut i: usize, name: &[u8]) -> Option<(usize, usize)> {
        debug_assert!(name.iter().all(u8::is_ascii_lowercase));
        loop {
            // Find the next ';' (outside quotes), stopping at a ',' that ends this element.
            loop {
                match v.get(i)? {
                    b';' => break,
                    b',' => return None,
                    b'"' => i = skip_quoted(v, i)?,
                    _ => i += 1,
                }
            }
            i += 1;
            while v.get(i).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
                i += 1;
            }
            let n_start = i;
            while v.get(i).is_some_and(|&c| in_class(&TOKEN, c)) {
                i += 1;
            }
            let this = v.get(n_start..i)?;
            while v.get(i).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
                i += 1;
            }
            // `this` is a token: a byte whose 0x20 bit set gives a lower-case letter is that letter
            // in either case, so this is a case-insensitive compare.
            if this.len() == name.len() && this.iter().zip(name).all(|(&a, &b)| a | 0x20 == b) {
                if v.get(i) != Some(&b'=') {
                    return None;
                }
                i += 1;
                while v.get(i).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
                    i += 1;
                }
                let s = i;
                while v.get(i).is_some_and(|&c| in_class(&TOKEN, c)) {
                    i += 1;
                }
                let e = i;
                // The token must end the parameter: a value like `z9hG4bKa/b` is malformed, and a
                // truncated key would match the wrong transaction.
                while v.get(i).is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
                    i += 1;
                }
                return match v.get(i) {
                    _ if e == s => None,
                    None | Some(b';' | b',') => Some((s, e)),
                    Some(_) => None,
                };
            }
        }
    }

    /// The same outcome: the same error, or messages with the same index and keys.
    fn same_outcome(a: &Result<Message, ParseError>, b: &Result<Message, ParseError>) -> bool {
        match (a, b) {
            (Ok(a), Ok(b)) => a.parse_state() == b.parse_state(),
            (Err(a), Err(b)) => a == b,
            _ => false,
        }
    }

    /// The byte-level pieces of header sections, for inputs the two parsers must agree on.
    fn wire_soup() -> impl Strategy<Value = Vec<u8>> {
        let pieces: Vec<&'static [u8]> = vec![
            b"\r\n",
            b"\r",
            b"\n",
            b"\r\n ",
            b"\r\n\t",
            b"\t",
            b" ",
            b":",
            b": ",
            b" :",
            b"Via",
            b"v",
            b"VIA",
            b"From",
            b"f",
            b"To",
            b"t",
            b"Call-ID",
            b"i",
            b"CSeq",
            b"Content-Length",
            b"l",
            b"Max-Forwards",
            b"Proxy-Authorization",
            b"X-Custom-Header-Name-Long",
            b"Subscription-State",
            b"Subscription-Stat",
            b"0",
            b"70",
            b"1 INVITE",
            b"SIP/2.0/UDP h;branch=z9hG4bKx",
            b"<sip:a@b>;tag=1",
            b"abc@def",
            b"x",
            b"-",
            b"@",
            b"\x00",
            b"\x0b",
            b"\x7f",
            b"\xc3\xa9",
            b"0123456789abcdef",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..40).prop_map(|v| v.concat())
    }

    /// Start lines for [`wire_soup`] header sections.
    const STARTS: [&[u8]; 4] =
        [b"INVITE sip:a@b SIP/2.0\r\n", b"SIP/2.0 200 OK\r\n", b"\r\nBYE sip:x SIP/2.0\n", b""];

    /// The corpus of the benchmarks, for mutations.
    const CORPUS: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9a1c2e3d8f;rport\r\n\
        Max-Forwards: 70\r\n\
        From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
        To: Bob <sip:bob@biloxi.example.com>\r\n\
        Call-ID: 3848276298220188511@192.0.2.101\r\n\
        CSeq: 1 INVITE\r\n\
        Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n\
        Subscription-State: active\r\n\
        User-Agent: ExampleSoftphone/5.2.1 (Linux x86_64)\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\
        \r\n\
        v=0\n";

    /// A response for mutations: a status line with a non-ASCII reason phrase.
    const RESPONSE: &[u8] = b"SIP/2.0 180 Ringing \xc3\xa9t\xc3\xa9\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKYNytaa59n1CPEofz\r\n\
        From: <sip:alice@192.0.2.1:5060>;tag=ehjSVhY3Cs\r\n\
        To: <sip:bob@192.0.2.2:5060>;tag=x1\r\n\
        Call-ID: ZYPppvUnt9UsulUWbL3l@192.0.2.1\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Length: 0\r\n\
        \r\n";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn find_line_break_is_the_first_cr_or_lf(
            v in proptest::collection::vec(
                proptest::sample::select(b"\r\n\t\x00\x0d\x0e\x8d\x8a\xffaZ: ".to_vec()), 0..40),
            from in 0usize..12,
        ) {
            let expected = v
                .get(from..)
                .and_then(|r| r.iter().position(|&c| c == b'\r' || c == b'\n'))
                .map(|p| p + from);
            prop_assert_eq!(find_line_break(&v, from), expected);
        }

        #[test]
        fn colon_near_is_the_first_colon_in_24_bytes(
            v in proptest::collection::vec(
                proptest::sample::select(b":;\x00\x3b\x3a\xba\xffaZ- ".to_vec()), 0..40),
            from in 0usize..12,
        ) {
            let found = colon_near(&v, from);
            if let Some((c, words)) = found {
                prop_assert_eq!(v[c], b':');
                prop_assert_eq!(words, crate::name::words_of_for_tests(&v[from..c]));
                prop_assert!(c >= from && c < from + 24);
                prop_assert!(!v[from..c].contains(&b':'));
            } else if v.len() >= from + 24 {
                prop_assert!(!v[from..from + 24].contains(&b':'));
            }
        }

        #[test]
        fn parse_matches_the_reference_on_header_soup(
            start in 0usize..STARTS.len(),
            soup in wire_soup(),
            body in proptest::sample::select(vec![&b"\r\n\r\n"[..], b"\r\n\r\nab", b"\n\n", b""]),
            bare_lf in any::<bool>(),
            max_headers in proptest::sample::select(vec![2usize, 64]),
            max_line in proptest::sample::select(vec![20usize, 4096]),
        ) {
            let mut wire = STARTS[start].to_vec();
            wire.extend_from_slice(&soup);
            wire.extend_from_slice(body);
            let limits = Limits::default()
                .allow_bare_lf(bare_lf)
                .max_headers(max_headers)
                .max_line_length(max_line);
            let new = parse(Bytes::from(wire.clone()), &limits);
            let old = parse_reference(Bytes::from(wire), &limits);
            prop_assert!(same_outcome(&new, &old), "{:?} vs {:?}", new.as_ref().err(), old.as_ref().err());
        }

        #[test]
        fn parse_matches_the_reference_on_mutated_messages(
            response in any::<bool>(),
            edits in proptest::collection::vec(
                (0usize..CORPUS.len(), 0u8..3, proptest::sample::select(
                    b"\r\n\t :;,\x00\x7fAz-".to_vec())),
                0..4),
            bare_lf in any::<bool>(),
        ) {
            let mut wire = if response { RESPONSE.to_vec() } else { CORPUS.to_vec() };
            for (at, op, c) in edits {
                let at = at.min(wire.len());
                match op {
                    0 => wire.insert(at, c),
                    1 if at < wire.len() => { wire.remove(at); }
                    _ if at < wire.len() => wire[at] = c,
                    _ => {}
                }
            }
            let limits = Limits::default().allow_bare_lf(bare_lf);
            let new = parse(Bytes::from(wire.clone()), &limits);
            let old = parse_reference(Bytes::from(wire), &limits);
            prop_assert!(same_outcome(&new, &old), "{:?} vs {:?}", new.as_ref().err(), old.as_ref().err());
        }
    }

    #[test]
    fn parse_matches_the_reference_on_the_corpus() {
        for limits in [Limits::default(), Limits::default().allow_bare_lf(true)] {
            let new = parse(Bytes::from_static(CORPUS), &limits);
            let old = parse_reference(Bytes::from_static(CORPUS), &limits);
            assert!(new.is_ok());
            assert!(same_outcome(&new, &old));
        }
    }

    /// `callid = word [ "@" word ]` (RFC 3261 §25.1).
    fn is_call_id_reference(v: &[u8]) -> bool {
        let word = |w: &[u8]| !w.is_empty() && w.iter().all(|&c| in_class(&crate::chars::WORD, c));
        match memchr::memchr(b'@', v) {
            Some(at) => {
                word(v.get(..at).unwrap_or_default()) && word(v.get(at + 1..).unwrap_or_default())
            }
            None => word(v),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn is_call_id_matches_the_reference(
            v in proptest::collection::vec(proptest::sample::select(b"a1@.<\" /{}-x\xc3".to_vec()), 0..8)
        ) {
            prop_assert_eq!(is_call_id(&v), is_call_id_reference(&v));
        }
    }

    /// Values built from the pieces that matter to the parameter search.
    fn param_soup() -> impl Strategy<Value = Vec<u8>> {
        let pieces: Vec<&'static [u8]> = vec![
            b";",
            b",",
            b"\"",
            b"\\",
            b"=",
            b" ",
            b"\t",
            b"\r\n ",
            b"tag",
            b"TaG",
            b"branch",
            b"BRANCH",
            b"bran",
            b"tags",
            b"z9hG4bK",
            b"x",
            b"-",
            b"/",
            b"<",
            b">",
            b"@",
            b"\x01",
            b"\xc3\xa9",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..16).prop_map(|v| v.concat())
    }

    /// `tag_param` before its fast path for a value ending in `;tag=token`.
    fn tag_param_reference(v: &[u8]) -> Option<(usize, usize)> {
        let mut i = 0;
        while let Some(&c) = v.get(i) {
            match c {
                b'"' => i = skip_quoted(v, i)?,
                b'<' => {
                    let close = memchr::memchr(b'>', v.get(i..)?)?;
                    return find_param(v, i + close, b"tag");
                }
                b';' => return find_param(v, i, b"tag"),
                _ => i += 1,
            }
        }
        None
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn find_param_matches_the_reference(v in param_soup(), from in 0usize..8) {
            for name in [&b"tag"[..], b"branch"] {
                prop_assert_eq!(find_param(&v, from, name), find_param_reference(&v, from, name));
            }
        }

        #[test]
        fn tag_param_matches_the_reference(v in param_soup()) {
            prop_assert_eq!(tag_param(&v), tag_param_reference(&v));
            // The shapes the fast path takes, with the soup as the tag.
            let mut addr = b"<sip:a@b>;tag=".to_vec();
            addr.extend_from_slice(&v);
            prop_assert_eq!(tag_param(&addr), tag_param_reference(&addr));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// The literal `;branch=` and `;rport;branch=` path of `top_via_branch` finds what
        /// the parameter walk finds, around those spellings and their near misses.
        #[test]
        fn top_via_branch_literal_path_matches_the_reference(
            head in proptest::sample::select(vec![&b"SIP/2.0/UDP h:5060"[..], b"", b"x,y"]),
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                &b";branch="[..], b";rport;branch=", b";rport", b";branch", b";BRANCH=",
                b";rport;", b"branch=", b"z9hG4bK1", b"x", b" ", b"\t", b"\r\n ", b";", b",",
                b"=", b"\"", b"/", b"\x01", b"rport", b";branches=",
            ]), 0..8),
        ) {
            let mut v = head.to_vec();
            v.extend(pieces.concat());
            prop_assert_eq!(top_via_branch(&v), top_via_branch_reference(&v), "{:?}", v);
        }
    }

    /// `top_via_branch` with `memchr2` and the reference parameter search.
    fn top_via_branch_reference(v: &[u8]) -> Option<(usize, usize)> {
        let at = memchr::memchr2(b';', b',', v)?;
        find_param_reference(v, at, b"branch")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn find_any_is_the_first_byte_of_the_set(
            v in proptest::collection::vec(
                proptest::sample::select(b";,\"<>\x00\xbb\xac\x3b\xffa ".to_vec()), 0..40),
            from in 0usize..12,
        ) {
            let naive = |set: &[u8]| v
                .get(from..)
                .and_then(|r| r.iter().position(|c| set.contains(c)))
                .map(|p| p + from);
            prop_assert_eq!(find_any(&v, from, [b';', b',', b'"']), naive(b";,\""));
            prop_assert_eq!(find_any(&v, from, [b'>']), naive(b">"));
            prop_assert_eq!(find_any(&v, from, [b'"', b'<', b';']), naive(b"\"<;"));
        }

        #[test]
        fn top_via_branch_matches_the_reference(v in param_soup()) {
            prop_assert_eq!(top_via_branch(&v), top_via_branch_reference(&v));
            let mut via = b"SIP/2.0/UDP 192.0.2.1:5060".to_vec();
            via.extend_from_slice(&v);
            prop_assert_eq!(top_via_branch(&via), top_via_branch_reference(&via));
        }
    }

    #[test]
    fn tag_after_name_addr_ignores_uri_params() {
        let v = b"\"A;tag=x\" <sip:a@b;tag=no>;foo;tag=yes";
        let (s, e) = tag_param(v).unwrap();
        assert_eq!(&v[s..e], b"yes");
    }

    #[test]
    fn tag_of_addr_spec_is_a_header_param() {
        let v = b"sip:a@b ;  tag = 1918181833n";
        let (s, e) = tag_param(v).unwrap();
        assert_eq!(&v[s..e], b"1918181833n");
    }

    #[test]
    fn branch_of_first_via_only() {
        let v = b"SIP/2.0/UDP a;received=x, SIP/2.0/UDP b;branch=z9hG4bKb";
        assert_eq!(top_via_branch(v), None);
        let v = b"SIP/2.0/UDP a;Branch=z9hG4bKa;rport";
        let (s, e) = top_via_branch(v).unwrap();
        assert_eq!(&v[s..e], b"z9hG4bKa");
    }

    #[test]
    fn a_comma_before_any_parameter_ends_the_top_via() {
        assert_eq!(top_via_branch(b"SIP/2.0/UDP a, SIP/2.0/UDP b;branch=z9hG4bKb"), None);
        assert_eq!(top_via_branch(b"SIP/2.0/UDP a"), None);
        let v = b"SIP/2.0/UDP a ; rport ; BRANCH = z9hG4bKx , SIP/2.0/UDP b";
        let (s, e) = top_via_branch(v).unwrap();
        assert_eq!(&v[s..e], b"z9hG4bKx");
        // A parameter name that only folds to "branch" with non-letters is not it.
        assert_eq!(top_via_branch(b"SIP/2.0/UDP a;bRAnch_=x"), None);
        assert_eq!(top_via_branch(b"SIP/2.0/UDP a;br\x01nch=x"), None);
    }

    #[test]
    fn a_branch_with_non_token_characters_is_no_branch() {
        assert_eq!(top_via_branch(b"SIP/2.0/UDP a;branch=z9hG4bKD+ta/b;rport"), None);
        assert_eq!(top_via_branch(b"SIP/2.0/UDP a;branch=z9hG4bKD=="), None);
    }

    /// `parse_cseq` as it was: the digits found, then parsed.
    fn parse_cseq_reference(v: &[u8]) -> Option<(u32, Method)> {
        let digits = v.iter().position(|c| !c.is_ascii_digit())?;
        let number = parse_small_number(v.get(..digits)?, (1 << 31) - 1)? as u32;
        let rest = v.get(digits..)?;
        let ws = rest.iter().position(|&c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))?;
        if ws == 0 {
            return None;
        }
        let method = Method::from_bytes(rest.get(ws..)?)?;
        Some((number, method))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn parse_cseq_matches_the_reference(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                &b"0"[..], b"1", b"9", b"2147483647", b"2147483648", b"99999999999", b" ", b"\t",
                b"\r\n ", b"INVITE", b"ack", b"ACK", b"BYE", b"bye", b"CANCEL", b"X", b"-",
                b"\xc3",
            ]), 0..6),
        ) {
            let v = pieces.concat();
            prop_assert_eq!(parse_cseq(&v), parse_cseq_reference(&v));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The literal read of one to three digits gives what the walk gives, at the bounds
        /// the parser uses and at bounds inside the three-digit range.
        #[test]
        fn parse_short_number_matches_parse_small_number(
            v in proptest::collection::vec(
                prop_oneof![4 => b'0'..=b'9', 1 => Just(b'/'), 1 => Just(b':'), 1 => any::<u8>()],
                0..6,
            ),
            max in prop_oneof![Just(255u64), Just(u64::from(u32::MAX)), 0u64..1000],
        ) {
            prop_assert_eq!(parse_short_number(&v, max), parse_small_number(&v, max));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The literal read of `<digit> SP <INVITE|ACK|BYE>` and its near misses (another byte
        /// for the digit or the SP, a method in another case or cut short or lengthened).
        #[test]
        fn parse_cseq_literal_spelling_matches_the_reference(
            d in prop_oneof![(b'0'..=b'9'), any::<u8>()],
            sp in prop_oneof![Just(b' '), Just(b'\t'), any::<u8>()],
            method in proptest::sample::select(vec![
                &b"INVITE"[..], b"ACK", b"BYE", b"invite", b"Ack", b"bye", b"INVIT", b"INVITEE",
                b"AC", b"BYEE", b"ACk", b"CANCEL", b"", b" INVITE",
            ]),
            more_digits in proptest::collection::vec(b'0'..=b'9', 0..3),
        ) {
            let mut v = vec![d];
            v.extend_from_slice(&more_digits);
            v.push(sp);
            v.extend_from_slice(method);
            prop_assert_eq!(parse_cseq(&v), parse_cseq_reference(&v));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn request_line_method_is_method_from_bytes(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                &b"INVITE"[..], b"ACK", b"BYE", b"invite", b"Ack", b"CANCEL", b"FOO", b"-", b"@",
                b"\xc3",
            ]), 1..3),
        ) {
            let token = pieces.concat();
            let mut wire = token.clone();
            wire.extend_from_slice(b" sip:a@b SIP/2.0\r\nCSeq: 1 ");
            wire.extend_from_slice(&token);
            wire.extend_from_slice(b"\r\n\r\n");
            let parsed = parse(Bytes::from(wire), &Limits::default());
            match Method::from_bytes(&token) {
                Some(m) => {
                    let msg = parsed.unwrap();
                    prop_assert_eq!(msg.method(), Some(&m));
                    prop_assert_eq!(msg.cseq_method(), Some(&m));
                }
                None => prop_assert_eq!(parsed.err().map(|e| e.kind()), Some(K::Method)),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn reason_phrase_ok_is_the_two_checks(
            v in proptest::collection::vec(proptest::sample::select(
                b"\x00\x09\x1f\x20\x7f\x80\xbf\xc3\xa9\xe2\xffaZ".to_vec()), 0..12),
        ) {
            let old = !(v.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
                || (!v.is_ascii() && std::str::from_utf8(&v).is_err()));
            prop_assert_eq!(reason_phrase_ok(&v), old);
        }
    }

    #[test]
    fn versions_in_any_case_and_the_unsupported_ones() {
        for ok in [&b"SIP/2.0"[..], b"sip/2.0", b"Sip/2.0"] {
            assert!(check_version(ok, 0).is_ok(), "{ok:?}");
        }
        for (v, kind) in [
            (&b"SIP/7.0"[..], K::Version),
            (b"sip/2.1", K::Version),
            (b"SIP/2", K::StartLine),
            (b"SIP/2.0 ", K::StartLine),
            (b"HTTP/1.1", K::StartLine),
            (b"", K::StartLine),
        ] {
            assert_eq!(check_version(v, 3).map_err(|e| (e.kind(), e.offset())), Err((kind, 3)));
        }
    }

    #[test]
    fn cseq_limits() {
        assert_eq!(parse_cseq(b"0009 INVITE"), Some((9, Method::Invite)));
        assert_eq!(parse_cseq(b"2147483647 BYE"), Some((2147483647, Method::Bye)));
        assert_eq!(parse_cseq(b"2147483648 BYE"), None); // RFC 3261 §8.1.1.5: < 2^31
        assert_eq!(parse_cseq(b"36893488147419103232 INVITE"), None);
        assert_eq!(parse_cseq(b"1INVITE"), None);
        assert_eq!(parse_cseq(b"1 INV ITE"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// A Request-URI the parser judges (the walk of `validate` reads it to its end) is one
        /// the structural check accepts: skipping the check refuses nothing it refused. The
        /// judged range is the start line's URI, and `validate` gives what it gives without
        /// the memo.
        #[test]
        fn a_judged_request_uri_passes_the_structural_check(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                &b"sip:"[..], b"SIP:", b"sips:", b"tel:", b"bob", b"@", b"192.0.2.2", b":",
                b"5060", b"99999", b"[::1]", b"[", b";lr", b";x=\"", b"?h=v", b"%41", b"%4",
                b"<", b">", b"\"", b" ", b"\t", b"\x7f", b"\x01", b"\xc3\xa9", b"a.b-c",
                b"&=+$,", b"/", b"_", b"~", b"*",
            ]), 0..7),
            method in proptest::sample::select(vec!["INVITE", "ACK", "BYE", "OPTIONS"]),
        ) {
            let uri = pieces.concat();
            let judged = matches!(
                crate::uri::walk_sip_uri_bytes(&uri, 0),
                Some(crate::uri::SipWalk::Ends { end, headers: false }) if end == uri.len()
            );
            if judged {
                prop_assert_eq!(check_request_uri(&uri), Ok(()));
            }
            let mut wire = format!("{method} ").into_bytes();
            wire.extend_from_slice(&uri);
            wire.extend_from_slice(
                b" SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
                  To: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: c\r\n\
                  CSeq: 1 INVITE\r\n\r\n",
            );
            let limits = Limits::default();
            let new = parse(Bytes::from(wire.clone()), &limits);
            let old = parse_reference(Bytes::from(wire), &limits);
            prop_assert!(same_outcome(&new, &old));
            if let Ok(msg) = new {
                let StartLine::Request { uri: slot, .. } = msg.ix.start else {
                    return Err(TestCaseError::fail("not a request"));
                };
                let memo = msg.ix.keys.uri_judged.0;
                prop_assert_eq!(memo, (judged && method != "ACK").then_some(slot));
                let mut unjudged = msg.clone();
                unjudged.ix.keys.uri_judged = Judged(None);
                prop_assert_eq!(msg.validate(), unjudged.validate());
                prop_assert_eq!(msg.validate_for_forwarding(), unjudged.validate_for_forwarding());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// A To line judged as indexed vouches for a Request-URI of the same bytes (without
        /// the walk): the memo is what the walk alone gives, a URI the To vouches for passes
        /// the walk and the structural check, and the outcome (the error first of all: the
        /// Request-URI's comes before any header line's) is the reference parser's.
        #[test]
        fn a_request_uri_vouched_for_by_the_to_line_is_the_walks_verdict(
            fast in any::<bool>(),
            pick in proptest::collection::vec(any::<proptest::sample::Index>(), 7),
            same in proptest::sample::select(vec![true, true, true, false]),
            other in proptest::sample::select(vec![
                "sip:bob@192.0.2.2", "sip:b@h?x=y", "sip:b\x01@h", "tel:+1", "sip:", "x",
            ]),
            method in proptest::sample::select(vec!["INVITE", "ACK", "BYE", "OPTIONS"]),
            tail in proptest::sample::select(vec![
                "Content-Length: 0\r\n\r\n", "Content-Length: x\r\n\r\n", "Bad Line\r\n\r\n",
                "\r\n", "Content-Length: 9\r\n\r\n", "",
            ]),
        ) {
            // Each part of the To URI from the shapes the fast walk takes (first in each list),
            // or with `!fast` from any of them.
            let parts: [&[&str]; 7] = [
                &["sip:", "SIP:", "sips:", "tel:"],
                &["", "bob@", "a.b-c_d@", "b%41@", "@", "b:p@"],
                &["192.0.2.2", "h", "host.example", "x1", "1.2.3.256", "01.2.3.4", "a-.b",
                  "[::1]", "h.1", "", "h..x"],
                &["", ":5060", ":65535", ":0", ":65536", ":"],
                &["", ";lr", ";lr;lr", ";transport=udp", "?h=v", ";LR", ">", "\x01"],
                &["", "Bob ", "\"B\" "],
                &["", ";tag=1", ";tag=a b", ";x=1"],
            ];
            let fast_len = [1, 3, 4, 3, 3, 1, 2];
            let [scheme, user, host, port, params, display, tag] = std::array::from_fn(|i| {
                let list = parts[i];
                let n = if fast { fast_len[i] } else { list.len() };
                list[pick[i].index(n)]
            });
            let to_uri = format!("{scheme}{user}{host}{port}{params}");
            let uri = if same { to_uri.clone() } else { other.to_owned() };
            let to = format!("{display}<{to_uri}>{tag}");
            let wire = format!(
                "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                 Max-Forwards: 70\r\nTo: {to}\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: c\r\n\
                 CSeq: 1 {method}\r\n{tail}"
            );
            let walked = matches!(
                crate::uri::walk_sip_uri_bytes(uri.as_bytes(), 0),
                Some(crate::uri::SipWalk::Ends { end, headers: false }) if end == uri.len()
            );
            if crate::validate::fast_address_tag(to.as_bytes(), true).is_some()
                && to.starts_with('<')
                && same
            {
                prop_assert!(walked, "{}", uri);
                prop_assert_eq!(check_request_uri(uri.as_bytes()), Ok(()));
            }
            let limits = Limits::default();
            let new = parse(Bytes::from(wire.clone()), &limits);
            let old = parse_reference(Bytes::from(wire), &limits);
            prop_assert!(
                same_outcome(&new, &old),
                "{:?} vs {:?}",
                new.as_ref().err(),
                old.as_ref().err()
            );
            if let Ok(msg) = new {
                let StartLine::Request { uri: slot, .. } = msg.ix.start else {
                    return Err(TestCaseError::fail("not a request"));
                };
                prop_assert_eq!(msg.ix.keys.uri_judged.0, (walked && method != "ACK").then_some(slot));
                let mut unjudged = msg.clone();
                unjudged.ix.keys.uri_judged = Judged(None);
                prop_assert_eq!(msg.validate(), unjudged.validate());
                prop_assert_eq!(msg.validate_for_forwarding(), unjudged.validate_for_forwarding());
            }
        }
    }

    #[test]
    fn request_uri_refuses_exactly_whitespace_controls_and_delimiters() {
        for c in 0..=255u8 {
            let bad = c <= b' ' || c == 0x7f || c == b'<' || c == b'>' || c == b'"';
            let uri = [b's', b':', b'a', c];
            assert_eq!(check_request_uri(&uri).is_err(), bad, "{c}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn first_refused_in_uri_is_the_table_search(
            v in proptest::collection::vec(proptest::sample::select(
                b"\x00\x1f\x20\x21\x7f\x80\xff\xa0\xbc\xbe\xa2<>\"a:@;=".to_vec()), 0..40),
        ) {
            let expected = v.iter().position(|&c| in_class(&NOT_IN_REQUEST_URI, c));
            prop_assert_eq!(first_refused_in_uri(&v), expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn first_refused_in_uri_finds_one_bad_byte_anywhere(
            len in 0usize..40,
            at in 0usize..40,
            bad in proptest::sample::select(b"\x00 \x7f<>\"".to_vec()),
        ) {
            // Clean URIs of every length with at most one refused byte: the word steps, the
            // overlapping last word and the short-URI bytes all report it where it is.
            let mut v = vec![b'a'; len];
            if at < len {
                v[at] = bad;
            }
            prop_assert_eq!(first_refused_in_uri(&v), (at < len).then_some(at));
        }
    }

    #[test]
    fn request_uri_structure() {
        assert!(check_request_uri(b"sip:a@b").is_ok());
        assert!(check_request_uri(b"soap.beep://x").is_ok());
        assert!(check_request_uri(b"<sip:a@b>").is_err());
        assert!(check_request_uri(b"sip:").is_err());
        // The `sip:` shortcut reports the same offsets as the scheme walk.
        assert_eq!(check_request_uri(b"sip:"), Err(3));
        assert_eq!(check_request_uri(b"sip:a>b"), Err(5));
        assert_eq!(check_request_uri(b"sip:a<b"), Err(5));
        assert_eq!(check_request_uri(b"si+p:a\"b"), Err(6));
        assert!(check_request_uri(b"nocolon").is_err());
    }
}
