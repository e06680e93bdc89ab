//! What the runtime listens on and the bounds it keeps: [`RuntimeConfig`] and [`ListenAddr`].

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use sip_message::Limits;
use sip_transaction::Transport;

/// One socket to listen on: a transport and a local address, written `udp:127.0.0.1:5060` or
/// `tcp:[::1]:5060`. Port 0 asks the OS for a free port; [`Runtime::local_addrs`] reports the
/// one it chose.
///
/// RFC 3261 §18.2.1 asks a server that listens for UDP on an address and port to listen for TCP
/// on the same pair too (a large request may switch to TCP); list both.
///
/// ```
/// use sip_runtime::ListenAddr;
/// use sip_transaction::Transport;
///
/// let addr: ListenAddr = "tcp:[::1]:5060".parse()?;
/// assert_eq!(addr.transport, Transport::Tcp);
/// assert_eq!(addr.addr, "[::1]:5060".parse()?);
/// assert_eq!(addr.to_string(), "tcp:[::1]:5060");
/// assert!("tls:127.0.0.1:5061".parse::<ListenAddr>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Runtime::local_addrs`]: crate::Runtime::local_addrs
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenAddr {
    /// [`Transport::Udp`] or [`Transport::Tcp`]; binding any other fails.
    pub transport: Transport,
    /// The local address; port 0 for any free port.
    pub addr: SocketAddr,
}

impl ListenAddr {
    /// A UDP socket on `addr`.
    #[must_use]
    pub fn udp(addr: SocketAddr) -> ListenAddr {
        ListenAddr { transport: Transport::Udp, addr }
    }

    /// A TCP listener on `addr`.
    #[must_use]
    pub fn tcp(addr: SocketAddr) -> ListenAddr {
        ListenAddr { transport: Transport::Tcp, addr }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.as_str().to_ascii_lowercase(), self.addr)
    }
}

impl FromStr for ListenAddr {
    type Err = ListenAddrError;

    /// Parses `transport:address:port`; the transport is `udp` or `tcp` in any case, an IPv6
    /// address is in brackets.
    fn from_str(s: &str) -> Result<ListenAddr, ListenAddrError> {
        let (transport, addr) = s.split_once(':').ok_or(ListenAddrError::MissingTransport)?;
        let transport = match Transport::from_token(transport) {
            Some(t @ (Transport::Udp | Transport::Tcp)) => t,
            _ => return Err(ListenAddrError::UnsupportedTransport),
        };
        let addr = addr.parse().map_err(|_| ListenAddrError::BadAddress)?;
        Ok(ListenAddr { transport, addr })
    }
}

/// Why a string is not a [`ListenAddr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenAddrError {
    /// No `transport:` prefix.
    MissingTransport,
    /// The transport is not `udp` or `tcp`.
    UnsupportedTransport,
    /// The rest is not `ip:port` (IPv6 in brackets).
    BadAddress,
}

impl fmt::Display for ListenAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenAddrError::MissingTransport => {
                "expected transport:address:port, e.g. udp:0.0.0.0:5060"
            }
            ListenAddrError::UnsupportedTransport => "transport must be udp or tcp",
            ListenAddrError::BadAddress => {
                "expected an IP address and port, e.g. 127.0.0.1:5060 or [::1]:5060"
            }
        })
    }
}

impl std::error::Error for ListenAddrError {}

/// The runtime's configuration: sockets to bind, message limits and the bounds on connections,
/// queues and idle time. Every bound has a default; setters chain.
///
/// ```
/// use std::time::Duration;
/// use sip_runtime::{ListenAddr, RuntimeConfig};
///
/// let config = RuntimeConfig::new()
///     .listen("udp:127.0.0.1:0".parse()?)
///     .listen(ListenAddr::tcp("127.0.0.1:0".parse()?))
///     .max_connections(64)
///     .idle_timeout(Some(Duration::from_secs(60)));
/// assert_eq!(config.listen_addrs().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub(crate) listen: Vec<ListenAddr>,
    pub(crate) limits: Limits,
    pub(crate) max_connections: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) message_timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_send_queue: usize,
    pub(crate) max_udp_queue: usize,
    pub(crate) close_linger: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) route_responses_by_via: bool,
    pub(crate) udp_peer_memory: Duration,
    pub(crate) max_udp_peers: usize,
    pub(crate) udp_recv_buffer: Option<usize>,
    pub(crate) backlog_fill: f64,
    pub(crate) udp_send_buffer: Option<usize>,
}

