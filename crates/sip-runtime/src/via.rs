//! The transport layer's Via rules: stamping `received` and `rport` on requests (RFC 3261
//! §18.2.1, RFC 3581 §4) and finding where a response goes (§18.2.2).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sip_message::{HeaderError, HeaderName, Host, Message, TypedHeader, Via, split_list, trim_lws};

/// The default port for UDP and TCP when a Via sent-by has none (RFC 3261 §18.1.1, §18.2.2).
const DEFAULT_PORT: u16 = 5060;

/// RFC 3261 §18.2.1: when the top Via's sent-by host is a domain name or an IP address other
/// than the packet's source, add `received=<source IP>`. RFC 3581 §4: when the top Via has an
/// `rport` without a value, set it to the source port and add `received` even if it equals the
/// sent-by host. An existing `received` is replaced by what was really seen.
///
/// Returns whether the message changed. A request whose top Via does not parse is left alone
/// (the stack answers it 400).
pub(crate) fn stamp_received(message: &mut Message, source: SocketAddr) -> bool {
    if !message.is_request() {
        return false;
    }
    // The whole first Via line: `untouched_v4` stops at a `,` after the host (then the typed
    // path decides), and an `rport` it sees in a later value only sends it there too; so it is
    // true of the line only when it is of the line's first value, without splitting the line.
    if let (IpAddr::V4(v4), Some(raw)) =
        (source.ip().to_canonical(), message.header_lines(HeaderName::Via).next())
    {
        if untouched_v4(raw, v4) {
            return false;
        }
    }
    stamp_typed(message, source)
}

/// [`stamp_received`] by the typed parse of the top Via.
fn stamp_typed(message: &mut Message, source: SocketAddr) -> bool {
    let source_ip = source.ip().to_canonical();
    let value = {
        let Some(Ok(via)) = message.typed::<Via<'_>>() else { return false };
        let host_matches = match via.host() {
            Host::Ipv4(a) => IpAddr::V4(a) == source_ip,
            Host::Ipv6(a) => IpAddr::V6(a).to_canonical() == source_ip,
            Host::Domain(_) => false,
        };
        let fill_rport = via.has_rport() && via.rport().is_none();
        let want_received = !host_matches || via.has_rport();
        let received_ok = via.received().map(|ip| ip.to_canonical()) == Some(source_ip);
        if !fill_rport && (!want_received || received_ok) {
            return false;
        }
        render(&via, want_received.then_some(source_ip), fill_rport.then_some(source.port()))
    };
    // `push_front` refuses CR, LF and NUL; check first so that a refusal cannot happen after
    // the old value was popped.
    if value.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0) {
        return false;
    }
    message.pop_front(HeaderName::Via);
    message.push_front(HeaderName::Via, value).is_ok()
}

/// Whether a top Via value certainly needs no stamp from an IPv4 `source`, seen without the
/// typed parse: its sent-by host is `source` written as a dotted quad (after `SIP/2.0/`, an
/// alphanumeric transport and one space; then `:`, `;` or the end) and no parameter in it is
/// named `rport` (no `;` is followed, after whitespace, by those letters). Such a value, if it
/// parses at all, has a host equal to the source and no `rport`, which [`stamp_received`]
/// leaves alone (as it leaves a value that does not parse); anything else is decided by the
/// typed parse.
fn untouched_v4(raw: &[u8], source: Ipv4Addr) -> bool {
    let Some((host, rest)) = simple_head(raw) else { return false };
    if host != source || !matches!(rest.first(), None | Some(b':' | b';')) {
        return false;
    }
    !memchr::memchr_iter(b';', raw).any(|at| {
        let after = raw.get(at + 1..).unwrap_or_default();
        let name = after.get(after.iter().take_while(|c| c.is_ascii_whitespace()).count()..);
        name.and_then(|n| n.get(..5)).is_some_and(|n| n.eq_ignore_ascii_case(b"rport"))
    })
}

