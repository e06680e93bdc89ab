//! The interface between the runtime and a sans-IO protocol stack: [`Stack`], and the errors
//! the runtime reports through it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use sip_message::{FrameError, Message, ParseError};
use sip_transaction::{FlowId, Target, Transmit, Transport};

use crate::ListenAddr;

/// A sans-IO protocol stack the [`Runtime`](crate::Runtime) drives: a transaction table with
/// its TU, a UA, a proxy. The runtime owns the sockets and the clock; the stack owns every
/// protocol decision.
///
/// # The contract
///
/// - Inputs are the `handle_*` methods. Each gets `now`, read once per loop turn (so several
///   inputs of one turn share it; it never goes backwards).
/// - After **every** input, the runtime drains [`poll_transmit`](Stack::poll_transmit) until
///   `None` (sending or queueing each transmit, or reporting it failed through
///   [`handle_transport_error`](Stack::handle_transport_error), which is an input too), then
///   [`poll_event`](Stack::poll_event) until `None` (handing each event to the application's
///   callback), and repeats until both are empty.
/// - Before it waits, the runtime reads [`poll_timeout`](Stack::poll_timeout) afresh and wakes
///   no later than that instant to call [`handle_timeout`](Stack::handle_timeout).
///
/// A received request has already had its top Via stamped with `received` and `rport` (RFC
/// 3261 §18.2.1, RFC 3581 §4). Responses to a request received over TCP should go to its
/// `source`, a [`Target::Flow`], which is the connection it came on (§18.2.2). Responses over
/// UDP may go to `source` too: the runtime sends them where their top Via says (see
/// [`RuntimeConfig::route_responses_by_via`](crate::RuntimeConfig::route_responses_by_via)).
pub trait Stack {
    /// What the application sends the stack from other threads through
    /// [`RuntimeHandle::send`](crate::RuntimeHandle::send).
    type Command: Send + 'static;
    /// What the stack reports to the application (may be `()`).
    type Event;

    /// The sockets are bound: `local` lists them with the ports the OS chose. Called once, by
    /// [`Runtime::bind`](crate::Runtime::bind), before any other method. A stack writes its Via
    /// sent-by (RFC 3261 §18.1.1) from these.
    fn handle_bound(&mut self, local: &[ListenAddr]) {
        let _ = local;
    }

    /// A message arrived from `source` on the local socket `local` (for a TCP connection,
    /// `source` is [`Target::Flow`] and `local` the connection's local address; for a UDP
    /// socket bound to a wildcard address, that wildcard address).
    fn handle_message(&mut self, now: Instant, message: Message, source: Target, local: SocketAddr);

    /// Bytes arrived that are no SIP message: a datagram or stream frame that does not parse
    /// ([`ReceiveError::Parse`], the connection lives on), or a stream that cannot be framed
    /// ([`ReceiveError::Frame`], `payload` is what was buffered; the connection is closed once
    /// what the stack sends to it in reply, such as a 400, is written). A stack may answer a
    /// request it can read enough of with 400 (RFC 3261 §18.3, §21.4.1). The default drops it.
    fn handle_parse_error(
        &mut self,
        now: Instant,
        error: ReceiveError,
        payload: bytes::Bytes,
        source: Target,
        local: SocketAddr,
    ) {
        let _ = (now, error, payload, source, local);
    }

    /// A transmit could not be sent (RFC 3261 §18.4): the connection failed, was refused,
    /// closed or reaped with it still queued, the flow is gone, or a queue overflowed. A
    /// transaction stack passes [`Transmit::transaction`] to its table's
    /// `handle_transport_error` (§17.1.4, §17.2.4).
    fn handle_transport_error(&mut self, now: Instant, transmit: &Transmit, error: TransportError);

    /// An RFC 5626 §4.4.1 pong (a single CRLF) arrived on connection `flow`; a UA keeping a
    /// flow alive with pings learns the flow still works. The default ignores it.
    fn handle_pong(&mut self, now: Instant, flow: FlowId) {
        let _ = (now, flow);
    }

    /// Connection `flow` to `remote` closed (by the peer, an error, the idle timer or the
    /// runtime). Transmits to it from now on fail. An RFC 5626 registrar forgets the flow.
    /// The default ignores it.
    fn handle_connection_closed(&mut self, now: Instant, flow: FlowId, remote: SocketAddr) {
        let _ = (now, flow, remote);
    }

    /// A command from the application.
    fn handle_command(&mut self, now: Instant, command: Self::Command);

    /// Time passed: fire what is due. Early calls must do nothing.
    fn handle_timeout(&mut self, now: Instant);

