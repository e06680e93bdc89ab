//! [`ProxyConfig`]: who the proxy is, what it is responsible for, and its policies.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use sip_message::{Host, SipUri, Uri};

/// The shortest Timer C allowed: RFC 3261 §16.6 step 11 says "larger than 3 minutes".
const TIMER_C_MIN: Duration = Duration::from_secs(181);

/// Settings of a [`Proxy`](crate::Proxy).
///
/// The proxy is named by one SIP URI (its address as others reach it): its host and port are
/// the sent-by of the Via it inserts (RFC 3261 §16.6 step 8), they make up its Record-Route
/// URI (§16.6 step 4, with `lr`), and a Route or Request-URI naming them is recognised as the
/// proxy itself (§16.4). Aliases add more names (other interfaces, a DNS name for an address).
///
/// | setting | default | rule |
/// | --- | --- | --- |
/// | [`domain`](Self::domain) | none: every Request-URI is forwarded as is | §16.5 |
/// | [`record_route`](Self::record_route) | on | §16.6 step 4 |
/// | [`timer_c`](Self::timer_c) | 181 s (at least that) | §16.6 step 11 |
/// | [`recursion`](Self::recursion) | off; at most 5 rounds when on | §16.5, §16.7 step 4 |
/// | [`outbound_proxy`](Self::outbound_proxy) | none | §16.6 step 6 |
/// | [`supported`](Self::supported) | no option tags | §16.3 step 5 |
/// | [`stateless`](Self::stateless) | off | §16.11 |
/// | [`send_trying`](Self::send_trying) | on | §16.2, §8.2.6.1 |
/// | [`max_targets`](Self::max_targets) | 16 | DoS bound on one target set |
///
/// ```
/// use std::time::Duration;
/// use sip_proxy::ProxyConfig;
///
/// let config = ProxyConfig::new("sip:192.0.2.10:5060")?
///     .alias("proxy.example.com")?
///     .domain("example.com")
///     .timer_c(Duration::from_secs(60)); // too short: raised to the RFC minimum
/// assert_eq!(config.timer_c_value(), Duration::from_secs(181));
/// assert_eq!(config.record_route_value(), "<sip:192.0.2.10:5060;lr>");
/// # Ok::<(), sip_proxy::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub(crate) names: Vec<Name>,
    pub(crate) sent_by: Box<str>,
    pub(crate) record_route_sip: Bytes,
    pub(crate) record_route_sips: Bytes,
    pub(crate) domains: Vec<Box<str>>,
    pub(crate) record_route: bool,
    pub(crate) timer_c: Duration,
    pub(crate) recursion: bool,
    pub(crate) max_recursions: u32,
    pub(crate) max_targets: usize,
    pub(crate) outbound_proxy: Option<Bytes>,
    pub(crate) supported: Vec<Box<str>>,
    pub(crate) stateless: bool,
    pub(crate) send_trying: bool,
    pub(crate) max_forwards: u8,
}

/// A host (and optional port) the proxy answers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Name {
    host: OwnedHost,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum OwnedHost {
    /// Lower case, without a trailing dot.
    Domain(Box<str>),
    Ip(IpAddr),
}

impl OwnedHost {
    fn of(host: Host<'_>) -> OwnedHost {
        match host {
            Host::Domain(d) => {
                OwnedHost::Domain(d.trim_end_matches('.').to_ascii_lowercase().into())
            }
            Host::Ipv4(a) => OwnedHost::Ip(IpAddr::V4(a)),
            Host::Ipv6(a) => OwnedHost::Ip(IpAddr::V6(a)),
        }
    }

    fn matches(&self, host: Host<'_>) -> bool {
        match (self, host) {
            (OwnedHost::Domain(own), Host::Domain(d)) => {
                own.eq_ignore_ascii_case(d.trim_end_matches('.'))
            }
            (OwnedHost::Ip(IpAddr::V4(own)), Host::Ipv4(a)) => *own == a,
            (OwnedHost::Ip(IpAddr::V6(own)), Host::Ipv6(a)) => *own == a,
            (OwnedHost::Domain(_) | OwnedHost::Ip(_), _) => false,
        }
    }
}