/// `SIP/2.0/`, an alphanumeric transport, one space and a dotted-quad IPv4 address spelled
/// the one way it prints (one to three digits, no leading zero): the address and what follows.
fn simple_head(raw: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let rest = raw.strip_prefix(b"SIP/2.0/")?;
    let transport = rest.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if transport == 0 {
        return None;
    }
    let mut at = rest.get(transport..)?.strip_prefix(b" ")?;
    let mut octets = [0u8; 4];
    for (i, octet) in octets.iter_mut().enumerate() {
        if i > 0 {
            at = at.strip_prefix(b".")?;
        }
        let (value, rest) = small_number(at, 3)?;
        *octet = u8::try_from(value).ok()?;
        at = rest;
    }
    Some((Ipv4Addr::from(octets), at))
}

/// One to `max` digits without a leading zero (a lone `0` aside), and what follows.
fn small_number(at: &[u8], max: usize) -> Option<(u32, &[u8])> {
    let (mut value, mut digits) = (0u32, 0usize);
    for &c in at {
        if !c.is_ascii_digit() {
            break;
        }
        // One digit too many, or a digit after a leading zero.
        if digits == max || (digits == 1 && value == 0) {
            return None;
        }
        value = value * 10 + u32::from(c - b'0');
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    Some((value, at.get(digits..)?))
}

/// The bytes a [`plain_destination`] parameter value is made of: letters, digits and
/// `-._!%*+~` (token characters but for the backquote and the apostrophe).
// In bounds by construction: `c` runs below 256.
#[allow(clippy::indexing_slicing)]
const PLAIN_VALUE: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'!' | b'%' | b'*' | b'+' | b'~');
        c += 1;
    }
    table
};

/// [`via_destination`] without the typed parse, for the plain value most user agents send:
/// `SIP/2.0/<transport> <IPv4>[:<port>]` then only `;name=value` parameters, each name of
/// letters, digits and `-` and none of `received`, `rport`, `maddr` and `ttl`, each value a
/// run of token characters. The typed parse accepts every such value, and sends its response
/// to the sent-by address and port (5060 if none); `None` for any other value. The value may
/// be followed by `,` and more values (a whole Via line): none of the characters above is a
/// comma, quote or angle bracket, so the line's first value is exactly what was read.
fn plain_destination(value: &[u8]) -> Option<SocketAddr> {
    let (dest, rest) = plain_prefix(value)?;
    matches!(rest.first(), None | Some(b',')).then_some(dest)
}

/// The destination of [`plain_destination`]'s grammar read from the start of `value`, and the
/// bytes after what was read (the grammar has no `,`, quote, angle bracket, whitespace but the
/// one space after the transport, CR or LF, so it stops at the end of a Via value at the
/// latest).
fn plain_prefix(value: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let (ip, mut rest) = simple_head(value)?;
    let mut port = DEFAULT_PORT;
    if let Some(after) = rest.strip_prefix(b":") {
        let (number, after) = small_number(after, 5)?;
        port = u16::try_from(number).ok()?;
        rest = after;
    }
    while let Some(param) = rest.strip_prefix(b";") {
        let name_len =
            param.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-').count();
        let name = param.get(..name_len)?;
        let known = match name_len {
            0 => return None,
            3 => name.eq_ignore_ascii_case(b"ttl"),
            5 => name.eq_ignore_ascii_case(b"rport") || name.eq_ignore_ascii_case(b"maddr"),
            8 => name.eq_ignore_ascii_case(b"received"),
            _ => false,
        };
        if known {
            return None;
        }
        let after = param.get(name_len..)?.strip_prefix(b"=")?;
        let value_len =
            after.iter().take_while(|&&c| PLAIN_VALUE.get(usize::from(c)) == Some(&true)).count();
        if value_len == 0 {
            return None;
        }
        rest = after.get(value_len..)?;
    }
    Some((SocketAddr::new(IpAddr::V4(ip), port), rest))
}

/// [`plain_destination`] of a response whose first header is `Via: ` with a plain value
/// that ends the line (a CRLF or LF not followed by whitespace, so not folded) or is followed
/// by `,`: what [`ResponseRoutes::destination`] finds for it, read in one pass without
/// finding the line first. `None` for anything else (the full look decides then).
fn quick_destination(response: &[u8]) -> Option<SocketAddr> {
    let rest = response.get(memchr::memchr(b'\n', response)? + 1..)?;
    let (dest, after) = plain_prefix(rest.strip_prefix(b"Via: ")?)?;
    match after {
        [b',', ..] => Some(dest),
        [b'\r', b'\n', next, ..] | [b'\n', next, ..] if !matches!(next, b' ' | b'\t') => Some(dest),
        _ => None,
    }
}

