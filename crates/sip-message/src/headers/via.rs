//! `Via` (RFC 3261 §20.42, §18.2.2; RFC 3581 `rport`; RFC 5118 IPv6).

use std::net::IpAddr;

use crate::chars::{TOKEN, run_len};
use crate::{HeaderError, HeaderName, Host, TypedHeader};

use super::lex::{Cursor, parse_host, parse_ip};
use super::params::{
    ParamList, Params, check_params_to_end, digits_value, plain_token_params_bytes, token_value,
    with_params,
};

/// One `Via` value: a hop the request took, where responses go back.
///
/// ```text
/// Via               =  ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm)
/// via-parm          =  sent-protocol LWS sent-by *( SEMI via-params )
/// via-params        =  via-ttl / via-maddr / via-received / via-branch / via-extension
/// via-ttl           =  "ttl" EQUAL ttl
/// via-maddr         =  "maddr" EQUAL host
/// via-received      =  "received" EQUAL (IPv4address / IPv6address)
/// via-branch        =  "branch" EQUAL token
/// via-extension     =  generic-param
/// sent-protocol     =  protocol-name SLASH protocol-version SLASH transport
/// protocol-name     =  "SIP" / token
/// protocol-version  =  token
/// transport         =  "UDP" / "TCP" / "TLS" / "SCTP" / other-transport
/// sent-by           =  host [ COLON port ]
/// ttl               =  1*3DIGIT ; 0 to 255
/// response-port     =  "rport" [EQUAL 1*DIGIT]          ; RFC 3581 §3
/// ```
///
/// The known parameters are checked when the value is parsed; `received` may be an IPv6
/// reference in brackets (RFC 5118 §4.5). Transport and protocol are tokens compared
/// case-insensitively by callers; unknown transports are kept (RFC 4475 §3.1.1.10).
///
/// ```
/// use sip_message::{Host, TypedHeader, Via};
/// // RFC 4475 §3.1.1.1 wsinv: whitespace and folds around every separator.
/// let via = Via::parse("SIP  /   2.0\r\n  /UDP\r\n    192.0.2.2;branch=390skdjuw")?;
/// assert_eq!(via.transport(), "UDP");
/// assert_eq!(via.host(), Host::Ipv4([192, 0, 2, 2].into()));
/// assert_eq!(via.branch(), Some("390skdjuw"));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Via<'a> {
    protocol_name: &'a str,
    protocol_version: &'a str,
    transport: &'a str,
    sent_by: &'a str,
    host: Host<'a>,
    port: Option<u16>,
    params: Params<'a>,
    branch: Option<&'a str>,
    received: Option<IpAddr>,
    rport: Option<Option<u16>>,
    maddr: Option<Host<'a>>,
    ttl: Option<u8>,
}

impl<'a> Via<'a> {
    /// The protocol name, `SIP` in practice.
    #[must_use]
    pub fn protocol_name(&self) -> &'a str {
        self.protocol_name
    }

    /// The protocol version, `2.0` in practice.
    #[must_use]
    pub fn protocol_version(&self) -> &'a str {
        self.protocol_version
    }

    /// Whether the sent-protocol is `SIP/2.0` (case-insensitive name).
    #[must_use]
    pub fn is_sip_2_0(&self) -> bool {
        self.protocol_name.eq_ignore_ascii_case("SIP") && self.protocol_version == "2.0"
    }

    /// The transport token as sent (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, or another).
    #[must_use]
    pub fn transport(&self) -> &'a str {
        self.transport
    }

    /// `sent-by` as it appears on the wire: host and optional port.
    #[must_use]
    pub fn sent_by(&self) -> &'a str {
        self.sent_by
    }

    /// The sent-by host.
    #[must_use]
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The sent-by port, if given (the transport's default applies otherwise, §18.2.2).
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// All parameters in order, known ones included.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `branch` parameter: the transaction identifier (§8.1.1.7, §17.2.3).
    #[must_use]
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }

    /// The `received` parameter: the source address the previous hop saw (§18.2.1).
    #[must_use]
    pub fn received(&self) -> Option<IpAddr> {
        self.received
    }

    /// Whether the `rport` parameter is present, with or without a value (RFC 3581 §4).
    #[must_use]
    pub fn has_rport(&self) -> bool {
        self.rport.is_some()
    }

    /// The value of `rport`: the source port the previous hop saw (RFC 3581 §4); `None` when
    /// absent or present without a value.
    #[must_use]
    pub fn rport(&self) -> Option<u16> {
        self.rport.flatten()
    }

    /// The `maddr` parameter (§18.2.2).
    #[must_use]
    pub fn maddr(&self) -> Option<Host<'a>> {
        self.maddr
    }

    /// The `ttl` parameter, for multicast (§18.1.1).
    #[must_use]
    pub fn ttl(&self) -> Option<u8> {
        self.ttl
    }
}

