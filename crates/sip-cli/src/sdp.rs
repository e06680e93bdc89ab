//! The SDP answer `sip serve` gives to an offer (RFC 3264 §6, SDP syntax of RFC 4566), and the
//! offer it makes when an INVITE carries none (RFC 3264 §5).
//!
//! The answer accepts one codec of the first audio stream it can use (the offerer's most
//! preferred one among those listed in [`KNOWN`]) and rejects every other stream with port 0,
//! keeping the offer's order (§6: "the answer MUST contain exactly the same number of `m=`
//! lines as the offer", in the same order). No media flows: the port is one the caller
//! reserved, so a peer's RTP reaches a bound socket and is dropped there.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

use sip_message::Decimal;

/// Encodings the answerer accepts (RFC 3551 names), in no particular order: a payload type
/// is usable when its `rtpmap` names one of these, or, without `rtpmap`, when it is one of the
/// static payload types of RFC 3551 Table 4 listed in [`STATIC`].
const KNOWN: &[&str] = &["PCMU", "PCMA", "G722", "GSM", "G729", "opus", "speex", "iLBC"];

/// RFC 3551 Table 4: static audio payload types the answerer knows without `rtpmap`.
const STATIC: &[(u8, &str, u32)] = &[
    (0, "PCMU", 8000),
    (3, "GSM", 8000),
    (8, "PCMA", 8000),
    (9, "G722", 8000),
    (18, "G729", 8000),
];

/// The codec an answer accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Codec {
    /// The payload type, as the offer numbered it.
    pub(crate) payload_type: u8,
    /// `encoding/clock[/channels]`, as in `a=rtpmap`.
    pub(crate) rtpmap: String,
}

/// Why an offer gets no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SdpError {
    /// The body is not SDP: no `v=0` line first, no `o=`, or a malformed `m=` line.
    Malformed,
    /// No audio stream offers a codec this answerer knows (RFC 3261 §13.3.1.3: 488).
    NoCommonCodec,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SdpError::Malformed => "malformed session description",
            SdpError::NoCommonCodec => "no common audio codec",
        })
    }
}

/// One `m=` section of an offer.
#[derive(Debug)]
struct Media<'a> {
    kind: &'a str,
    proto: &'a str,
    formats: Vec<&'a str>,
    port: &'a str,
    /// The `a=` values of the section (after `a=`).
    attributes: Vec<&'a str>,
}

/// Answers `offer` (RFC 3264 §6): the text of the answer and the codec it accepted. `ip` is
/// the address to receive media on (`c=`), `port` the reserved RTP port, `session` the `o=`
/// session id.
///
/// # Errors
/// [`SdpError::Malformed`] for a body that is not SDP, [`SdpError::NoCommonCodec`] when no
/// audio stream can be accepted.
#[cfg(test)]
pub(crate) fn answer(
    offer: &[u8],
    ip: IpAddr,
    port: u16,
    session: u64,
) -> Result<(String, Codec), SdpError> {
    let (plan, codec) = plan(offer)?;
    Ok((plan.render(&Address::of(ip), port, session), codec))
}

/// An answer to one offer but for its address, port and session id: the `t=` value, the text
/// from the end of `t=` to the accepted `m=audio ` (rejected streams before it), the text from
/// its port on.
#[derive(Clone, Debug)]
struct Plan {
    timing: String,
    head: String,
    tail: String,
}

impl Plan {
    #[cfg(test)]
    fn render(&self, address: &Address, port: u16, session: u64) -> String {
        let mut out = header_at(address, session, &self.timing);
        out.push_str(&self.head);
        out.push_str(Decimal::new(u64::from(port)).as_str());
        out.push_str(&self.tail);
        out
    }
}

/// An address as `header` writes it: its family and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Address {
    ip: IpAddr,
    text: String,
}

impl Address {
    fn of(ip: IpAddr) -> Address {
        let mut text = String::with_capacity(46);
        let _ = write!(text, "{ip}");
        Address { ip, text }
    }
}

/// Answers offers (RFC 3264 §6) as `answer` does, for a run of calls: the last answer is
/// kept written out but for its session id and port, so an offer like the last one (a load
/// generator sends the same one every call) from the same address is answered without being
/// read again, by copying three pieces around the two numbers. The answer is a function of the
/// offer's bytes, the address, the port and the session id, so the text is the same.
#[derive(Debug, Default)]
pub(crate) struct Answerer {
    last: Option<Kept>,
}

