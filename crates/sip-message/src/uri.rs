//! URIs as zero-copy views: SIP and SIPS URIs (RFC 3261 §19.1, §25.1), tel URIs (RFC 3966) and
//! any other absolute URI (RFC 2396 `absoluteURI`, as RFC 3261 §25.1 uses it).
//!
//! Parsing checks the whole grammar once and keeps `&str` slices of the input; nothing is
//! allocated. Accessors borrow; only the decoding ones ([`SipUri::user`], [`decode_escapes`])
//! allocate, and only when there is an escape to decode. Equality follows RFC 3261 §19.1.4 for
//! SIP URIs and RFC 3966 §4 for tel URIs, without allocating either.

use std::borrow::Cow;
use std::fmt;
use std::iter::FusedIterator;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::UriError;
use crate::chars::grammar::hex_value;
use crate::chars::{HNVCHAR, PARAMCHAR, PASSWORD, URIC, USER, in_class};

/// Any URI a SIP message can carry: RFC 3261 §25.1
/// `Request-URI = SIP-URI / SIPS-URI / absoluteURI`, with `tel` (RFC 3966) recognised.
///
/// Equality ([`PartialEq`]) is RFC 3261 §19.1.4 for SIP and SIPS URIs, RFC 3966 §4 for tel
/// URIs, and for other schemes a case-insensitive scheme plus an exact rest. URIs of different
/// kinds are never equal. The relation is not transitive (§19.1.4), so there is no `Eq`.
#[derive(Clone, Copy, Debug)]
pub enum Uri<'a> {
    /// `sip:` or `sips:` (RFC 3261 §19.1).
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other scheme, kept opaque (RFC 2396 §3).
    Other(AbsoluteUri<'a>),
}

impl<'a> Uri<'a> {
    /// Parses a whole string as a URI: `sip`/`sips` (scheme case-insensitive) as a [`SipUri`],
    /// `tel` as a [`TelUri`], any other scheme as an opaque [`AbsoluteUri`]. A string whose
    /// scheme is `sip`, `sips` or `tel` but whose rest does not match that scheme's grammar is
    /// an error, not an `Other`.
    ///
    /// The string must be the URI and nothing else: no surrounding whitespace, no `<>`.
    ///
    /// ```
    /// use sip_message::{Host, Uri};
    ///
    /// let uri = Uri::parse("sip:alice@atlanta.com:5070;transport=tcp")?;
    /// let Some(sip) = uri.as_sip() else { panic!("a SIP URI") };
    /// assert_eq!(sip.user().as_deref(), Some("alice"));
    /// assert_eq!(sip.host(), Host::Domain("atlanta.com"));
    /// assert_eq!(sip.port(), Some(5070));
    /// assert_eq!(sip.transport(), Some("tcp"));
    /// assert_eq!(uri, Uri::parse("sip:%61lice@ATLANTA.com:5070;Transport=TCP")?);
    ///
    /// assert!(Uri::parse("tel:+1-201-555-0123")?.as_sip().is_none());
    /// assert!(Uri::parse(" sip:alice@atlanta.com").is_err());
    /// # Ok::<(), sip_message::UriError>(())
    /// ```
    ///
    /// # Errors
    /// A [`UriError`] saying what did not match and at which byte.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriError> {
        // The common case, which the scheme checks below would send to `SipUri::parse`.
        if s.as_bytes().starts_with(b"sip:") {
            return SipUri::parse(s).map(Uri::Sip);
        }
        let colon = scheme_end(s.as_bytes())?;
        let scheme = s.get(..colon).unwrap_or_default();
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse(s).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse(s).map(Uri::Tel)
        } else {
            AbsoluteUri::parse(s).map(Uri::Other)
        }
    }

    /// Like [`Uri::parse`], for bytes straight off the wire.
    ///
    /// # Errors
    /// `"invalid UTF-8"` at the first bad byte, else as [`Uri::parse`].
    pub fn parse_bytes(b: &'a [u8]) -> Result<Uri<'a>, UriError> {
        match std::str::from_utf8(b) {
            Ok(s) => Uri::parse(s),
            Err(e) => Err(UriError::new("invalid UTF-8", e.valid_up_to())),
        }
    }

    /// The whole URI as written.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.as_str(),
            Uri::Tel(u) => u.as_str(),
            Uri::Other(u) => u.as_str(),
        }
    }

    /// The scheme as written (e.g. `SIP`, `sips`, `tel`, `mailto`), without the colon.
    #[must_use]
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(u) => u.scheme(),
            Uri::Other(u) => u.scheme(),
        }
    }

    /// The SIP or SIPS URI, if this is one.
    #[must_use]
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Tel(_) | Uri::Other(_) => None,
        }
    }

    /// The tel URI, if this is one.
    #[must_use]
    pub fn as_tel(&self) -> Option<&TelUri<'a>> {
        match self {
            Uri::Tel(u) => Some(u),
            Uri::Sip(_) | Uri::Other(_) => None,
        }
    }

    /// Whether the scheme is `sip` or `sips` (RFC 3261 §19.1): the URIs a proxy can route on.
    #[must_use]
    pub fn is_sip_or_sips(&self) -> bool {
        matches!(self, Uri::Sip(_))
    }
}

impl PartialEq for Uri<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a == b,
            (Uri::Tel(a), Uri::Tel(b)) => a == b,
            (Uri::Other(a), Uri::Other(b)) => a == b,
            (Uri::Sip(_) | Uri::Tel(_) | Uri::Other(_), _) => false,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP or SIPS URI (RFC 3261 §19.1.1), as slices of the parsed text.
///
/// Raw accessors (`*_raw`, [`SipUri::params`], [`SipUri::headers`], the named parameter
/// accessors) return the text as written, escapes and all. Parameter names are looked up
/// case-insensitively with escapes decoded, so `;%6C%72` is found by `param("lr")`.
///
/// Equality ([`PartialEq`]) is RFC 3261 §19.1.4:
/// - `sip` never equals `sips`;
/// - user and password compare case-sensitively with escapes decoded (`%61lice` is `alice`, but
///   an escaped reserved character such as `%3B` stays distinct from a literal `;`);
/// - the host compares case-insensitively, IP addresses as addresses, and a name never equals
///   an address; ports must both be absent or equal (absent is not 5060);
/// - `user`, `ttl`, `method`, `maddr` and `transport` parameters must be in both or neither and
///   equal; other parameters are compared only when in both; parameter names and values compare
///   case-insensitively with escapes decoded; order does not matter;
/// - headers must be the same set in both: names case-insensitive, values with escapes decoded
///   and case-sensitive (the per-header rules of §20 are not applied).
///
/// The relation is not transitive (§19.1.4), so there is no `Eq`.
#[derive(Clone, Copy)]
pub struct SipUri<'a> {
    raw: &'a str,
    secure: bool,
    /// The userinfo without its `@`: the user, then `:` and the password if there is one
    /// (the user holds no raw `:`, so the first one ends it).
    userinfo: Option<&'a str>,
    host_raw: &'a str,
    host: Host<'a>,
    port: Option<u16>,
    /// The parameters without the first `;`; empty when there are none.
    params: &'a str,
    /// The headers without the `?`; empty when there are none.
    headers: &'a str,
}

impl<'a> SipUri<'a> {
    /// Parses a SIP or SIPS URI (RFC 3261 §19.1.1, §25.1):
    ///
    /// ```text
    /// SIP-URI   =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
    /// SIPS-URI  =  "sips:" [ userinfo ] hostport uri-parameters [ headers ]
    /// userinfo  =  ( user / telephone-subscriber ) [ ":" password ] "@"
    /// user      =  1*( unreserved / escaped / user-unreserved )
    /// password  =  *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
    /// hostport  =  host [ ":" port ]
    /// port      =  1*DIGIT
    /// ```
    ///
    /// The scheme is case-insensitive. `user` may contain `;` and `?`, so a userinfo is
    /// recognised when an `@` follows a run of userinfo characters (RFC 4475 §3.1.2.6:
    /// `sip:user;par=u%40example.net@example.com` has user `user;par=u%40example.net`). A
    /// telephone-subscriber is accepted as a `user` (§19.1.1 requires its other characters to be
    /// escaped). See [`Host`] for the host grammar; the port must fit in a `u16`. Parameters
    /// and headers are checked against their grammar ([`SipUri::params`], [`SipUri::headers`]).
    /// Escapes must be `%` HEX HEX; whitespace is rejected anywhere.
    ///
    /// # Errors
    /// A [`UriError`] saying what did not match and at which byte.
    pub fn parse(s: &'a str) -> Result<SipUri<'a>, UriError> {
        let b = s.as_bytes();
        let (secure, start) = if starts_with_ignore_case(b, b"sip:") {
            (false, 4)
        } else if starts_with_ignore_case(b, b"sips:") {
            (true, 5)
        } else {
            return Err(err_at(b, 0, "expected sip: or sips:"));
        };
        let scheme = slice(s, 0, start - 1)?;

        let (userinfo, host_start) = match find_userinfo_end(b, start) {
            Some(at) => {
                parse_userinfo(s, start, at)?;
                (Some(slice(s, start, at)?), at + 1)
            }
            None => (None, start),
        };

        let (host, host_end) = parse_host(s, host_start)?;
        let host_raw = slice(s, host_start, host_end)?;
        let mut i = host_end;

        let port = if b.get(i) == Some(&b':') {
            let (port, end) = parse_port(b, i + 1)?;
            i = end;
            Some(port)
        } else {
            None
        };

        let params_start = i;
        i = uri_params_end(b, i)?;
        let params = if i > params_start { slice(s, params_start + 1, i)? } else { "" };

        let headers_start = i;
        i = uri_headers_end(b, i)?;
        let headers = if i > headers_start { slice(s, headers_start + 1, i)? } else { "" };

        if i != b.len() {
            return Err(err_at(b, i, "unexpected character in SIP URI"));
        }
        debug_assert_eq!(scheme.len(), if secure { 4 } else { 3 });
        Ok(SipUri { raw: s, secure, userinfo, host_raw, host, port, params, headers })
    }

    /// The whole URI as written.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme as written (`sip`, `SIP`, `sips`, ...), without the colon.
    #[must_use]
    pub fn scheme(&self) -> &'a str {
        // `raw` starts with `sip:` or `sips:` in some case (checked by `parse`); the scheme is
        // not kept as a field of its own, which keeps the struct (moved on every parse) small.
        self.raw.get(..if self.secure { 4 } else { 3 }).unwrap_or_default()
    }