impl<'a> TypedHeader<'a> for Via<'a> {
    const NAME: HeaderName = HeaderName::Via;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let ((protocol_name, protocol_version, transport, sent_by, host, port), params, known) =
            with_params(value, HeaderName::Via, sent_protocol_and_by, known_params)?;
        let (branch, received, rport, maddr, ttl) = known;
        Ok(Via {
            protocol_name,
            protocol_version,
            transport,
            sent_by,
            host,
            port,
            params,
            branch,
            received,
            rport,
            maddr,
            ttl,
        })
    }
}

/// What precedes a Via's parameters: name, version, transport, sent-by text, host, port.
type ViaHead<'a> = (&'a str, &'a str, &'a str, &'a str, Host<'a>, Option<u16>);

/// The Via parameters RFC 3261 and RFC 3581 define: branch, received, rport, maddr, ttl.
type ViaKnown<'a> =
    (Option<&'a str>, Option<IpAddr>, Option<Option<u16>>, Option<Host<'a>>, Option<u8>);

/// `sent-protocol LWS sent-by`
fn sent_protocol_and_by<'a>(cur: &mut Cursor<'a>) -> Result<ViaHead<'a>, HeaderError> {
    let (name, version) = match cur.take_prefix("SIP/2.0/") {
        // What the general path below reads from this prefix: two tokens, two separators.
        Some(prefix) => {
            cur.skip_sws();
            (prefix.get(..3).unwrap_or("SIP"), prefix.get(4..7).unwrap_or("2.0"))
        }
        None => {
            let name = cur.expect_token("expected protocol name")?;
            cur.expect_sep(b'/', "expected '/' after protocol name")?;
            let version = cur.expect_token("expected protocol version")?;
            cur.expect_sep(b'/', "expected '/' after protocol version")?;
            (name, version)
        }
    };
    let transport = cur.expect_token("expected transport")?;
    cur.lws("expected whitespace before sent-by")?;
    let start = cur.pos();
    let host = cur.host()?;
    let port = if cur.sep(b':') { Some(cur.port()?) } else { None };
    Ok((name, version, transport, cur.since(start), host, port))
}

/// Checks and converts `branch`, `received`, `rport`, `maddr` and `ttl`.
fn known_params<'a>(params: &ParamList<'a>) -> Result<ViaKnown<'a>, &'static str> {
    // One pass finds the first of each known parameter (as five `ParamList::get` would);
    // they are then checked in a fixed order, so the first error is the same.
    let mut first = ViaFirst::default();
    match params.inline() {
        Some(items) => items.iter().for_each(|&(name, value)| first.see(name, value)),
        None => params.iter().for_each(|(name, value)| first.see(name, value)),
    }
    first.convert(|v| params.token_of(v))
}

/// Whether [`Via::parse`] accepts `value`, found by the same grammar without building the
/// [`Via`] or keeping its parameters (for [`Message::validate`](crate::Message::validate),
/// which throws the typed header away).
pub(crate) fn via_is_valid(value: &str) -> bool {
    if plain_via_is_valid(value) {
        return true;
    }
    let mut cur = Cursor::new(value, HeaderName::Via);
    if !sent_protocol_and_by_ok(&mut cur) {
        return false;
    }
    let mut first = ViaFirst::default();
    let read = check_params_to_end(&mut cur, |item| match item {
        Some((name, value)) => first.see(name, value),
        None => first = ViaFirst::default(),
    });
    // Values read by the plain path are tokens already (as `ParamList::token_of` knows).
    read.is_some_and(|tokens| first.convert(|v| if tokens { v } else { token_value(v) }).is_ok())
}

/// Whether `value` is a Via of the common shape that [`via_is_valid`] accepts, read in one
/// pass over the bytes: `SIP/2.0/` and a transport token, spaces, a host that is not an IPv6
/// reference, an optional port, then `;name` or `;name=value` parameters of `token`s with no
/// whitespace, to the end; the known parameters checked as `via_is_valid` checks them.
/// These are the steps the general walk takes on such a value (its parameters are those
/// its plain path reads), so a `true` is its answer; `false` says nothing (anything else,
/// such as whitespace around a `;`, a quoted value or an IPv6 host, is left to it).
fn plain_via_is_valid(value: &str) -> bool {
    plain_via_bytes(value.as_bytes())
}