/// The last answer: everything after the `o=` session id and version up to the port of the
/// accepted stream, and everything after that port.
#[derive(Debug)]
struct Kept {
    offer: Vec<u8>,
    ip: IpAddr,
    middle: String,
    tail: String,
}

impl Kept {
    fn render(&self, port: u16, session: u64) -> String {
        let session_text = Decimal::new(session);
        let session_text = session_text.as_str();
        let port_text = Decimal::new(u64::from(port));
        let port_text = port_text.as_str();
        let mut out = String::with_capacity(
            12 + 2 * session_text.len() + self.middle.len() + port_text.len() + self.tail.len(),
        );
        for piece in ["v=0\r\no=- ", session_text, " ", session_text, &self.middle, port_text] {
            out.push_str(piece);
        }
        out.push_str(&self.tail);
        out
    }
}

impl Answerer {
    /// The answer to `offer`: `ip` is the address to receive media on (`c=`), `port` the
    /// reserved RTP port, `session` the `o=` session id.
    ///
    /// # Errors
    /// [`SdpError::Malformed`] for a body that is not SDP, [`SdpError::NoCommonCodec`] when no
    /// audio stream can be accepted.
    pub(crate) fn answer(
        &mut self,
        offer: &[u8],
        ip: IpAddr,
        port: u16,
        session: u64,
    ) -> Result<String, SdpError> {
        if let Some(kept) = &self.last {
            if kept.ip == ip && kept.offer.as_slice() == offer {
                return Ok(kept.render(port, session));
            }
        }
        let (plan, _) = plan(offer)?;
        // What `header` writes after the two session numbers, then the plan's head.
        let address = Address::of(ip);
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let mut middle = String::with_capacity(64 + 2 * address.text.len() + plan.head.len());
        for piece in [
            " IN ",
            family,
            " ",
            &address.text,
            "\r\ns=sip serve\r\nc=IN ",
            family,
            " ",
            &address.text,
            "\r\nt=",
            &plan.timing,
            "\r\n",
            &plan.head,
        ] {
            middle.push_str(piece);
        }
        let kept = Kept { offer: offer.to_vec(), ip, middle, tail: plan.tail };
        let text = kept.render(port, session);
        // Offers that are not small are not worth keeping.
        if offer.len() <= 4096 {
            self.last = Some(kept);
        }
        Ok(text)
    }
}

/// The [`Plan`] of `offer`'s answer, and the codec it accepts.
fn plan(offer: &[u8]) -> Result<(Plan, Codec), SdpError> {
    let text = std::str::from_utf8(offer).map_err(|_| SdpError::Malformed)?;
    let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
    if lines.next() != Some("v=0") {
        return Err(SdpError::Malformed);
    }
    let mut timing = None;
    let mut has_origin = false;
    let mut media: Vec<Media<'_>> = Vec::with_capacity(2);
    for line in lines {
        let Some((kind, value)) = line.split_once('=') else { return Err(SdpError::Malformed) };
        match (kind, media.last_mut()) {
            ("m", _) => media.push(parse_media(value)?),
            ("a", Some(m)) => m.attributes.push(value),
            ("o", None) => has_origin = true,
            ("t", None) if timing.is_none() => timing = Some(value),
            _ => {}
        }
    }
    if !has_origin {
        return Err(SdpError::Malformed);
    }
    let mut chosen: Option<(usize, Codec)> = None;
    for (index, m) in media.iter().enumerate() {
        if m.kind == "audio" && m.port != "0" && is_rtp(m.proto) {
            if let Some(codec) = pick_codec(m) {
                chosen = Some((index, codec));
                break;
            }
        }
    }
    let Some((accepted, codec)) = chosen else { return Err(SdpError::NoCommonCodec) };
    let mut head = String::new();
    let mut tail = String::new();
    for (index, m) in media.iter().enumerate() {
        let out = if index <= accepted { &mut head } else { &mut tail };
        if index == accepted {
            out.push_str("m=audio ");
            let out = &mut tail;
            let _ = write!(out, " {} {}\r\n", m.proto, codec.payload_type);
            let _ = write!(out, "a=rtpmap:{} {}\r\n", codec.payload_type, codec.rtpmap);
            for a in m
                .attributes
                .iter()
                .filter(|a| attribute_for(a, "fmtp:", codec.payload_type).is_some())
            {
                let _ = write!(out, "a={a}\r\n");
            }
            let _ = write!(out, "a={}\r\n", answer_direction(&m.attributes));
        } else {
            // RFC 3264 §6: a rejected stream keeps its media type and lists at least one of
            // the offered formats, with port 0.
            let format = m.formats.first().copied().unwrap_or("0");
            let _ = write!(out, "m={} 0 {} {format}\r\n", m.kind, m.proto);
        }
    }
    Ok((Plan { timing: timing.unwrap_or("0 0").to_owned(), head, tail }, codec))
}

