//! Addresses-of-record in canonical form (RFC 3261 §10.3 step 5) and the set of domains a
//! registrar or redirect server serves.

use std::fmt;

use sip_message::grammar::{hex_value, is_user_char};
use sip_message::{Host, SipUri, Uri, UriError};

/// An address-of-record in the canonical form of RFC 3261 §10.3 step 5: the key of the
/// location service.
///
/// "All URI parameters MUST be removed (including the user-param), and any escaped characters
/// MUST be converted to their unescaped form." Concretely, from a SIP or SIPS URI:
///
/// - the scheme is written in lower case (`sip` and `sips` stay distinct: they are different
///   URIs, §19.1.4);
/// - the user keeps its case; every escape that stands for a character allowed unescaped in a
///   user (`unreserved` / `user-unreserved`, §25.1) is decoded, and the other escapes (`%40`,
///   `%20`, bytes above 0x7F, ...) are kept with upper-case hex digits, so two users are equal
///   exactly when they are equal once fully unescaped, and the result is still a valid URI;
/// - a password is dropped (§19.1.1 deprecates it; it never identifies a user);
/// - the host is lower-cased, and an IP address is written in its standard form;
/// - an explicit port is kept (absent is not the same as 5060, §19.1.4);
/// - parameters and headers are dropped.
///
/// ```
/// use sip_registrar::Aor;
///
/// let aor = Aor::parse("sip:%62ob@BILOXI.example.com;user=phone?subject=x")?;
/// assert_eq!(aor.as_str(), "sip:bob@biloxi.example.com");
/// assert_eq!(aor, Aor::parse("<sip:bob@biloxi.example.com>")?);
/// assert_ne!(aor, Aor::parse("sip:Bob@biloxi.example.com")?); // users are case-sensitive
/// assert_ne!(aor, Aor::parse("sip:bob@biloxi.example.com:5060")?);
/// # Ok::<(), sip_registrar::AorError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor {
    text: String,
    /// Byte range of the host (IPv6 brackets included) in `text`.
    host: (usize, usize),
    /// Byte range of the user in `text`, if there is one.
    user: Option<(usize, usize)>,
    port: Option<u16>,
    secure: bool,
}

/// Why a URI cannot be an address-of-record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AorError {
    /// The text is not a URI.
    Uri(UriError),
    /// The URI is not a SIP or SIPS URI (RFC 3261 §10.2: "This address-of-record MUST be a
    /// SIP URI or SIPS URI").
    NotSip,
}

impl fmt::Display for AorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AorError::Uri(e) => write!(f, "not a URI: {e}"),
            AorError::NotSip => f.write_str("an address-of-record must be a SIP or SIPS URI"),
        }
    }
}

impl std::error::Error for AorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AorError::Uri(e) => Some(e),
            AorError::NotSip => None,
        }
    }
}

impl From<UriError> for AorError {
    fn from(e: UriError) -> Self {
        AorError::Uri(e)
    }
}

impl Aor {
    /// The canonical AOR of a URI.
    ///
    /// # Errors
    /// [`AorError::NotSip`] for a `tel`, `mailto` or other non-SIP URI.
    pub fn from_uri(uri: &Uri<'_>) -> Result<Aor, AorError> {
        match uri.as_sip() {
            Some(sip) => Ok(Aor::from_sip(sip)),
            None => Err(AorError::NotSip),
        }
    }

    /// The canonical AOR of a SIP or SIPS URI.
    #[must_use]
    pub fn from_sip(uri: &SipUri<'_>) -> Aor {
        let secure = uri.is_secure();
        let mut text = String::with_capacity(uri.as_str().len());
        text.push_str(if secure { "sips:" } else { "sip:" });
        let user = uri.user_raw().map(|raw| {
            let start = text.len();
            push_canonical_user(&mut text, raw);
            let end = text.len();
            text.push('@');
            (start, end)
        });
        let host_start = text.len();
        text.push_str(&canonical_host(&uri.host()));
        let host = (host_start, text.len());
        if let Some(port) = uri.port() {
            text.push(':');
            text.push_str(&port.to_string());
        }
        Aor { text, host, user, port: uri.port(), secure }
    }