/// [`plain_via_is_valid`] on bytes that need not be UTF-8 (for
/// [`Message::validate`](crate::Message::validate), which then need not check them): every
/// byte it accepts is printable ASCII, so a `true` holds for the text too, and is what
/// [`via_is_valid`] answers; `false` says nothing.
pub(crate) fn plain_via_bytes(b: &[u8]) -> bool {
    if !b.starts_with(b"SIP/2.0/") {
        return false;
    }
    let token_end = |i: usize| i + run_len(&TOKEN, b.get(i..).unwrap_or_default());
    let transport_end = token_end(8);
    let host_start = transport_end
        + b.get(transport_end..).unwrap_or_default().iter().take_while(|&&c| c == b' ').count();
    if transport_end == 8 || host_start == transport_end || b.get(host_start) == Some(&b'[') {
        return false;
    }
    let Some(Some(mut i)) = crate::uri::host_end_bytes(b, host_start) else {
        return false;
    };
    if b.get(i) == Some(&b':') {
        let mut port: u32 = 0;
        let start = i + 1;
        i = start;
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            // Held below 2^20 (anything above 65535 is refused alike).
            port = (port * 10 + u32::from(c - b'0')).min(1 << 20);
            i += 1;
        }
        if i == start || port > u32::from(u16::MAX) {
            return false;
        }
    }
    let mut first = ViaFirst::default();
    let mut text = true;
    // The first `branch`, which needs only a value: a token here, as `token_value` asks (the
    // other known parameters are converted as text).
    let mut branch: Option<bool> = None;
    // The values are tokens (as the plain path of the general walk knows them).
    plain_token_params_bytes(b, i, |name, param_value| {
        if name.eq_ignore_ascii_case(b"branch") {
            branch = branch.or(Some(param_value.is_some()));
        } else {
            text &= first.see_bytes(name, param_value);
        }
    }) && text
        && branch != Some(false)
        && first.converts_as_tokens()
}

/// Whether [`sent_protocol_and_by`] would accept what is at the cursor, read by the same
/// steps without converting the host or port; the cursor then stands where it would.
fn sent_protocol_and_by_ok(cur: &mut Cursor<'_>) -> bool {
    if cur.take_prefix("SIP/2.0/").is_some() {
        cur.skip_sws();
    } else if !(cur.token().is_some() && cur.sep(b'/') && cur.token().is_some() && cur.sep(b'/')) {
        return false;
    }
    cur.token().is_some() && cur.skip_sws() && cur.host_ok() && (!cur.sep(b':') || cur.port_ok())
}

/// The first `branch`, `received`, `rport`, `maddr` and `ttl` of a Via's parameters: `None`
/// when absent, `Some(None)` when present without a value.
#[derive(Default)]
struct ViaFirst<'a> {
    branch: Option<Option<&'a str>>,
    received: Option<Option<&'a str>>,
    rport: Option<Option<&'a str>>,
    maddr: Option<Option<&'a str>>,
    ttl: Option<Option<&'a str>>,
}

impl<'a> ViaFirst<'a> {
    /// Notes the parameter `name` if it is a known one not seen before.
    #[inline]
    fn see(&mut self, name: &'a str, value: Option<&'a str>) {
        if let Some(slot) = self.slot(name.as_bytes()) {
            *slot = Some(value);
        }
    }

    /// [`see`](Self::see) for a name and value given as bytes: the value of a known parameter
    /// is taken as text; `false` if it is not UTF-8 (never so for a token).
    #[inline]
    fn see_bytes(&mut self, name: &[u8], value: Option<&'a [u8]>) -> bool {
        let Some(slot) = self.slot(name) else {
            return true;
        };
        match value.map(std::str::from_utf8) {
            None => *slot = Some(None),
            Some(Ok(text)) => *slot = Some(Some(text)),
            Some(Err(_)) => return false,
        }
        true
    }