impl Default for RuntimeConfig {
    /// No listen address; default [`Limits`]; 1024 connections; 300 s idle timeout; 32 s
    /// message timeout; 32 s connect timeout; 1 MiB send queue per connection and per UDP socket; 2 s close linger;
    /// 2 s shutdown grace; responses over UDP routed by their Via (RFC 3261 §18.2.2); UDP
    /// socket buffers of 4 MiB to receive and 1 MiB to send (as far as the OS allows).
    fn default() -> Self {
        RuntimeConfig {
            listen: Vec::new(),
            limits: Limits::default(),
            max_connections: 1024,
            idle_timeout: Some(Duration::from_secs(300)),
            message_timeout: Some(Duration::from_secs(32)),
            connect_timeout: Duration::from_secs(32),
            max_send_queue: 1 << 20,
            max_udp_queue: 1 << 20,
            close_linger: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(2),
            route_responses_by_via: true,
            udp_peer_memory: Duration::from_secs(300),
            max_udp_peers: 65_536,
            udp_recv_buffer: Some(4 << 20),
            backlog_fill: 0.25,
            udp_send_buffer: Some(1 << 20),
        }
    }
}

impl RuntimeConfig {
    /// The defaults (see [`Default`]).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a socket to bind.
    #[must_use]
    pub fn listen(mut self, addr: ListenAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// The sockets to bind, in order.
    #[must_use]
    pub fn listen_addrs(&self) -> &[ListenAddr] {
        &self.listen
    }

    /// Limits on messages (size, headers, line length) and on the stream buffer of each
    /// connection ([`Limits::max_stream_buffer`]).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Most TCP connections open at once, inbound and outbound together. A connection accepted
    /// beyond it is closed at once (the peer sees the close instead of waiting in the backlog);
    /// a transmit that would open one beyond it fails with
    /// [`TransportError::ConnectionLimit`](crate::TransportError::ConnectionLimit).
    #[must_use]
    pub fn max_connections(mut self, count: usize) -> Self {
        self.max_connections = count;
        self
    }

    /// How long a connection may go without reading or writing a byte before it is closed;
    /// `None` keeps connections until the peer closes them. RFC 3261 §18 recommends at least
    /// 64*T1 (32 s) after the last message; RFC 5626 flows refresh far less often than the
    /// default 300 s.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long a message may take to arrive on a connection, from its first byte to its
    /// last; a connection that takes longer is closed (counted in
    /// [`connections_slow`](crate::RuntimeStats::connections_slow)). The idle timer cannot
    /// catch a peer that trickles a byte now and then to hold a connection (and its buffer)
    /// forever; this does. `None` waits forever. Default 32 s (64*T1): a message that needs
    /// longer is no use to a transaction anyway.
    #[must_use]
    pub fn message_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.message_timeout = timeout;
        self
    }

    /// How long a connection attempt may take before its queued transmits are reported as
    /// failed (default 32 s, 64*T1).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Most bytes queued on one connection because the peer does not read (or the connection
    /// is still being set up). A transmit that leaves more than this queued behind others
    /// closes the connection, and every transmit still queued on it is reported as failed; a
    /// single message larger than the bound is still accepted into an empty queue.
    #[must_use]
    pub fn max_send_queue(mut self, bytes: usize) -> Self {
        self.max_send_queue = bytes;
        self
    }

    /// The receive buffer to ask the OS for on each UDP socket (`SO_RCVBUF`), or `None` to keep
    /// the OS default. A burst of datagrams larger than this buffer, arriving while the loop is
    /// busy, is dropped by the kernel before the stack sees it; the OS default (about 200 KiB
    /// on Linux) is a few milliseconds of traffic at a few thousand calls per second. The OS
    /// may grant less (Linux caps it at `net.core.rmem_max`); asking is best effort.
    #[must_use]
    pub fn udp_recv_buffer(mut self, bytes: Option<usize>) -> Self {
        self.udp_recv_buffer = bytes;
        self
    }

