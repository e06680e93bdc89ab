//! The transport layer's Via rules: stamping `received` and `rport` on requests (RFC 3261
//! §18.2.1, RFC 3581 §4) and finding where a response goes (§18.2.2).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

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

/// RFC 3261 §18.2.2 for an unreliable unicast transport, with RFC 3581 §4's step: where a
/// response goes according to its top Via. `maddr` (an IP address) with the sent-by port or
/// 5060; else `received` with `rport` if it has a value, else with the sent-by port or 5060;
/// else the sent-by address with its port or 5060. A name (a `maddr` or sent-by domain) would
/// need RFC 3263 §5 DNS, which the runtime does not do: `fallback` (the address the request
/// came from) is used instead, as it is when the Via does not parse.
pub(crate) fn udp_response_destination(response: &[u8], fallback: SocketAddr) -> SocketAddr {
    let Some(Ok(via)) = top_via(response) else { return fallback };
    let port = via.port().unwrap_or(DEFAULT_PORT);
    if let Some(maddr) = via.maddr() {
        return host_ip(maddr).map_or(fallback, |ip| SocketAddr::new(ip, port));
    }
    if let Some(received) = via.received() {
        return SocketAddr::new(received.to_canonical(), via.rport().unwrap_or(port));
    }
    host_ip(via.host()).map_or(fallback, |ip| SocketAddr::new(ip, port))
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
    // Past the start line.
    let mut rest = payload.get(payload.iter().position(|&c| c == b'\n')? + 1..)?;
    loop {
        // One logical header line: up to a line feed not followed by whitespace (a fold).
        let mut end = 0;
        let line_end = loop {
            let nl = rest.get(end..)?.iter().position(|&c| c == b'\n').map(|i| i + end);
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
        if let Some(colon) = line.iter().position(|&c| c == b':') {
            let name = trim_lws(line.get(..colon)?);
            if HeaderName::from_bytes(name) == HeaderName::Via {
                // An empty Via line has no element; the next Via line holds the top one.
                let value = trim_lws(line.get(colon + 1..)?);
                if !value.is_empty() {
                    return split_list(value).next();
                }
            }
        }
        rest = rest.get(line_end + 1..)?;
    }
}

/// Whether `payload` starts like a response (`SIP/2.0 `), to skip parsing requests.
pub(crate) fn looks_like_response(payload: &[u8]) -> bool {
    payload.get(..8).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/2.0 "))
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
    }
}
