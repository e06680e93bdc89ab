//! The loop: [`Runtime`] owns the sockets, the connection table and the runtime's own timers,
//! and drives a [`Stack`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use sip_message::{Frame, Message, ParseError};
use sip_transaction::{FlowId, Target, Transmit, Transport};

use crate::connection::{ConnState, Connection};
use crate::handle::Control;
use crate::stats::SharedStats;
use crate::via::{
    ResponseRoutes, looks_like_response, reconnect_destination, stamp_received, top_via,
};
use crate::{
    ListenAddr, ReceiveError, RuntimeConfig, RuntimeHandle, RuntimeStats, Stack, TransportError,
};

const WAKER: Token = Token(0);
/// Bytes read from one connection per readiness event before the loop serves others (it
/// comes back to the connection on the next turn without waiting).
const READ_BUDGET: usize = 256 * 1024;
/// Datagrams read from one UDP socket per readiness event, likewise.
const DATAGRAM_BUDGET: usize = 256;
/// Connections accepted from one listener per readiness event, likewise.
const ACCEPT_BUDGET: usize = 256;
/// Commands taken from the channel per turn, likewise.
const COMMAND_BUDGET: usize = 1024;
/// The largest UDP payload (RFC 3261 §18.1.1: 65,535 bytes including the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_536;

/// The event loop: UDP sockets, TCP listeners and connections on one [`mio::Poll`], driving a
/// [`Stack`] (see the [crate docs](crate) for the whole picture).
///
/// Create it with [`Runtime::bind`], learn the bound addresses with
/// [`local_addrs`](Runtime::local_addrs), take a [`handle`](Runtime::handle) for other
/// threads, then [`run`](Runtime::run) it until a handle asks it to shut down.
pub struct Runtime<S: Stack> {
    poll: Poll,
    stack: S,
    config: RuntimeConfig,
    local: Vec<ListenAddr>,
    udp: Vec<UdpEndpoint>,
    listeners: Vec<Listener>,
    /// Connections by flow number, which is also their poll token.
    conns: HashMap<u64, Connection>,
    /// RFC 3261 §18: connections indexed by the far end's address (for an accepted one, its
    /// source address), shared by client and server sides.
    by_remote: HashMap<SocketAddr, u64>,
    next_flow: u64,
    timers: BinaryHeap<Reverse<(Instant, RuntimeTimer)>>,
    rx: Receiver<Control<S::Command>>,
    tx: Sender<Control<S::Command>>,
    waker: Arc<Waker>,
    stats: Arc<SharedStats>,
    scratch: Vec<u8>,
    /// Where recent responses' top Vias lead (§18.2.2), so a transaction's responses parse
    /// their shared Via once.
    response_routes: ResponseRoutes,
    /// RFC 3581 §4: the UDP socket that last heard from each address, so that a response leaves
    /// from the socket its request arrived on. Kept only when a family has several sockets.
    udp_peers: HashMap<SocketAddr, (usize, Instant)>,
    track_udp_peers: bool,
    /// Sockets whose read budget ran out: served again next turn without waiting.
    again: Vec<Token>,
    /// Some UDP socket is behind (what the stack was last told by `handle_backlog`).
    backlog: bool,
    /// Tokens: 0 the waker, then UDP sockets, then listeners, then connections from here on.
    udp_tokens: usize,
    first_flow: usize,
    phase: Phase,
    now: Instant,
}

/// Why the sockets could not be bound.
#[derive(Debug)]
pub struct BindError {
    listen: Option<ListenAddr>,
    error: io::Error,
}

impl BindError {
    /// The address that failed; `None` when creating the poll itself failed.
    #[must_use]
    pub fn listen_addr(&self) -> Option<ListenAddr> {
        self.listen
    }