    /// Whether this is a SIPS URI (RFC 3261 §19.1.2: TLS on every hop).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The user part as written, escapes kept; `None` when there is no userinfo.
    #[must_use]
    pub fn user_raw(&self) -> Option<&'a str> {
        self.userinfo.map(|u| u.split_once(':').map_or(u, |(user, _)| user))
    }

    /// The user part with `%HH` escapes decoded (see [`decode_escapes`]): borrowed when there is
    /// nothing to decode. Bytes that do not decode to UTF-8 become U+FFFD; use
    /// [`SipUri::user_raw`] when that matters.
    #[must_use]
    pub fn user(&self) -> Option<Cow<'a, str>> {
        self.user_raw().map(decode_escapes)
    }

    /// The password as written (possibly empty, as in `sip:alice:@host`); `None` when there is
    /// none. RFC 3261 §19.1.1 advises against passwords in URIs.
    #[must_use]
    pub fn password_raw(&self) -> Option<&'a str> {
        self.userinfo.and_then(|u| u.split_once(':')).map(|(_, password)| password)
    }

    /// The host, with an IP address parsed.
    #[must_use]
    pub fn host(&self) -> Host<'a> {
        self.host
    }

    /// The host as written; an IPv6 reference keeps its brackets.
    #[must_use]
    pub fn host_raw(&self) -> &'a str {
        self.host_raw
    }

    /// The explicit port; `None` when absent (which is not the same as 5060, §19.1.4).
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The `uri-parameters` in order, as written (RFC 3261 §19.1.1):
    ///
    /// ```text
    /// uri-parameters    =  *( ";" uri-parameter)
    /// other-param       =  pname [ "=" pvalue ]
    /// pname             =  1*paramchar
    /// pvalue            =  1*paramchar
    /// paramchar         =  param-unreserved / unreserved / escaped
    /// param-unreserved  =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
    /// ```
    #[must_use]
    pub fn params(&self) -> UriParams<'a> {
        UriParams::new(self.params)
    }

    /// The parameters as written, without the first `;` (empty when there are none).
    #[must_use]
    pub fn params_raw(&self) -> &'a str {
        self.params
    }

    /// The first parameter named `name` (case-insensitive, escapes decoded): `Some(None)` for a
    /// flag such as `lr`, `Some(Some(value))` with the value as written, `None` when absent.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        find_param(self.params(), name)
    }

    /// The `transport` parameter (RFC 3261 §19.1.1: `udp`, `tcp`, `sctp`, `tls` or a token),
    /// as written. Compare case-insensitively.
    #[must_use]
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport").flatten()
    }

    /// The `user` parameter (RFC 3261 §19.1.1: `phone`, `ip` or a token), as written.
    #[must_use]
    pub fn user_param(&self) -> Option<&'a str> {
        self.param("user").flatten()
    }

    /// The `method` parameter, as written: the method of a request formed from this URI
    /// (RFC 3261 §19.1.5). [`Method::from_bytes`](crate::Method::from_bytes) recognises it.
    #[must_use]
    pub fn method(&self) -> Option<&'a str> {
        self.param("method").flatten()
    }

    /// The `ttl` parameter (RFC 3261 §19.1.1: `ttl = 1*3DIGIT ; 0 to 255`); `None` when absent
    /// or not a number in 0..=255.
    #[must_use]
    pub fn ttl(&self) -> Option<u8> {
        let v = self.param("ttl").flatten()?;
        if v.is_empty() || v.len() > 3 || !v.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        v.parse().ok()
    }

    /// The `maddr` parameter (RFC 3261 §19.1.1: the server address to contact), as written.
    #[must_use]
    pub fn maddr(&self) -> Option<&'a str> {
        self.param("maddr").flatten()
    }

    /// Whether the `lr` parameter is present (RFC 3261 §19.1.1: a loose router, §16.12).
    #[must_use]
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// The headers in order, as written (RFC 3261 §19.1.1):
    ///
    /// ```text
    /// headers         =  "?" header *( "&" header )
    /// header          =  hname "=" hvalue
    /// hname           =  1*( hnv-unreserved / unreserved / escaped )
    /// hvalue          =  *( hnv-unreserved / unreserved / escaped )
    /// hnv-unreserved  =  "[" / "]" / "/" / "?" / ":" / "+" / "$"
    /// ```
    #[must_use]
    pub fn headers(&self) -> UriHeaders<'a> {
        UriHeaders::new(self.headers)
    }

    /// The headers as written, without the `?` (empty when there are none).
    #[must_use]
    pub fn headers_raw(&self) -> &'a str {
        self.headers
    }

    /// Whether the URI has a `?headers` part (RFC 3261 §19.1.5: not allowed in a Request-URI,
    /// §8.1.1.1).
    #[must_use]
    pub fn has_headers(&self) -> bool {
        !self.headers.is_empty()
    }
}

impl fmt::Debug for SipUri<'_> {
    /// As a derived `Debug` of all the parts, the scheme included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipUri")
            .field("raw", &self.raw)
            .field("scheme", &self.scheme())
            .field("secure", &self.secure)
            .field("user", &self.user_raw())
            .field("password", &self.password_raw())
            .field("host_raw", &self.host_raw)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("params", &self.params)
            .field("headers", &self.headers)
            .finish()
    }
}

impl PartialEq for SipUri<'_> {
    /// RFC 3261 §19.1.4; see [`SipUri`].
    fn eq(&self, other: &Self) -> bool {
        self.secure == other.secure
            && option_eq(self.user_raw(), other.user_raw(), eq_decoded)
            && option_eq(self.password_raw(), other.password_raw(), eq_decoded)
            && self.host == other.host
            && self.port == other.port
            && sip_params_eq(self, other)
            && sip_headers_eq(self, other)
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// The host of a SIP URI (RFC 3261 §19.1.1, §25.1):
///
/// ```text
/// host           =  hostname / IPv4address / IPv6reference
/// hostname       =  *( domainlabel "." ) toplabel [ "." ]
/// domainlabel    =  alphanum / alphanum *( alphanum / "-" ) alphanum
/// toplabel       =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
/// IPv4address    =  1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
/// IPv6reference  =  "[" IPv6address "]"
/// ```
///
/// Leniency: a toplabel may start with a digit (as RFC 1123 allows for labels) but may not be
/// all digits, so a host made only of digits and dots must be a dotted-quad IPv4 address with
/// each part at most 255 (leading zeros are read as decimal). The inside of an IPv6 reference
/// is whatever [`Ipv6Addr`]'s parser accepts (no zone identifiers).
///
/// Equality compares domain names case-insensitively and addresses as addresses; a name never
/// equals an address (RFC 3261 §19.1.4).
#[derive(Clone, Copy, Debug)]
pub enum Host<'a> {
    /// A domain name as written (a trailing `.` kept).
    Domain(&'a str),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
}

impl PartialEq for Host<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
            (Host::Domain(_) | Host::Ipv4(_) | Host::Ipv6(_), _) => false,
        }
    }
}

impl Eq for Host<'_> {}

impl fmt::Display for Host<'_> {
    /// A domain as written, an IPv4 address dotted, an IPv6 address in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A tel URI (RFC 3966 §3), as slices of the parsed text.
///
/// Equality ([`PartialEq`]) is RFC 3966 §4: both global or both local, the same digits after
/// removing visual separators, and the same parameter names with equal values, in any order;
/// everything case-insensitive, escapes decoded, `phone-context` and `ext` values compared
/// without visual separators.
#[derive(Clone, Copy, Debug)]
pub struct TelUri<'a> {
    raw: &'a str,
    scheme: &'a str,
    number: &'a str,
    /// The parameters without the first `;`; empty when there are none.
    params: &'a str,
}

impl<'a> TelUri<'a> {
    /// Parses a tel URI (RFC 3966 §3; the scheme is case-insensitive):
    ///
    /// ```text
    /// telephone-uri        = "tel:" telephone-subscriber
    /// telephone-subscriber = global-number / local-number
    /// global-number        = global-number-digits *par
    /// local-number         = local-number-digits *par context *par
    /// par                  = parameter / extension / isdn-subaddress
    /// isdn-subaddress      = ";isub=" 1*uric
    /// extension            = ";ext=" 1*phonedigit
    /// context              = ";phone-context=" descriptor
    /// descriptor           = domainname / global-number-digits
    /// global-number-digits = "+" *phonedigit DIGIT *phonedigit
    /// local-number-digits  = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
    /// parameter            = ";" pname ["=" pvalue ]
    /// pname                = 1*( alphanum / "-" )
    /// pvalue               = 1*paramchar
    /// phonedigit           = DIGIT / [ visual-separator ]
    /// phonedigit-hex       = HEXDIG / "*" / "#" / [ visual-separator ]
    /// visual-separator     = "-" / "." / "(" / ")"
    /// ```
    ///
    /// A local number must have exactly one `phone-context`; a global number must have none. An
    /// `isub` value runs to the next `;` (its `uric` would otherwise swallow the parameters
    /// that follow). The domain name of a `phone-context` follows the [`Host`] rules.
    ///
    /// # Errors
    /// A [`UriError`] saying what did not match and at which byte.
    pub fn parse(s: &'a str) -> Result<TelUri<'a>, UriError> {
        let b = s.as_bytes();
        if !starts_with_ignore_case(b, b"tel:") {
            return Err(err_at(b, 0, "expected tel:"));
        }
        let scheme = slice(s, 0, 3)?;
        let start = 4;
        let global = b.get(start) == Some(&b'+');
        let mut i = if global { start + 1 } else { start };
        let mut has_digit = false;
        while let Some(&c) = b.get(i) {
            let digit = c.is_ascii_digit()
                || (!global && (c.is_ascii_hexdigit() || c == b'*' || c == b'#'));
            if !digit && !is_visual_separator(c) {
                break;
            }
            has_digit |= digit;
            i += 1;
        }
        if !has_digit {
            return Err(err_at(b, i, "expected telephone number digits"));
        }
        let number = slice(s, start, i)?;

        let params_start = i;
        let mut context = false;
        while b.get(i) == Some(&b';') {
            let name_start = i + 1;
            i = scan_plain(b, name_start, |c| c.is_ascii_alphanumeric() || c == b'-');
            let name = slice(s, name_start, i)?;
            if name.is_empty() {
                return Err(err_at(b, name_start, "empty parameter name"));
            }
            let is_context = name.eq_ignore_ascii_case("phone-context");
            let is_ext = name.eq_ignore_ascii_case("ext");
            let is_isub = name.eq_ignore_ascii_case("isub");
            if b.get(i) != Some(&b'=') {
                if is_context || is_ext || is_isub {
                    return Err(err_at(b, i, "tel parameter needs a value"));
                }
                continue;
            }
            let value_start = i + 1;
            i = if is_isub {
                scan(b, value_start, |c| in_class(&URIC, c) && c != b';')?
            } else {
                scan(b, value_start, |c| in_class(&PARAMCHAR, c))?
            };
            let value = slice(s, value_start, i)?;
            if value.is_empty() {
                return Err(err_at(b, value_start, "empty parameter value"));
            }
            if is_ext && !value.bytes().all(|c| c.is_ascii_digit() || is_visual_separator(c)) {
                return Err(err_at(b, value_start, "bad ext"));
            }
            if is_context {
                if global {
                    return Err(err_at(b, name_start, "phone-context on a global number"));
                }
                if context {
                    return Err(err_at(b, name_start, "second phone-context"));
                }
                if !is_context_descriptor(value) {
                    return Err(err_at(b, value_start, "bad phone-context"));
                }
                context = true;
            }
        }
        if i != b.len() {
            return Err(err_at(b, i, "unexpected character in tel URI"));
        }
        if !global && !context {
            return Err(err_at(b, i, "local number without phone-context"));
        }
        let params = if i > params_start { slice(s, params_start + 1, i)? } else { "" };
        Ok(TelUri { raw: s, scheme, number, params })
    }

    /// The whole URI as written.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The scheme as written (`tel`, `TEL`, ...), without the colon.
    #[must_use]
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The number as written, visual separators kept: `+1-201-555-0123` or `7042`.
    #[must_use]
    pub fn number(&self) -> &'a str {
        self.number
    }

    /// Whether the number is global (starts with `+`, RFC 3966 §5.1.4); a local number has a
    /// `phone-context`.
    #[must_use]
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The parameters in order, as written (`ext`, `isub`, `phone-context` and others).
    #[must_use]
    pub fn params(&self) -> UriParams<'a> {
        UriParams::new(self.params)
    }

    /// The first parameter named `name` (case-insensitive): `Some(None)` for a flag,
    /// `Some(Some(value))` with the value as written, `None` when absent.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        find_param(self.params(), name)
    }

    /// The `phone-context` of a local number (RFC 3966 §5.1.5), as written.
    #[must_use]
    pub fn phone_context(&self) -> Option<&'a str> {
        self.param("phone-context").flatten()
    }

    /// The `ext` extension (RFC 3966 §5.1.3), as written.
    #[must_use]
    pub fn ext(&self) -> Option<&'a str> {
        self.param("ext").flatten()
    }
}

impl PartialEq for TelUri<'_> {
    /// RFC 3966 §4; see [`TelUri`].
    fn eq(&self, other: &Self) -> bool {
        self.is_global() == other.is_global()
            && phone_digits(self.number).eq(phone_digits(other.number))
            && tel_params_subset(self, other)
            && tel_params_subset(other, self)
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Any other absolute URI (RFC 2396 §3, as RFC 3261 §25.1 `absoluteURI` uses it), kept opaque:
///
/// ```text
/// absoluteURI  =  scheme ":" ( hier-part / opaque-part )
/// scheme       =  ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
/// uric         =  reserved / unreserved / escaped
/// ```
///
/// The part after the colon must be a non-empty run of `uric` characters and escapes; its
/// structure (authority, path, query) is not examined. Equality: case-insensitive scheme, exact
/// rest.
#[derive(Clone, Copy, Debug)]
pub struct AbsoluteUri<'a> {
    raw: &'a str,
    scheme: &'a str,
    rest: &'a str,
}