    /// The slot of the known parameter `name` if it was not seen before.
    #[inline]
    fn slot(&mut self, name: &[u8]) -> Option<&mut Option<Option<&'a str>>> {
        // The names are letters only: a byte equals a lowercase letter, ignoring ASCII case,
        // exactly when the byte with bit 0x20 set is that letter.
        let is = |want: &[u8]| name.iter().zip(want).all(|(c, &w)| c | 0x20 == w);
        let slot = match name.len() {
            6 if is(b"branch") => &mut self.branch,
            8 if is(b"received") => &mut self.received,
            5 if is(b"rport") => &mut self.rport,
            5 if is(b"maddr") => &mut self.maddr,
            3 if is(b"ttl") => &mut self.ttl,
            _ => return None,
        };
        slot.is_none().then_some(slot)
    }

    /// Whether [`convert`](Self::convert) with the values taken as tokens accepts the
    /// parameters found. With a `branch` only if it has a value, without `received`, `maddr`
    /// and `ttl`, and with no `rport` or one without a value (the common Via: a branch,
    /// perhaps `;rport`), nothing needs converting and the answer is yes; otherwise the
    /// conversion answers.
    #[inline]
    fn converts_as_tokens(self) -> bool {
        let nothing_to_convert = matches!(self.branch, None | Some(Some(_)))
            && self.received.is_none()
            && self.maddr.is_none()
            && self.ttl.is_none()
            && matches!(self.rport, None | Some(None));
        nothing_to_convert || self.convert(|v| v).is_ok()
    }

    /// Checks and converts the parameters found, in a fixed order (so the first error is
    /// always the same); `token` is [`token_value`] or what answers as it does.
    #[inline]
    fn convert(
        self,
        token: impl Fn(Option<&'a str>) -> Option<&'a str>,
    ) -> Result<ViaKnown<'a>, &'static str> {
        let rport = |v: Option<&str>| match v {
            None => Some(None),
            Some(v) => digits_value::<u16>(v).map(Some),
        };
        let ttl = |v: Option<&str>| v.filter(|v| v.len() <= 3).and_then(digits_value::<u8>);
        Ok((
            convert(self.branch, "branch is not a token", token)?,
            convert(self.received, "received is not an IP address", |v| v.and_then(parse_ip))?,
            convert(self.rport, "invalid rport", rport)?,
            convert(self.maddr, "maddr is not a host", |v| v.and_then(parse_host))?,
            convert(self.ttl, "ttl is not 0 to 255", ttl)?,
        ))
    }
}