    /// The OS error.
    #[must_use]
    pub fn io_error(&self) -> &io::Error {
        &self.error
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.listen {
            Some(addr) => write!(f, "cannot listen on {addr}: {}", self.error),
            None => write!(f, "cannot create the poll: {}", self.error),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[derive(Debug)]
struct UdpEndpoint {
    socket: UdpSocket,
    local: SocketAddr,
    /// Datagrams waiting for the socket to become writable, with their destination.
    queue: VecDeque<(SocketAddr, Transmit)>,
    queued: usize,
    /// The last read of this socket ended on the read budget, not on an empty queue.
    behind: bool,
}

#[derive(Debug)]
struct Listener {
    listener: TcpListener,
}

/// The runtime's own deadlines, kept in one ordered heap beside the stack's `poll_timeout`.
/// Entries are checked against the connection when they fire (a closed connection's entries
/// are stale and skipped), so activity never has to reschedule them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum RuntimeTimer {
    /// Reap the connection if it has been idle for `idle_timeout`.
    Idle(u64),
    /// Fail the connection if it is still connecting.
    Connect(u64),
    /// Close the closing connection even if its queue is not written.
    Linger(u64),
    /// Close the connection if the message it is receiving began `message_timeout` ago.
    Partial(u64),
    /// Forget UDP peers not heard from for `udp_peer_memory`.
    SweepPeers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    Draining { deadline: Instant },
    Done,
}

/// The callback that receives the stack's events.
type OnEvent<'a, E> = &'a mut dyn FnMut(E);

impl<S: Stack> Runtime<S> {
    /// Binds every [`ListenAddr`] of `config` (in order; port 0 picks a free port), then tells
    /// the stack the bound addresses through [`Stack::handle_bound`].
    ///
    /// # Errors
    /// [`BindError`] naming the address that could not be bound (in use, not local, a
    /// transport other than UDP or TCP), or the OS error creating the poll.
    pub fn bind(config: RuntimeConfig, mut stack: S) -> Result<Runtime<S>, BindError> {
        let poll = Poll::new().map_err(|error| BindError { listen: None, error })?;
        let waker = Waker::new(poll.registry(), WAKER)
            .map_err(|error| BindError { listen: None, error })?;
        let n_udp = config.listen.iter().filter(|l| l.transport == Transport::Udp).count();
        let mut udp = Vec::new();
        let mut listeners = Vec::new();
        let mut local = Vec::new();
        for &listen in &config.listen {
            let fail = |error| BindError { listen: Some(listen), error };
            let bound = match listen.transport {
                Transport::Udp => {
                    let mut socket = bind_udp(listen.addr, &config).map_err(fail)?;
                    let token = Token(1 + udp.len());
                    poll.registry()
                        .register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)
                        .map_err(fail)?;
                    let addr = socket.local_addr().map_err(fail)?;
                    udp.push(UdpEndpoint {
                        socket,
                        local: addr,
                        queue: VecDeque::new(),
                        queued: 0,
                        behind: false,
                    });
                    addr
                }
                Transport::Tcp => {
                    let mut listener = TcpListener::bind(listen.addr).map_err(fail)?;
                    let token = Token(1 + n_udp + listeners.len());
                    poll.registry()
                        .register(&mut listener, token, Interest::READABLE)
                        .map_err(fail)?;
                    let addr = listener.local_addr().map_err(fail)?;
                    listeners.push(Listener { listener });
                    addr
                }
                other => {
                    return Err(fail(io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!("transport {other} is not supported"),
                    )));
                }
            };
            local.push(ListenAddr { transport: listen.transport, addr: bound });
        }
        let track_udp_peers = [true, false]
            .into_iter()
            .any(|v4| udp.iter().filter(|u| u.local.is_ipv4() == v4).count() > 1);
        stack.handle_bound(&local);
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        let udp_tokens = udp.len();
        let first_flow = 1 + udp.len() + listeners.len();
        let mut runtime = Runtime {
            poll,
            stack,
            config,
            local,
            udp,
            listeners,
            conns: HashMap::new(),
            by_remote: HashMap::new(),
            next_flow: first_flow as u64,
            timers: BinaryHeap::new(),
            rx,
            tx,
            waker: Arc::new(waker),
            stats: Arc::new(SharedStats::default()),
            scratch: vec![0; MAX_DATAGRAM],
            response_routes: ResponseRoutes::default(),
            udp_peers: HashMap::new(),
            track_udp_peers,
            again: Vec::new(),
            backlog: false,
            udp_tokens,
            first_flow,
            phase: Phase::Running,
            now,
        };
        if track_udp_peers {
            runtime.arm(now + runtime.config.udp_peer_memory, RuntimeTimer::SweepPeers);
        }
        Ok(runtime)
    }

    /// The bound sockets, in the order of the configuration, with the ports the OS chose.
    #[must_use]
    pub fn local_addrs(&self) -> &[ListenAddr] {
        &self.local
    }