    /// How full a UDP socket's receive buffer must be (a fraction of its size, 0 to 1), when
    /// a turn's read budget runs out with datagrams still queued, for the loop to count as
    /// behind its input ([`Stack::handle_backlog`](crate::Stack::handle_backlog)). Default
    /// 0.25: a burst or a scheduling hiccup that the buffer absorbs is not overload; a queue
    /// that fills a quarter of it is on its way to kernel drops. Linux measures the fill
    /// (`SO_MEMINFO`); elsewhere, and with 0, every exhausted read budget counts.
    #[must_use]
    pub fn backlog_fill(mut self, fraction: f64) -> Self {
        self.backlog_fill = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.25 };
        self
    }

    /// The send buffer to ask the OS for on each UDP socket (`SO_SNDBUF`), or `None` to keep
    /// the OS default; best effort as [`udp_recv_buffer`](Self::udp_recv_buffer).
    #[must_use]
    pub fn udp_send_buffer(mut self, bytes: Option<usize>) -> Self {
        self.udp_send_buffer = bytes;
        self
    }

    /// Most bytes queued on one UDP socket while the OS send buffer is full. A datagram beyond
    /// it is reported as failed.
    #[must_use]
    pub fn max_udp_queue(mut self, bytes: usize) -> Self {
        self.max_udp_queue = bytes;
        self
    }

    /// How long a connection being closed after a framing error may take to write what is
    /// queued on it (a 400, say) before it is closed anyway; and then, its write side shut,
    /// how long what the peer still sends is read and dropped while waiting for the peer to
    /// close (a lingering close).
    #[must_use]
    pub fn close_linger(mut self, linger: Duration) -> Self {
        self.close_linger = linger;
        self
    }

    /// How long [`RuntimeHandle::shutdown`](crate::RuntimeHandle::shutdown) waits for queued
    /// transmits to be written before closing the sockets.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Whether a response sent over UDP goes where its top Via says (RFC 3261 §18.2.2 and
    /// RFC 3581 §4: `maddr`, else `received` with `rport` or the sent-by port) rather than to
    /// the address in the transmit (default: yes). Turn it off for a stack that computes
    /// response destinations itself.
    #[must_use]
    pub fn route_responses_by_via(mut self, on: bool) -> Self {
        self.route_responses_by_via = on;
        self
    }

    /// How long the runtime remembers which UDP socket last heard from a remote address, so
    /// that a response leaves from the socket its request arrived on (RFC 3581 §4). Only kept
    /// when several UDP sockets share an address family. Default 300 s.
    #[must_use]
    pub fn udp_peer_memory(mut self, memory: Duration) -> Self {
        self.udp_peer_memory = memory;
        self
    }

    /// Most remote addresses remembered for [`udp_peer_memory`](Self::udp_peer_memory);
    /// beyond it, responses to new peers leave from the first socket of the family.
    #[must_use]
    pub fn max_udp_peers(mut self, count: usize) -> Self {
        self.max_udp_peers = count;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_transports_and_families() {
        let a: ListenAddr = "UDP:0.0.0.0:5060".parse().unwrap();
        assert_eq!(a, ListenAddr::udp("0.0.0.0:5060".parse().unwrap()));
        let b: ListenAddr = "tcp:[::1]:0".parse().unwrap();
        assert_eq!(b, ListenAddr::tcp("[::1]:0".parse().unwrap()));
        assert_eq!(b.to_string().parse::<ListenAddr>().unwrap(), b);
    }

    #[test]
    fn rejects_what_it_cannot_bind() {
        assert_eq!("udp:127.0.0.1".parse::<ListenAddr>(), Err(ListenAddrError::BadAddress));
        assert_eq!("5060".parse::<ListenAddr>(), Err(ListenAddrError::MissingTransport));
        assert_eq!("ws:[::1]:80".parse::<ListenAddr>(), Err(ListenAddrError::UnsupportedTransport));
        assert_eq!("udp:::1:5060".parse::<ListenAddr>(), Err(ListenAddrError::BadAddress));
        assert_eq!("udp:host:5060".parse::<ListenAddr>(), Err(ListenAddrError::BadAddress));
    }
}