    /// Parses a URI, optionally in `<>`, and returns its canonical AOR.
    ///
    /// # Errors
    /// [`AorError::Uri`] if the text is not a URI, [`AorError::NotSip`] if it is not a SIP or
    /// SIPS URI.
    pub fn parse(s: &str) -> Result<Aor, AorError> {
        let s = s.trim();
        let s = s.strip_prefix('<').and_then(|r| r.strip_suffix('>')).unwrap_or(s);
        Aor::from_uri(&Uri::parse(s)?)
    }

    /// The canonical AOR as a URI, e.g. `sip:bob@biloxi.example.com`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is a SIPS AOR.
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The user part in canonical form; `None` for an AOR without one (`sip:example.com`).
    #[must_use]
    pub fn user(&self) -> Option<&str> {
        self.user.and_then(|(s, e)| self.text.get(s..e))
    }

    /// The host in canonical form: a lower-case domain, a dotted IPv4 address, or an IPv6
    /// address in brackets.
    #[must_use]
    pub fn host(&self) -> &str {
        self.text.get(self.host.0..self.host.1).unwrap_or_default()
    }

    /// The explicit port, if the URI had one.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Aor {
    type Err = AorError;

    fn from_str(s: &str) -> Result<Aor, AorError> {
        Aor::parse(s)
    }
}

/// The domains an element is responsible for (RFC 3261 §10.3: "A registrar has to know (for
/// example, through configuration) the set of domain(s) for which it maintains bindings").
///
/// Entries are host names or IP addresses, compared as RFC 3261 §19.1.4 compares hosts (names
/// case-insensitively, addresses as addresses). List the addresses a registrar is reached at
/// too when clients use them in the Request-URI (`REGISTER sip:192.0.2.1`).
///
/// ```
/// use sip_registrar::Domains;
///
/// let domains = Domains::only(["Biloxi.example.com", "[2001:db8::1]"]);
/// assert!(domains.serves("biloxi.example.com"));
/// assert!(domains.serves("[2001:DB8:0::1]"));
/// assert!(!domains.serves("atlanta.example.com"));
/// assert!(Domains::any().serves("anything.example"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Domains {
    /// Canonical hosts; `None` means any domain.
    hosts: Option<Vec<String>>,
}

impl Domains {
    /// Every domain: the element accepts any host (a development server, a test).
    #[must_use]
    pub fn any() -> Domains {
        Domains { hosts: None }
    }

    /// Only these hosts (names or IP addresses; IPv6 with or without brackets).
    #[must_use]
    pub fn only<I, T>(hosts: I) -> Domains
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Domains { hosts: Some(hosts.into_iter().map(|h| canonical_host_str(h.as_ref())).collect()) }
    }

    /// Whether any domain is accepted.
    #[must_use]
    pub fn is_any(&self) -> bool {
        self.hosts.is_none()
    }

    /// Whether `host` (as written in a URI) is served.
    #[must_use]
    pub fn serves(&self, host: &str) -> bool {
        match &self.hosts {
            None => true,
            Some(hosts) => {
                let host = canonical_host_str(host);
                hosts.contains(&host)
            }
        }
    }

    /// Whether the host of a parsed URI is served.
    #[must_use]
    pub fn serves_host(&self, host: &Host<'_>) -> bool {
        match &self.hosts {
            None => true,
            Some(hosts) => {
                let host = canonical_host(host);
                hosts.contains(&host)
            }
        }
    }

    /// Whether the host of `aor` is served.
    #[must_use]
    pub fn serves_aor(&self, aor: &Aor) -> bool {
        match &self.hosts {
            None => true,
            Some(hosts) => hosts.iter().any(|h| h == aor.host()),
        }
    }
}

/// A host in canonical text form: lower-case name, dotted IPv4, bracketed standard IPv6.
fn canonical_host(host: &Host<'_>) -> String {
    match host {
        Host::Domain(d) => d.to_ascii_lowercase(),
        Host::Ipv4(a) => a.to_string(),
        Host::Ipv6(a) => format!("[{a}]"),
    }
}