impl<'a> AbsoluteUri<'a> {
    /// Parses `scheme ":" rest` for any scheme (including `sip`, which [`Uri::parse`] sends to
    /// [`SipUri::parse`] instead).
    ///
    /// # Errors
    /// A [`UriError`] saying what did not match and at which byte.
    pub fn parse(s: &'a str) -> Result<AbsoluteUri<'a>, UriError> {
        let b = s.as_bytes();
        let colon = scheme_end(b)?;
        let rest_start = colon + 1;
        let end = scan(b, rest_start, |c| in_class(&URIC, c))?;
        if end == rest_start {
            return Err(err_at(b, rest_start, "empty URI after scheme"));
        }
        if end != b.len() {
            return Err(err_at(b, end, "unexpected character in URI"));
        }
        Ok(AbsoluteUri { raw: s, scheme: slice(s, 0, colon)?, rest: slice(s, rest_start, end)? })
    }

    /// The scheme as written, without the colon.
    #[must_use]
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// Everything after the colon, as written.
    #[must_use]
    pub fn rest(&self) -> &'a str {
        self.rest
    }

    /// The whole URI as written.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

impl PartialEq for AbsoluteUri<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.scheme.eq_ignore_ascii_case(other.scheme) && self.rest == other.rest
    }
}

impl fmt::Display for AbsoluteUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Iterator over URI parameters `(name, value)` as written, in order; `value` is `None` for a
/// flag such as `lr`. Returned by [`SipUri::params`] and [`TelUri::params`].
#[derive(Clone, Debug)]
pub struct UriParams<'a> {
    rest: Option<&'a str>,
}

impl<'a> UriParams<'a> {
    fn new(params: &'a str) -> Self {
        UriParams { rest: if params.is_empty() { None } else { Some(params) } }
    }
}

impl<'a> Iterator for UriParams<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest?;
        let param = match s.split_once(';') {
            Some((param, tail)) => {
                self.rest = Some(tail);
                param
            }
            None => {
                self.rest = None;
                s
            }
        };
        Some(match param.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (param, None),
        })
    }
}

impl FusedIterator for UriParams<'_> {}

/// Iterator over SIP URI headers `(hname, hvalue)` as written, in order; `hvalue` may be
/// empty. Returned by [`SipUri::headers`].
#[derive(Clone, Debug)]
pub struct UriHeaders<'a> {
    rest: Option<&'a str>,
}

impl<'a> UriHeaders<'a> {
    fn new(headers: &'a str) -> Self {
        UriHeaders { rest: if headers.is_empty() { None } else { Some(headers) } }
    }
}

impl<'a> Iterator for UriHeaders<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest?;
        let header = match s.split_once('&') {
            Some((header, tail)) => {
                self.rest = Some(tail);
                header
            }
            None => {
                self.rest = None;
                s
            }
        };
        // Parsing required the `=`; a header without one would be a name with an empty value.
        Some(header.split_once('=').unwrap_or((header, "")))
    }
}

impl FusedIterator for UriHeaders<'_> {}

/// Decodes `%HH` escapes (RFC 2396 §2.4.1, RFC 3261 §25.1 `escaped = "%" HEXDIG HEXDIG`).
///
/// Borrows `s` when it has no valid escape. A `%` not followed by two hex digits is kept as
/// is. If the decoded bytes are not UTF-8 (`%FF`), the bad sequences become U+FFFD (lossy);
/// keep the raw text when exact bytes matter. `%00` decodes to U+0000.
#[must_use]
pub fn decode_escapes(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let Some(first) = (0..b.len()).find(|&i| escape_at(b, i).is_some()) else {
        return Cow::Borrowed(s);
    };
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(b.get(..first).unwrap_or_default());
    let mut i = first;
    while let Some(&c) = b.get(i) {
        if let Some(v) = escape_at(b, i) {
            out.push(v);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) => Cow::Owned(decoded),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// RFC 2396 §2.2 `reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","`: the
/// characters whose escaped form is not equivalent to themselves (RFC 3261 §19.1.4).
const RESERVED: &[u8] = b";/?:@&=+$,";

/// The five parameters of RFC 3261 §19.1.4 that must be in both URIs or neither.
const MUST_MATCH_PARAMS: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

/// The value of the escape `%HH` starting at `i`, if there is a valid one.
#[inline]
fn escape_at(b: &[u8], i: usize) -> Option<u8> {
    match b.get(i..i.checked_add(3)?)? {
        [b'%', h, l] => Some((hex_value(*h)? << 4) | hex_value(*l)?),
        _ => None,
    }
}

/// Advances from `i` over bytes accepted by `ok` and `escaped = "%" HEXDIG HEXDIG`; returns
/// the end. A `%` that does not start a valid escape is an error.
#[inline]
fn scan(b: &[u8], mut i: usize, ok: impl Fn(u8) -> bool) -> Result<usize, UriError> {
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if escape_at(b, i).is_none() {
                return Err(UriError::new("bad escape", i));
            }
            i += 3;
        } else if ok(c) {
            i += 1;
        } else {
            break;
        }
    }
    Ok(i)
}

/// Advances from `i` over bytes accepted by `ok` (no escapes); returns the end.
#[inline]
fn scan_plain(b: &[u8], mut i: usize, ok: impl Fn(u8) -> bool) -> usize {
    while b.get(i).is_some_and(|&c| ok(c)) {
        i += 1;
    }
    i
}

/// An error at `i`, named for whitespace when that is what is there (RFC 3261 §25.1: no LWS
/// inside a URI).
fn err_at(b: &[u8], i: usize, what: &'static str) -> UriError {
    match b.get(i) {
        Some(b' ' | b'\t' | b'\r' | b'\n') => UriError::new("whitespace in URI", i),
        _ => UriError::new(what, i),
    }
}

/// `s[a..b]` without panicking; the positions come from the byte scanners, so a failure means
/// a non-ASCII boundary and is reported as a bad character.
fn slice(s: &str, a: usize, b: usize) -> Result<&str, UriError> {
    s.get(a..b).ok_or(UriError::new("bad character", a))
}

fn starts_with_ignore_case(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` followed by `":"`; returns the
/// position of the colon.
fn scheme_end(b: &[u8]) -> Result<usize, UriError> {
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(err_at(b, 0, "expected URI scheme"));
    }
    let end = scan_plain(b, 1, |c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if b.get(end) != Some(&b':') {
        return Err(err_at(b, end, "expected ':' after URI scheme"));
    }
    Ok(end)
}

/// The position of the `@` ending a userinfo that starts at `start`, if there is one: the
/// first `@` after a run of user, password, `:` and `%` characters. `@` cannot appear
/// unescaped in a userinfo, and a host cannot contain one, so this is the only reading.
fn find_userinfo_end(b: &[u8], start: usize) -> Option<usize> {
    let end = scan_plain(b, start, |c| in_class(&USERINFO, c));
    (b.get(end) == Some(&b'@')).then_some(end)
}

/// The bytes a userinfo is made of: `USER`, `PASSWORD`, `:` and `%` in one table.
static USERINFO: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        // Runs at compile time only: every index is below 256.
        #[allow(clippy::indexing_slicing)]
        {
            t[i] = USER[i] || PASSWORD[i] || i == b':' as usize || i == b'%' as usize;
        }
        i += 1;
    }
    t
};

/// `userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"` between `start` and the
/// `@` at `at`.
fn parse_userinfo(s: &str, start: usize, at: usize) -> Result<(&str, Option<&str>), UriError> {
    let b = s.as_bytes();
    let user_end = scan(b, start, |c| in_class(&USER, c))?;
    if user_end == start {
        return Err(err_at(b, start, "empty user"));
    }
    let user = slice(s, start, user_end)?;
    if user_end == at {
        return Ok((user, None));
    }
    if b.get(user_end) != Some(&b':') {
        return Err(err_at(b, user_end, "bad character in user"));
    }
    let password_end = scan(b, user_end + 1, |c| in_class(&PASSWORD, c))?;
    if password_end != at {
        return Err(err_at(b, password_end, "bad character in password"));
    }
    Ok((user, Some(slice(s, user_end + 1, at)?)))
}

/// `host = hostname / IPv4address / IPv6reference` starting at `i`; returns the host and
/// where it ends. See [`Host`] for the rules.
fn parse_host(s: &str, i: usize) -> Result<(Host<'_>, usize), UriError> {
    let b = s.as_bytes();
    if b.get(i) == Some(&b'[') {
        let close = scan_plain(b, i + 1, |c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
        if b.get(close) != Some(&b']') {
            return Err(err_at(b, close, "expected ']' after IPv6 address"));
        }
        let addr = slice(s, i + 1, close)?
            .parse::<Ipv6Addr>()
            .map_err(|_| UriError::new("bad IPv6 address", i + 1))?;
        return Ok((Host::Ipv6(addr), close + 1));
    }
    let scan = scan_host(b, i);
    let end = scan.end;
    let text = slice(s, i, end)?;
    if text.is_empty() {
        return Err(err_at(b, i, "empty host"));
    }
    if scan.dotted_digits {
        match parse_ipv4(text) {
            Some(addr) => Ok((Host::Ipv4(addr), end)),
            None => Err(UriError::new("bad IPv4 address", i)),
        }
    } else if scan.hostname {
        Ok((Host::Domain(text), end))
    } else {
        Err(UriError::new("bad host name", i))
    }
}

/// Whether [`Uri::parse`] accepts `s`: for a SIP or SIPS URI, the grammar of
/// [`SipUri::parse`] walked without building the URI (for
/// [`Message::validate`](crate::Message::validate), which throws it away); for any other
/// scheme, [`Uri::parse`] itself.
pub(crate) fn is_valid_uri(s: &str) -> bool {
    match check_sip_uri(s) {
        SipCheck::NotSip => Uri::parse(s).is_ok(),
        SipCheck::Invalid => false,
        SipCheck::Valid { .. } => true,
    }
}

/// What [`check_sip_uri`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SipCheck {
    /// The scheme is not `sip` or `sips`: [`Uri::parse`] does not read it as a [`SipUri`].
    NotSip,
    /// [`SipUri::parse`] refuses it.
    Invalid,
    /// [`SipUri::parse`] accepts it; `headers` is what [`SipUri::has_headers`] answers.
    Valid {
        /// Whether the URI carries headers.
        headers: bool,
    },
}

/// The verdict of [`Uri::parse`] on a SIP or SIPS URI, by the grammar of [`SipUri::parse`]
/// walked without building the URI.
pub(crate) fn check_sip_uri(s: &str) -> SipCheck {
    match walk_sip_uri(s, 0) {
        SipWalk::NotSip => SipCheck::NotSip,
        SipWalk::Ends { end, headers } if end == s.len() => SipCheck::Valid { headers },
        _ => SipCheck::Invalid,
    }
}

/// What [`walk_sip_uri`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SipWalk {
    /// The scheme is not `sip` or `sips`.
    NotSip,
    /// A part of the URI breaks the grammar before its end.
    Invalid,
    /// The grammar reads the URI up to `end` (exclusive); `headers` is whether it read
    /// headers. The URI of [`check_sip_uri`] is valid when that is its end.
    Ends {
        /// Where the grammar stops.
        end: usize,
        /// Whether the URI carries headers.
        headers: bool,
    },
}

/// The walk of [`check_sip_uri`] over the SIP or SIPS URI that starts at `at` in `s`: where the
/// grammar of [`SipUri::parse`] stops reading. Every byte it reads is printable ASCII other
/// than `>` (a test holds the tables of `URI_BYTES_EXCLUDE` to that), and a byte it does
/// not read is judged alike whether it is a `>` or the end of the text: so for `<uri>`, a
/// walk that stops at the `>` means that the text between the brackets is a valid URI.
pub(crate) fn walk_sip_uri(s: &str, at: usize) -> SipWalk {
    // With the text at hand the walk always reaches a verdict.
    walk_sip_uri_in(s.as_bytes(), at, Some(s)).unwrap_or(SipWalk::Invalid)
}

