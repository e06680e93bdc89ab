//! Messages a proxy derives from a request it handles, written in one pass (RFC 3261 §16).

use bytes::Bytes;

use crate::chars::is_ws;
use crate::message::{Entry, Headers, Parts, Slot, StartLine};
use crate::{BuildError, HeaderName, Limits, Message, MessageBuilder};

/// The status line of a 100 (Trying), CRLF included.
const TRYING_LINE: &[u8] = b"SIP/2.0 100 Trying\r\n";

/// Where the reason phrase of [`TRYING_LINE`] lies.
const TRYING_REASON: (usize, usize) = (12, 18);

impl Message {
    /// The 100 (Trying) answering this request (RFC 3261 §8.2.6.1, §16.2): its Via lines in
    /// order, From, Call-ID, CSeq and Timestamp copied, its first To line last, no To tag,
    /// `Content-Length: 0`. The same message, bytes, index and keys, as
    /// `MessageBuilder::response_to(self, 100, None).build()` gives, written without a builder
    /// when every copied value is one plain line (as parsed values are); other requests are
    /// left to the builder.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::{HeaderName as H, Message, MessageBuilder};
    /// let invite = Message::parse(Bytes::from_static(
    ///     b"INVITE sip:bob@example.com SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
    ///       Max-Forwards: 70\r\nt: <sip:bob@example.com>\r\nf: <sip:a@example.com>;tag=9\r\n\
    ///       i: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    /// ))?;
    /// let trying = invite.trying()?;
    /// assert_eq!(trying.status(), Some(100));
    /// assert_eq!(trying.via_branch(), Some("z9hG4bK1"));
    /// assert_eq!(trying.to_bytes(), MessageBuilder::response_to(&invite, 100, None).build()?.to_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`MessageBuilder::build`] for the same response.
    pub fn trying(&self) -> Result<Message, BuildError> {
        match self.trying_in_one_pass() {
            Some(trying) => Ok(trying),
            None => MessageBuilder::response_to(self, 100, None).build(),
        }
    }

    /// The top Via value of this request and where its `branch` value lies in it (start and
    /// end), when the parser found that value of the plain shape validation reads fastest
    /// (RFC 3261 §18.2.1, §20.42) and no edit has touched it since: `SIP/2.0/UDP`, one space,
    /// a host (an IPv4 address or a host name) with an optional port, then only the
    /// parameters `;branch=<token>`, `;received=<IPv4 address>` and `;rport` or
    /// `;rport=<port>`, each at most once, in any order, and nothing else (no comma: the
    /// value is its whole line). `None` for any other top Via (the caller reads those
    /// itself), and on a response or a built message.
    ///
    /// A proxy reads the top Via of each request it forwards (its sent-by for the
    /// `received` stamp, its branch for loop detection): with this it knows the shape
    /// without walking the value again.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::Message;
    /// let invite = Message::parse(Bytes::from_static(
    ///     b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK7\r\n\
    ///       Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=9\r\n\
    ///       Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    /// ))?;
    /// let (value, branch) = invite.plain_top_via().expect("a plain Via");
    /// assert_eq!(value, b"SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK7");
    /// assert_eq!(branch.and_then(|(s, e)| value.get(s..e)), Some(&b"z9hG4bK7"[..]));
    /// # Ok::<(), sip_message::ParseError>(())
    /// ```
    #[must_use]
    #[inline]
    #[allow(clippy::type_complexity)] // a value and a span: a named type would add nothing
    pub fn plain_top_via(&self) -> Option<(&[u8], Option<(usize, usize)>)> {
        let keys = &self.ix.keys;
        let judged = keys.via_judged.0?;
        let e = self.ix.headers.get(usize::from(keys.via?))?;
        // The memo holds while the line's value is the range it was judged in (an edit of the
        // Via lines observes them afresh, without judging).
        if e.name != HeaderName::Via || e.value != judged {
            return None;
        }
        let (start, end) = judged.in_buf()?;
        let branch = match keys.branch {
            Some(b) => {
                let (b0, b1) = b.in_buf()?;
                if b0 < start || b1 > end {
                    return None;
                }
                Some((b0 - start, b1 - start))
            }
            None => None,
        };
        Some((self.slot(judged), branch))
    }