    /// The loop is behind its UDP input (`true`): a socket still had datagrams queued after
    /// the turn's read budget (256 datagrams), so what arrives now waits behind what the
    /// kernel holds, and the socket buffer may overflow. `false` once every socket was read
    /// empty again. Called on each change.
    ///
    /// A stack that sheds load uses it as its overload signal: while behind, it answers new
    /// requests with a stateless 503 and Retry-After (RFC 3261 §21.5.4), which costs a
    /// fraction of serving them, so that the work it admitted (ACKs, BYEs, retransmissions
    /// absorbed by live transactions) finishes instead of being dropped with the rest. The
    /// default ignores it.
    fn handle_backlog(&mut self, now: Instant, behind: bool) {
        let _ = (now, behind);
    }

    /// Every input of this loop turn was handled (and drained), and the runtime is about to
    /// wait again. A stack that batches work across the inputs of a turn does it here: one
    /// disk write for every change of the turn, say, before the responses that depend on it
    /// are released. What it queues is drained as after any input. Called once per turn,
    /// during shutdown's grace period too. The default does nothing.
    fn handle_turn_end(&mut self, now: Instant) {
        let _ = now;
    }

    /// The runtime is shutting down: nothing more is read. What the stack queues now (a final
    /// response, a BYE) is still written during the
    /// [`shutdown_grace`](crate::RuntimeConfig::shutdown_grace). The default does nothing.
    fn handle_shutdown(&mut self, now: Instant) {
        let _ = now;
    }

    /// The next transmit; `None` when there is none.
    #[must_use]
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next event for the application; `None` when there is none.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When to call [`handle_timeout`](Stack::handle_timeout) next; `None` when no timer is
    /// armed. Read afresh after every drain.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Why received bytes did not become a [`Message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiveError {
    /// A datagram or a framed stream message did not parse.
    Parse(ParseError),
    /// A stream could not be framed (RFC 3261 §18.3); the connection is being closed.
    Frame(FrameError),
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiveError::Parse(e) => write!(f, "unparsable message: {e}"),
            ReceiveError::Frame(e) => write!(f, "unframable stream: {e}"),
        }
    }
}

impl std::error::Error for ReceiveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReceiveError::Parse(e) => Some(e),
            ReceiveError::Frame(e) => Some(e),
        }
    }
}

/// Why a transmit was not sent (RFC 3261 §18.4: the transport informs the transport user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportError {
    /// The TCP connection attempt failed (refused, unreachable, reset).
    ConnectFailed(io::ErrorKind),
    /// The TCP connection attempt took longer than
    /// [`connect_timeout`](crate::RuntimeConfig::connect_timeout).
    ConnectTimedOut,
    /// The connection closed before these bytes were written: the peer closed or reset it, it
    /// failed, or the idle timer reaped it.
    ConnectionClosed,
    /// The transmit named a [`Target::Flow`] that is not open (and, for a response, the Via
    /// named no address to reconnect to, RFC 3261 §18.2.2).
    FlowGone,
    /// The connection's send queue was full
    /// ([`max_send_queue`](crate::RuntimeConfig::max_send_queue)): the peer stopped reading,
    /// so the connection was closed.
    QueueFull,
    /// The UDP socket's send queue was full
    /// ([`max_udp_queue`](crate::RuntimeConfig::max_udp_queue)); the datagram was dropped.
    UdpQueueFull,
    /// Opening a connection would exceed
    /// [`max_connections`](crate::RuntimeConfig::max_connections).
    ConnectionLimit,
    /// No socket of this transport and address family is bound.
    NoSocket,
    /// The runtime does not implement this transport (TLS, SCTP, WebSocket).
    Unsupported(Transport),
    /// The OS refused to send.
    Io(io::ErrorKind),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::ConnectFailed(kind) => write!(f, "connection failed: {kind}"),
            TransportError::ConnectTimedOut => f.write_str("connection attempt timed out"),
            TransportError::ConnectionClosed => f.write_str("connection closed before sending"),
            TransportError::FlowGone => f.write_str("the connection is no longer open"),
            TransportError::QueueFull => f.write_str("send queue full; connection closed"),
            TransportError::UdpQueueFull => f.write_str("UDP send queue full; datagram dropped"),
            TransportError::ConnectionLimit => f.write_str("too many connections"),
            TransportError::NoSocket => f.write_str("no socket bound for this transport/family"),
            TransportError::Unsupported(t) => write!(f, "transport {t} is not supported"),
            TransportError::Io(kind) => write!(f, "send failed: {kind}"),
        }
    }
}

impl std::error::Error for TransportError {}