/// [`walk_sip_uri`] on bytes that need not be UTF-8: the same verdict, or `None` where the
/// walk would read the text (a userinfo with escapes or a password, an IPv6 reference). Every
/// byte it reads past the scheme is printable ASCII, so a URI it reads is valid UTF-8.
pub(crate) fn walk_sip_uri_bytes(b: &[u8], at: usize) -> Option<SipWalk> {
    walk_sip_uri_in(b, at, None)
}

/// The walk of [`walk_sip_uri`] over `b`, with its text `s` when the caller has it (`None`
/// is returned only without it).
#[inline(always)]
fn walk_sip_uri_in(b: &[u8], at: usize, s: Option<&str>) -> Option<SipWalk> {
    let head = b.get(at..).unwrap_or_default();
    // `Uri::parse` hands exactly these to `SipUri::parse` (its scheme test is
    // case-insensitive), which then starts after the colon.
    // The common spelling first, then any case.
    let start = if head.starts_with(b"sip:") || starts_with_ignore_case(head, b"sip:") {
        at + 4
    } else if starts_with_ignore_case(head, b"sips:") {
        at + 5
    } else {
        return Some(SipWalk::NotSip);
    };
    // `find_userinfo_end`'s run, noting whether it is all `user` characters: a userinfo of
    // those alone is what `parse_userinfo` accepts without reading it again (a user without
    // escapes or password).
    let rest = b.get(start..).unwrap_or_default();
    let (mut run, mut plain) = (0, true);
    for &c in rest {
        if !in_class(&USERINFO, c) {
            break;
        }
        plain &= in_class(&USER, c);
        run += 1;
    }
    let host_start = if rest.get(run) == Some(&b'@') {
        let at = start + run;
        if !(plain && run > 0) && parse_userinfo(s?, start, at).is_err() {
            return Some(SipWalk::Invalid);
        }
        at + 1
    } else {
        start
    };
    let end = match s {
        Some(s) => host_end(s, host_start),
        None => host_end_bytes(b, host_start)?,
    };
    let Some(mut i) = end else {
        return Some(SipWalk::Invalid);
    };
    if b.get(i) == Some(&b':') {
        match parse_port(b, i + 1) {
            Ok((_, end)) => i = end,
            Err(_) => return Some(SipWalk::Invalid),
        }
    }
    // The parameters and headers read only from a `;` or a `?` (and end where they start
    // otherwise): tested here first, so that a URI without them calls neither reader.
    let params_end = match b.get(i) {
        Some(b';') => match uri_params_end(b, i) {
            Ok(end) => end,
            Err(_) => return Some(SipWalk::Invalid),
        },
        _ => i,
    };
    if b.get(params_end) != Some(&b'?') {
        return Some(SipWalk::Ends { end: params_end, headers: false });
    }
    // `SipUri::parse` also cuts slices at these positions, which are all ASCII boundaries
    // (each follows an ASCII byte or ends a run of ASCII bytes), so cutting cannot fail.
    Some(match uri_headers_end(b, params_end) {
        Ok(end) => SipWalk::Ends { end, headers: end > params_end },
        Err(_) => SipWalk::Invalid,
    })
}

/// The byte classes [`walk_sip_uri`] reads a URI by; none holds `>`, whitespace or a
/// non-ASCII byte (a test checks it), which is what lets a walk end at a `>`.
#[cfg(test)]
pub(crate) const URI_BYTES_EXCLUDE: [&[bool; 256]; 5] =
    [&USER, &PASSWORD, &USERINFO, &PARAMCHAR, &HNVCHAR];

/// Where the host [`parse_host`] would read at `i` ends, if it would accept it: the same
/// grammar, with the IPv4 address checked ([`is_ipv4`]) rather than converted.
pub(crate) fn host_end(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    // The common case first: a dotted quad that is the whole run, read once.
    if let Some(end) = ipv4_run_end(b, i) {
        return Some(end);
    }
    other_host_end(s, i)
}

/// [`host_end`] on bytes for a host that is not an IPv6 reference: `None` for one (whose
/// reading needs the text), else what `host_end` answers.
#[inline]
pub(crate) fn host_end_bytes(b: &[u8], i: usize) -> Option<Option<usize>> {
    if let Some(end) = ipv4_run_end(b, i) {
        return Some(Some(end));
    }
    if b.get(i) == Some(&b'[') {
        return None;
    }
    Some(name_host_end(b, i))
}

/// [`host_end`] for any host but a plain dotted quad (kept out of line, so that the walks
/// that inline `host_end` stay small).
#[inline(never)]
fn other_host_end(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(i) == Some(&b'[') {
        return parse_host(s, i).ok().map(|(_, end)| end);
    }
    name_host_end(b, i)
}

/// [`host_end`] for a hostname or an IPv4 address that is not a plain dotted quad.
#[inline(never)]
fn name_host_end(b: &[u8], i: usize) -> Option<usize> {
    let scan = scan_host(b, i);
    let text = b.get(i..scan.end).unwrap_or_default();
    let ok = !text.is_empty() && if scan.dotted_digits { is_ipv4(text) } else { scan.hostname };
    ok.then_some(scan.end)
}

/// Where the run of host characters at `i` ends if it is exactly an IPv4 address that
/// [`parse_ipv4`] accepts (then [`scan_host`] finds that run, only digits and dots, and
/// [`is_ipv4`] accepts it): four octets read off the bytes in one pass, and no host
/// character after them. `None` for anything else, which the general scan then judges.
#[inline]
fn ipv4_run_end(b: &[u8], i: usize) -> Option<usize> {
    let mut end = ipv4_octet_end(b, i)?;
    for _ in 0..3 {
        if b.get(end) != Some(&b'.') {
            return None;
        }
        end = ipv4_octet_end(b, end + 1)?;
    }
    let ends = b.get(end).is_none_or(|&c| HOST_CLASS.get(usize::from(c)).copied() == Some(0));
    ends.then_some(end)
}

/// Where the octet at `i` ends if [`ipv4_octet`] reads one there: one to three digits, not
/// followed by a fourth, at most 255. Each byte is looked at once, by position, and the
/// value is computed only for three digits (one or two are always in range).
#[inline(always)]
fn ipv4_octet_end(b: &[u8], i: usize) -> Option<usize> {
    // The digit at `k` (10 or more for anything else, or past the end).
    let digit = |k: usize| b.get(k).map_or(10, |&c| c.wrapping_sub(b'0'));
    let d0 = digit(i);
    if d0 > 9 {
        return None;
    }
    let d1 = digit(i + 1);
    if d1 > 9 {
        return Some(i + 1);
    }
    let d2 = digit(i + 2);
    if d2 > 9 {
        return Some(i + 2);
    }
    if digit(i + 3) <= 9 {
        return None;
    }
    let value = u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2);
    (value <= 255).then_some(i + 3)
}

/// Whether [`parse_ipv4`] accepts `b`, a run of digits and dots (what [`scan_host`] calls
/// `dotted_digits`): four parts of one to three digits joined by dots, each at most 255. A
/// three-digit part is compared as text with `255`, which for digits of the same length is
/// the numeric order; nothing is converted.
pub(crate) fn is_ipv4(b: &[u8]) -> bool {
    let mut parts = 0;
    for part in b.split(|&c| c == b'.') {
        parts += 1;
        let ok = match *part {
            [_] | [_, _] => true,
            [x, y, z] => [x, y, z] <= *b"255",
            _ => false,
        };
        if !ok || parts > 4 {
            return false;
        }
    }
    parts == 4
}

/// `uri-parameters = *( ";" uri-parameter )` from `i` (RFC 3261 §25.1), each
/// `pname [ "=" pvalue ]` with non-empty name and value; returns where they end.
#[inline]
fn uri_params_end(b: &[u8], mut i: usize) -> Result<usize, UriError> {
    while b.get(i) == Some(&b';') {
        let name_start = i + 1;
        i = scan(b, name_start, |c| in_class(&PARAMCHAR, c))?;
        if i == name_start {
            return Err(err_at(b, name_start, "empty parameter name"));
        }
        if b.get(i) == Some(&b'=') {
            let value_start = i + 1;
            i = scan(b, value_start, |c| in_class(&PARAMCHAR, c))?;
            if i == value_start {
                return Err(err_at(b, value_start, "empty parameter value"));
            }
        }
    }
    Ok(i)
}

/// `headers = "?" header *( "&" header )` from `i`, if there is a `?` (RFC 3261 §25.1);
/// returns where they end.
#[inline]
fn uri_headers_end(b: &[u8], mut i: usize) -> Result<usize, UriError> {
    if b.get(i) == Some(&b'?') {
        loop {
            let name_start = i + 1;
            i = scan(b, name_start, |c| in_class(&HNVCHAR, c))?;
            if i == name_start {
                return Err(err_at(b, name_start, "empty header name"));
            }
            if b.get(i) != Some(&b'=') {
                return Err(err_at(b, i, "expected '=' in URI header"));
            }
            i = scan(b, i + 1, |c| in_class(&HNVCHAR, c))?;
            if b.get(i) != Some(&b'&') {
                break;
            }
        }
    }
    Ok(i)
}

/// What [`scan_host`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HostScan {
    /// Where the run of alphanumerics, `-` and `.` ends.
    pub(crate) end: usize,
    /// Whether the run is only digits and dots (then it is an IPv4 address or nothing).
    pub(crate) dotted_digits: bool,
    /// Whether the run is a `hostname` ([`is_hostname`]).
    pub(crate) hostname: bool,
}

/// Byte classes of a host, as bits: 0 ends it.
const H_DIGIT: u8 = 1;
const H_ALPHA: u8 = 2;
const H_DASH: u8 = 4;
const H_DOT: u8 = 8;

static HOST_CLASS: [u8; 256] = {
    let mut t = [0; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        // Runs at compile time only: every index is below 256.
        #[allow(clippy::indexing_slicing)]
        {
            t[i] = if c.is_ascii_digit() {
                H_DIGIT
            } else if c.is_ascii_alphabetic() {
                H_ALPHA
            } else if c == b'-' {
                H_DASH
            } else if c == b'.' {
                H_DOT
            } else {
                0
            };
        }
        i += 1;
    }
    t
};

/// Scans the run of alphanumerics, `-` and `.` from `i` that a hostname or IPv4 address is
/// made of, and says whether it is only digits and dots (then it is an IPv4 address or
/// nothing, and never a `hostname`: its top label would be all digits) or else whether it is
/// a `hostname` ([`is_hostname`]). One pass finds the run, the classes in it and whether its
/// labels make a hostname.
pub(crate) fn scan_host(b: &[u8], i: usize) -> HostScan {
    let rest = b.get(i..).unwrap_or_default();
    let mut seen = 0;
    let mut n = 0;
    // The labels, read in the same pass as `is_hostname_bytes` reads them: whether every label
    // closed by a dot so far was good (not empty, not ending in a dash) and no dash started
    // a label; whether the label being read is empty, and all digits; the class of the last
    // byte; and whether the label before the last dot was all digits (for a trailing dot).
    let (mut ok, mut empty, mut digits, mut last, mut before_dot) = (true, true, true, 0, true);
    for &c in rest {
        let class = HOST_CLASS.get(usize::from(c)).copied().unwrap_or(0);
        match class {
            0 => break,
            H_DOT => {
                ok &= !empty && last != H_DASH;
                before_dot = digits;
                (empty, digits) = (true, true);
            }
            H_DIGIT => empty = false,
            H_ALPHA => (empty, digits) = (false, false),
            _ => {
                ok &= !empty;
                digits = false;
            }
        }
        seen |= class;
        last = class;
        n += 1;
    }
    let end = i + n;
    if seen & (H_ALPHA | H_DASH) == 0 {
        return HostScan { end, dotted_digits: true, hostname: false };
    }
    // `hostname` may end in one dot: then the label before it is the top label, which that
    // dot has checked but for being all digits.
    let hostname =
        if last == H_DOT { ok && !before_dot } else { ok && !empty && last != H_DASH && !digits };
    HostScan { end, dotted_digits: false, hostname }
}