/// [`via_destination`] of a serialised response's top Via, or `fallback`.
#[cfg(test)]
pub(crate) fn udp_response_destination(response: &[u8], fallback: SocketAddr) -> SocketAddr {
    top_via_value(response).and_then(via_destination).unwrap_or(fallback)
}

/// RFC 3261 §18.2.2 for an unreliable unicast transport, with RFC 3581 §4's step: where a
/// response goes according to its top Via. `maddr` (an IP address) with the sent-by port or
/// 5060; else `received` with `rport` if it has a value, else with the sent-by port or 5060;
/// else the sent-by address with its port or 5060. A name (a `maddr` or sent-by domain) would
/// need RFC 3263 §5 DNS, which the runtime does not do: `fallback` (the address the request
/// came from) is used instead (`None` here), as it is when the Via does not parse.
fn via_destination(value: &[u8]) -> Option<SocketAddr> {
    let via = Via::parse(std::str::from_utf8(value).ok()?).ok()?;
    let port = via.port().unwrap_or(DEFAULT_PORT);
    if let Some(maddr) = via.maddr() {
        return host_ip(maddr).map(|ip| SocketAddr::new(ip, port));
    }
    if let Some(received) = via.received() {
        return Some(SocketAddr::new(received.to_canonical(), via.rport().unwrap_or(port)));
    }
    host_ip(via.host()).map(|ip| SocketAddr::new(ip, port))
}

/// How many top Via values [`ResponseRoutes`] remembers.
const ROUTES_KEPT: usize = 8;
/// The longest top Via value [`ResponseRoutes`] remembers, so that it holds a few KiB at most.
const ROUTE_KEPT_MAX: usize = 512;

/// [`via_destination`] with a memory of the last few top Via values and where they
/// lead: the responses of one transaction (a 180 and a 200, a 2xx sent again) carry the same
/// top Via, which is then parsed once. The destination is a function of the value's bytes
/// alone (the fallback aside, which is applied on every call), so a remembered answer is the
/// answer. The buffers are reused: nothing is allocated once the ring is full.
#[derive(Debug, Default)]
pub(crate) struct ResponseRoutes {
    /// Values and their destinations (`None`: the fallback), oldest overwritten first.
    kept: Vec<(Vec<u8>, Option<SocketAddr>)>,
    next: usize,
}

impl ResponseRoutes {
    /// Where `response` goes over UDP (see [`via_destination`]); `fallback` where that is
    /// the request's source.
    pub(crate) fn destination(&mut self, response: &[u8], fallback: SocketAddr) -> SocketAddr {
        // What most responses look like: the top Via first, plain.
        if let Some(dest) = quick_destination(response) {
            return dest;
        }
        let Some(line) = top_via_line(response) else { return fallback };
        // The plain parse stops at the end of the first value (a `,` or the line's end), so the
        // line need not be split first: split, its first value would be the same bytes.
        if let Some(dest) = plain_destination(line) {
            return dest;
        }
        let Some(value) = split_list(line).next() else { return fallback };
        if let Some((_, dest)) = self.kept.iter().find(|(v, _)| v.as_slice() == value) {
            return dest.unwrap_or(fallback);
        }
        let dest = via_destination(value);
        if value.len() > ROUTE_KEPT_MAX {
            // Not worth holding on to (every response of a transaction is that large).
        } else if self.kept.len() < ROUTES_KEPT {
            self.kept.push((value.to_vec(), dest));
        } else if let Some(slot) = self.kept.get_mut(self.next) {
            slot.0.clear();
            slot.0.extend_from_slice(value);
            slot.1 = dest;
            self.next = (self.next + 1) % ROUTES_KEPT;
        }
        dest.unwrap_or(fallback)
    }
}

/// RFC 3261 §18.2.2 for a reliable transport whose connection closed: "open a connection to
/// the IP address in the received parameter, if present, using the port in the sent-by
/// value, or the default port". Without `received` the sent-by host is the source address
/// (§18.2.1), so it is used when it is an IP address. `None` when the Via names no address.
pub(crate) fn reconnect_destination(response: &Message) -> Option<SocketAddr> {
    let Some(Ok(via)) = response.typed::<Via<'_>>() else { return None };
    let port = via.port().unwrap_or(DEFAULT_PORT);
    let ip = via.received().map(|ip| ip.to_canonical()).or_else(|| host_ip(via.host()))?;
    Some(SocketAddr::new(ip, port))
}

