//! Answering bytes that did not parse: [`reject_unparsable`] (RFC 3261 §8.2, §16.3, §18.3,
//! §21.4.1).

use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use sip_message::{
    FrameError, HeaderName, Message, MessageBuilder, Method, Rejection, Via, canonical_reason,
    grammar,
};

use crate::ReceiveError;
use crate::via::stamp_received;

/// Most Via lines copied into the response (a request with more is refused without them; the
/// response only needs to reach the top one).
const MAX_VIAS: usize = 64;

/// The response a server sends for bytes that did not parse, or `None` when nothing may be
/// sent: RFC 3261 §18.3 and §21.4.1 ask for a 400 to a request that is malformed (513 for one
/// too large, 505 for an unsupported version, as [`Rejection`] says), and every response needs
/// the Via, From, To, Call-ID and CSeq of its request (§8.2.6.2). This recovers those from the
/// raw bytes without trusting the rest of the message:
///
/// - the start line must look like a request: `method SP ... SP SIP/...`, the method a token
///   (a response, or junk, is never answered: §18.1.2, and no amplification);
/// - the header lines (up to the empty line; CRLF or bare LF; folded lines joined) are scanned
///   for Via (every line, up to 64), From, To, Call-ID and CSeq (the first of each), which
///   must then parse on their own with the real parser: the Via as a typed [`Via`], the CSeq
///   with a number and a method;
/// - an ACK (by its start line or its CSeq) gets nothing (§17.2.1: no response to an ACK).
///
/// The response has the status and a reason phrase naming the problem (`Bad Request (Bad
/// Content-Length)`), a To tag derived from the request (the same for every retransmission of
/// it, as a stateless UAS needs, §8.2.7), and, when `source` is given, its top Via stamped
/// with `received` and `rport` as [`Runtime`](crate::Runtime) stamps a parsed request (RFC
/// 3261 §18.2.1, RFC 3581 §4), so that it goes back to the sender (§18.2.2) and not to an
/// address the sender chose. Send it to the `source` the runtime gave
/// [`handle_parse_error`](crate::Stack::handle_parse_error), outside any transaction.
///
/// The work is linear in `payload`, which the runtime already bounds by its
/// [`Limits`](sip_message::Limits); the response is no larger than the request's headers.
///
/// ```
/// use sip_message::{Limits, Message, ParseErrorKind};
/// use sip_runtime::{ReceiveError, reject_unparsable};
///
/// let bytes = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
///     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77\r\n\
///     From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
///     Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 99999999999\r\n\r\n";
/// let error = Message::parse(bytes::Bytes::from_static(bytes)).unwrap_err();
/// assert_eq!(error.kind(), ParseErrorKind::ContentLength);
/// let source = "198.51.100.7:5070".parse()?;
/// let response = reject_unparsable(&ReceiveError::Parse(error), bytes, Some(source))
///     .expect("a request with the headers a response needs");
/// assert_eq!(response.status(), Some(400));
/// assert_eq!(response.reason(), Some("Bad Request (Bad Content-Length)"));
/// assert_eq!(response.call_id(), Some("c1"));
/// assert!(response.to_tag().is_some());
/// assert_eq!(
///     response.header_str(sip_message::HeaderName::Via),
///     Some("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK77;received=198.51.100.7"),
/// );
///
/// // A response, or bytes without the headers, get nothing.
/// let junk = b"SIP/2.0 200 OK\r\nContent-Length: x\r\n\r\n";
/// assert!(reject_unparsable(&ReceiveError::Parse(error), junk, None).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn reject_unparsable(
    error: &ReceiveError,
    payload: &[u8],
    source: Option<SocketAddr>,
) -> Option<Message> {
    let (status, reason) = status_and_reason(error)?;
    let (method, headers) = recover(payload)?;
    let mut request = synthetic_request(method, &headers)?;
    if request.method() == Some(&Method::Ack) || request.cseq_method() == Some(&Method::Ack) {
        return None;
    }
    request.cseq_number()?;
    request.cseq_method()?;
    request.call_id()?;
    request.from_header()?;
    request.to_header()?;
    if !matches!(request.typed::<Via<'_>>(), Some(Ok(_))) {
        return None;
    }
    if let Some(source) = source {
        stamp_received(&mut request, source);
    }
    let tag = stable_tag(&request);
    MessageBuilder::response_to(&request, status, Some(&reason)).to_tag(&tag).build().ok()
}