/// `hostname / IPv4address` from text of alphanumerics, `-` and `.` (see [`Host`] for the
/// rules): digits and dots must form an IPv4 address, anything else a hostname. Shared with
/// the typed headers (Via sent-by, maddr).
#[cfg(test)]
pub(crate) fn classify_host(text: &str) -> Option<Host<'_>> {
    if text.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return parse_ipv4(text).map(Host::Ipv4);
    }
    is_hostname(text).then_some(Host::Domain(text))
}

/// `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each part at most 255.
pub(crate) fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    // Octet by octet off the front of the bytes, no index arithmetic (this runs for every
    // IPv4 host of every URI and Via).
    let (a, rest) = ipv4_octet(text.as_bytes())?;
    let (b, rest) = ipv4_octet(rest.strip_prefix(b".")?)?;
    let (c, rest) = ipv4_octet(rest.strip_prefix(b".")?)?;
    let (d, rest) = ipv4_octet(rest.strip_prefix(b".")?)?;
    rest.is_empty().then(|| Ipv4Addr::new(a, b, c, d))
}

/// `1*3DIGIT` at most 255 at the front of `b`, not followed by a fourth digit; the octet
/// and the bytes after it.
#[inline(always)]
fn ipv4_octet(b: &[u8]) -> Option<(u8, &[u8])> {
    let digit = |c: Option<&u8>| c.map(|c| c.wrapping_sub(b'0')).filter(|&d| d < 10);
    let mut n = u16::from(digit(b.first())?);
    let mut len = 1;
    while let Some(d) = digit(b.get(len)) {
        if len == 3 {
            return None;
        }
        n = n * 10 + u16::from(d);
        len += 1;
    }
    Some((u8::try_from(n).ok()?, b.get(len..).unwrap_or_default()))
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]`, with the toplabel allowed to start
/// with a digit but not to be all digits (see [`Host`]).
///
/// Each label is `domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum`; one pass
/// over the bytes.
fn is_hostname(text: &str) -> bool {
    is_hostname_bytes(text.as_bytes())
}

/// [`is_hostname`] on bytes.
fn is_hostname_bytes(b: &[u8]) -> bool {
    let body = b.strip_suffix(b".").unwrap_or(b);
    // State of the label being read: whether it is still empty, its last byte, and whether
    // it is all digits so far.
    let mut empty = true;
    let mut last = 0_u8;
    let mut digits = true;
    for &c in body {
        if c == b'.' {
            if empty || last == b'-' {
                return false;
            }
            empty = true;
            digits = true;
        } else if c.is_ascii_alphanumeric() {
            empty = false;
            digits &= c.is_ascii_digit();
        } else if c == b'-' && !empty {
            digits = false;
        } else {
            return false;
        }
        last = c;
    }
    !empty && last != b'-' && !digits
}

/// `port = 1*DIGIT` starting at `i`, at most 65535; returns the port and where it ends.
fn parse_port(b: &[u8], i: usize) -> Result<(u16, usize), UriError> {
    let mut port: u32 = 0;
    let mut end = i;
    while let Some(&c) = b.get(end) {
        if !c.is_ascii_digit() {
            break;
        }
        port = port * 10 + u32::from(c - b'0');
        if port > u32::from(u16::MAX) {
            return Err(UriError::new("port out of range", i));
        }
        end += 1;
    }
    if end == i {
        return Err(err_at(b, i, "empty port"));
    }
    let port = u16::try_from(port).map_err(|_| UriError::new("port out of range", i))?;
    Ok((port, end))
}

fn is_visual_separator(c: u8) -> bool {
    matches!(c, b'-' | b'.' | b'(' | b')')
}

/// RFC 3966 `descriptor = domainname / global-number-digits`.
fn is_context_descriptor(value: &str) -> bool {
    match value.strip_prefix('+') {
        Some(digits) => {
            digits.bytes().any(|c| c.is_ascii_digit())
                && digits.bytes().all(|c| c.is_ascii_digit() || is_visual_separator(c))
        }
        None => is_hostname(value),
    }
}

/// A number's digits without visual separators, lowercased (RFC 3966 §4).
fn phone_digits(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().filter(|&c| !is_visual_separator(c)).map(|c| c.to_ascii_lowercase())
}

/// The text as comparison units: a byte, or an escape decoded to its byte, except that an
/// escaped reserved character stays distinct from the literal one (`0x100 | byte`), as
/// RFC 3261 §19.1.4 only makes non-reserved characters equivalent to their escapes.
#[derive(Clone)]
struct Units<'a> {
    b: &'a [u8],
}

impl Iterator for Units<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if let [b'%', h, l, tail @ ..] = self.b {
            if let (Some(h), Some(l)) = (hex_value(*h), hex_value(*l)) {
                self.b = tail;
                let v = (h << 4) | l;
                let tag = if RESERVED.contains(&v) { 0x100 } else { 0 };
                return Some(tag | u16::from(v));
            }
        }
        let (&c, rest) = self.b.split_first()?;
        self.b = rest;
        Some(u16::from(c))
    }
}

fn units(s: &str) -> Units<'_> {
    Units { b: s.as_bytes() }
}

fn lower_unit(u: u16) -> u16 {
    if (u16::from(b'A')..=u16::from(b'Z')).contains(&u) { u + 0x20 } else { u }
}

/// Equal after decoding escapes, case-sensitive.
fn eq_decoded(a: &str, b: &str) -> bool {
    units(a).eq(units(b))
}

/// Equal after decoding escapes, ASCII case-insensitive.
fn eq_decoded_ignore_case(a: &str, b: &str) -> bool {
    units(a).map(lower_unit).eq(units(b).map(lower_unit))
}

fn option_eq(a: Option<&str>, b: Option<&str>, eq: fn(&str, &str) -> bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => eq(a, b),
        (None, Some(_)) | (Some(_), None) => false,
    }
}

/// The first parameter whose name equals `name` (case-insensitive, escapes decoded).
fn find_param<'a>(mut params: UriParams<'a>, name: &str) -> Option<Option<&'a str>> {
    params.find(|(n, _)| eq_decoded_ignore_case(n, name)).map(|(_, v)| v)
}

fn is_must_match_param(name: &str) -> bool {
    MUST_MATCH_PARAMS.iter().any(|m| eq_decoded_ignore_case(name, m))
}

/// RFC 3261 §19.1.4 uri-parameter comparison; see [`SipUri`].
fn sip_params_eq(a: &SipUri<'_>, b: &SipUri<'_>) -> bool {
    // Each name is compared by its first occurrence on both sides, so that a repeated
    // parameter (`;p=1;p=2`) cannot make a URI unequal to itself.
    let a_in_b = a.params().all(|(name, value)| match find_param(b.params(), name) {
        Some(other) => {
            let mine = find_param(a.params(), name).unwrap_or(value);
            option_eq(mine, other, eq_decoded_ignore_case)
        }
        None => !is_must_match_param(name),
    });
    a_in_b
        && b.params()
            .all(|(name, _)| !is_must_match_param(name) || find_param(a.params(), name).is_some())
}

/// RFC 3261 §19.1.4: every header of each URI is in the other, with an equal value.
fn sip_headers_eq(a: &SipUri<'_>, b: &SipUri<'_>) -> bool {
    fn contains(mut headers: UriHeaders<'_>, (name, value): (&str, &str)) -> bool {
        headers.any(|(n, v)| eq_decoded_ignore_case(n, name) && eq_decoded(v, value))
    }
    a.headers().count() == b.headers().count()
        && a.headers().all(|h| contains(b.headers(), h))
        && b.headers().all(|h| contains(a.headers(), h))
}

/// RFC 3966 §4: every parameter of `a` is in `b` with an equal value.
fn tel_params_subset(a: &TelUri<'_>, b: &TelUri<'_>) -> bool {
    a.params().all(|(name, value)| match (find_param(b.params(), name), value) {
        (Some(Some(other)), Some(value)) => {
            // Parsing checked that these two hold no escapes.
            let is_ext = name.eq_ignore_ascii_case("ext");
            let is_number_context =
                name.eq_ignore_ascii_case("phone-context") && value.starts_with('+');
            if is_ext || is_number_context {
                phone_digits(value).eq(phone_digits(other))
            } else {
                eq_decoded_ignore_case(value, other)
            }
        }
        (Some(None), None) => true,
        (Some(_) | None, _) => false,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_scheme_is_cut_from_the_raw_text_and_debug_shows_it_as_before() {
        let uri = SipUri::parse("SIPS:alice@atlanta.com:5061;transport=tcp?x=y").unwrap();
        assert_eq!(uri.scheme(), "SIPS");
        assert!(uri.is_secure());
        assert_eq!(SipUri::parse("sIp:b").unwrap().scheme(), "sIp");
        assert_eq!(
            format!("{uri:?}"),
            "SipUri { raw: \"SIPS:alice@atlanta.com:5061;transport=tcp?x=y\", scheme: \"SIPS\", \
             secure: true, user: Some(\"alice\"), password: None, host_raw: \"atlanta.com\", \
             host: Domain(\"atlanta.com\"), port: Some(5061), params: \"transport=tcp\", \
             headers: \"x=y\" }"
        );
    }

    #[test]
    fn a_uri_with_a_repeated_parameter_equals_itself() {
        // Found by the `uri` fuzz target: the second `ppSIp` was compared with the first.
        let uri = Uri::parse("SIp:I;ppSIp=:I;p;ppSIp=:p::").unwrap();
        assert!(uri == uri);
        let a = SipUri::parse("sip:h;x=1;x=2").unwrap();
        assert!(a == SipUri::parse("sip:h;x=1;x=3").unwrap());
        assert!(a != SipUri::parse("sip:h;x=2;x=1").unwrap());
    }

    fn sip(s: &str) -> SipUri<'_> {
        match SipUri::parse(s) {
            Ok(u) => u,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn uri(s: &str) -> Uri<'_> {
        match Uri::parse(s) {
            Ok(u) => u,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn rejects(s: &str) -> UriError {
        match Uri::parse(s) {
            Ok(u) => panic!("{s:?} should not parse: {u:?}"),
            Err(e) => e,
        }
    }

    // --- SIP URIs, RFC 3261 §19.1.1 ---

    #[test]
    fn parses_user_host() {
        let u = sip("sip:alice@atlanta.com");
        assert!(!u.is_secure());
        assert_eq!(u.scheme(), "sip");
        assert_eq!(u.user_raw(), Some("alice"));
        assert_eq!(u.password_raw(), None);
        assert_eq!(u.host(), Host::Domain("atlanta.com"));
        assert_eq!(u.host_raw(), "atlanta.com");
        assert_eq!(u.port(), None);
        assert_eq!(u.params().count(), 0);
        assert!(!u.has_headers());
        assert_eq!(u.as_str(), "sip:alice@atlanta.com");
    }

    #[test]
    fn parses_host_only() {
        let u = sip("sip:registrar.biloxi.com");
        assert_eq!(u.user_raw(), None);
        assert_eq!(u.host(), Host::Domain("registrar.biloxi.com"));
    }

    #[test]
    fn parses_sips_case_insensitive_scheme() {
        let u = sip("SIPS:bob@biloxi.com");
        assert!(u.is_secure());
        assert_eq!(u.scheme(), "SIPS");
        assert_eq!(uri("SIPS:bob@biloxi.com").scheme(), "SIPS");
    }

    #[test]
    fn parses_password_and_port() {
        let u = sip("sip:alice:secretword@atlanta.com;transport=tcp");
        assert_eq!(u.user_raw(), Some("alice"));
        assert_eq!(u.password_raw(), Some("secretword"));
        assert_eq!(u.transport(), Some("tcp"));
        let u = sip("sip:alice:@atlanta.com:5061");
        assert_eq!(u.password_raw(), Some(""));
        assert_eq!(u.port(), Some(5061));
    }

    #[test]
    fn parses_ipv4_host_and_port() {
        let u = sip("sip:alice@192.0.2.4:5060");
        assert_eq!(u.host(), Host::Ipv4(Ipv4Addr::new(192, 0, 2, 4)));
        assert_eq!(u.host_raw(), "192.0.2.4");
        assert_eq!(u.port(), Some(5060));
    }

    #[test]
    fn parses_ipv6_reference_with_port_and_transport() {
        let u = sip("sip:[2001:db8::10]:5070;transport=tcp");
        let addr: Ipv6Addr = "2001:db8::10".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert_eq!(u.host(), Host::Ipv6(addr));
        assert_eq!(u.host_raw(), "[2001:db8::10]");
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.transport(), Some("tcp"));
        assert_eq!(u.host().to_string(), "[2001:db8::10]");
    }

    #[test]
    fn parses_ipv6_with_embedded_ipv4_and_user() {
        let u = sip("sip:bob@[::ffff:192.0.2.1]");
        assert!(matches!(u.host(), Host::Ipv6(_)));
        assert_eq!(u.user_raw(), Some("bob"));
    }

    #[test]
    fn uri_walk_classes_hold_no_byte_that_ends_a_bracketed_uri() {
        for table in URI_BYTES_EXCLUDE {
            for c in [b'>', b' ', b'\t', b'\r', b'\n'].into_iter().chain(0x80..=0xff) {
                assert!(!in_class(table, c), "{c}");
            }
        }
    }

    /// `ipv4_run_end` as it was: the octets read by [`ipv4_octet`] off the front of the bytes.
    fn ipv4_run_end_reference(b: &[u8], i: usize) -> Option<usize> {
        let rest = b.get(i..)?;
        let (_, rest) = ipv4_octet(rest)?;
        let (_, rest) = ipv4_octet(rest.strip_prefix(b".")?)?;
        let (_, rest) = ipv4_octet(rest.strip_prefix(b".")?)?;
        let (_, rest) = ipv4_octet(rest.strip_prefix(b".")?)?;
        let ends = rest.first().is_none_or(|&c| HOST_CLASS.get(usize::from(c)).copied() == Some(0));
        ends.then(|| b.len() - rest.len())
    }

    proptest! {
        #[test]
        fn is_ipv4_matches_parse_ipv4(s in "[0-9.]{0,17}|[0-9]{1,4}(\\.[0-9]{0,4}){0,5}") {
            prop_assert_eq!(is_ipv4(s.as_bytes()), parse_ipv4(&s).is_some(), "{:?}", s);
        }

        #[test]
        fn host_end_matches_parse_host(s in "[a-c0-3.\\-:;\\[\\] \u{e9}]{0,16}", at in 0usize..3) {
            let at = at.min(s.len());
            if s.is_char_boundary(at) {
                let want = parse_host(&s, at).ok().map(|(_, end)| end);
                prop_assert_eq!(host_end(&s, at), want, "{:?}", s);
            }
        }

        #[test]
        fn a_walk_that_stops_at_a_bracket_is_a_valid_uri(
            s in "(sips?|SIP|tel):[a-z0-9%:;?&=@.\\[\\]>< \t-]{0,24}",
        ) {
            // What `check_name_addr` relies on: the walk over `<uri>...` stops at the first
            // `>` exactly when the text before it is a valid SIP URI.
            let bracketed = format!("<{s}");
            let walked = walk_sip_uri(&bracketed, 1);
            let first = bracketed
                .bytes()
                .skip(1)
                .position(|c| matches!(c, b'>' | b' ' | b'\t' | b'\r' | b'\n') || !c.is_ascii())
                .map(|i| i + 1);
            let stops_at_bracket = matches!(walked, SipWalk::Ends { end, .. }
                if bracketed.as_bytes().get(end) == Some(&b'>'));
            if stops_at_bracket {
                prop_assert_eq!(first.and_then(|i| bracketed.as_bytes().get(i)), Some(&b'>'));
            }
            if let Some(i) = first.filter(|&i| bracketed.as_bytes().get(i) == Some(&b'>')) {
                let inner = bracketed.get(1..i).unwrap_or_default();
                let valid = matches!(check_sip_uri(inner), SipCheck::Valid { .. });
                prop_assert_eq!(stops_at_bracket, valid, "{:?}", bracketed);
            }
        }

        #[test]
        fn host_end_matches_parse_host_on_dotted_quads(
            s in "(x|[0-9]{1,4}\\.){0,4}[0-9]{0,4}[a.\\-:;]?[0-9]?",
            at in 0usize..3,
        ) {
            // The IPv4 fast path of `host_end`: quads, near-quads, out-of-range octets, and
            // quads run on into a hostname.
            let at = at.min(s.len());
            let want = parse_host(&s, at).ok().map(|(_, end)| end);
            prop_assert_eq!(host_end(&s, at), want, "{:?}", s);
            prop_assert_eq!(ipv4_run_end(s.as_bytes(), at), ipv4_run_end_reference(s.as_bytes(), at));
        }

        #[test]
        fn ipv4_run_end_matches_the_octet_reader(
            s in "([0-9]{0,4}[.]?){0,6}[0-9a-z.:-]?",
            at in 0usize..3,
        ) {
            prop_assert_eq!(
                ipv4_run_end(s.as_bytes(), at),
                ipv4_run_end_reference(s.as_bytes(), at),
                "{:?}", s
            );
        }

        #[test]
        fn check_sip_uri_matches_sip_uri_parse(
            s in "(sips?|SIP|Sips|tel):[a-z0-9%:;?&=@.\\[\\]-]{0,24}",
        ) {
            let want = match Uri::parse(&s) {
                Ok(Uri::Sip(u)) => SipCheck::Valid { headers: u.has_headers() },
                Ok(_) => SipCheck::NotSip,
                Err(_) if s.starts_with("tel:") => SipCheck::NotSip,
                Err(_) => SipCheck::Invalid,
            };
            prop_assert_eq!(check_sip_uri(&s), want, "{:?}", s);
        }
    }

    #[test]
    fn parses_trailing_dot_and_digit_led_labels() {
        assert_eq!(sip("sip:a@example.com.").host(), Host::Domain("example.com."));
        assert_eq!(sip("sip:a@3com.com").host(), Host::Domain("3com.com"));
        assert_eq!(sip("sip:a@host-1.x9").host(), Host::Domain("host-1.x9"));
    }

    #[test]
    fn parses_params_in_order() {
        let u =
            sip("sip:host;transport=udp;lr;maddr=239.255.255.1;ttl=15;user=phone;method=INVITE");
        let params: Vec<_> = u.params().collect();
        assert_eq!(
            params,
            [
                ("transport", Some("udp")),
                ("lr", None),
                ("maddr", Some("239.255.255.1")),
                ("ttl", Some("15")),
                ("user", Some("phone")),
                ("method", Some("INVITE")),
            ]
        );
        assert!(u.lr());
        assert_eq!(u.maddr(), Some("239.255.255.1"));
        assert_eq!(u.ttl(), Some(15));
        assert_eq!(u.user_param(), Some("phone"));
        assert_eq!(u.method(), Some("INVITE"));
        assert_eq!(
            u.params_raw(),
            "transport=udp;lr;maddr=239.255.255.1;ttl=15;user=phone;method=INVITE"
        );
    }

    #[test]
    fn param_lookup_is_case_insensitive_and_decodes_names() {
        let u = sip("sip:host;Transport=TCP;LR;%6C%72x");
        assert_eq!(u.param("transport"), Some(Some("TCP")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.param("lrx"), Some(None));
        assert_eq!(u.param("nope"), None);
        assert!(!sip("sip:host").lr());
    }

    #[test]
    fn ttl_out_of_range_is_none() {
        assert_eq!(sip("sip:host;ttl=256").ttl(), None);
        assert_eq!(sip("sip:host;ttl=abc").ttl(), None);
        assert_eq!(sip("sip:host;ttl=0").ttl(), Some(0));
    }

    #[test]
    fn parses_headers_in_order() {
        let u = sip("sip:alice@atlanta.com?subject=project%20x&priority=urgent&empty=");
        assert!(u.has_headers());
        let headers: Vec<_> = u.headers().collect();
        assert_eq!(headers, [("subject", "project%20x"), ("priority", "urgent"), ("empty", "")]);
        assert_eq!(u.headers_raw(), "subject=project%20x&priority=urgent&empty=");
    }

    #[test]
    fn parses_params_then_headers() {
        let u = sip("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com");
        assert_eq!(u.user_raw(), None);
        assert_eq!(u.params().count(), 2);
        assert_eq!(u.headers().collect::<Vec<_>>(), [("to", "sip:bob%40biloxi.com")]);
    }

    #[test]
    fn user_decodes_escapes_and_borrows_when_plain() {
        let u = sip("sip:%61lice@atlanta.com");
        assert_eq!(u.user_raw(), Some("%61lice"));
        assert_eq!(u.user().as_deref(), Some("alice"));
        assert!(matches!(sip("sip:alice@a.com").user(), Some(Cow::Borrowed("alice"))));
    }

    // --- RFC 4475 ---

    #[test]
    fn rfc4475_intmeth_unusual_userinfo() {
        // RFC 4475 §3.1.1.4 (intmeth) Request-URI.
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(u.user_raw(), Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
        assert_eq!(u.password_raw(), Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
        assert_eq!(u.host(), Host::Domain("example.com"));
        assert_eq!(u.params().count(), 0);
    }

    #[test]
    fn rfc4475_esc01_escaped_sips_in_user() {
        // RFC 4475 §3.1.1.5 (esc01).
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert!(!u.is_secure());
        assert_eq!(u.user().as_deref(), Some("sips:user@example.com"));
        assert_eq!(u.host(), Host::Domain("example.net"));
    }

    #[test]
    fn rfc4475_escnull_nul_in_user() {
        // RFC 4475 §3.1.1.7 (escnull).
        let u = sip("sip:null-%00-null@example.com");
        assert_eq!(u.user().as_deref(), Some("null-\0-null"));
        assert_eq!(sip("sip:%00%00@host5.example.com").user().as_deref(), Some("\0\0"));
    }

    #[test]
    fn rfc4475_semiuri_semicolon_in_user() {
        // RFC 4475 §3.1.2.6 (semiuri): the user part is `user;par=u%40example.net`.
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user_raw(), Some("user;par=u%40example.net"));
        assert_eq!(u.host(), Host::Domain("example.com"));
        assert_eq!(u.params().count(), 0);
    }

    #[test]
    fn rfc4475_esc02_escaped_param_names() {
        // RFC 4475 §3.1.1.6 (esc02) Contact.
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(u.user().as_deref(), Some("caller"));
        assert!(u.lr());
        assert_eq!(u.param("name"), Some(Some("v%61lue%25%34%31")));
    }

    #[test]
    fn rfc4475_escaped_headers() {
        // RFC 4475 §3.1.2.15 (regescrt) Contact.
        let u = sip("sip:user@example.com?Route=%3Csip:sip.example.com%3E");
        assert_eq!(u.headers().collect::<Vec<_>>(), [("Route", "%3Csip:sip.example.com%3E")]);
    }

    #[test]
    fn rfc4475_unknown_params_parse() {
        // RFC 4475 §3.1.1.1 (wsinv) Route and Request-URI.
        let u = sip("sip:services.example.com;lr;unknownwith=value;unknown-no-value");
        assert!(u.lr());
        assert_eq!(u.param("unknown-no-value"), Some(None));
        assert_eq!(sip("sip:vivekg@chair-dnrc.example.com;unknownparam").params().count(), 1);
    }

    // --- Invalid SIP URIs ---

    #[test]
    fn rejects_surrounding_whitespace() {
        // RFC 4475 §3.1.2.18 (quotbal... `< sip:t.watson@example.org >`): callers pass the inner
        // text, spaces included.
        assert_eq!(rejects(" sip:t.watson@example.org ").what(), "whitespace in URI");
        assert_eq!(rejects("sip:t.watson@example.org ").what(), "whitespace in URI");
        assert_eq!(rejects("sip:t.watson@example.org ").offset(), 24);
    }

    #[test]
    fn rejects_inner_whitespace() {
        rejects("sip:user@example.com; lr");
        rejects("sip:us er@example.com");
        rejects("sip:user@exa mple.com");
        rejects("sip:user@example.com\r\n");
    }

    #[test]
    fn rejects_empty_host() {
        assert_eq!(rejects("sip:").what(), "empty host");
        assert_eq!(rejects("sip:user@").what(), "empty host");
        assert_eq!(rejects("sip:user@;lr").what(), "empty host");
        assert_eq!(rejects("sip::5060").what(), "empty host");
    }

    #[test]
    fn rejects_empty_user() {
        assert_eq!(rejects("sip:@host").what(), "empty user");
        assert_eq!(rejects("sip::pw@host").what(), "empty user");
    }

    #[test]
    fn rejects_port_out_of_range() {
        assert_eq!(rejects("sip:host:70000").what(), "port out of range");
        assert_eq!(rejects("sip:host:65536").what(), "port out of range");
        assert_eq!(rejects("sip:host:99999999999999999999999").what(), "port out of range");
        assert_eq!(sip("sip:host:65535").port(), Some(65535));
    }

    #[test]
    fn rejects_empty_port() {
        assert_eq!(rejects("sip:host:").what(), "empty port");
        assert_eq!(rejects("sip:host:;lr").what(), "empty port");
        assert_eq!(rejects("sip:[::1]:").what(), "empty port");
    }

    #[test]
    fn rejects_empty_params() {
        assert_eq!(rejects("sip:host;;lr").what(), "empty parameter name");
        assert_eq!(rejects("sip:host;").what(), "empty parameter name");
        assert_eq!(rejects("sip:host;=x").what(), "empty parameter name");
        assert_eq!(rejects("sip:host;a=").what(), "empty parameter value");
        rejects("sip:host;a=b=c");
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(rejects("sip:%4@host").what(), "bad escape");
        assert_eq!(rejects("sip:%zz@host").what(), "bad escape");
        assert_eq!(rejects("sip:host;a=%4").what(), "bad escape");
        assert_eq!(rejects("sip:host?a=%g0").what(), "bad escape");
        assert_eq!(rejects("sip:host?a=%").offset(), 11);
    }

    #[test]
    fn rejects_bad_headers() {
        rejects("sip:host?");
        rejects("sip:host?a");
        rejects("sip:host?=b");
        rejects("sip:host?a=b&");
        rejects("sip:host?a=b&&c=d");
    }

    #[test]
    fn rejects_bad_hosts() {
        assert_eq!(rejects("sip:user@-host.com").what(), "bad host name");
        assert_eq!(rejects("sip:user@host-.com").what(), "bad host name");
        assert_eq!(rejects("sip:user@a..com").what(), "bad host name");
        assert_eq!(rejects("sip:user@.com").what(), "bad host name");
        assert_eq!(rejects("sip:user@a.123").what(), "bad host name");
        rejects("sip:user@host_name.com");
        rejects("sip:user@host..");
    }

    #[test]
    fn rejects_bad_ipv4() {
        assert_eq!(rejects("sip:user@256.0.0.1").what(), "bad IPv4 address");
        assert_eq!(rejects("sip:user@1.2.3").what(), "bad IPv4 address");
        assert_eq!(rejects("sip:user@1.2.3.4.5").what(), "bad IPv4 address");
        assert_eq!(rejects("sip:user@1.2.3.4.").what(), "bad IPv4 address");
        assert_eq!(rejects("sip:user@0001.2.3.4").what(), "bad IPv4 address");
    }

    #[test]
    fn rejects_bad_ipv6() {
        assert_eq!(rejects("sip:[2001:db8::10").what(), "expected ']' after IPv6 address");
        assert_eq!(rejects("sip:[2001:db8:::10]").what(), "bad IPv6 address");
        assert_eq!(rejects("sip:[]").what(), "bad IPv6 address");
        rejects("sip:2001:db8::10");
        rejects("sip:[fe80::1%25eth0]");
    }

    #[test]
    fn rejects_unescaped_reserved_characters() {
        rejects("sip:user@host@other");
        rejects("sip:us<er@host");
        rejects("sip:a:b:c@host");
        rejects("sip:user@host#frag");
        rejects("sip:user@host/path");
    }

    #[test]
    fn rejects_wrong_scheme_in_sip_parser() {
        assert_eq!(
            SipUri::parse("tel:+1234").err().map(|e| e.what()),
            Some("expected sip: or sips:")
        );
        assert!(SipUri::parse("sipx:host").is_err());
        assert!(SipUri::parse("si").is_err());
    }

    #[test]
    fn rejects_non_ascii() {
        rejects("sip:usér@host");
        rejects("sip:user@hóst");
        assert_eq!(Uri::parse_bytes(b"sip:\xff@host").err().map(|e| e.offset()), Some(4));
        assert!(Uri::parse_bytes(b"sip:a@host").is_ok());
    }

    // --- tel URIs, RFC 3966 ---

    #[test]
    fn tel_global_number() {
        let Uri::Tel(t) = uri("tel:+1-201-555-0123") else { panic!("tel") };
        assert!(t.is_global());
        assert_eq!(t.number(), "+1-201-555-0123");
        assert_eq!(t.scheme(), "tel");
        assert_eq!(t.params().count(), 0);
    }

    #[test]
    fn tel_local_number_with_context() {
        let Uri::Tel(t) = uri("tel:7042;phone-context=example.com") else { panic!("tel") };
        assert!(!t.is_global());
        assert_eq!(t.number(), "7042");
        assert_eq!(t.phone_context(), Some("example.com"));
        assert_eq!(t.param("PHONE-CONTEXT"), Some(Some("example.com")));
    }

    #[test]
    fn tel_local_number_with_global_context_and_hex() {
        let t = TelUri::parse("tel:*86#A;phone-context=+1-201").map(|t| t.number());
        assert_eq!(t, Ok("*86#A"));
    }

    #[test]
    fn tel_params_ext_isub_and_others() {
        let t = TelUri::parse("tel:+1-201-555-0123;ext=1234;isub=a/b?c;foo;bar=baz");
        let Ok(t) = t else { panic!("{t:?}") };
        assert_eq!(t.ext(), Some("1234"));
        assert_eq!(t.param("isub"), Some(Some("a/b?c")));
        assert_eq!(t.param("foo"), Some(None));
        assert_eq!(t.param("bar"), Some(Some("baz")));
        assert_eq!(t.params().count(), 4);
    }

    #[test]
    fn tel_rejects_local_without_context() {
        assert_eq!(rejects("tel:7042").what(), "local number without phone-context");
    }

    #[test]
    fn tel_rejects_context_on_global() {
        assert_eq!(
            rejects("tel:+17042;phone-context=example.com").what(),
            "phone-context on a global number"
        );
    }

    #[test]
    fn tel_rejects_bad_numbers_and_params() {
        assert_eq!(rejects("tel:+").what(), "expected telephone number digits");
        assert_eq!(rejects("tel:+--").what(), "expected telephone number digits");
        assert_eq!(rejects("tel:").what(), "expected telephone number digits");
        rejects("tel:+12a");
        rejects("tel:+12;ext=12a");
        rejects("tel:+12;ext");
        rejects("tel:+12;;a");
        rejects("tel:+12;a_b=1");
        rejects("tel:12;phone-context=-bad");
        rejects("tel:12;phone-context=a.com;phone-context=b.com");
        rejects("tel:+1 234");
    }

    #[test]
    fn tel_equality_ignores_visual_separators_and_param_order() {
        // RFC 3966 §4.
        assert_eq!(uri("tel:+1-201-555-0123"), uri("TEL:+1(201)5550123"));
        assert_eq!(
            uri("tel:7042;phone-context=EXAMPLE.com;ext=1-2"),
            uri("tel:7042;ext=12;phone-context=example.com")
        );
        assert_eq!(uri("tel:7042;phone-context=+1-201"), uri("tel:7042;phone-context=+1201"));
        assert_eq!(uri("tel:+12;foo=A%42"), uri("tel:+12;FOO=ab"));
    }

    #[test]
    fn tel_inequality() {
        assert_ne!(uri("tel:+1-201-555-0123"), uri("tel:+1-201-555-0124"));
        assert_ne!(uri("tel:+1201"), uri("tel:1201;phone-context=+1"));
        assert_ne!(uri("tel:+1201"), uri("tel:+1201;ext=1"));
        assert_ne!(uri("tel:+1201;foo"), uri("tel:+1201;foo=1"));
        assert_ne!(uri("tel:7042;phone-context=a.com"), uri("tel:7042;phone-context=b.com"));
    }

    // --- Other schemes, RFC 2396 ---

    #[test]
    fn other_schemes_are_opaque() {
        let Uri::Other(m) = uri("mailto:a@b") else { panic!("other") };
        assert_eq!((m.scheme(), m.rest(), m.as_str()), ("mailto", "a@b", "mailto:a@b"));
        let u = uri("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
        assert_eq!(u.scheme(), "urn");
        assert!(!u.is_sip_or_sips());
        assert!(u.as_sip().is_none());
        let Uri::Other(s) = uri("soap.beep://x") else { panic!("other") };
        assert_eq!((s.scheme(), s.rest()), ("soap.beep", "//x"));
        assert_eq!(uri("http://example.com/a%20b?q=1").scheme(), "http");
    }

    #[test]
    fn other_scheme_equality() {
        assert_eq!(uri("MAILTO:a@b"), uri("mailto:a@b"));
        assert_ne!(uri("mailto:a@b"), uri("mailto:A@b"));
        assert_ne!(uri("mailto:a@b"), uri("sip:a@b"));
    }

    #[test]
    fn rejects_bad_absolute_uris() {
        assert_eq!(rejects("").what(), "expected URI scheme");
        assert_eq!(rejects("1abc:x").what(), "expected URI scheme");
        assert_eq!(rejects("abc").what(), "expected ':' after URI scheme");
        assert_eq!(rejects("a_b:x").what(), "expected ':' after URI scheme");
        assert_eq!(rejects("mailto:").what(), "empty URI after scheme");
        assert_eq!(rejects("mailto:a b").what(), "whitespace in URI");
        assert_eq!(rejects("mailto:a%zz").what(), "bad escape");
        rejects("mailto:<a>");
        rejects("<sip:a@b>");
    }

    #[test]
    fn display_writes_the_raw_text() {
        assert_eq!(uri("SIP:a@B.com;lr").to_string(), "SIP:a@B.com;lr");
        assert_eq!(uri("tel:+1").to_string(), "tel:+1");
        assert_eq!(uri("urn:x").to_string(), "urn:x");
        assert_eq!(Host::Ipv4(Ipv4Addr::LOCALHOST).to_string(), "127.0.0.1");
    }

    #[test]
    fn decode_escapes_decodes_and_borrows() {
        assert!(matches!(decode_escapes("plain"), Cow::Borrowed("plain")));
        assert!(matches!(decode_escapes("100%"), Cow::Borrowed("100%")));
        assert_eq!(decode_escapes("a%20b%2"), "a b%2");
        assert_eq!(decode_escapes("%E2%82%AC"), "\u{20ac}");
        assert_eq!(decode_escapes("%ff"), "\u{fffd}");
    }

    // --- RFC 3261 §19.1.4 equality ---

    fn assert_equivalent(a: &str, b: &str) {
        assert_eq!(uri(a), uri(b), "{a} == {b}");
        assert_eq!(uri(b), uri(a), "{b} == {a}");
    }

    fn assert_different(a: &str, b: &str) {
        assert_ne!(uri(a), uri(b), "{a} != {b}");
        assert_ne!(uri(b), uri(a), "{b} != {a}");
    }

    #[test]
    fn equal_escaped_user_and_host_case() {
        assert_equivalent(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp",
        );
    }

    #[test]
    fn equal_ignoring_params_only_in_one() {
        assert_equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5");
        assert_equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;security=on");
        assert_equivalent("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on");
    }

    #[test]
    fn equal_with_params_reordered() {
        assert_equivalent(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
        );
    }

    #[test]
    fn equal_with_headers_reordered() {
        assert_equivalent(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
        );
    }

    #[test]
    fn different_usernames_by_case() {
        assert_different(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP",
        );
    }

    #[test]
    fn different_absent_port_and_default_port() {
        assert_different("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060");
    }

    #[test]
    fn different_absent_transport_and_explicit_udp() {
        assert_different("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp");
    }

    #[test]
    fn different_port_and_transport() {
        assert_different("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp");
    }

    #[test]
    fn different_header_component() {
        assert_different("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting");
    }

    #[test]
    fn different_host_name_and_its_address() {
        assert_different("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4");
    }

    #[test]
    fn equality_is_not_transitive() {
        assert_equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;security=on");
        assert_equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;security=off");
        assert_different("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off");
    }

    #[test]
    fn different_sip_and_sips() {
        assert_different("sip:alice@atlanta.com", "sips:alice@atlanta.com");
    }

    #[test]
    fn different_user_absent_and_password_absent() {
        assert_different("sip:atlanta.com", "sip:alice@atlanta.com");
        assert_different("sip:alice@atlanta.com", "sip:alice:pw@atlanta.com");
        assert_different("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com");
        assert_equivalent("sip:alice:p%77@atlanta.com", "sip:alice:pw@atlanta.com");
    }

    #[test]
    fn different_must_match_params_in_one_only() {
        for p in ["user=phone", "ttl=1", "method=INVITE", "maddr=10.0.0.1", "transport=udp"] {
            assert_different("sip:alice@atlanta.com", &format!("sip:alice@atlanta.com;{p}"));
        }
    }

    #[test]
    fn different_param_values_in_both() {
        assert_different("sip:a@b.com;lr", "sip:a@b.com;lr=on");
        assert_different("sip:a@b.com;maddr=10.0.0.1", "sip:a@b.com;maddr=10.0.0.2");
        assert_equivalent("sip:a@b.com;MADDR=Host.COM", "sip:a@b.com;maddr=host.com");
    }

    #[test]
    fn escaped_reserved_character_differs_from_literal() {
        // RFC 3261 §19.1.4: only characters outside `reserved` equal their escapes.
        assert_different("sip:a%3Bb@host.com", "sip:a;b@host.com");
        assert_equivalent("sip:a%3bb@host.com", "sip:a%3Bb@host.com");
    }

    #[test]
    fn equal_ip_addresses_compare_as_addresses() {
        assert_equivalent("sip:[2001:db8::1]", "sip:[2001:DB8:0:0:0:0:0:1]");
        assert_equivalent("sip:a@010.0.0.1", "sip:a@10.0.0.1");
    }

    #[test]
    fn different_header_values_and_counts() {
        assert_different("sip:a@b.com?x=1", "sip:a@b.com?x=2");
        assert_different("sip:a@b.com?x=1", "sip:a@b.com?x=1&y=2");
        assert_equivalent("sip:a@b.com?X=%31", "sip:a@b.com?x=1");
    }

    #[test]
    fn uris_of_different_kinds_differ() {
        assert_different("sip:+1201@example.com;user=phone", "tel:+1201");
    }

    // --- Properties ---

    fn host_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "([a-z0-9]([a-z0-9-]{0,4}[a-z0-9])?\\.){0,3}[a-zA-Z]([a-z0-9-]{0,4}[a-z0-9])?\\.?",
            any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
            any::<u128>().prop_map(|a| format!("[{}]", Ipv6Addr::from(a))),
        ]
    }

    /// `min..=max` characters of `chars` (a regex class body) or escapes.
    fn escaped(chars: &str, min: usize, max: usize) -> impl Strategy<Value = String> + use<> {
        let pattern = format!("([{chars}]|%[0-9a-fA-F]{{2}}){{{min},{max}}}");
        proptest::string::string_regex(&pattern).unwrap()
    }

    prop_compose! {
        fn sip_uri_parts()(
            scheme in "sip|sips|SIP|SiPs",
            user in proptest::option::of(escaped("a-zA-Z0-9_.!~*'()&=+$,;?/-", 1, 10)),
            password in proptest::option::of(escaped("a-zA-Z0-9_.!~*'()&=+$,-", 0, 8)),
            host in host_strategy(),
            port in proptest::option::of(any::<u16>()),
            params in proptest::collection::vec(
                (escaped("a-zA-Z0-9\\[\\]/:&+$_.!~*'()-", 1, 6),
                 proptest::option::of(escaped("a-zA-Z0-9\\[\\]/:&+$_.!~*'()-", 1, 6))),
                0..4),
            headers in proptest::collection::vec(
                (escaped("a-zA-Z0-9\\[\\]/?:+$_.!~*'()-", 1, 6),
                 escaped("a-zA-Z0-9\\[\\]/?:+$_.!~*'()-", 0, 6)),
                0..3),
        ) -> (String, Option<String>, Option<String>, String, Option<u16>, usize, usize) {
            let mut s = format!("{scheme}:");
            let password = password.filter(|_| user.is_some());
            if let Some(user) = &user {
                s.push_str(user);
                if let Some(password) = &password {
                    s.push(':');
                    s.push_str(password);
                }
                s.push('@');
            }
            s.push_str(&host);
            if let Some(port) = port {
                s.push_str(&format!(":{port}"));
            }
            for (name, value) in &params {
                s.push(';');
                s.push_str(name);
                if let Some(value) = value {
                    s.push('=');
                    s.push_str(value);
                }
            }
            for (k, (name, value)) in headers.iter().enumerate() {
                s.push(if k == 0 { '?' } else { '&' });
                s.push_str(name);
                s.push('=');
                s.push_str(value);
            }
            (s, user, password, host, port, params.len(), headers.len())
        }
    }

    proptest! {
        #[test]
        fn generated_sip_uris_parse((s, user, password, host, port, n_params, n_headers) in sip_uri_parts()) {
            let u = SipUri::parse(&s);
            prop_assert!(u.is_ok(), "{s:?}: {u:?}");
            let Ok(u) = u else { return Ok(()) };
            prop_assert_eq!(u.user_raw(), user.as_deref());
            prop_assert_eq!(u.password_raw(), password.as_deref());
            prop_assert_eq!(u.host_raw(), host.as_str());
            prop_assert_eq!(u.port(), port);
            prop_assert_eq!(u.params().count(), n_params);
            prop_assert_eq!(u.headers().count(), n_headers);
            prop_assert_eq!(u.as_str(), s.as_str());
            prop_assert!(u == u);
            prop_assert!(Uri::parse(&s).is_ok_and(|v| v == Uri::Sip(u)));
        }

        #[test]
        fn parse_never_panics_on_strings(s in any::<String>()) {
            if let Ok(u) = Uri::parse(&s) {
                prop_assert_eq!(u.as_str(), s.as_str());
                prop_assert!(u == u);
            }
        }

        #[test]
        fn parse_never_panics_on_uri_like_strings(
            s in "(sip|sips|tel|SIP|x):[a-z0-9@:;=?&%\\[\\].+*#()/ -]{0,40}",
        ) {
            if let Ok(u) = Uri::parse(&s) {
                prop_assert_eq!(u.as_str(), s.as_str());
                prop_assert!(u == u);
                if let Some(sip) = u.as_sip() {
                    let _ = (sip.user(), sip.host(), sip.ttl(), sip.lr(), sip.params().count());
                    let _ = sip.headers().count();
                }
            }
        }

        #[test]
        fn parse_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Uri::parse_bytes(&b);
        }

        #[test]
        fn decode_escapes_never_panics(s in "[a-z%0-9A-F\u{e9}]{0,20}") {
            let _ = decode_escapes(&s);
        }
    }
}

/// The byte-level host checks compared with the `str::split` versions they replaced.
#[cfg(test)]
mod host_reference {
    use proptest::prelude::*;

    use super::*;

    fn parse_ipv4_reference(text: &str) -> Option<Ipv4Addr> {
        let mut octets = [0u8; 4];
        let mut parts = text.split('.');
        for octet in &mut octets {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            *octet = part.parse().ok()?;
        }
        parts.next().is_none().then(|| Ipv4Addr::from(octets))
    }

    fn is_hostname_reference(text: &str) -> bool {
        fn is_label(label: &str) -> bool {
            let b = label.as_bytes();
            b.first().is_some_and(u8::is_ascii_alphanumeric)
                && b.last().is_some_and(u8::is_ascii_alphanumeric)
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        }
        let body = text.strip_suffix('.').unwrap_or(text);
        let mut labels = body.split('.');
        let top_ok = labels
            .next_back()
            .is_some_and(|top| is_label(top) && !top.bytes().all(|c| c.is_ascii_digit()));
        top_ok && labels.all(is_label)
    }

    #[test]
    fn edge_cases_agree() {
        for s in [
            "",
            ".",
            "..",
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.",
            "01.002.0003.4",
            "000.0.0.0",
            "1..2.3",
            "a.b",
            "a-.b",
            "-a.b",
            "a.-b",
            "a.b-",
            "a.b.",
            "a..b",
            "1.2.3.4a",
            "1a",
            "12",
            "a.1",
            "1-2",
            "x-1",
            "9.com",
            "é.com",
            "1.2.3.é",
        ] {
            assert_eq!(parse_ipv4(s), parse_ipv4_reference(s), "{s:?}");
            assert_eq!(is_hostname(s), is_hostname_reference(s), "{s:?}");
        }
    }

    fn parse_host_reference(s: &str, i: usize) -> Result<(Host<'_>, usize), UriError> {
        let b = s.as_bytes();
        if b.get(i) == Some(&b'[') {
            return parse_host(s, i);
        }
        let end = scan_plain(b, i, |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
        let text = slice(s, i, end)?;
        if text.is_empty() {
            return Err(err_at(b, i, "empty host"));
        }
        match classify_host(text) {
            Some(host) => Ok((host, end)),
            None if text.bytes().all(|c| c.is_ascii_digit() || c == b'.') => {
                Err(UriError::new("bad IPv4 address", i))
            }
            None => Err(UriError::new("bad host name", i)),
        }
    }

    #[test]
    fn userinfo_table_is_the_union_of_its_classes() {
        for c in 0..=255_u8 {
            let old = in_class(&USER, c) || in_class(&PASSWORD, c) || c == b':' || c == b'%';
            assert_eq!(in_class(&USERINFO, c), old, "{c}");
        }
    }

    proptest! {
        #[test]
        fn scan_host_matches_the_reference(s in "[a-c0-2.\\-:;@\u{e9}]{0,14}", i in 0_usize..3) {
            let b = s.as_bytes();
            let end = scan_plain(b, i, |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
            let text = s.get(i..end).unwrap_or_default();
            let expected = HostScan {
                end,
                dotted_digits: text.bytes().all(|c| c.is_ascii_digit() || c == b'.'),
                hostname: is_hostname_reference(text),
            };
            if s.is_char_boundary(i.min(s.len())) {
                prop_assert_eq!(scan_host(b, i), expected);
            }
        }

        #[test]
        fn parse_host_matches_the_reference(s in "[a-c0-2.\\-:; @\u{e9}]{0,14}", i in 0_usize..3) {
            prop_assert_eq!(parse_host(&s, i), parse_host_reference(&s, i));
        }

        #[test]
        fn parse_ipv4_matches_the_reference(s in "[0-9.]{0,18}|[0-9.a\\-\u{e9}]{0,12}") {
            prop_assert_eq!(parse_ipv4(&s), parse_ipv4_reference(&s));
        }

        #[test]
        fn is_hostname_matches_the_reference(s in "[a-c0-2.\\-\u{e9}_]{0,14}") {
            prop_assert_eq!(is_hostname(&s), is_hostname_reference(&s));
            prop_assert_eq!(classify_host(&s), {
                if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
                    parse_ipv4_reference(&s).map(Host::Ipv4)
                } else {
                    is_hostname_reference(&s).then_some(Host::Domain(&s))
                }
            });
        }
    }
}
