//! Where a message goes or came from: a transport and an address, or an existing flow.

use std::fmt;
use std::net::SocketAddr;

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