/// The status and reason phrase for `error`; `None` for an error that is no request's fault
/// to answer (a stream that already failed).
fn status_and_reason(error: &ReceiveError) -> Option<(u16, String)> {
    match error {
        ReceiveError::Parse(e) => {
            let rejection = Rejection::from_parse_error(e);
            Some((rejection.status(), rejection.reason_phrase()))
        }
        ReceiveError::Frame(e) => {
            let status = match e {
                FrameError::MessageTooLarge | FrameError::BufferFull => 513,
                FrameError::Poisoned => return None,
                _ => 400,
            };
            Some((status, format!("{} ({})", canonical_reason(status), e.reason())))
        }
        // A kind added later: answer it as a plain syntax error.
        #[allow(unreachable_patterns)]
        _ => Some((400, canonical_reason(400).to_owned())),
    }
}

/// The headers a response is built from, as found in the raw bytes.
#[derive(Default)]
struct Recovered {
    vias: Vec<Vec<u8>>,
    from: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
    call_id: Option<Vec<u8>>,
    cseq: Option<Vec<u8>>,
    /// Which of the above the last line went to (for folded continuation lines).
    last: Option<Slot>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Via,
    From,
    To,
    CallId,
    CSeq,
}

impl Recovered {
    fn slot_mut(&mut self, slot: Slot) -> Option<&mut Vec<u8>> {
        match slot {
            Slot::Via => self.vias.last_mut(),
            Slot::From => self.from.as_mut(),
            Slot::To => self.to.as_mut(),
            Slot::CallId => self.call_id.as_mut(),
            Slot::CSeq => self.cseq.as_mut(),
        }
    }
}

/// The method token of a request-looking start line and the headers a response needs.
fn recover(payload: &[u8]) -> Option<(&str, Recovered)> {
    let mut lines = payload.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next()?;
    let method = request_method(start)?;
    let mut found = Recovered::default();
    for line in lines {
        if line.is_empty() {
            break; // the end of the header section
        }
        if line.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            found.last = None;
            continue; // a line with control characters is skipped, whatever it is
        }
        if let Some((&first, _)) = line.split_first() {
            if first == b' ' || first == b'\t' {
                // RFC 3261 §7.3.1: a continuation of the previous line.
                if let Some(value) = found.last.and_then(|slot| found.slot_mut(slot)) {
                    value.push(b' ');
                    value.extend_from_slice(trim(line));
                }
                continue;
            }
        }
        found.last = None;
        let Some(colon) = line.iter().position(|&c| c == b':') else { continue };
        let (name, value) = line.split_at(colon);
        let value = trim(value.get(1..).unwrap_or_default());
        let slot = match HeaderName::from_bytes(trim(name)) {
            HeaderName::Via if found.vias.len() < MAX_VIAS => {
                found.vias.push(value.to_vec());
                Slot::Via
            }
            HeaderName::From if found.from.is_none() => {
                found.from = Some(value.to_vec());
                Slot::From
            }
            HeaderName::To if found.to.is_none() => {
                found.to = Some(value.to_vec());
                Slot::To
            }
            HeaderName::CallId if found.call_id.is_none() => {
                found.call_id = Some(value.to_vec());
                Slot::CallId
            }
            HeaderName::CSeq if found.cseq.is_none() => {
                found.cseq = Some(value.to_vec());
                Slot::CSeq
            }
            _ => continue,
        };
        found.last = Some(slot);
    }
    Some((method, found))
}