    /// [`remove_top_via`](Self::remove_top_via) of a response a proxy relays (RFC 3261 §16.7
    /// step 3): the same edit, the same bytes, index and keys, made in one pass when the
    /// response is as received (written back verbatim, its top Via its first header line,
    /// one value on that line); any other message gets `remove_top_via` itself. Returns
    /// whether there was a Via to remove.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// use sip_message::Message;
    /// let mut response = Message::parse(Bytes::from_static(
    ///     b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP p.example.com;branch=z9hG4bKp1\r\n\
    ///       Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa1\r\nCSeq: 1 INVITE\r\n\
    ///       Content-Length: 0\r\n\r\n",
    /// ))?;
    /// assert!(response.remove_relayed_via());
    /// assert_eq!(response.via_branch(), Some("z9hG4bKa1"));
    /// # Ok::<(), sip_message::ParseError>(())
    /// ```
    pub fn remove_relayed_via(&mut self) -> bool {
        self.remove_first_via_line().is_some() || self.remove_top_via()
    }

    /// The edit of [`remove_relayed_via`](Self::remove_relayed_via) in one pass, as
    /// `remove_top_via` makes it for a message written back verbatim (its bytes after the cut
    /// line keep their positions in the new buffer, the bytes before them move up); `None`,
    /// with nothing changed, for any message but a response as parsed whose first header line
    /// is a Via line of one value.
    fn remove_first_via_line(&mut self) -> Option<()> {
        let (p0, p1, true) = self.ix.pristine? else { return None };
        let (p0, p1) = (p0 as usize, p1 as usize);
        if !self.ix.owned.is_empty() {
            return None;
        }
        let via = *self.ix.headers.first()?;
        let StartLine::Response { reason, .. } = self.ix.start else { return None };
        let (cut_start, value_start) = (via.name_text.in_buf()?.0, via.value.in_buf()?);
        let cut_end = via.line_end as usize + 2;
        // The status line as `write_to` writes it: one space after the code, CRLF after the
        // reason, the Via line right after it.
        let (r0, r1) = reason.in_buf()?;
        if via.name != HeaderName::Via || r0 != p0 + 12 || r1 + 2 != cut_start {
            return None;
        }
        // One value: nothing of the line stays (RFC 3261 §7.3.1: a comma would start the next
        // value).
        let line = self.buf.get(value_start.0..value_start.1)?;
        if memchr::memchr(b',', line).is_some() {
            return None;
        }
        // The one Content-Length line as `write_to` spells it (the parser vouched for the
        // rest of the lines).
        let length = self.ix.headers.iter().rev().find(|e| e.name == HeaderName::ContentLength)?;
        let (l0, l1) = length.value.in_buf()?;
        if l1 - l0 != 1 && self.buf.get(l0) == Some(&b'0') {
            return None;
        }
        // The new buffer: unused bytes, the status line, then the bytes after the cut line
        // where they were.
        let by = cut_end - cut_start;
        let lead = p0 + by;
        let mut out: Vec<u8> = Vec::with_capacity(p1);
        out.resize(lead, 0);
        out.extend_from_slice(self.buf.get(p0..cut_start)?);
        out.extend_from_slice(self.buf.get(cut_end..p1)?);
        self.ix.headers.remove(0);
        if let StartLine::Response { reason, .. } = &mut self.ix.start {
            *reason = reason.shifted(by);
        }
        let keys = &mut self.ix.keys;
        for k in [&mut keys.from, &mut keys.to] {
            if let Some(i) = k.as_mut().filter(|i| **i > 0) {
                *i -= 1;
            }
        }
        let moved = |s: Slot| if s.start() < cut_start { s.shifted(by) } else { s };
        keys.shift_line_spans(moved);
        self.buf = Bytes::from(out);
        self.ix.pristine = Some((lead as u32, p1 as u32, true));
        // The new top Via: the next Via line.
        self.rekey_top_via(0);
        Some(())
    }

