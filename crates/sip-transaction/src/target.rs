//! Where a message goes or came from: a transport and an address, or an existing flow.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use sip_message::{Host, SipUri};

/// A SIP transport protocol (RFC 3261 §18, RFC 7118 for WebSocket).
///
/// Only reliability matters to the transaction layer: on a reliable transport the timers that
/// RFC 3261 §17 leaves unarmed (A, E, G) are not armed and those it sets to zero (D, I, J, K)
/// end the transaction at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Transport {
    /// UDP: unreliable, so the transaction layer retransmits.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
}

impl Transport {
    /// Whether the transport delivers reliably (everything but UDP), RFC 3261 §17.1.1.2.
    #[must_use]
    pub fn is_reliable(self) -> bool {
        match self {
            Transport::Udp => false,
            Transport::Tcp | Transport::Tls | Transport::Sctp | Transport::Ws | Transport::Wss => {
                true
            }
        }
    }

    /// The transport token as written in a Via (`UDP`, `TCP`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }
}

impl Transport {
    /// Every transport, in declaration order.
    pub const ALL: [Transport; 6] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Sctp,
        Transport::Ws,
        Transport::Wss,
    ];

    /// The transport named by a Via transport or a `transport` URI parameter, in any case
    /// (`udp`, `TCP`, `tls`, `sctp`, `ws`, `wss`); `None` for anything else.
    #[must_use]
    pub fn from_token(token: &str) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection (or RFC 5626 flow) the runtime knows by number: responses to a request that came
/// over a connection go back over the same one (RFC 3261 §18.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u64);

/// Where a [`Transmit`](crate::Transmit) goes, or where a received message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A transport and a remote address: the runtime picks or opens the socket.
    Addr(Transport, SocketAddr),
    /// An existing connection or flow, carrying the transport it runs over.
    Flow(Transport, FlowId),
}

impl Target {
    /// A UDP target.
    #[must_use]
    pub fn udp(addr: SocketAddr) -> Self {
        Target::Addr(Transport::Udp, addr)
    }

    /// A TCP target.
    #[must_use]
    pub fn tcp(addr: SocketAddr) -> Self {
        Target::Addr(Transport::Tcp, addr)
    }

    /// Where a request for `uri` goes when its host is an IP address, the part of RFC 3263
    /// §4 that needs no DNS: `maddr` (an address) wins over the host; the transport is the
    /// `transport` parameter, else TLS for `sips`, else UDP; the port is the URI's, else 5061
    /// for TLS and 5060 otherwise. `None` for a domain name (resolve it with DNS, outside this
    /// sans-IO crate) or a transport this crate does not name.
    ///
    /// ```
    /// use sip_message::SipUri;
    /// use sip_transaction::{Target, Transport};
    ///
    /// let uri = SipUri::parse("sip:bob@192.0.2.4:5070;transport=tcp").unwrap();
    /// assert_eq!(Target::from_uri(&uri), Some(Target::tcp("192.0.2.4:5070".parse().unwrap())));
    /// let secure = SipUri::parse("sips:[2001:db8::1]").unwrap();
    /// assert_eq!(Target::from_uri(&secure).map(|t| t.transport()), Some(Transport::Tls));
    /// assert_eq!(Target::from_uri(&SipUri::parse("sip:example.com").unwrap()), None);
    /// ```
    #[must_use]
    pub fn from_uri(uri: &SipUri<'_>) -> Option<Target> {
        let ip: IpAddr = match uri.maddr() {
            Some(maddr) => maddr.trim_start_matches('[').trim_end_matches(']').parse().ok()?,
            None => match uri.host() {
                Host::Ipv4(a) => IpAddr::V4(a),
                Host::Ipv6(a) => IpAddr::V6(a),
                Host::Domain(_) => return None,
            },
        };
        let transport = match uri.transport() {
            None if uri.is_secure() => Transport::Tls,
            None => Transport::Udp,
            Some(t) => Transport::from_token(t)?,
        };
        let default_port = if transport == Transport::Tls { 5061 } else { 5060 };
        Some(Target::Addr(transport, SocketAddr::new(ip, uri.port().unwrap_or(default_port))))
    }

    /// The transport the target uses.
    #[must_use]
    pub fn transport(&self) -> Transport {
        match *self {
            Target::Addr(t, _) | Target::Flow(t, _) => t,
        }
    }

    /// Whether the transport is reliable (see [`Transport::is_reliable`]).
    #[must_use]
    pub fn is_reliable(&self) -> bool {
        self.transport().is_reliable()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Addr(t, addr) => write!(f, "{t}:{addr}"),
            Target::Flow(t, FlowId(n)) => write!(f, "{t}:flow#{n}"),
        }
    }
}