/// The top Via of a serialised message, found without indexing the whole message: what the
/// runtime sends was built or checked by the layers above, and of it the transport needs only
/// the top Via (§18.2.2 for a response, the sent-by socket for a request). The first value of
/// the first `Via`/`v` line, folded lines included, as [`Message::typed`] would give it; `None`
/// when the header block ends without one.
pub(crate) fn top_via(payload: &[u8]) -> Option<Result<Via<'_>, HeaderError>> {
    let value = top_via_value(payload)?;
    Some(match std::str::from_utf8(value) {
        Ok(text) => Via::parse(text),
        Err(e) => Err(HeaderError::new(HeaderName::Via, "not valid UTF-8", e.valid_up_to())),
    })
}

fn top_via_value(payload: &[u8]) -> Option<&[u8]> {
    split_list(top_via_line(payload)?).next()
}

/// The value of the first `Via`/`v` line that has one (folded lines included, LWS trimmed):
/// [`top_via_value`] before splitting it at its commas.
fn top_via_line(payload: &[u8]) -> Option<&[u8]> {
    // Past the start line.
    let mut rest = payload.get(memchr::memchr(b'\n', payload)? + 1..)?;
    loop {
        // One logical header line: up to a line feed not followed by whitespace (a fold).
        let mut end = 0;
        let line_end = loop {
            let nl = memchr::memchr(b'\n', rest.get(end..)?).map(|i| i + end);
            match nl {
                Some(i) if matches!(rest.get(i + 1), Some(b' ' | b'\t')) => end = i + 1,
                Some(i) => break i,
                None => break rest.len(),
            }
        };
        let line = rest.get(..line_end)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        // The usual spelling first (it is how this stack writes the header).
        let colon = if line.starts_with(b"Via:") { Some(3) } else { memchr::memchr(b':', line) };
        if let Some(colon) = colon {
            let name = trim_lws(line.get(..colon)?);
            if colon == 3 && name == b"Via" || HeaderName::from_bytes(name) == HeaderName::Via {
                // An empty Via line has no element; the next Via line holds the top one.
                let value = trim_lws(line.get(colon + 1..)?);
                if !value.is_empty() {
                    return Some(value);
                }
            }
        }
        rest = rest.get(line_end + 1..)?;
    }
}

/// Whether `payload` starts like a response (`SIP/2.0 `), to skip parsing requests.
pub(crate) fn looks_like_response(payload: &[u8]) -> bool {
    // The exact spelling (one 8-byte comparison) before the case-blind one.
    payload.get(..8).is_some_and(|p| p == b"SIP/2.0 " || p.eq_ignore_ascii_case(b"SIP/2.0 "))
}

fn host_ip(host: Host<'_>) -> Option<IpAddr> {
    match host {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(a) => Some(IpAddr::V6(a).to_canonical()),
        Host::Domain(_) => None,
    }
}

/// Writes the Via value back with `received` set (replacing one in place, else appended) and
/// an empty `rport` filled in; every other parameter keeps its place and spelling.
fn render(via: &Via<'_>, received: Option<IpAddr>, rport: Option<u16>) -> String {
    let mut out = String::with_capacity(64 + via.params().as_str().len());
    let _ = write!(
        out,
        "{}/{}/{} {}",
        via.protocol_name(),
        via.protocol_version(),
        via.transport(),
        via.host()
    );
    if let Some(port) = via.port() {
        let _ = write!(out, ":{port}");
    }
    let mut received_written = false;
    for (name, value) in via.params() {
        if name.eq_ignore_ascii_case("received") {
            match received {
                // RFC 3261 §25.1: via-received = "received" EQUAL (IPv4address / IPv6address),
                // an IPv6 address without brackets.
                Some(ip) if !received_written => {
                    let _ = write!(out, ";received={ip}");
                    received_written = true;
                }
                Some(_) => {}
                None => push_param(&mut out, name, value),
            }
        } else if name.eq_ignore_ascii_case("rport") && value.is_none() {
            match rport {
                Some(port) => {
                    let _ = write!(out, ";{name}={port}");
                }
                None => push_param(&mut out, name, value),
            }
        } else {
            push_param(&mut out, name, value);
        }
    }
    if let (Some(ip), false) = (received, received_written) {
        let _ = write!(out, ";received={ip}");
    }
    out
}