impl Name {
    /// Whether `host:port` names this (an absent port is the transport's default, 5060, or
    /// 5061 for a secure URI: RFC 3261 §19.1.2).
    pub(crate) fn matches(&self, host: Host<'_>, port: Option<u16>, secure: bool) -> bool {
        let default = if secure { 5061 } else { 5060 };
        self.host.matches(host) && self.port.unwrap_or(default) == port.unwrap_or(default)
    }

    /// Whether `host` is this name's host, whatever the port.
    pub(crate) fn host_matches(&self, host: Host<'_>) -> bool {
        self.host.matches(host)
    }
}

/// Why a [`ProxyConfig`] setting was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The value is not a SIP or SIPS URI (or `host[:port]` for an alias).
    NotASipUri(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NotASipUri(s) => write!(f, "not a SIP or SIPS URI: {s:?}"),
        }
    }
}

impl std::error::Error for ConfigError {}

fn parse_sip(uri: &str) -> Result<SipUri<'_>, ConfigError> {
    match Uri::parse(uri) {
        Ok(Uri::Sip(sip)) => Ok(sip),
        _ => Err(ConfigError::NotASipUri(uri.to_owned())),
    }
}

impl ProxyConfig {
    /// A configuration for the proxy reached at `uri` (for example `sip:192.0.2.10:5060` or
    /// `sip:proxy.example.com`); every other setting at its default.
    ///
    /// # Errors
    /// [`ConfigError::NotASipUri`] if `uri` is no SIP or SIPS URI.
    pub fn new(uri: &str) -> Result<ProxyConfig, ConfigError> {
        let sip = parse_sip(uri)?;
        let host = sip.host();
        let hostport = match sip.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let transport = sip.transport().map(|t| format!(";transport={t}")).unwrap_or_default();
        Ok(ProxyConfig {
            names: vec![Name { host: OwnedHost::of(host), port: sip.port() }],
            record_route_sip: Bytes::from(format!("<sip:{hostport}{transport};lr>")),
            record_route_sips: Bytes::from(format!("<sips:{hostport}{transport};lr>")),
            sent_by: hostport.into(),
            domains: Vec::new(),
            record_route: true,
            timer_c: TIMER_C_MIN,
            recursion: false,
            max_recursions: 5,
            max_targets: 16,
            outbound_proxy: None,
            supported: Vec::new(),
            stateless: false,
            send_trying: true,
            max_forwards: 70,
        })
    }

    /// Another name of the proxy, as `host` or `host:port` (another interface, or a DNS name
    /// of its address): a Route or Request-URI naming it is the proxy itself (§16.4).
    ///
    /// # Errors
    /// [`ConfigError::NotASipUri`] if `sip:<hostport>` does not parse.
    pub fn alias(mut self, hostport: &str) -> Result<ProxyConfig, ConfigError> {
        let uri = format!("sip:{hostport}");
        let sip = parse_sip(&uri)?;
        self.names.push(Name { host: OwnedHost::of(sip.host()), port: sip.port() });
        Ok(self)
    }

    /// A domain the proxy is responsible for (§16.5): requests for it go through the
    /// [`LocationService`](crate::LocationService); requests for any other domain are forwarded
    /// to their Request-URI. The proxy's own names count as its domains too.
    #[must_use]
    pub fn domain(mut self, domain: &str) -> ProxyConfig {
        self.domains.push(domain.trim_end_matches('.').to_ascii_lowercase().into());
        self
    }

    /// Whether to insert a Record-Route (`<uri;lr>`) into forwarded requests other than
    /// REGISTER, so that the dialog's later requests pass through the proxy (§16.6 step 4).
    #[must_use]
    pub fn record_route(mut self, on: bool) -> ProxyConfig {
        self.record_route = on;
        self
    }

    /// Timer C (§16.6 step 11), refreshed by every provisional above 100 on its branch
    /// (§16.7 step 2); raised to 181 s if shorter, since it "MUST be larger than 3 minutes".
    #[must_use]
    pub fn timer_c(mut self, timer_c: Duration) -> ProxyConfig {
        self.timer_c = timer_c.max(TIMER_C_MIN);
        self
    }