    /// [`trying`](Self::trying) written directly, as `MessageBuilder::response_to` and
    /// `build` write and index it; `None` (the builder decides) for a copied value that is
    /// not trimmed or spans lines, or a response the default [`Limits`] refuse.
    fn trying_in_one_pass(&self) -> Option<Message> {
        // A `Vec`, whose appends are lighter than a `BytesMut`'s; it becomes the `Bytes` as
        // `BytesMut::freeze` would make it.
        let mut buf = Vec::with_capacity(self.buf.len() + 64);
        buf.extend_from_slice(TRYING_LINE);
        let mut ix = Parts::boxed();
        let mut longest = 0;
        let from = &self.ix.keys;
        let mut to = None;
        // Lines written as the builder writes them are copied as they are, neighbours in one
        // piece (the pending run of the request's buffer, `run`).
        let mut run = (0, 0);
        for (old, e) in self.ix.headers.iter().enumerate() {
            match e.name {
                HeaderName::Via
                | HeaderName::From
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::Timestamp => {}
                HeaderName::To => {
                    to = to.or(Some((old, e)));
                    continue;
                }
                _ => continue,
            }
            let (at, value) =
                write_line(&mut buf, &mut run, &mut ix.headers, &mut longest, self, e)?;
            // The keys `copied_line` carries over from the request.
            ix.keys.carry_copied(from, e.name, at, e.value, value);
        }
        if let Some((old, e)) = to {
            // Indexed as the parser indexes a To line: the first, so its tag is the key, which
            // the request's key is when its key line is this one (read from the same bytes).
            // Any other request is the builder's.
            if from.to != Some(old as u16) {
                return None;
            }
            let (at, value) =
                write_line(&mut buf, &mut run, &mut ix.headers, &mut longest, self, e)?;
            ix.keys.to = Some(at as u16);
            ix.keys.to_tag = from.to_tag.and_then(|k| k.rebase(e.value, value));
        }
        flush_run(&mut buf, &mut run, self);
        // `Content-Length: 0`, the one Content-Length line, and the end of the header.
        let name = HeaderName::ContentLength;
        let name_start = buf.len();
        buf.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        let value_from = name_start + name.line_prefix().len();
        let content_end = value_from + 1;
        longest = longest.max(content_end - name_start);
        ix.headers.push(Entry {
            name,
            name_text: Slot::buf(name_start, name_start + name.as_str().len()),
            value: Slot::buf(value_from, content_end),
            line_end: content_end as u32,
        });
        ix.keys.content_length = Some(0);
        ix.keys.content_length_lines = 1;
        // The builder's checks of the limits; a response they refuse is the builder's to refuse.
        let limits = Limits::default();
        if buf.len() > limits.message_size()
            || ix.headers.len() > limits.headers()
            || longest > limits.line_length()
        {
            return None;
        }
        let body = Slot::buf(buf.len(), buf.len());
        let (r0, r1) = TRYING_REASON;
        ix.start = StartLine::Response { code: 100, reason: Slot::buf(r0, r1) };
        Some(Message::indexed(Bytes::from(buf), ix, body))
    }
}

/// Writes line `e` of `request` as `MessageBuilder::response_to` does: a line of the
/// request's buffer whose name is written in full (any case) with one or two bytes before its
/// value, in a buffer without folded lines, is copied as it is (its bytes from the name to the
/// CR, then CRLF), joined to the pending `run` of such lines (copied by [`flush_run`], one piece
/// for neighbouring lines); any other line flushes the run and is written by [`write_plain`].
/// Its index and value slot, as `write_plain` gives them.
#[inline(always)]
fn write_line(
    buf: &mut Vec<u8>,
    run: &mut (usize, usize),
    headers: &mut Headers,
    longest: &mut usize,
    request: &Message,
    e: &Entry,
) -> Option<(usize, Slot)> {
    let raw = match (e.name_text.in_buf(), e.value.in_buf()) {
        (Some((n0, n1)), Some((v0, v1))) => {
            let end = e.line_end as usize;
            let plain = !request.ix.keys.line_breaks
                && n1 - n0 == e.name.as_str().len()
                && (v0 == n1 + 2 || v0 == n1 + 1)
                && v1 <= end;
            plain.then_some((n0, end))
        }
        _ => None,
    };
    let Some((start, end)) = raw else {
        flush_run(buf, run, request);
        return write_plain(buf, headers, longest, request, e);
    };
    // The line joins the run when it starts where the run's last line ended (after its CRLF).
    if run.1 == 0 || start != run.1 + 2 {
        flush_run(buf, run, request);
        *run = (start, end);
    } else {
        run.1 = end;
    }
    // Where the line lands once the run is copied.
    let to = buf.len() + (start - run.0);
    let moved = |s: Slot| {
        let (a, b) = s.in_buf().unwrap_or_default();
        Slot::buf(a - start + to, b - start + to)
    };
    *longest = (*longest).max(end - start);
    let at = headers.len();
    let value = moved(e.value);
    headers.push(Entry {
        name: e.name,
        name_text: moved(e.name_text),
        value,
        line_end: (end - start + to) as u32,
    });
    Some((at, value))
}