/// `method SP anything SP SIP/anything`, no control characters, the method a token.
fn request_method(start: &[u8]) -> Option<&str> {
    let start = std::str::from_utf8(start).ok()?;
    if start.bytes().any(|c| c < 0x20 || c == 0x7f) {
        return None;
    }
    let (method, rest) = start.split_once(' ')?;
    let (_, version) = rest.rsplit_once(' ')?;
    let is_version = version.get(..4).is_some_and(|v| v.eq_ignore_ascii_case("SIP/"));
    (grammar::is_token(method) && is_version).then_some(method)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// A minimal well-formed request carrying the recovered headers, parsed by the real parser
/// (so each of them is checked by its grammar, not by this module).
fn synthetic_request(method: &str, found: &Recovered) -> Option<Message> {
    let (Some(from), Some(to), Some(call_id), Some(cseq)) =
        (&found.from, &found.to, &found.call_id, &found.cseq)
    else {
        return None;
    };
    if found.vias.is_empty() {
        return None;
    }
    let mut buf = Vec::with_capacity(256 + found.vias.iter().map(Vec::len).sum::<usize>());
    buf.extend_from_slice(method.as_bytes());
    buf.extend_from_slice(b" sip:invalid SIP/2.0\r\n");
    let mut line = |name: &str, value: &[u8]| {
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(value);
        buf.extend_from_slice(b"\r\n");
    };
    for via in &found.vias {
        line("Via", via);
    }
    line("From", from);
    line("To", to);
    line("Call-ID", call_id);
    line("CSeq", cseq);
    line("Content-Length", b"0");
    buf.extend_from_slice(b"\r\n");
    Message::parse(Bytes::from(buf)).ok()
}

/// A To tag that depends only on the request (RFC 3261 §8.2.7: a stateless UAS answers every
/// retransmission of a request with the same tag): FNV-1a over its Call-ID, From, CSeq and
/// top Via.
fn stable_tag(request: &Message) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [
        request.call_id().map(str::as_bytes),
        request.from_header(),
        request.header(HeaderName::CSeq),
        request.top_via(),
    ]
    .into_iter()
    .flatten()
    {
        for &b in part.iter().chain(b"\n") {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut tag = String::with_capacity(16);
    let _ = write!(tag, "{hash:016x}");
    tag
}

#[cfg(test)]
mod tests {
    use sip_message::{ParseError, ParseErrorKind};

    use super::*;

    fn parse_error(bytes: &[u8]) -> ReceiveError {
        match Message::parse(Bytes::copy_from_slice(bytes)) {
            Err(e) => ReceiveError::Parse(e),
            Ok(_) => panic!("expected a parse error"),
        }
    }

    const HEADERS: &str = "Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKa\r\n\
        Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKb\r\n\
        From: \"A\" <sip:a@example.com>;tag=f\r\nTo: <sip:b@example.com>\r\n\
        i: c-1\r\nCSeq: 7 INVITE\r\nMax-Forwards: 70\r\n";

    #[test]
    fn a_malformed_request_gets_its_status_a_named_reason_and_its_vias() {
        let source: SocketAddr = "203.0.113.5:40000".parse().unwrap();
        let cases: [(&str, u16, &str); 4] = [
            (
                "Content-Length: 18446744073709551616\r\n\r\n",
                400,
                "Bad Request (Bad Content-Length)",
            ),
            (
                "Content-Length: 50\r\n\r\nshort",
                400,
                "Bad Request (Content-Length larger than body)",
            ),
            (
                "Bad Header\r\nContent-Length: 0\r\n\r\n",
                400,
                "Bad Request (Header line without colon)",
            ),
            ("Content-Length: 0\nX: y\r\n\r\n", 400, "Bad Request (Line not terminated by CRLF)"),
        ];
        for (tail, status, reason) in cases {
            let bytes = format!("INVITE sip:b@example.com SIP/2.0\r\n{HEADERS}{tail}");
            let error = parse_error(bytes.as_bytes());
            let r = reject_unparsable(&error, bytes.as_bytes(), Some(source))
                .unwrap_or_else(|| panic!("no answer for {tail:?}"));
            assert_eq!((r.status(), r.reason()), (Some(status), Some(reason)), "{tail:?}");
            let vias: Vec<&[u8]> = r.header_lines(HeaderName::Via).collect();
            assert_eq!(vias.len(), 2);
            assert_eq!(
                vias[0],
                &b"SIP/2.0/UDP 192.0.2.1:5060;rport=40000;branch=z9hG4bKa;received=203.0.113.5"[..]
            );
            assert_eq!(r.call_id(), Some("c-1"));
            assert_eq!(r.cseq_method(), Some(&Method::Invite));
            assert_eq!(r.from_tag(), Some("f"));
            // The same request gets the same tag (a stateless UAS, §8.2.7).
            let again = reject_unparsable(&error, bytes.as_bytes(), Some(source)).unwrap();
            assert_eq!(again.to_tag(), r.to_tag());
            assert!(r.to_tag().is_some());
        }
    }

    #[test]
    fn version_and_size_get_505_and_513() {
        let bytes = format!("OPTIONS sip:b@example.com SIP/3.0\r\n{HEADERS}\r\n");
        let error = parse_error(bytes.as_bytes());
        let r = reject_unparsable(&error, bytes.as_bytes(), None).unwrap();
        assert_eq!(r.status(), Some(505));
        let too_large = ReceiveError::Frame(FrameError::MessageTooLarge);
        let r = reject_unparsable(&too_large, bytes.as_bytes(), None).unwrap();
        assert_eq!(
            (r.status(), r.reason()),
            (Some(513), Some("Message Too Large (Message too large)"))
        );
        let e = ReceiveError::Parse(ParseError::new(ParseErrorKind::MessageTooLarge, 0));
        assert_eq!(reject_unparsable(&e, bytes.as_bytes(), None).unwrap().status(), Some(513));
    }

    #[test]
    fn folded_headers_are_joined() {
        let bytes = "MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n \
             ;branch=z9hG4bKf\r\nFrom: <sip:a@example.com>\r\n ;tag=1\r\nTo: <sip:b@example.com>\r\n\
             Call-ID: x\r\nCSeq:\r\n 2 MESSAGE\r\nContent-Length: x\r\n\r\n";
        let error = parse_error(bytes.as_bytes());
        let r = reject_unparsable(&error, bytes.as_bytes(), None).unwrap();
        assert_eq!(r.via_branch(), Some("z9hG4bKf"));
        assert_eq!(r.from_tag(), Some("1"));
        assert_eq!(r.cseq_number(), Some(2));
    }

    #[test]
    fn nothing_is_sent_for_responses_acks_junk_or_missing_headers() {
        let error = ReceiveError::Parse(ParseError::new(ParseErrorKind::ContentLength, 0));
        let unanswerable = [
            format!("SIP/2.0 200 OK\r\n{HEADERS}\r\n"),
            format!("SIP.2.0 200 OK\r\n{HEADERS}\r\n"),
            format!("ACK sip:b@example.com SIP/2.0\r\n{HEADERS}\r\n"),
            format!(
                "FOO sip:b SIP/2.0\r\n{}\r\n",
                HEADERS.replace("CSeq: 7 INVITE", "CSeq: 7 ACK")
            ),
            format!("INV@ITE sip:b SIP/2.0\r\n{HEADERS}\r\n"),
            format!("INVITE sip:b HTTP/1.1\r\n{HEADERS}\r\n"),
            format!("INVITE sip:b SIP/2.0\r\n{}\r\n", HEADERS.replace("i: c-1", "X: 1")),
            format!("INVITE sip:b SIP/2.0\r\n{}\r\n", HEADERS.replace("CSeq: 7", "CSeq: x")),
            format!("INVITE sip:b SIP/2.0\r\n{}\r\n", HEADERS.replace("SIP/2.0/UDP 192", "bad")),
            format!("INVITE sip:b SIP/2.0\r\n\r\n{HEADERS}\r\n"),
            "INVITE sip:b SIP/2.0".to_owned(),
            String::new(),
            "\u{1}\u{2}\u{3} \u{0} SIP/2.0\r\n".to_owned(),
        ];
        for bytes in &unanswerable {
            assert!(reject_unparsable(&error, bytes.as_bytes(), None).is_none(), "{bytes:?}");
        }
        let poisoned = ReceiveError::Frame(FrameError::Poisoned);
        let ok = format!("INVITE sip:b SIP/2.0\r\n{HEADERS}\r\n");
        assert!(reject_unparsable(&poisoned, ok.as_bytes(), None).is_none());
        assert!(reject_unparsable(&error, ok.as_bytes(), None).is_some());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let base = format!("INVITE sip:b SIP/2.0\r\n{HEADERS}Content-Length: 0\r\n\r\n");
        let error = ReceiveError::Parse(ParseError::new(ParseErrorKind::HeaderValue, 0));
        let mut state: u64 = 1;
        for _ in 0..2000 {
            let mut bytes = base.clone().into_bytes();
            for _ in 0..4 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let at = (state >> 33) as usize % bytes.len();
                bytes[at] ^= 1 << ((state >> 20) % 8);
            }
            let cut = (state >> 40) as usize % (bytes.len() + 1);
            let _ = reject_unparsable(&error, &bytes[..cut], None);
            let _ = reject_unparsable(&error, &bytes, None);
        }
    }
}