    /// Whether to recurse on 3xx responses (§16.5, §16.7 step 4): their SIP and SIPS Contacts
    /// join the target set (each URI once) when the Request-URI is in one of the proxy's
    /// domains, at most `max_rounds` times per request.
    #[must_use]
    pub fn recursion(mut self, on: bool, max_rounds: u32) -> ProxyConfig {
        self.recursion = on;
        self.max_recursions = max_rounds;
        self
    }

    /// The most targets one request may fork to (location results and 3xx contacts
    /// together); the rest are ignored. Default 16, at least 1.
    #[must_use]
    pub fn max_targets(mut self, max: usize) -> ProxyConfig {
        self.max_targets = max.max(1);
        self
    }

    /// A proxy every request for a foreign domain (and every in-dialog request) must visit
    /// first: pushed as the top Route (with `lr`) of the forwarded copy (§16.6 step 6). It must
    /// be a loose router.
    ///
    /// # Errors
    /// [`ConfigError::NotASipUri`] if `uri` is no SIP or SIPS URI.
    pub fn outbound_proxy(mut self, uri: &str) -> Result<ProxyConfig, ConfigError> {
        let sip = parse_sip(uri)?;
        let lr = if sip.lr() { "" } else { ";lr" };
        self.outbound_proxy = Some(Bytes::from(format!("<{uri}{lr}>")));
        Ok(self)
    }

    /// An option tag the proxy understands in Proxy-Require (§16.3 step 5); requests requiring
    /// any other are answered 420 (Bad Extension) with an Unsupported header.
    #[must_use]
    pub fn supported(mut self, option_tag: &str) -> ProxyConfig {
        self.supported.push(option_tag.into());
        self
    }

    /// Stateless mode (§16.11): every request goes to one target, outside any transaction,
    /// with a branch computed from the request so that retransmissions get the same one;
    /// responses are relayed by their Via.
    #[must_use]
    pub fn stateless(mut self, on: bool) -> ProxyConfig {
        self.stateless = on;
        self
    }

    /// Whether to answer a proxied INVITE with 100 (Trying) at once (§16.2 via §8.2.6.1);
    /// otherwise the transaction layer sends one after its own delay.
    #[must_use]
    pub fn send_trying(mut self, on: bool) -> ProxyConfig {
        self.send_trying = on;
        self
    }

    /// The Via sent-by the proxy inserts (`host[:port]` of its URI).
    #[must_use]
    pub fn sent_by(&self) -> &str {
        &self.sent_by
    }

    /// The Record-Route value the proxy inserts for `sip:` requests.
    #[must_use]
    pub fn record_route_value(&self) -> &str {
        std::str::from_utf8(&self.record_route_sip).unwrap_or_default()
    }

    /// The configured Timer C.
    #[must_use]
    pub fn timer_c_value(&self) -> Duration {
        self.timer_c
    }

    /// Whether stateless mode is on.
    #[must_use]
    pub fn is_stateless(&self) -> bool {
        self.stateless
    }

    // ----- internals ---------------------------------------------------------------------

    /// Whether `host:port` names the proxy.
    pub(crate) fn is_self(&self, host: Host<'_>, port: Option<u16>, secure: bool) -> bool {
        self.names.iter().any(|n| n.matches(host, port, secure))
    }

    /// Whether a SIP URI names the proxy itself (its host and port, or a `maddr` naming it).
    pub(crate) fn is_self_uri(&self, uri: &SipUri<'_>) -> bool {
        self.is_self(uri.host(), uri.port(), uri.is_secure())
    }

    /// Whether the proxy is responsible for the domain of `host` (§16.5).
    pub(crate) fn is_local_domain(&self, host: Host<'_>) -> bool {
        match host {
            Host::Domain(d) => {
                let d = d.trim_end_matches('.');
                self.domains.iter().any(|own| own.eq_ignore_ascii_case(d))
                    || self.names.iter().any(|n| n.host.matches(host))
            }
            Host::Ipv4(_) | Host::Ipv6(_) => self.names.iter().any(|n| n.host.matches(host)),
        }
    }

    /// Whether `tag` is an option tag the proxy supports.
    pub(crate) fn supports(&self, tag: &str) -> bool {
        self.supported.iter().any(|s| s.eq_ignore_ascii_case(tag))
    }
}