/// [`checked`](super::params::checked) for a parameter already looked up: `found` is `None`
/// when absent.
fn convert<'a, T>(
    found: Option<Option<&'a str>>,
    what: &'static str,
    conv: impl Fn(Option<&'a str>) -> Option<T>,
) -> Result<Option<T>, &'static str> {
    match found {
        None => Ok(None),
        Some(value) => conv(value).map(Some).ok_or(what),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::headers::params::token_value;

    #[test]
    fn parses_a_plain_value() {
        let via = Via::parse("SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds").unwrap();
        assert!(via.is_sip_2_0());
        assert_eq!(via.transport(), "UDP");
        assert_eq!(via.host(), Host::Domain("pc33.atlanta.com"));
        assert_eq!(via.port(), Some(5066));
        assert_eq!(via.sent_by(), "pc33.atlanta.com:5066");
        assert_eq!(via.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(via.params().as_str(), ";branch=z9hG4bK776asdhds");
    }

    #[test]
    fn folds_and_whitespace_around_separators() {
        // RFC 4475 §3.1.1.1 wsinv, the two comma-separated values of the "v:" line.
        let via = Via::parse(
            "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
        )
        .unwrap();
        assert_eq!((via.transport(), via.branch()), ("TCP", Some("z9hG4bK9ikj8")));
        let via = Via::parse("SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239")
            .unwrap();
        assert_eq!(via.host(), Host::Ipv4(Ipv4Addr::new(192, 168, 255, 111)));
        assert_eq!(via.branch(), Some("z9hG4bK30239"));
    }

    #[test]
    fn unknown_transports_are_kept() {
        // RFC 4475 §3.1.1.10 transports.
        let via = Via::parse("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en").unwrap();
        assert_eq!(via.transport(), "UNKNOWN");
        assert_eq!(
            Via::parse("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK").unwrap().transport(),
            "WSS"
        );
    }

    #[test]
    fn rport_as_flag_or_number() {
        // RFC 3581 §4.
        let via = Via::parse("SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff").unwrap();
        assert!(via.has_rport());
        assert_eq!(via.rport(), None);
        let via = Via::parse("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988").unwrap();
        assert_eq!(via.rport(), Some(9988));
        assert_eq!(via.received(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        assert!(Via::parse("SIP/2.0/UDP 10.1.1.1;rport=70000").is_err());
        assert!(Via::parse("SIP/2.0/UDP 10.1.1.1;rport=x").is_err());
    }

    #[test]
    fn ipv6_sent_by_and_received_in_brackets() {
        // RFC 5118 §4.5: received=[IPv6] is accepted; sent-by is an IPv6 reference.
        let via = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:5060;received=[2001:db8::9:255];branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(via.host(), Host::Ipv6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(via.port(), Some(5060));
        assert_eq!(via.received(), Some("2001:db8::9:255".parse().unwrap()));
        let via = Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255").unwrap();
        assert_eq!(via.received(), Some("2001:db8::9:255".parse().unwrap()));
    }

    #[test]
    fn maddr_and_ttl_are_checked() {
        let via = Via::parse("SIP/2.0/UDP a.example.com;maddr=239.255.255.1;ttl=16").unwrap();
        assert_eq!(via.maddr(), Some(Host::Ipv4(Ipv4Addr::new(239, 255, 255, 1))));
        assert_eq!(via.ttl(), Some(16));
        assert!(Via::parse("SIP/2.0/UDP a.example.com;ttl=256").is_err());
        assert!(Via::parse("SIP/2.0/UDP a.example.com;ttl=0016").is_err());
        assert!(Via::parse("SIP/2.0/UDP a.example.com;maddr=\"x\"").is_err());
        assert!(Via::parse("SIP/2.0/UDP a.example.com;received=a.example.com").is_err());
    }

    #[test]
    fn extraneous_separators_are_rejected() {
        // RFC 4475 §3.1.2.1 badinv01 ("192.0.2.15;;,;,," splits to "192.0.2.15;;") and a
        // trailing ";" (sipsorcery SERVICE request).
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;").is_err());
    }

    #[test]
    fn incomplete_sent_protocol_is_rejected() {
        // pjsip msg_err_test: "Via: SIP/2.0"; resiprocate: no transport token.
        assert!(Via::parse("SIP/2.0").is_err());
        assert!(Via::parse("SIP/2.0/64.124.66.32:9091").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    }

    #[test]
    fn bad_branch_and_port_are_rejected() {
        // sipsorcery: "/" and "=" are not token characters; kamailio: empty branch;
        // Aastra: "5060port".
        assert!(
            Via::parse("SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKD+ta2mJ+C+VV/L50aPO1lFJnrag=").is_err()
        );
        assert!(Via::parse("SIP/2.0/UDP 1.2.3.4;branch=").is_err());
        assert!(Via::parse("SIP/2.0/UDP 83.70.206.42:5060port").is_err());
        assert!(Via::parse("SIP/2.0/UDP 1.2.3.4:99999").is_err());
    }

    /// `known_params` as it was: one `checked` lookup per parameter.
    fn known_reference<'a>(params: &ParamList<'a>) -> Result<ViaKnown<'a>, &'static str> {
        use crate::headers::params::checked;
        let rport = |v: Option<&str>| match v {
            None => Some(None),
            Some(v) => digits_value::<u16>(v).map(Some),
        };
        let ttl = |v: Option<&str>| v.filter(|v| v.len() <= 3).and_then(digits_value::<u8>);
        Ok((
            checked(params, "branch", "branch is not a token", token_value)?,
            checked(params, "received", "received is not an IP address", |v| v.and_then(parse_ip))?,
            checked(params, "rport", "invalid rport", rport)?,
            checked(params, "maddr", "maddr is not a host", |v| v.and_then(parse_host))?,
            checked(params, "ttl", "ttl is not 0 to 255", ttl)?,
        ))
    }

    /// `sent_protocol_and_by` as it was, without the `SIP/2.0/` shortcut.
    fn head_reference<'a>(cur: &mut Cursor<'a>) -> Result<ViaHead<'a>, HeaderError> {
        let name = cur.expect_token("expected protocol name")?;
        cur.expect_sep(b'/', "expected '/' after protocol name")?;
        let version = cur.expect_token("expected protocol version")?;
        cur.expect_sep(b'/', "expected '/' after protocol version")?;
        let transport = cur.expect_token("expected transport")?;
        cur.lws("expected whitespace before sent-by")?;
        let start = cur.pos();
        let host = cur.host()?;
        let port = if cur.sep(b':') { Some(cur.port()?) } else { None };
        Ok((name, version, transport, cur.since(start), host, port))
    }

    proptest::proptest! {
        #[test]
        fn sent_protocol_matches_the_reference(
            s in "(SIP|sip|SIP )?(/2\\.0|/2\\.1|/)?(/| /|/\r\n )?(UDP|tcp)?( |\t|\r\n )?[a.1:5 ;]{0,8}",
        ) {
            let (mut a, mut b) = (Cursor::new(&s, HeaderName::Via), Cursor::new(&s, HeaderName::Via));
            let (x, y) = (sent_protocol_and_by(&mut a), head_reference(&mut b));
            if let (Ok(x), Ok(y)) = (&x, &y) {
                proptest::prop_assert_eq!(x.0.as_ptr(), y.0.as_ptr());
                proptest::prop_assert_eq!(x.1.as_ptr(), y.1.as_ptr());
            }
            proptest::prop_assert_eq!(x, y);
            proptest::prop_assert_eq!(a.pos(), b.pos());
        }

        #[test]
        fn plain_via_walk_only_accepts_what_the_parser_accepts(
            s in concat!(
                "SIP/2\\.0/(UDP|tcp|x y|) {0,2}(192\\.0\\.2\\.[0-9]{1,3}|[a-z0-9.-]{1,8}|\\[::1\\])",
                "(:[0-9]{0,6})?(;(branch|BRANCH|received|rport|maddr|ttl|x)(=[a-zA-Z0-9.:%\"-]{0,6})?)",
                "{0,4}[ ,;=]?",
            ),
        ) {
            let typed = Via::parse(&s).is_ok();
            if plain_via_is_valid(&s) {
                proptest::prop_assert!(typed, "{:?}", s);
            }
            proptest::prop_assert_eq!(via_is_valid(&s), typed, "{:?}", s);
        }

        #[test]
        fn converts_as_tokens_is_the_conversion(
            fields in proptest::array::uniform5(proptest::option::of(proptest::option::of(
                "z9hG4bK1|1\\.2\\.3\\.4|300|12|70000|a\\.b|\\[::1\\]|::1|x|",
            ))),
        ) {
            let [branch, received, rport, maddr, ttl] = &fields;
            fn first(f: &Option<Option<String>>) -> Option<Option<&str>> {
                f.as_ref().map(|v| v.as_deref())
            }
            let make = || ViaFirst {
                branch: first(branch),
                received: first(received),
                rport: first(rport),
                maddr: first(maddr),
                ttl: first(ttl),
            };
            proptest::prop_assert_eq!(make().converts_as_tokens(), make().convert(|v| v).is_ok());
        }

        #[test]
        fn known_params_match_the_reference(
            items in proptest::collection::vec((
                "branch|BRANCH|received|rport|RPort|maddr|ttl|x|branc|ttls",
                proptest::option::of("z9hG4bK1|1\\.2\\.3\\.4|300|12|a\\.b|\\[::1\\]|::1|\"q\""),
            ), 0..10),
        ) {
            let text: String = items
                .iter()
                .map(|(n, v)| v.as_ref().map_or(format!(";{n}"), |v| format!(";{n}={v}")))
                .collect();
            let value = format!("SIP/2.0/UDP h{text}");
            let mut new = None;
            let mut old = None;
            let parsed =
                super::super::params::with_params(&value, HeaderName::Via, sent_protocol_and_by, |p| {
                    new = Some(known_params(p));
                    old = Some(known_reference(p));
                    Ok(())
                });
            proptest::prop_assert!(parsed.is_ok() && new.is_some());
            proptest::prop_assert_eq!(new, old);
        }
    }

    #[test]
    fn the_plain_walk_takes_common_vias_and_leaves_the_rest() {
        for v in [
            "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKYNytaa59n1CPEofz",
            "SIP/2.0/TCP proxy.example.com;branch=z9hG4bK1;received=192.0.2.3;rport=5061",
            "SIP/2.0/UDP h;ttl=16;maddr=224.2.0.1",
        ] {
            assert!(plain_via_is_valid(v), "{v}");
        }
        for v in [
            "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1",
            "SIP/2.0/UDP h ; branch=z9hG4bK1",
            "SIP/2.0/UDP h;branch",
            "SIP/2.0/UDP h;rport=70000",
            "SIP/2.0/UDP h;received=a.example.com",
            "SIP/2.0/UDP h:",
        ] {
            assert!(!plain_via_is_valid(v), "{v}");
            assert_eq!(via_is_valid(v), Via::parse(v).is_ok(), "{v}");
        }
    }

    #[test]
    fn comments_are_not_allowed() {
        // sofia own0: an RFC 2543 comment "(NTA 1.0)" after the Via.
        assert!(Via::parse("SIP/2.0/UDP 172.21.9.155 (NTA 1.0)").is_err());
    }
}