/// A configured host in canonical form; text that is not a host is kept lower-cased (and
/// never equals a real host's canonical form unless it is one).
fn canonical_host_str(host: &str) -> String {
    let host = host.trim();
    let bracketed = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    match SipUri::parse(&format!("sip:{bracketed}")) {
        Ok(uri) => canonical_host(&uri.host()),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// Appends the user part with escapes normalised (see [`Aor`]).
fn push_canonical_user(out: &mut String, raw: &str) {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        if c == b'%' {
            let hex = bytes.get(i + 1).and_then(|&h| hex_value(h));
            let hex = hex.zip(bytes.get(i + 2).and_then(|&l| hex_value(l)));
            if let Some((h, l)) = hex {
                let decoded = h << 4 | l;
                if is_user_char(decoded) {
                    out.push(char::from(decoded));
                } else {
                    out.push('%');
                    out.push(char::from(HEX_UPPER.get(usize::from(h)).copied().unwrap_or(b'0')));
                    out.push(char::from(HEX_UPPER.get(usize::from(l)).copied().unwrap_or(b'0')));
                }
                i += 3;
                continue;
            }
        }
        // The URI parser only lets ASCII through in a user part; keep anything else verbatim.
        if c.is_ascii() {
            out.push(char::from(c));
            i += 1;
        } else {
            let rest = raw.get(i..).unwrap_or_default();
            let Some(ch) = rest.chars().next() else { break };
            out.push(ch);
            i += ch.len_utf8();
        }
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    fn aor(s: &str) -> String {
        Aor::parse(s).unwrap().as_str().to_owned()
    }

    #[test]
    fn canonical_form_drops_params_headers_and_password() {
        // RFC 3261 §10.3 step 5.
        assert_eq!(aor("sip:alice:secret@Atlanta.COM;transport=tcp?x=y"), "sip:alice@atlanta.com");
        assert_eq!(aor("SIPS:alice@atlanta.com;user=phone"), "sips:alice@atlanta.com");
        assert_eq!(aor("sip:atlanta.com"), "sip:atlanta.com");
    }

    #[test]
    fn escapes_of_user_characters_are_decoded_and_others_normalised() {
        assert_eq!(aor("sip:%61lice@a.com"), "sip:alice@a.com");
        // ';' is user-unreserved: escaped or not, the same AOR (step 5 unescapes everything).
        assert_eq!(aor("sip:a%3bb@a.com"), aor("sip:a;b@a.com"));
        // '@' and space cannot appear unescaped: kept escaped, hex upper-cased.
        assert_eq!(aor("sip:a%40b%2fc%20@a.com"), "sip:a%40b/c%20@a.com");
    }

    #[test]
    fn hosts_compare_as_hosts() {
        assert_eq!(aor("sip:a@[2001:DB8:0:0::1]:5070"), "sip:a@[2001:db8::1]:5070");
        assert_eq!(aor("sip:a@192.0.2.1"), "sip:a@192.0.2.1");
        let a = Aor::parse("sip:a@[2001:db8::1]:5070").unwrap();
        assert_eq!(a.host(), "[2001:db8::1]");
        assert_eq!(a.port(), Some(5070));
        assert_eq!(a.user(), Some("a"));
    }

    #[test]
    fn non_sip_uris_are_not_aors() {
        assert_eq!(Aor::parse("tel:+1-201-555-0123"), Err(AorError::NotSip));
        assert!(matches!(Aor::parse("not a uri"), Err(AorError::Uri(_))));
    }

    #[test]
    fn domains_match_hosts_not_text() {
        let d = Domains::only(["EXAMPLE.com", "2001:db8::1", "192.0.2.1"]);
        assert!(d.serves("example.COM"));
        assert!(d.serves("[2001:db8:0::1]"));
        assert!(d.serves("192.0.2.1"));
        assert!(!d.serves("192.0.2.2"));
        assert!(d.serves_aor(&Aor::parse("sip:x@Example.com").unwrap()));
        assert!(!d.serves_aor(&Aor::parse("sip:x@example.org").unwrap()));
        assert!(!Domains::only(Vec::<String>::new()).serves("example.com"));
    }
}