/// Copies the pending `run` of `request`'s buffer (see [`write_line`]), lines from the first
/// name to the last CR, then CRLF, and empties it.
#[inline(always)]
fn flush_run(buf: &mut Vec<u8>, run: &mut (usize, usize), request: &Message) {
    if run.1 != 0 {
        buf.extend_from_slice(request.buf.get(run.0..run.1).unwrap_or_default());
        buf.extend_from_slice(b"\r\n");
    }
    *run = (0, 0);
}

/// Writes line `e` of `request` as `Name: value` with the canonical name and indexes it
/// without its keys; its index and value slot. `None` when the value is not trimmed or
/// spans lines (the builder writes and indexes those otherwise).
fn write_plain(
    buf: &mut Vec<u8>,
    headers: &mut Headers,
    longest: &mut usize,
    request: &Message,
    e: &Entry,
) -> Option<(usize, Slot)> {
    let value = request.slot(e.value);
    let trimmed =
        !value.first().is_some_and(|&c| is_ws(c)) && !value.last().is_some_and(|&c| is_ws(c));
    if !trimmed || (request.may_break(e.value) && memchr::memchr2(b'\r', b'\n', value).is_some()) {
        return None;
    }
    let name = e.name;
    let prefix = name.line_prefix();
    let name_start = buf.len();
    buf.reserve(prefix.len() + value.len() + 2);
    buf.extend_from_slice(prefix);
    let value_from = buf.len();
    buf.extend_from_slice(value);
    let content_end = buf.len();
    buf.extend_from_slice(b"\r\n");
    *longest = (*longest).max(content_end - name_start);
    let at = headers.len();
    let slot = Slot::buf(value_from, content_end);
    headers.push(Entry {
        name,
        name_text: Slot::buf(name_start, name_start + name.as_str().len()),
        value: slot,
        line_end: content_end as u32,
    });
    Some((at, slot))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;

    /// Asserts that the one-pass 100 is the builder's, to the last index entry and key.
    fn assert_trying_is_the_builders(request: &Message) {
        let built = MessageBuilder::response_to(request, 100, None).build();
        let fast = request.trying_in_one_pass();
        match (&built, &fast) {
            (Ok(built), Some(fast)) => {
                assert_eq!(fast.to_bytes(), built.to_bytes());
                assert_eq!(fast.parse_state(), built.parse_state());
            }
            (_, None) => {}
            (Err(e), Some(_)) => panic!("the builder refuses ({e}), the one pass does not"),
        }
        assert_eq!(request.trying().map(|m| m.parse_state()), built.map(|m| m.parse_state()),);
    }

    #[test]
    fn a_folded_or_untrimmed_value_is_left_to_the_builder() {
        let plain = Message::parse(Bytes::from_static(
            b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
        ))
        .unwrap();
        assert!(plain.trying_in_one_pass().is_some());
        assert_trying_is_the_builders(&plain);
        let folded = Message::parse(Bytes::from_static(
            b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              From: <sip:a@h>\r\n ;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
        ))
        .unwrap();
        assert!(folded.trying_in_one_pass().is_none());
        assert_trying_is_the_builders(&folded);
        let mut edited = folded.clone();
        edited.set(HeaderName::From, "<sip:a@h>;tag=1 ").unwrap();
        assert!(edited.trying_in_one_pass().is_none());
        assert_trying_is_the_builders(&edited);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Requests with the lines a 100 copies in any order, compact names, several Vias,
        /// To lines with and without tags, Call-IDs the key does or does not take, Timestamps
        /// and other lines: the one-pass 100 is the builder's.
        #[test]
        fn the_one_pass_trying_is_the_builders(
            lines in proptest::collection::vec(proptest::sample::select(vec![
                "Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKa1",
                "v: SIP/2.0/TCP h.example.com;branch=z9hG4bKb2, SIP/2.0/UDP 192.0.2.9",
                "Via: SIP/2.0/UDP 192.0.2.7;received=192.0.2.8",
                "From: Alice <sip:alice@example.com>;tag=88a",
                "f: <sip:x@h>",
                "To: <sip:bob@example.com>",
                "t: \"B\" <sip:bob@example.com>;tag=to1",
                "To: <sip:c@h>;TAG=Up",
                "Call-ID: a84b4c76e66710@pc33",
                "i: bad call id",
                "CSeq: 314159 INVITE",
                "CSeq: nonsense",
                "Timestamp: 54.2 0.3",
                "Max-Forwards: 70",
                "Contact: <sip:alice@192.0.2.1>",
                "Route: <sip:p.example.com;lr>",
                "X-Other: 1",
                "via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKc3",
                "From:<sip:nospace@h>;tag=n",
                "Call-ID:   spaced@h",
                "CSEQ: 7 INVITE",
                "Timestamp:\t1",
            ]), 0..12),
            method in proptest::sample::select(vec!["INVITE", "OPTIONS", "BYE"]),
        ) {
            let mut text = format!("{method} sip:bob@example.com SIP/2.0\r\n");
            for line in &lines {
                text.push_str(line);
                text.push_str("\r\n");
            }
            text.push_str("Content-Length: 0\r\n\r\n");
            if let Ok(request) = Message::parse(Bytes::from(text)) {
                assert_trying_is_the_builders(&request);
            }
        }
    }

    /// Asserts that the relayed pop of `message` is `remove_top_via`'s, to the last byte, index
    /// entry and key; whether the one pass took it.
    fn assert_relayed_pop_is_remove_top_via(message: &Message) -> bool {
        let mut general = message.clone();
        let mut relayed = message.clone();
        let taken = message.clone().remove_first_via_line().is_some();
        assert_eq!(relayed.remove_relayed_via(), general.remove_top_via());
        assert_eq!(relayed.buf, general.buf);
        assert_eq!(relayed.to_bytes(), general.to_bytes());
        assert_eq!(relayed.parse_state(), general.parse_state());
        assert_eq!(relayed.via_branch(), general.via_branch());
        taken
    }

    #[test]
    fn a_relayed_response_loses_its_first_via_line_in_one_pass() {
        let ringing = Message::parse(Bytes::from_static(
            b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP p.example.com;branch=z9hG4bKp1\r\n\
              Via: SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bKa1\r\n\
              From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c@h\r\n\
              CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert!(assert_relayed_pop_is_remove_top_via(&ringing));
        // Two values on the line, a Via below another line, a request, an edited message:
        // left to `remove_top_via`.
        let listed = Message::parse(Bytes::from_static(
            b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP p;branch=z9hG4bKp1, SIP/2.0/UDP a;branch=z9hG4bKa\r\n\
              CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert!(!assert_relayed_pop_is_remove_top_via(&listed));
        let below = Message::parse(Bytes::from_static(
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKp1\r\n\
              Content-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert!(!assert_relayed_pop_is_remove_top_via(&below));
        let mut edited = ringing.clone();
        edited.set(HeaderName::CSeq, "2 INVITE").unwrap();
        assert!(!assert_relayed_pop_is_remove_top_via(&edited));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Responses with Via lines of one or two values in any place, compact names, key
        /// lines, padded or missing Content-Length, folded lines and bodies: the relayed pop is
        /// `remove_top_via`'s.
        #[test]
        fn the_relayed_pop_is_remove_top_via(
            lines in proptest::collection::vec(proptest::sample::select(vec![
                "Via: SIP/2.0/UDP p.example.com;branch=z9hG4bKp1",
                "v: SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bKa1",
                "Via: SIP/2.0/UDP a;branch=z9hG4bKa, SIP/2.0/UDP b;branch=z9hG4bKb",
                "Via:  SIP/2.0/UDP c;branch=z9hG4bKc ",
                "From: <sip:a@h>;tag=1",
                "t: <sip:b@h>;tag=2",
                "Call-ID: c@h",
                "CSeq: 1 INVITE",
                "Contact: <sip:b@192.0.2.2>",
                "X-Folded: a\r\n b",
                "Content-Length: 4",
                "l: 04",
            ]), 0..9),
            first in proptest::sample::select(vec![
                "Via: SIP/2.0/UDP p.example.com;branch=z9hG4bKp1",
                "v: SIP/2.0/UDP p.example.com:5060;branch=z9hG4bKp1.0a1b",
                "Via: SIP/2.0/UDP a;branch=z9hG4bKa, SIP/2.0/UDP b;branch=z9hG4bKb",
                "CSeq: 1 INVITE",
            ]),
            length in proptest::sample::select(vec!["Content-Length: 5", "Content-Length: 05", ""]),
            status in proptest::sample::select(vec!["180 Ringing", "200 OK", "100  Trying"]),
            crlf in any::<bool>(),
        ) {
            let mut text = String::new();
            if crlf {
                text.push_str("\r\n");
            }
            text.push_str("SIP/2.0 ");
            text.push_str(status);
            text.push_str("\r\n");
            for line in std::iter::once(&first).chain(&lines).chain([&length]) {
                if !line.is_empty() {
                    text.push_str(line);
                    text.push_str("\r\n");
                }
            }
            text.push_str("\r\nv=0\r\n");
            if let Ok(response) = Message::parse(Bytes::from(text)) {
                assert_relayed_pop_is_remove_top_via(&response);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Requests with Route and Record-Route lines of one or more values (or none, or
        /// empty), anywhere, folded or not, with key lines around them: removing the first
        /// value while it is the expected one leaves, with the one-value line's shortcut,
        /// what the general removal leaves, value by value.
        #[test]
        fn the_lone_value_removal_is_the_general_one(
            lines in proptest::collection::vec(proptest::sample::select(vec![
                "Route: <sip:p.example.com;lr>",
                "Route: <sip:p.example.com;lr>, <sip:q.example.com;lr>",
                "Route:  <sip:q.example.com;lr>",
                "Route: <sip:p.example.com;lr>\r\n ",
                "Route:",
                "Record-Route: <sip:p.example.com;lr>",
                "Record-Route: <sip:q.example.com;lr>, <sip:p.example.com;lr>",
                "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa1",
                "From: <sip:a@h>;tag=1",
                "To: <sip:b@h>",
                "Call-ID: c@h",
                "CSeq: 1 INVITE",
                "Content-Length: 0",
            ]), 0..9),
            ours in proptest::sample::select(vec![
                "<sip:p.example.com;lr>", "<sip:q.example.com;lr>", "",
            ]),
            name in proptest::sample::select(vec![HeaderName::Route, HeaderName::RecordRoute]),
        ) {
            let mut text = String::from("INVITE sip:b@h SIP/2.0\r\n");
            for line in &lines {
                text.push_str(line);
                text.push_str("\r\n");
            }
            text.push_str("\r\n");
            let Ok(request) = Message::parse(Bytes::from(text)) else { return Ok(()) };
            let (mut general, mut fast) = (request.clone(), request);
            loop {
                let (mut seen_general, mut seen_fast) = (None, None);
                let removed = general.remove_front_if_general(name, |v| {
                    seen_general = Some(v.to_vec());
                    v == ours.as_bytes()
                });
                let removed_fast = fast.remove_front_if(name, |v| {
                    seen_fast = Some(v.to_vec());
                    v == ours.as_bytes()
                });
                prop_assert_eq!(removed_fast, removed);
                prop_assert_eq!(&seen_fast, &seen_general);
                prop_assert_eq!(fast.parse_state(), general.parse_state());
                prop_assert_eq!(fast.to_bytes(), general.to_bytes());
                if !removed {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_response_past_the_limits_is_the_builders_to_refuse() {
        // Compact names grow by their canonical spelling: a request at the line limit can make
        // a response past it, which the builder refuses.
        let limits = Limits::default();
        let long = "x".repeat(limits.line_length() - 3);
        let text = format!(
            "OPTIONS sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\ni: {long}\r\n\
             f: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\nCSeq: 1 OPTIONS\r\n\r\n"
        );
        let request = Message::parse_with(Bytes::from(text), &limits).unwrap();
        assert!(request.trying_in_one_pass().is_none());
        assert!(request.trying().is_err());
        assert_trying_is_the_builders(&request);
    }
}