    /// A handle for other threads: commands, shutdown, counters.
    #[must_use]
    pub fn handle(&self) -> RuntimeHandle<S::Command> {
        RuntimeHandle {
            tx: self.tx.clone(),
            waker: Arc::clone(&self.waker),
            stats: Arc::clone(&self.stats),
        }
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> RuntimeStats {
        self.stats.snapshot()
    }

    /// The stack.
    #[must_use]
    pub fn stack(&self) -> &S {
        &self.stack
    }

    /// The stack, mutably (before or after [`run`](Self::run); inputs given this way are not
    /// drained until the loop runs).
    pub fn stack_mut(&mut self) -> &mut S {
        &mut self.stack
    }

    /// The stack, after the runtime is done with it.
    #[must_use]
    pub fn into_stack(self) -> S {
        self.stack
    }

    /// Runs the loop until a [`RuntimeHandle::shutdown`] completes: every event the stack
    /// reports goes to `on_event`, on this thread. Each turn waits for socket readiness, a
    /// command, or the earliest of the stack's [`poll_timeout`](Stack::poll_timeout) and the
    /// runtime's own timers (idle reaping, connect timeouts); reads the clock once; reads
    /// every ready socket until it would block; fires what is due; and drains the stack after
    /// every input. Returns at once if the runtime already shut down.
    ///
    /// The wait is computed from the turn's one clock reading, so a timer fires late by at
    /// most the time the previous turn took to process its inputs.
    ///
    /// # Errors
    /// An error from the OS poll itself (not from a socket: those are reported per transmit
    /// or close their connection).
    pub fn run(&mut self, mut on_event: impl FnMut(S::Event)) -> io::Result<()> {
        let on_event: OnEvent<'_, S::Event> = &mut on_event;
        let mut events = Events::with_capacity(1024);
        // Whatever the stack was given before the loop started (commands through
        // `stack_mut`, say) goes out first.
        self.drain(self.now, on_event);
        while self.phase != Phase::Done {
            let timeout = if self.again.is_empty() {
                self.next_wake().map(|at| at.saturating_duration_since(self.now))
            } else {
                Some(Duration::ZERO)
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            // The one clock read of the turn; never backwards.
            self.now = self.now.max(Instant::now());
            let now = self.now;
            for token in std::mem::take(&mut self.again) {
                self.ready(now, token, true, false, on_event);
            }
            for event in &events {
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                let writable = event.is_writable() || event.is_write_closed() || event.is_error();
                self.ready(now, event.token(), readable, writable, on_event);
            }
            self.fire_timers(now, on_event);
            if self.stack.poll_timeout().is_some_and(|at| at <= now) {
                self.stack.handle_timeout(now);
                self.drain(now, on_event);
            }
            self.stack.handle_turn_end(now);
            self.drain(now, on_event);
            if let Phase::Draining { deadline } = self.phase {
                if now >= deadline || self.is_flushed() {
                    self.finish();
                }
            }
        }
        Ok(())
    }

    // ----- dispatch ------------------------------------------------------------------------

    fn ready(
        &mut self,
        now: Instant,
        token: Token,
        readable: bool,
        writable: bool,
        on_event: OnEvent<'_, S::Event>,
    ) {
        let reading = self.phase == Phase::Running;
        let n_udp = self.udp_tokens;
        match token.0 {
            0 => self.commands(now, on_event),
            t if t <= n_udp => {
                let index = t - 1;
                if writable {
                    self.flush_udp(now, index);
                }
                if readable && reading {
                    self.read_udp(now, index, token, on_event);
                }
            }
            t if t < self.first_flow => {
                if reading {
                    self.accept(now, t - 1 - n_udp, token);
                }
            }
            t => {
                let flow = t as u64;
                if writable {
                    self.on_writable(now, flow);
                }
                if readable && reading {
                    self.on_readable(now, flow, token, on_event);
                }
            }
        }
        self.drain(now, on_event);
    }

    /// Commands and shutdown requests from handles.
    fn commands(&mut self, now: Instant, on_event: OnEvent<'_, S::Event>) {
        for _ in 0..COMMAND_BUDGET {
            match self.rx.try_recv() {
                Ok(Control::Command(command)) => {
                    self.stack.handle_command(now, command);
                    self.drain(now, on_event);
                }
                Ok(Control::Shutdown) => self.begin_shutdown(now, on_event),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
        self.again.push(WAKER);
    }

    /// After every input: send what the stack queued, hand its events to the application,
    /// until both are empty (STYLE.md §2's drain contract).
    fn drain(&mut self, now: Instant, on_event: OnEvent<'_, S::Event>) {
        loop {
            let mut progressed = false;
            while let Some(transmit) = self.stack.poll_transmit() {
                progressed = true;
                self.transmit(now, transmit);
            }
            while let Some(event) = self.stack.poll_event() {
                progressed = true;
                on_event(event);
            }
            if !progressed {
                break;
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let stack = self.stack.poll_timeout();
        let ours = self.timers.peek().map(|Reverse((at, _))| *at);
        let deadline = match self.phase {
            Phase::Draining { deadline } => Some(deadline),
            Phase::Running | Phase::Done => None,
        };
        [stack, ours, deadline].into_iter().flatten().min()
    }

    // ----- shutdown ------------------------------------------------------------------------

    fn begin_shutdown(&mut self, now: Instant, on_event: OnEvent<'_, S::Event>) {
        if self.phase != Phase::Running {
            return;
        }
        self.phase = Phase::Draining { deadline: now + self.config.shutdown_grace };
        // Stop accepting: a closed listener refuses new connections at once.
        for mut l in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut l.listener);
        }
        self.stack.handle_shutdown(now);
        self.drain(now, on_event);
    }

    fn is_flushed(&self) -> bool {
        self.udp.iter().all(|u| u.queue.is_empty()) && self.conns.values().all(|c| c.queued() == 0)
    }

    fn finish(&mut self) {
        let unsent: usize = self.udp.iter().map(|u| u.queued).sum::<usize>()
            + self.conns.values().map(Connection::queued).sum::<usize>();
        SharedStats::add(&self.stats.unsent_at_shutdown, unsent as u64);
        for (_, mut conn) in self.conns.drain() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            SharedStats::inc(&self.stats.connections_closed);
            SharedStats::dec(&self.stats.connections_open);
        }
        for mut u in self.udp.drain(..) {
            let _ = self.poll.registry().deregister(&mut u.socket);
        }
        self.by_remote.clear();
        self.timers.clear();
        self.udp_peers.clear();
        self.again.clear();
        self.phase = Phase::Done;
    }

    // ----- sending -------------------------------------------------------------------------

    fn fail(&mut self, now: Instant, transmit: &Transmit, error: TransportError) {
        SharedStats::inc(&self.stats.transport_errors);
        self.stack.handle_transport_error(now, transmit, error);
    }

    fn transmit(&mut self, now: Instant, transmit: Transmit) {
        match transmit.target {
            Target::Addr(Transport::Udp, addr) => self.send_udp(now, transmit, addr),
            Target::Addr(Transport::Tcp, addr) => self.send_tcp(now, transmit, addr),
            Target::Flow(Transport::Tcp, flow) => self.send_flow(now, transmit, flow),
            Target::Flow(Transport::Udp, _) => self.fail(now, &transmit, TransportError::FlowGone),
            Target::Addr(other, _) | Target::Flow(other, _) => {
                self.fail(now, &transmit, TransportError::Unsupported(other));
            }
        }
    }

    /// RFC 3261 §18.1.1 (requests to the address given) and §18.2.2 (responses where their Via
    /// says, from the socket the request came in on, RFC 3581 §4).
    fn send_udp(&mut self, now: Instant, transmit: Transmit, addr: SocketAddr) {
        let addr = canonical(addr);
        let response = looks_like_response(&transmit.payload);
        let dest = if response && self.config.route_responses_by_via {
            self.response_routes.destination(&transmit.payload, addr)
        } else {
            addr
        };
        let Some(index) = self.pick_udp(addr, dest, response, &transmit.payload) else {
            return self.fail(now, &transmit, TransportError::NoSocket);
        };
        let Some(endpoint) = self.udp.get_mut(index) else {
            return self.fail(now, &transmit, TransportError::NoSocket);
        };
        let wire = wire_addr(endpoint.local, dest);
        if endpoint.queue.is_empty() {
            loop {
                match endpoint.socket.send_to(&transmit.payload, wire) {
                    Ok(n) => {
                        SharedStats::inc(&self.stats.datagrams_out);
                        SharedStats::add(&self.stats.bytes_out, n as u64);
                        return;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return self.fail(now, &transmit, TransportError::Io(e.kind())),
                }
            }
        }
        let len = transmit.payload.len();
        if endpoint.queued.saturating_add(len) > self.config.max_udp_queue {
            SharedStats::inc(&self.stats.udp_queue_overflows);
            return self.fail(now, &transmit, TransportError::UdpQueueFull);
        }
        endpoint.queued += len;
        endpoint.queue.push_back((wire, transmit));
    }

    /// The UDP socket to send from: the only one of the destination's family; else, for a
    /// response, the one its request arrived on (RFC 3581 §4), and for a request, the one its
    /// top Via sent-by names (§18.1.1); else the first of the family. An IPv6 wildcard socket
    /// (dual-stack) serves IPv4 destinations when no IPv4 socket is bound.
    fn pick_udp(
        &self,
        addr: SocketAddr,
        dest: SocketAddr,
        response: bool,
        payload: &Bytes,
    ) -> Option<usize> {
        // One socket of the right family (the usual setup): nothing to choose.
        if let [only] = self.udp.as_slice() {
            if only.local.is_ipv4() == dest.is_ipv4() {
                return Some(0);
            }
        }
        let family = |v4: bool| -> Vec<usize> {
            self.udp
                .iter()
                .enumerate()
                .filter(|(_, u)| u.local.is_ipv4() == v4)
                .map(|(i, _)| i)
                .collect()
        };
        let mut candidates = family(dest.is_ipv4());
        if candidates.is_empty() && dest.is_ipv4() {
            candidates = family(false)
                .into_iter()
                .filter(|&i| self.udp.get(i).is_some_and(|u| u.local.ip().is_unspecified()))
                .collect();
        }
        match candidates.as_slice() {
            [] => None,
            [only] => Some(*only),
            [first, ..] => {
                let chosen = if response {
                    self.udp_peers.get(&addr).map(|&(i, _)| i)
                } else {
                    self.via_socket(payload)
                };
                Some(chosen.filter(|i| candidates.contains(i)).unwrap_or(*first))
            }
        }
    }

    /// The UDP socket whose address the request's top Via sent-by names.
    fn via_socket(&self, payload: &Bytes) -> Option<usize> {
        let via = top_via(payload)?.ok()?;
        let ip: IpAddr = match via.host() {
            sip_message::Host::Ipv4(a) => a.into(),
            sip_message::Host::Ipv6(a) => a.into(),
            sip_message::Host::Domain(_) => return None,
        };
        let sent_by = SocketAddr::new(ip, via.port().unwrap_or(5060));
        self.udp.iter().position(|u| u.local == sent_by)
    }

    fn flush_udp(&mut self, now: Instant, index: usize) {
        let mut failed = Vec::new();
        if let Some(endpoint) = self.udp.get_mut(index) {
            while let Some((wire, transmit)) = endpoint.queue.front() {
                match endpoint.socket.send_to(&transmit.payload, *wire) {
                    Ok(n) => {
                        SharedStats::inc(&self.stats.datagrams_out);
                        SharedStats::add(&self.stats.bytes_out, n as u64);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => failed.push((transmit.clone(), e.kind())),
                }
                if let Some((_, sent)) = endpoint.queue.pop_front() {
                    endpoint.queued = endpoint.queued.saturating_sub(sent.payload.len());
                }
            }
        }
        for (transmit, kind) in failed {
            self.fail(now, &transmit, TransportError::Io(kind));
        }
    }

    /// RFC 3261 §18.1.1: "If a request is destined to an IP address, port, and transport to
    /// which an existing connection is open, it is RECOMMENDED that this connection be used".
    /// Connections are indexed by the far end's address, accepted ones too (§18), so a
    /// transmit to the exact source address of an accepted connection reuses it. Otherwise a
    /// non-blocking connect starts and the bytes wait for it.
    fn send_tcp(&mut self, now: Instant, transmit: Transmit, addr: SocketAddr) {
        let addr = canonical(addr);
        let existing = self.by_remote.get(&addr).copied().filter(|f| {
            self.conns
                .get(f)
                .is_some_and(|c| !matches!(c.state, ConnState::Closing | ConnState::Discarding))
        });
        let flow = match existing {
            Some(flow) => flow,
            None => match self.connect(now, addr) {
                Ok(flow) => flow,
                Err(error) => {
                    if matches!(error, TransportError::ConnectFailed(_)) {
                        SharedStats::inc(&self.stats.connect_failures);
                    }
                    return self.fail(now, &transmit, error);
                }
            },
        };
        let bytes = transmit.payload.clone();
        self.enqueue(now, flow, bytes, Some(transmit));
    }

    /// A transmit over a known connection (§18.2.2: responses go back over the connection the
    /// request came on). If it closed, a response is sent to the Via's `received` address and
    /// sent-by port over a connection found or opened there (§18.2.2 bullet 1); anything else
    /// fails with [`TransportError::FlowGone`].
    fn send_flow(&mut self, now: Instant, transmit: Transmit, flow: FlowId) {
        if self.conns.contains_key(&flow.0) {
            let bytes = transmit.payload.clone();
            return self.enqueue(now, flow.0, bytes, Some(transmit));
        }
        let fallback = looks_like_response(&transmit.payload)
            .then(|| Message::parse_with(transmit.payload.clone(), &self.config.limits).ok())
            .flatten()
            .and_then(|response| reconnect_destination(&response));
        match fallback {
            Some(addr) => self.send_tcp(now, transmit, addr),
            None => self.fail(now, &transmit, TransportError::FlowGone),
        }
    }

    fn connect(&mut self, now: Instant, addr: SocketAddr) -> Result<u64, TransportError> {
        if self.conns.len() >= self.config.max_connections {
            return Err(TransportError::ConnectionLimit);
        }
        let flow = self.next_flow;
        let token = Token(usize::try_from(flow).map_err(|_| TransportError::ConnectionLimit)?);
        let mut stream =
            TcpStream::connect(addr).map_err(|e| TransportError::ConnectFailed(e.kind()))?;
        self.poll
            .registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| TransportError::Io(e.kind()))?;
        self.next_flow += 1;
        let local = stream.local_addr().unwrap_or_else(|_| unspecified(addr));
        let conn =
            Connection::new(stream, addr, local, ConnState::Connecting, self.config.limits, now);
        self.conns.insert(flow, conn);
        self.by_remote.insert(addr, flow);
        self.arm(now + self.config.connect_timeout, RuntimeTimer::Connect(flow));
        if let Some(idle) = self.config.idle_timeout {
            self.arm(now + idle, RuntimeTimer::Idle(flow));
        }
        SharedStats::inc(&self.stats.connections_opened);
        SharedStats::inc(&self.stats.connections_open);
        Ok(flow)
    }

    /// Queues bytes on a connection and writes what the socket takes. A queue of several
    /// messages left above `max_send_queue` means the peer does not read: the connection
    /// closes and everything still queued on it, these bytes included, is reported failed.
    fn enqueue(&mut self, now: Instant, flow: u64, bytes: Bytes, transmit: Option<Transmit>) {
        let Some(conn) = self.conns.get_mut(&flow) else {
            if let Some(t) = transmit {
                self.fail(now, &t, TransportError::FlowGone);
            }
            return;
        };
        // A message of the stack's (not the runtime's own pong) puts the connection in use.
        conn.in_use |= transmit.is_some();
        conn.push(bytes, transmit);
        if conn.state != ConnState::Connecting && !self.flush_conn(now, flow) {
            return;
        }
        // One message always fits an otherwise empty queue (it may be larger than the bound,
        // and a connection that is still connecting has written nothing yet).
        let max = self.config.max_send_queue;
        if self.conns.get(&flow).is_some_and(|c| c.queued() > max && c.pending() > 1) {
            SharedStats::inc(&self.stats.send_queue_overflows);
            self.close(now, flow, TransportError::QueueFull);
        }
    }

    /// Writes what the connection has queued; closes it on a write error, or once written if
    /// it is closing. Returns whether it is still open.
    fn flush_conn(&mut self, now: Instant, flow: u64) -> bool {
        let Some(conn) = self.conns.get_mut(&flow) else { return false };
        match conn.write_queued() {
            Ok(n) => {
                if n > 0 {
                    if conn.in_use {
                        conn.last_activity = now;
                    }
                    SharedStats::add(&self.stats.bytes_out, n as u64);
                }
                if conn.state == ConnState::Closing && conn.queued() == 0 {
                    self.half_close(now, flow);
                    return false;
                }
                true
            }
            Err(_) => {
                self.close(now, flow, TransportError::ConnectionClosed);
                false
            }
        }
    }

    /// A closing connection whose queue is written: shut its write side (the peer reads our
    /// FIN after the last response) and read and drop what still comes until the peer closes
    /// too or the linger timer fires (a lingering close; closing a socket with unread input
    /// would reset the connection and could destroy the response in flight).
    fn half_close(&mut self, now: Instant, flow: u64) {
        let Some(conn) = self.conns.get_mut(&flow) else { return };
        if conn.stream.shutdown(std::net::Shutdown::Write).is_err() {
            return self.close(now, flow, TransportError::ConnectionClosed);
        }
        conn.state = ConnState::Discarding;
        self.arm(now + self.config.close_linger, RuntimeTimer::Linger(flow));
        self.discard(now, flow);
    }

    /// Reads and drops what a discarding connection receives; closes it at the peer's end of
    /// stream or an error.
    fn discard(&mut self, now: Instant, flow: u64) {
        let mut budget = READ_BUDGET;
        loop {
            let Some(conn) = self.conns.get_mut(&flow) else { return };
            match (&conn.stream).read(&mut self.scratch) {
                Ok(0) => return self.close(now, flow, TransportError::ConnectionClosed),
                Ok(n) => {
                    SharedStats::add(&self.stats.bytes_in, n as u64);
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        // The peer keeps sending: the linger timer bounds how long.
                        if let Ok(token) = usize::try_from(flow) {
                            self.again.push(Token(token));
                        }
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(now, flow, TransportError::ConnectionClosed),
            }
        }
    }

    /// Closes a connection: every transmit still queued on it is reported with `error`, and
    /// the stack learns the flow is gone if it was ever established.
    fn close(&mut self, now: Instant, flow: u64, error: TransportError) {
        let Some(mut conn) = self.conns.remove(&flow) else { return };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        if self.by_remote.get(&conn.remote) == Some(&flow) {
            self.by_remote.remove(&conn.remote);
            // Another connection to the same far end (one each way, §18) takes its place.
            if let Some((&other, _)) = self.conns.iter().find(|(_, c)| c.remote == conn.remote) {
                self.by_remote.insert(conn.remote, other);
            }
        }
        SharedStats::inc(&self.stats.connections_closed);
        SharedStats::dec(&self.stats.connections_open);
        for transmit in conn.take_unsent() {
            self.fail(now, &transmit, error);
        }
        if conn.state != ConnState::Connecting {
            self.stack.handle_connection_closed(now, FlowId(flow), conn.remote);
        }
    }

    // ----- receiving -----------------------------------------------------------------------

    fn read_udp(
        &mut self,
        now: Instant,
        index: usize,
        token: Token,
        on_event: OnEvent<'_, S::Event>,
    ) {
        for _ in 0..DATAGRAM_BUDGET {
            let Some(endpoint) = self.udp.get(index) else { return };
            let local = endpoint.local;
            let (n, from) = match endpoint.socket.recv_from(&mut self.scratch) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.set_behind(now, index, false, on_event);
                }
                // Interrupted, or an ICMP error surfacing on an unconnected socket (Windows
                // reports port unreachable this way): read on.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionRefused
                    ) =>
                {
                    continue;
                }
                Err(_) => return,
            };
            SharedStats::inc(&self.stats.datagrams_in);
            SharedStats::add(&self.stats.bytes_in, n as u64);
            let from = canonical(from);
            if self.track_udp_peers
                && (self.udp_peers.len() < self.config.max_udp_peers
                    || self.udp_peers.contains_key(&from))
            {
                self.udp_peers.insert(from, (index, now));
            }
            let data = self.scratch.get(..n).unwrap_or_default();
            if is_datagram_keepalive(data) {
                SharedStats::inc(&self.stats.keepalives_in);
                SharedStats::inc(&self.stats.datagram_keepalives_in);
                continue;
            }
            // Parsed from its own copy; only a datagram that does not parse is copied again for
            // the stack (a clone would share it: an allocation and a reference count for every
            // datagram).
            let parsed = Message::parse_with(Bytes::copy_from_slice(data), &self.config.limits)
                .map_err(|e| (e, Bytes::copy_from_slice(data)));
            self.deliver(now, parsed, Target::udp(from), from, local, on_event);
        }
        self.again.push(token);
        let threshold = self.config.backlog_fill;
        let full = self.udp.get(index).and_then(|e| receive_queue_fill(&e.socket));
        if full.is_none_or(|fill| fill >= threshold) {
            SharedStats::inc(&self.stats.udp_backlogs);
            self.set_behind(now, index, true, on_event);
        }
    }

    /// Records whether UDP socket `index` is behind, and tells the stack when that changes
    /// whether any socket is.
    fn set_behind(
        &mut self,
        now: Instant,
        index: usize,
        behind: bool,
        on_event: OnEvent<'_, S::Event>,
    ) {
        let Some(endpoint) = self.udp.get_mut(index) else { return };
        if endpoint.behind == behind {
            return;
        }
        endpoint.behind = behind;
        let backlog = self.udp.iter().any(|e| e.behind);
        if backlog != self.backlog {
            self.backlog = backlog;
            self.stack.handle_backlog(now, backlog);
            self.drain(now, on_event);
        }
    }

    /// A datagram or a stream frame: parse, stamp the Via of a request (§18.2.1, RFC 3581),
    /// hand it to the stack, drain.
    fn receive(
        &mut self,
        now: Instant,
        payload: Bytes,
        source: Target,
        from: SocketAddr,
        local: SocketAddr,
        on_event: OnEvent<'_, S::Event>,
    ) {
        let parsed =
            Message::parse_with(payload.clone(), &self.config.limits).map_err(|e| (e, payload));
        self.deliver(now, parsed, source, from, local, on_event);
    }

    /// [`receive`](Self::receive) once parsed: a message (its Via stamped) or the parse error
    /// with the payload that failed goes to the stack, then the outputs are drained.
    fn deliver(
        &mut self,
        now: Instant,
        parsed: Result<Message, (ParseError, Bytes)>,
        source: Target,
        from: SocketAddr,
        local: SocketAddr,
        on_event: OnEvent<'_, S::Event>,
    ) {
        match parsed {
            Ok(mut message) => {
                stamp_received(&mut message, from);
                SharedStats::inc(&self.stats.messages_in);
                self.stack.handle_message(now, message, source, local);
            }
            Err((e, payload)) => {
                SharedStats::inc(&self.stats.parse_errors);
                self.stack.handle_parse_error(now, ReceiveError::Parse(e), payload, source, local);
            }
        }
        self.drain(now, on_event);
    }

    fn accept(&mut self, now: Instant, index: usize, token: Token) {
        for _ in 0..ACCEPT_BUDGET {
            let Some(l) = self.listeners.get(index) else { return };
            let (mut stream, remote) = match l.listener.accept() {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock, or a resource error (out of descriptors): wait for the next event.
                Err(_) => return,
            };
            let flow = self.next_flow;
            let token_for_flow = usize::try_from(flow).ok().map(Token);
            let (Some(conn_token), true) =
                (token_for_flow, self.conns.len() < self.config.max_connections)
            else {
                // Over the cap: accepted and closed at once, so the peer learns now instead of
                // waiting in the backlog.
                SharedStats::inc(&self.stats.connections_refused);
                drop(stream);
                continue;
            };
            if self
                .poll
                .registry()
                .register(&mut stream, conn_token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                continue;
            }
            self.next_flow += 1;
            let _ = stream.set_nodelay(true);
            let remote = canonical(remote);
            let local = stream.local_addr().map(canonical).unwrap_or_else(|_| unspecified(remote));
            let conn =
                Connection::new(stream, remote, local, ConnState::Open, self.config.limits, now);
            self.conns.insert(flow, conn);
            self.by_remote.insert(remote, flow);
            if let Some(idle) = self.config.idle_timeout {
                self.arm(now + idle, RuntimeTimer::Idle(flow));
            }
            SharedStats::inc(&self.stats.connections_accepted);
            SharedStats::inc(&self.stats.connections_open);
        }
        self.again.push(token);
    }

    /// Writable: a pending connect completed (or failed), or the send queue can move.
    fn on_writable(&mut self, now: Instant, flow: u64) {
        let Some(conn) = self.conns.get_mut(&flow) else { return };
        if conn.state == ConnState::Connecting {
            // mio's recipe: take_error, then peer_addr tells connected from still connecting.
            let error = match conn.stream.take_error() {
                Ok(error) => error,
                Err(e) => Some(e),
            };
            if let Some(e) = error {
                SharedStats::inc(&self.stats.connect_failures);
                return self.close(now, flow, TransportError::ConnectFailed(e.kind()));
            }
            match conn.stream.peer_addr() {
                Ok(_) => {
                    conn.state = ConnState::Open;
                    conn.last_activity = now;
                    let _ = conn.stream.set_nodelay(true);
                    if let Ok(local) = conn.stream.local_addr() {
                        conn.local = canonical(local);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => {
                    SharedStats::inc(&self.stats.connect_failures);
                    return self.close(now, flow, TransportError::ConnectFailed(e.kind()));
                }
            }
        }
        self.flush_conn(now, flow);
    }

    /// Readable: read until the socket would block (or the budget is spent), framing as the
    /// bytes come (§18.3) and handing each message to the stack.
    fn on_readable(
        &mut self,
        now: Instant,
        flow: u64,
        token: Token,
        on_event: OnEvent<'_, S::Event>,
    ) {
        if self.conns.get(&flow).is_some_and(|c| c.state == ConnState::Discarding) {
            return self.discard(now, flow);
        }
        let mut budget = READ_BUDGET;
        loop {
            let Some(conn) = self.conns.get_mut(&flow) else { return };
            if conn.state != ConnState::Open {
                return;
            }
            // Never more than the stream buffer may still hold: a connection's buffer stays
            // within `max_stream_buffer`, and an unterminated header section is found too
            // large by the framer (MessageTooLarge) rather than by the buffer's size.
            let room = self.config.limits.stream_buffer().saturating_sub(conn.buffered()).max(1);
            let chunk = room.min(self.scratch.len());
            let n = match (&conn.stream).read(self.scratch.get_mut(..chunk).unwrap_or_default()) {
                Ok(0) => return self.close(now, flow, TransportError::ConnectionClosed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(now, flow, TransportError::ConnectionClosed),
            };
            SharedStats::add(&self.stats.bytes_in, n as u64);
            let framed = conn.frame(self.scratch.get(..n).unwrap_or_default());
            let (remote, local) = (conn.remote, conn.local);
            // The message timer: started by the first byte of a message, restarted by the
            // first byte after a complete one.
            let completed = framed.frames.iter().any(|f| matches!(f, Frame::Message(_)));
            conn.in_use |= completed;
            // Keep-alives (and stray CRLF) are activity only on a connection in use; the bytes
            // of a message always are (the message timer bounds a trickle of them).
            if conn.in_use || conn.partial_message() {
                conn.last_activity = now;
            }
            let started = match (conn.buffered() > 0, completed, conn.partial_since) {
                (false, _, _) => None,
                (true, false, Some(since)) => Some(since),
                (true, _, _) => Some(now),
            };
            conn.partial_since = started;
            if let (Some(since), Some(limit), false) =
                (started, self.config.message_timeout, conn.partial_timer)
            {
                conn.partial_timer = true;
                self.arm(since + limit, RuntimeTimer::Partial(flow));
            }
            let source = Target::Flow(Transport::Tcp, FlowId(flow));
            for frame in framed.frames {
                match frame {
                    Frame::Message(bytes) => {
                        SharedStats::inc(&self.stats.stream_messages_in);
                        self.receive(now, bytes, source, remote, local, on_event);
                    }
                    // RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF pong.
                    Frame::Ping => {
                        SharedStats::inc(&self.stats.keepalives_in);
                        SharedStats::inc(&self.stats.pongs_out);
                        self.enqueue(now, flow, Bytes::from_static(b"\r\n"), None);
                    }
                    Frame::Pong => {
                        SharedStats::inc(&self.stats.pongs_in);
                        self.stack.handle_pong(now, FlowId(flow));
                        self.drain(now, on_event);
                    }
                    // A frame kind added to sip-message later: nothing to do with it here.
                    _ => {}
                }
            }
            if let Some((error, buffered)) = framed.error {
                // RFC 3261 §18.3: the stream cannot be resynchronised. The stack may answer
                // (a 400 for a missing Content-Length); then the connection closes.
                SharedStats::inc(&self.stats.frame_errors);
                if let Some(conn) = self.conns.get_mut(&flow) {
                    conn.state = ConnState::Closing;
                }
                self.stack.handle_parse_error(
                    now,
                    ReceiveError::Frame(error),
                    buffered,
                    source,
                    local,
                );
                self.drain(now, on_event);
                if self.conns.get(&flow).is_some_and(|c| c.queued() == 0) {
                    self.half_close(now, flow);
                } else {
                    self.arm(now + self.config.close_linger, RuntimeTimer::Linger(flow));
                }
                return;
            }
            budget = budget.saturating_sub(n);
            if budget == 0 {
                self.again.push(token);
                return;
            }
        }
    }

    // ----- the runtime's timers ------------------------------------------------------------

    fn arm(&mut self, at: Instant, timer: RuntimeTimer) {
        self.timers.push(Reverse((at, timer)));
        // Entries of closed connections go stale; drop them before they pile up.
        if self.timers.len() > 64 + 4 * self.conns.len() {
            let conns = &self.conns;
            self.timers.retain(|Reverse((_, t))| match t {
                RuntimeTimer::Idle(f)
                | RuntimeTimer::Connect(f)
                | RuntimeTimer::Linger(f)
                | RuntimeTimer::Partial(f) => conns.contains_key(f),
                RuntimeTimer::SweepPeers => true,
            });
        }
    }

    fn fire_timers(&mut self, now: Instant, on_event: OnEvent<'_, S::Event>) {
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                RuntimeTimer::Idle(flow) => {
                    let (Some(conn), Some(idle)) =
                        (self.conns.get(&flow), self.config.idle_timeout)
                    else {
                        continue;
                    };
                    let due = conn.last_activity + idle;
                    if conn.state == ConnState::Connecting || due > now {
                        // Active since this was armed (or still connecting): look again later.
                        self.arm(due.max(now + Duration::from_millis(1)), RuntimeTimer::Idle(flow));
                    } else {
                        SharedStats::inc(&self.stats.connections_reaped);
                        self.close(now, flow, TransportError::ConnectionClosed);
                    }
                }
                RuntimeTimer::Connect(flow) => {
                    if self.conns.get(&flow).is_some_and(|c| c.state == ConnState::Connecting) {
                        SharedStats::inc(&self.stats.connect_failures);
                        self.close(now, flow, TransportError::ConnectTimedOut);
                    }
                }
                RuntimeTimer::Partial(flow) => {
                    let (Some(conn), Some(limit)) =
                        (self.conns.get_mut(&flow), self.config.message_timeout)
                    else {
                        continue;
                    };
                    conn.partial_timer = false;
                    match conn.partial_since {
                        Some(since) if conn.state == ConnState::Open => {
                            if since + limit <= now {
                                SharedStats::inc(&self.stats.connections_slow);
                                self.close(now, flow, TransportError::ConnectionClosed);
                            } else {
                                // A later message is arriving: its own deadline.
                                conn.partial_timer = true;
                                self.arm(since + limit, RuntimeTimer::Partial(flow));
                            }
                        }
                        _ => {}
                    }
                }
                RuntimeTimer::Linger(flow) => {
                    if self.conns.get(&flow).is_some_and(|c| {
                        matches!(c.state, ConnState::Closing | ConnState::Discarding)
                    }) {
                        self.close(now, flow, TransportError::ConnectionClosed);
                    }
                }
                RuntimeTimer::SweepPeers => {
                    let memory = self.config.udp_peer_memory;
                    self.udp_peers
                        .retain(|_, (_, seen)| now.saturating_duration_since(*seen) < memory);
                    self.arm(now + memory.max(Duration::from_secs(1)), RuntimeTimer::SweepPeers);
                }
            }
            self.drain(now, on_event);
        }
    }
}

impl<S: Stack> fmt::Debug for Runtime<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("local", &self.local)
            .field("connections", &self.conns.len())
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// An IPv4-mapped IPv6 address (from a dual-stack socket) as the IPv4 address it maps.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// The address to hand the OS: an IPv4 destination from an IPv6 socket is written mapped.
fn wire_addr(local: SocketAddr, dest: SocketAddr) -> SocketAddr {
    match (local, dest.ip()) {
        (SocketAddr::V6(_), IpAddr::V4(v4)) => {
            SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), dest.port())
        }
        _ => dest,
    }
}

fn unspecified(like: SocketAddr) -> SocketAddr {
    match like {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    }
}

/// A UDP keep-alive that is no SIP message: empty, only CR and LF (a CRLF "ping" some devices
/// send over UDP, which RFC 5626 §4.4.1 reserves for streams), or a STUN message (RFC 5389
/// §6: top two bits zero, magic cookie 0x2112A442), which this runtime does not answer.
fn is_datagram_keepalive(data: &[u8]) -> bool {
    let crlf_only = data.iter().all(|&c| c == b'\r' || c == b'\n');
    let stun = data.len() >= 20
        && data.first().is_some_and(|&b| b & 0xC0 == 0)
        && data.get(4..8) == Some(&[0x21, 0x12, 0xA4, 0x42][..]);
    crlf_only || stun
}

/// A non-blocking UDP socket bound to `addr` with the buffer sizes `config` asks for, set
/// before the bind (best effort: the OS may cap them, and a refusal is not an error).
fn bind_udp(addr: SocketAddr, config: &RuntimeConfig) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(bytes) = config.udp_recv_buffer {
        let _ = socket.set_recv_buffer_size(bytes);
    }
    if let Some(bytes) = config.udp_send_buffer {
        let _ = socket.set_send_buffer_size(bytes);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// How full `socket`'s receive buffer is, as a fraction of its size (Linux: `SO_MEMINFO`'s
/// allocated receive memory over the buffer size); `None` where that cannot be read.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn receive_queue_fill(socket: &UdpSocket) -> Option<f64> {
    use std::os::fd::AsRawFd;
    let mut info = [0u32; 16];
    let mut len = libc::socklen_t::try_from(std::mem::size_of_val(&info)).ok()?;
    // SAFETY: the descriptor is open (borrowed from `socket`), and getsockopt writes at most
    // `len` bytes to `info`, which is that large, then stores in `len` how many it wrote.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    let wrote = usize::try_from(len).ok()?;
    if rc != 0 || wrote < 2 * std::mem::size_of::<u32>() {
        return None;
    }
    let alloc = *info.get(usize::try_from(libc::SK_MEMINFO_RMEM_ALLOC).ok()?)?;
    let size = *info.get(usize::try_from(libc::SK_MEMINFO_RCVBUF).ok()?)?;
    (size > 0).then(|| f64::from(alloc) / f64::from(size))
}

#[cfg(not(target_os = "linux"))]
fn receive_queue_fill(_: &UdpSocket) -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_sockets_ask_for_the_configured_buffers() {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let size = |config: RuntimeConfig| {
            let socket = bind_udp(any, &config).unwrap();
            let socket = socket2::SockRef::from(&socket);
            (socket.recv_buffer_size().unwrap(), socket.send_buffer_size().unwrap())
        };
        let os = size(RuntimeConfig::default().udp_recv_buffer(None).udp_send_buffer(None));
        let small =
            size(RuntimeConfig::default().udp_recv_buffer(Some(4096)).udp_send_buffer(Some(4096)));
        let big = size(RuntimeConfig::default());
        // Linux doubles what it is asked for and caps it at rmem_max/wmem_max: the asked sizes
        // move the buffers both ways from the OS default.
        assert!(small.0 < os.0 && small.1 < os.1, "{small:?} vs {os:?}");
        assert!(big.0 >= os.0 && big.1 >= os.1, "{big:?} vs {os:?}");
    }

    #[test]
    fn keepalive_datagrams() {
        assert!(is_datagram_keepalive(b"\r\n\r\n"));
        assert!(is_datagram_keepalive(b"\r\n"));
        assert!(is_datagram_keepalive(b""));
        let mut stun = [0u8; 20];
        stun[1] = 1;
        stun[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
        assert!(is_datagram_keepalive(&stun));
        assert!(!is_datagram_keepalive(b"OPTIONS sip:a SIP/2.0\r\n\r\n"));
        assert!(!is_datagram_keepalive(b"\r\nx"));
    }

    #[test]
    fn mapped_addresses() {
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:5060".parse().unwrap();
        assert_eq!(canonical(mapped), "192.0.2.1:5060".parse().unwrap());
        let v6_local: SocketAddr = "[::]:5060".parse().unwrap();
        let v4: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        assert_eq!(wire_addr(v6_local, v4), mapped);
        let v4_local: SocketAddr = "0.0.0.0:5060".parse().unwrap();
        assert_eq!(wire_addr(v4_local, v4), v4);
    }
}