/// An offer (RFC 3264 §5) of PCMU and PCMA on `port`, for an INVITE that carried none.
pub(crate) fn offer(ip: IpAddr, port: u16, session: u64) -> String {
    let mut out = header(ip, session, "0 0");
    let _ = write!(
        out,
        "m=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
    );
    out
}

/// `v=`, `o=`, `s=`, `c=` and `t=` of a description from `ip`.
fn header(ip: IpAddr, session: u64, timing: &str) -> String {
    header_at(&Address::of(ip), session, timing)
}

/// [`header`] with the address already written.
fn header_at(address: &Address, session: u64, timing: &str) -> String {
    let family = if address.ip.is_ipv4() { "IP4" } else { "IP6" };
    let address = &address.text;
    // Written piece by piece into one buffer sized for the whole description: this runs once
    // per answered call, and `format!` would format the address twice and grow the string.
    let session_text = Decimal::new(session);
    let session_text = session_text.as_str();
    let mut out = String::with_capacity(320);
    for piece in [
        "v=0\r\no=- ",
        session_text,
        " ",
        session_text,
        " IN ",
        family,
        " ",
        address,
        "\r\ns=sip serve\r\nc=IN ",
        family,
        " ",
        address,
        "\r\nt=",
        timing,
        "\r\n",
    ] {
        out.push_str(piece);
    }
    out
}

/// `m=<media> <port> <proto> <fmt> ...` (RFC 4566 §5.14).
fn parse_media(value: &str) -> Result<Media<'_>, SdpError> {
    let mut parts = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SdpError::Malformed);
    };
    let formats: Vec<&str> = parts.collect();
    let port_number = port.split('/').next().unwrap_or(port);
    if formats.is_empty() || port_number.parse::<u16>().is_err() {
        return Err(SdpError::Malformed);
    }
    Ok(Media { kind, proto, formats, port: port_number, attributes: Vec::new() })
}

/// RTP profiles without keys to negotiate (SRTP would need `a=crypto` or DTLS).
fn is_rtp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

/// The first format of `m` (the offerer's preference, RFC 3264 §5.1) whose encoding is known.
fn pick_codec(m: &Media<'_>) -> Option<Codec> {
    m.formats.iter().find_map(|format| {
        let payload_type: u8 = format.parse().ok().filter(|pt| *pt < 128)?;
        let rtpmap = m.attributes.iter().find_map(|a| attribute_for(a, "rtpmap:", payload_type));
        match rtpmap {
            Some(map) => {
                let encoding = map.split('/').next().unwrap_or_default().trim();
                KNOWN
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(encoding))
                    .then(|| Codec { payload_type, rtpmap: map.trim().to_owned() })
            }
            None => {
                STATIC.iter().find(|(pt, _, _)| *pt == payload_type).map(|(pt, name, clock)| {
                    Codec { payload_type: *pt, rtpmap: format!("{name}/{clock}") }
                })
            }
        }
    })
}

/// The rest of attribute `a` after `<kind><payload_type> ` (e.g. `rtpmap:0 `), if it is one.
fn attribute_for<'a>(a: &'a str, kind: &str, payload_type: u8) -> Option<&'a str> {
    let rest = a.strip_prefix(kind)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = rest.split_at_checked(digits)?;
    // The exact decimal rendering: `rtpmap:00` is not payload type 0's.
    let canonical = number.len() == 1 || !number.starts_with('0');
    if !canonical || number.parse::<u8>().ok() != Some(payload_type) {
        return None;
    }
    rest.strip_prefix(' ')
}