fn push_param(out: &mut String, name: &str, value: Option<&str>) {
    out.push(';');
    out.push_str(name);
    if let Some(v) = value {
        out.push('=');
        out.push_str(v);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn request(via: &str) -> Message {
        let text = format!(
            "OPTIONS sip:b@example.com SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP second.example\r\n\
             Call-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text)).unwrap()
    }

    fn vias(m: &Message) -> Vec<String> {
        m.values(HeaderName::Via).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn domain_sent_by_gets_received() {
        // RFC 3261 §18.2.1, the bobspc.biloxi.com example.
        let mut m = request("SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bK1");
        assert!(stamp_received(&mut m, addr("192.0.2.4:5060")));
        assert_eq!(
            vias(&m),
            [
                "SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bK1;received=192.0.2.4",
                "SIP/2.0/UDP second.example"
            ]
        );
        assert_eq!(m.via_branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn matching_ip_sent_by_is_untouched() {
        // §18.2.1: received only when the host differs from the source address.
        let mut m = request("SIP/2.0/UDP 192.0.2.4:5070;branch=z9hG4bK1");
        let before = m.to_bytes();
        assert!(!stamp_received(&mut m, addr("192.0.2.4:40000")));
        assert_eq!(m.to_bytes(), before);
    }

    #[test]
    fn empty_rport_is_filled_and_received_added_even_if_equal() {
        // RFC 3581 §4 and its example.
        let mut m = request("SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff");
        assert!(stamp_received(&mut m, addr("192.0.2.1:9988")));
        assert_eq!(
            vias(&m)[0],
            "SIP/2.0/UDP 10.1.1.1:4540;rport=9988;branch=z9hG4bKkjshdyff;received=192.0.2.1"
        );
        let mut same = request("SIP/2.0/TCP 192.0.2.1:4540;rport;branch=z9hG4bK2");
        assert!(stamp_received(&mut same, addr("192.0.2.1:1234")));
        assert_eq!(
            vias(&same)[0],
            "SIP/2.0/TCP 192.0.2.1:4540;rport=1234;branch=z9hG4bK2;received=192.0.2.1"
        );
    }

    #[test]
    fn a_forged_received_is_replaced_in_place() {
        let mut m = request("SIP/2.0/UDP a.example;received=10.0.0.1;branch=z9hG4bK1");
        assert!(stamp_received(&mut m, addr("192.0.2.9:5060")));
        assert_eq!(vias(&m)[0], "SIP/2.0/UDP a.example;received=192.0.2.9;branch=z9hG4bK1");
        // Already right: nothing to do.
        let mut ok = request("SIP/2.0/UDP a.example;received=192.0.2.9;branch=z9hG4bK1");
        assert!(!stamp_received(&mut ok, addr("192.0.2.9:5060")));
    }

    #[test]
    fn ipv6_and_mapped_sources() {
        let mut m = request("SIP/2.0/UDP [2001:db8::1];rport;branch=z9hG4bK1");
        assert!(stamp_received(&mut m, addr("[2001:db8::2]:7000")));
        assert_eq!(
            vias(&m)[0],
            "SIP/2.0/UDP [2001:db8::1];rport=7000;branch=z9hG4bK1;received=2001:db8::2"
        );
        // A v4-mapped source (a dual-stack socket) is the IPv4 address it maps.
        let mut v4 = request("SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK1");
        assert!(!stamp_received(&mut v4, addr("[::ffff:192.0.2.4]:5060")));
    }

    #[test]
    fn unparsable_via_and_responses_are_left_alone() {
        let mut m = request("garbage");
        assert!(!stamp_received(&mut m, addr("192.0.2.4:5060")));
        let mut r = Message::parse(Bytes::from_static(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert!(!stamp_received(&mut r, addr("192.0.2.4:5060")));
    }

    fn response(via: &str) -> Message {
        Message::parse(Bytes::from(format!(
            "SIP/2.0 200 OK\r\nVia: {via}\r\nContent-Length: 0\r\n\r\n"
        )))
        .unwrap()
    }

    #[test]
    fn the_top_via_scan_finds_what_the_parser_finds() {
        let heads = [
            "Via: SIP/2.0/UDP a.example:5070;branch=z9hG4bK1\r\n",
            "v: SIP/2.0/UDP b.example;rport, SIP/2.0/TCP c.example\r\n",
            "VIA :  SIP/2.0/UDP\r\n 192.0.2.1:5062 ;\r\n\tbranch=z9hG4bK2\r\n",
            "Via:\r\nVia: SIP/2.0/UDP d.example\r\n",
            "Via: ,SIP/2.0/UDP e.example\r\n",
            "Via: SIP/2.0/UDP \"x\"\r\n",
            "X-Via: SIP/2.0/UDP f.example\r\nvia: SIP/2.0/UDP g.example\r\n",
            "From: <sip:a@b>;tag=1\r\n",
            "Subject: a: b\r\n\tc\r\nv: SIP/2.0/SCTP h.example;maddr=192.0.2.9\r\n",
        ];
        for head in heads {
            for start in ["SIP/2.0 200 OK\r\n", "OPTIONS sip:a@b SIP/2.0\r\n"] {
                let text = format!("{start}{head}Content-Length: 0\r\n\r\n");
                let parsed = Message::parse(Bytes::from(text.clone())).unwrap();
                let want = parsed.typed::<Via<'_>>().map(|v| v.map(|v| format!("{v:?}")));
                let got = top_via(text.as_bytes()).map(|v| v.map(|v| format!("{v:?}")));
                assert_eq!(got, want, "{head:?}");
            }
        }
        assert!(top_via(b"SIP/2.0 200 OK\r\n\r\nVia: SIP/2.0/UDP body\r\n").is_none());
        assert!(top_via(b"SIP/2.0 200 OK").is_none());
    }

    #[test]
    fn udp_response_goes_where_the_via_says() {
        // RFC 3261 §18.2.2 bullets 2 to 4, RFC 3581 §4.
        let from = addr("198.51.100.1:33333");
        let cases = [
            ("SIP/2.0/UDP a.example:5070;received=192.0.2.4", "192.0.2.4:5070"),
            ("SIP/2.0/UDP a.example;received=192.0.2.4", "192.0.2.4:5060"),
            ("SIP/2.0/UDP a.example:5070;rport=9988;received=192.0.2.4", "192.0.2.4:9988"),
            ("SIP/2.0/UDP a.example:5070;maddr=239.1.1.1;received=192.0.2.4", "239.1.1.1:5070"),
            ("SIP/2.0/UDP 192.0.2.7:5080", "192.0.2.7:5080"),
            ("SIP/2.0/UDP [2001:db8::7]", "[2001:db8::7]:5060"),
            ("SIP/2.0/UDP a.example:5080", "198.51.100.1:33333"),
            ("SIP/2.0/UDP a.example;maddr=mcast.example", "198.51.100.1:33333"),
        ];
        for (via, want) in cases {
            assert_eq!(
                udp_response_destination(&response(via).to_bytes(), from),
                addr(want),
                "{via}"
            );
        }
    }

    #[test]
    fn the_remembered_destinations_are_the_parsed_ones() {
        let vias = [
            "SIP/2.0/UDP a.example:5070;received=192.0.2.4",
            "SIP/2.0/UDP a.example;received=192.0.2.4",
            "SIP/2.0/UDP a.example:5070;rport=9988;received=192.0.2.4",
            "SIP/2.0/UDP a.example:5070;maddr=239.1.1.1;received=192.0.2.4",
            "SIP/2.0/UDP 192.0.2.7:5080",
            "SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK1",
            "SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK2",
            "SIP/2.0/UDP [2001:db8::7]",
            "SIP/2.0/UDP a.example:5080",
            "SIP/2.0/UDP a.example;maddr=mcast.example",
            "SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK1;;",
            "SIP/2.0/UDP 192.0.2.7:99999",
            "SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK3, SIP/2.0/UDP 192.0.2.8",
            "SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK4,SIP/2.0/UDP 192.0.2.8",
            "SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK5 , SIP/2.0/UDP 192.0.2.8",
            "SIP/2.0/UDP a.example;received=192.0.2.4, SIP/2.0/UDP 192.0.2.8",
            "SIP/2.0/UDP 192.0.2.7:5080;x=\"a,b\", SIP/2.0/UDP 192.0.2.8",
        ];
        let mut routes = ResponseRoutes::default();
        let fallbacks = [addr("198.51.100.1:33333"), addr("198.51.100.2:4444")];
        // Each value again and again, more of them than are remembered, in shifting orders.
        for round in 0..5 {
            for (i, via) in vias.iter().enumerate() {
                for k in 0..=(i + round) % 3 {
                    let bytes = response(via).to_bytes();
                    let from = fallbacks[(i + k + round) % 2];
                    assert_eq!(
                        routes.destination(&bytes, from),
                        udp_response_destination(&bytes, from),
                        "{via} round {round}"
                    );
                }
            }
        }
        assert_eq!(routes.kept.len(), ROUTES_KEPT);
        let no_via = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(routes.destination(no_via, fallbacks[0]), fallbacks[0]);
    }

    #[test]
    fn the_plain_destination_is_the_parsed_one() {
        let heads = ["SIP/2.0/UDP ", "SIP/2.0/TCP ", "SIP/2.0/UDP  ", "SIP/2.0/ UDP ", "SIP/2.0/ "];
        let hosts = [
            "192.0.2.4",
            "192.0.2.04",
            "192.0.2.256",
            "192.0.2",
            "a.example",
            "[::1]",
            "0.0.0.0",
            "255.255.255.255",
            "00.1.1.1",
            "1.2.3.4.",
            "1.2.3.4.5",
            "1..2.3",
            "1234.1.1.1",
        ];
        let ports = ["", ":5060", ":65535", ":65536", ":05060", ":", ":x", " :5060"];
        let params = [
            "",
            ";branch=z9hG4bK-1-0",
            ";branch=z9hG4bK1;x-y=a.b_c!%*+~",
            ";branch=",
            ";branch",
            ";branch=a/b",
            ";received=192.0.2.9",
            ";RPORT=5",
            ";rport",
            ";maddr=192.0.2.9",
            ";TTL=5",
            ";ttl=999",
            ";;",
            ";branch=z9hG4bK1;",
            " ;branch=z9hG4bK1",
            ";branch=\"x\"",
            ";branch=z9hG4bK1 ",
        ];
        let mut plain = 0;
        for head in heads {
            for host in hosts {
                for port in ports {
                    for param in params {
                        let via = format!("{head}{host}{port}{param}");
                        if let Some(dest) = plain_destination(via.as_bytes()) {
                            plain += 1;
                            assert_eq!(via_destination(via.as_bytes()), Some(dest), "{via}");
                        }
                    }
                }
            }
        }
        assert_eq!(plain, 54, "2 heads, 3 hosts, 3 ports, 3 parameter lists");
    }

    #[test]
    fn the_quick_destination_is_the_full_look() {
        let starts = ["SIP/2.0 200 OK\r\n", "SIP/2.0 180 Ringing\n", "SIP/2.0 200 OK"];
        let vias = [
            "Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK-1-0",
            "Via: SIP/2.0/UDP 192.0.2.7",
            "Via: SIP/2.0/TCP 192.0.2.7:5080;branch=z9hG4bK1;x-y=a.b",
            "Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK1,SIP/2.0/UDP 192.0.2.8",
            "Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK1 ,SIP/2.0/UDP 192.0.2.8",
            "Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK1 ",
            "Via: SIP/2.0/UDP 192.0.2.7:5080;rport=5;received=192.0.2.9",
            "Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK1;maddr=192.0.2.9",
            "Via: SIP/2.0/UDP a.example:5080;received=192.0.2.9",
            "Via:  SIP/2.0/UDP 192.0.2.7:5080",
            "VIA: SIP/2.0/UDP 192.0.2.7:5080",
            "v: SIP/2.0/UDP 192.0.2.7:5080",
            "Via: ",
            "Via:",
            "",
        ];
        let ends =
            ["\r\n", "\n", "\r\n ;branch=z9hG4bK2\r\n", "\r\n\t, SIP/2.0/UDP a.b\r\n", "\r", ""];
        let tails = ["Via: SIP/2.0/UDP 192.0.2.1:1\r\nContent-Length: 0\r\n\r\n", "\r\n", ""];
        let from = addr("198.51.100.1:33333");
        let mut quick = 0;
        for start in starts {
            for via in vias {
                for end in ends {
                    for tail in tails {
                        let text = format!("{start}{via}{end}{tail}");
                        let full = top_via_line(text.as_bytes())
                            .and_then(|line| split_list(line).next())
                            .and_then(via_destination)
                            .unwrap_or(from);
                        if let Some(dest) = quick_destination(text.as_bytes()) {
                            quick += 1;
                            assert_eq!(dest, full, "{text:?}");
                        }
                        let mut routes = ResponseRoutes::default();
                        assert_eq!(routes.destination(text.as_bytes(), from), full, "{text:?}");
                    }
                }
            }
        }
        assert!(quick > 20, "{quick}");
    }

    #[test]
    fn the_quick_look_agrees_with_the_typed_stamp() {
        let heads =
            ["SIP/2.0/UDP ", "SIP/2.0/TCP ", "SIP/2.0/UDP  ", "SIP / 2.0/UDP ", "sip/2.0/UDP "];
        let hosts = [
            "192.0.2.4",
            "192.0.2.40",
            "192.0.2.04",
            "192.0.2.4.5",
            "192.0.2",
            "192.0.2.4x",
            "a.example",
            "[2001:db8::1]",
            "0.0.0.0",
        ];
        let ports = ["", ":5060", ":99999", ":x"];
        let params = [
            "",
            ";branch=z9hG4bK1",
            ";rport",
            ";RPORT=5",
            ";branch=z9hG4bK1;rPort",
            ";received=192.0.2.4",
            ";received=10.0.0.1",
            ";maddr=192.0.2.9",
            ";;",
            " ;branch=z9hG4bK1",
            ";x=\"rport\"",
            ", SIP/2.0/UDP 192.0.2.9;rport",
            ";branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.9",
            ";branch=z9hG4bK1,SIP/2.0/UDP 192.0.2.4",
            ";x=\"a,b\";branch=z9hG4bK1",
        ];
        let sources = ["192.0.2.4:5060", "192.0.2.40:1", "[::ffff:192.0.2.4]:5", "[2001:db8::1]:9"];
        let mut quick = 0;
        for head in heads {
            for host in hosts {
                for port in ports {
                    for param in params {
                        let via = format!("{head}{host}{port}{param}");
                        for source in sources {
                            let source = addr(source);
                            let mut fast = request(&via);
                            let mut typed = fast.clone();
                            let raw = fast.header(HeaderName::Via).unwrap().to_vec();
                            if let IpAddr::V4(v4) = source.ip().to_canonical() {
                                quick += usize::from(untouched_v4(&raw, v4));
                            }
                            assert_eq!(
                                stamp_received(&mut fast, source),
                                stamp_typed(&mut typed, source),
                                "{via} from {source}"
                            );
                            assert_eq!(fast.to_bytes(), typed.to_bytes(), "{via} from {source}");
                        }
                    }
                }
            }
        }
        assert!(quick > 100, "{quick}");
    }

    #[test]
    fn reconnect_uses_received_and_the_sent_by_port() {
        // RFC 3261 §18.2.2 bullet 1.
        let r = response("SIP/2.0/TCP a.example:5070;received=192.0.2.4;rport=4000");
        assert_eq!(reconnect_destination(&r), Some(addr("192.0.2.4:5070")));
        assert_eq!(
            reconnect_destination(&response("SIP/2.0/TCP 192.0.2.5")),
            Some(addr("192.0.2.5:5060"))
        );
        assert_eq!(reconnect_destination(&response("SIP/2.0/TCP a.example")), None);
    }

    #[test]
    fn recognises_responses_by_their_first_bytes() {
        assert!(looks_like_response(b"SIP/2.0 200 OK\r\n"));
        assert!(!looks_like_response(b"OPTIONS sip:a SIP/2.0\r\n"));
        assert!(!looks_like_response(b"SIP/2"));
        assert!(looks_like_response(b"sip/2.0 200 OK\r\n"));
        assert!(!looks_like_response(b"SIP/2.0/UDP"));
    }
}