/// RFC 3264 §6.1: sendonly is answered recvonly, recvonly sendonly, inactive inactive, and
/// sendrecv (the default) sendrecv.
fn answer_direction(attributes: &[&str]) -> &'static str {
    for a in attributes {
        match *a {
            "sendonly" => return "recvonly",
            "recvonly" => return "sendonly",
            "inactive" => return "inactive",
            "sendrecv" => return "sendrecv",
            _ => {}
        }
    }
    "sendrecv"
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    fn ip() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn attributes_are_matched_by_the_exact_payload_type() {
        assert_eq!(attribute_for("rtpmap:0 PCMU/8000", "rtpmap:", 0), Some("PCMU/8000"));
        assert_eq!(
            attribute_for("rtpmap:101 telephone-event/8000", "rtpmap:", 101),
            Some("telephone-event/8000")
        );
        assert_eq!(attribute_for("rtpmap:00 PCMU/8000", "rtpmap:", 0), None);
        assert_eq!(attribute_for("rtpmap:10 L16/44100", "rtpmap:", 1), None);
        assert_eq!(attribute_for("rtpmap:0PCMU", "rtpmap:", 0), None);
        assert_eq!(attribute_for("fmtp:96 mode=30", "rtpmap:", 96), None);
        assert_eq!(attribute_for("fmtp:96 mode=30", "fmtp:", 96), Some("mode=30"));
    }

    #[test]
    fn sipp_offer_gets_pcmu_on_our_port() {
        // RFC 3264 §6: same m= count and order, one accepted codec, our c= and port.
        let (sdp, codec) = answer(SIPP_OFFER.as_bytes(), ip(), 20000, 7).unwrap();
        assert_eq!(codec, Codec { payload_type: 0, rtpmap: "PCMU/8000".into() });
        assert_eq!(
            sdp,
            "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=sip serve\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn the_offerers_first_known_codec_wins_and_dynamic_types_keep_their_fmtp() {
        let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 4000 RTP/AVP 120 8 0\r\na=rtpmap:120 opus/48000/2\r\n\
            a=fmtp:120 useinbandfec=1\r\na=fmtp:8 x=1\r\n";
        let (sdp, codec) = answer(offer.as_bytes(), ip(), 20002, 1).unwrap();
        assert_eq!(codec.payload_type, 120);
        assert!(sdp.contains("m=audio 20002 RTP/AVP 120\r\na=rtpmap:120 opus/48000/2\r\n"));
        assert!(sdp.contains("a=fmtp:120 useinbandfec=1\r\n"), "{sdp}");
        assert!(!sdp.contains("fmtp:8"), "{sdp}");
    }

    #[test]
    fn unknown_first_codec_falls_back_to_a_static_one() {
        let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 4000 RTP/AVP 96 8\r\na=rtpmap:96 AMR/8000\r\n";
        let (_, codec) = answer(offer.as_bytes(), ip(), 20000, 1).unwrap();
        assert_eq!(codec, Codec { payload_type: 8, rtpmap: "PCMA/8000".into() });
    }

    #[test]
    fn other_streams_are_rejected_with_port_zero_in_order() {
        // RFC 3264 §6: video before audio stays first, refused with port 0.
        let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
            m=video 5000 RTP/AVP 31\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n\
            m=audio 4002 RTP/AVP 8\r\n";
        let (sdp, _) = answer(offer.as_bytes(), ip(), 20000, 1).unwrap();
        let m: Vec<&str> = sdp.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(m, ["m=video 0 RTP/AVP 31", "m=audio 20000 RTP/AVP 0", "m=audio 0 RTP/AVP 8"]);
        assert!(sdp.contains("a=recvonly\r\n"), "sendonly is answered recvonly: {sdp}");
    }

    #[test]
    fn timing_is_copied_and_ipv6_is_named_ip6() {
        let offer =
            "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=3034423619 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let (sdp, _) = answer(offer.as_bytes(), "::1".parse().unwrap(), 20000, 1).unwrap();
        assert!(sdp.contains("t=3034423619 0\r\n"), "{sdp}");
        assert!(sdp.contains("c=IN IP6 ::1\r\n"), "{sdp}");
    }

    #[test]
    fn no_known_codec_or_no_audio_is_no_common_codec() {
        let video =
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=video 5000 RTP/AVP 31\r\n";
        assert_eq!(answer(video.as_bytes(), ip(), 1, 1), Err(SdpError::NoCommonCodec));
        let amr = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 AMR/8000\r\n";
        assert_eq!(answer(amr.as_bytes(), ip(), 1, 1), Err(SdpError::NoCommonCodec));
        let srtp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n";
        assert_eq!(answer(srtp.as_bytes(), ip(), 1, 1), Err(SdpError::NoCommonCodec));
        let disabled = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
        assert_eq!(answer(disabled.as_bytes(), ip(), 1, 1), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for body in
            [&b"hello"[..], b"v=0\r\nm=audio\r\n", b"v=0\r\nm=audio x RTP/AVP 0\r\n", b"\xff"]
        {
            assert_eq!(answer(body, ip(), 1, 1), Err(SdpError::Malformed), "{body:?}");
        }
        assert_eq!(
            answer(b"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n", ip(), 1, 1),
            Err(SdpError::Malformed)
        );
    }

    /// The answer as it was written before plans were kept: one pass into one string.
    fn reference_answer(
        offer: &[u8],
        ip: IpAddr,
        port: u16,
        session: u64,
    ) -> Result<String, SdpError> {
        let text = std::str::from_utf8(offer).map_err(|_| SdpError::Malformed)?;
        let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
        if lines.next() != Some("v=0") {
            return Err(SdpError::Malformed);
        }
        let (mut timing, mut has_origin, mut media) = (None, false, Vec::<Media<'_>>::new());
        for line in lines {
            let Some((kind, value)) = line.split_once('=') else {
                return Err(SdpError::Malformed);
            };
            match (kind, media.last_mut()) {
                ("m", _) => media.push(parse_media(value)?),
                ("a", Some(m)) => m.attributes.push(value),
                ("o", None) => has_origin = true,
                ("t", None) if timing.is_none() => timing = Some(value),
                _ => {}
            }
        }
        if !has_origin {
            return Err(SdpError::Malformed);
        }
        let chosen = media.iter().enumerate().find_map(|(index, m)| {
            (m.kind == "audio" && m.port != "0" && is_rtp(m.proto))
                .then(|| pick_codec(m).map(|codec| (index, codec)))
                .flatten()
        });
        let Some((accepted, codec)) = chosen else { return Err(SdpError::NoCommonCodec) };
        let mut out = header(ip, session, timing.unwrap_or("0 0"));
        for (index, m) in media.iter().enumerate() {
            if index == accepted {
                let _ = write!(out, "m=audio {port} {} {}\r\n", m.proto, codec.payload_type);
                let _ = write!(out, "a=rtpmap:{} {}\r\n", codec.payload_type, codec.rtpmap);
                for a in m
                    .attributes
                    .iter()
                    .filter(|a| attribute_for(a, "fmtp:", codec.payload_type).is_some())
                {
                    let _ = write!(out, "a={a}\r\n");
                }
                let _ = write!(out, "a={}\r\n", answer_direction(&m.attributes));
            } else {
                let format = m.formats.first().copied().unwrap_or("0");
                let _ = write!(out, "m={} 0 {} {format}\r\n", m.kind, m.proto);
            }
        }
        Ok(out)
    }

    #[test]
    fn kept_answers_are_the_answers_written_in_one_pass() {
        let offers: [&[u8]; 9] = [
            SIPP_OFFER.as_bytes(),
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
              m=audio 4000 RTP/AVP 120 8 0\r\na=rtpmap:120 opus/48000/2\r\n\
              a=fmtp:120 useinbandfec=1\r\na=fmtp:8 x=1\r\n",
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n\
              m=video 5000 RTP/AVP 31\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n\
              m=audio 4002 RTP/AVP 8\r\nm=text 4004 RTP/AVP 98\r\n",
            b"v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=3034423619 0\r\nm=audio 4000 RTP/AVP 0\r\n",
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 96 8\r\n\
              a=rtpmap:96 AMR/8000\r\na=inactive\r\n",
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=video 5000 RTP/AVP 31\r\n",
            b"v=0\r\nm=audio x RTP/AVP 0\r\n",
            b"\xff",
            b"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n",
        ];
        let ips: [IpAddr; 2] = [ip(), "2001:db8::1".parse().unwrap()];
        let mut answerer = Answerer::default();
        let mut kept = 0;
        for round in 0..3u16 {
            for (i, offer) in offers.iter().enumerate() {
                for again in 0..2u16 {
                    let (ip, port) =
                        (ips[(i + usize::from(round)) % 2], 20000 + 2 * (round + again));
                    let session = u64::from(round) << 40 | i as u64;
                    let want = reference_answer(offer, ip, port, session);
                    kept += usize::from(again == 1 && want.is_ok());
                    assert_eq!(answerer.answer(offer, ip, port, session), want, "offer {i}");
                    assert_eq!(answer(offer, ip, port, session).map(|(t, _)| t), want);
                }
            }
        }
        assert_eq!(kept, 15);
    }

    #[test]
    fn our_offer_is_answerable_by_ourselves() {
        let offer = offer(ip(), 20000, 3);
        let (_, codec) = answer(offer.as_bytes(), ip(), 20002, 4).unwrap();
        assert_eq!(codec.payload_type, 0);
    }
}
