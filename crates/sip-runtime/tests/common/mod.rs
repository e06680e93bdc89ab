//! A recording test stack and a harness running a real runtime on loopback in a thread.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::{Message, MessageBuilder, Method};
use sip_runtime::{
    ListenAddr, ReceiveError, Runtime, RuntimeConfig, RuntimeHandle, Stack, TransportError,
};
use sip_transaction::{FlowId, Target, Transmit, Transport};

/// How long a test waits for anything before it fails.
pub const WAIT: Duration = Duration::from_millis(1500);

/// What the stack saw, in order.
// Boxing the message would only complicate the patterns of the tests.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Seen {
    Message { message: Message, source: Target, local: SocketAddr },
    ParseError { error: ReceiveError, payload: Bytes, source: Target },
    TransportError { transmit: Transmit, error: TransportError },
    Pong(FlowId),
    Closed(FlowId, SocketAddr),
    Command(String),
    Timeout(Instant),
    Backlog(bool),
    Shutdown,
}

/// Commands the tests send.
#[derive(Debug)]
pub enum Cmd {
    Send(Transmit),
    SendAll(Vec<Transmit>),
    Note(String),
    SetTimer(Duration),
    /// Blocks the loop for this long (a stack busy elsewhere), then records a note.
    Stall(Duration),
}

/// Records every input as an event; answers OPTIONS with 200 (to the source), a framing error
/// with 400, and sends `on_shutdown` when shut down.
#[derive(Debug, Default)]
pub struct Recorder {
    pub bound: Vec<ListenAddr>,
    pub answer_options: bool,
    pub on_shutdown: Option<Transmit>,
    timer: Option<Instant>,
    last_now: Option<Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Seen>,
}

impl Recorder {
    pub fn answering() -> Recorder {
        Recorder { answer_options: true, ..Recorder::default() }
    }

    fn saw(&mut self, now: Instant, seen: Seen) {
        // The runtime's clock never goes backwards.
        assert!(self.last_now.is_none_or(|last| last <= now));
        self.last_now = Some(now);
        self.events.push_back(seen);
    }
}

impl Stack for Recorder {
    type Command = Cmd;
    type Event = Seen;

    fn handle_bound(&mut self, local: &[ListenAddr]) {
        self.bound = local.to_vec();
    }

    fn handle_message(
        &mut self,
        now: Instant,
        message: Message,
        source: Target,
        local: SocketAddr,
    ) {
        if self.answer_options && message.method() == Some(&Method::Options) {
            let ok = MessageBuilder::response_to(&message, 200, None).to_tag("t").build().unwrap();
            self.transmits.push_back(Transmit {
                target: source,
                payload: ok.to_bytes(),
                transaction: None,
            });
        }
        self.saw(now, Seen::Message { message, source, local });
    }

    fn handle_parse_error(
        &mut self,
        now: Instant,
        error: ReceiveError,
        payload: Bytes,
        source: Target,
        _: SocketAddr,
    ) {
        if let ReceiveError::Frame(e) = error {
            let bad = format!("SIP/2.0 400 {}\r\nContent-Length: 0\r\n\r\n", e.reason());
            self.transmits.push_back(Transmit {
                target: source,
                payload: Bytes::from(bad),
                transaction: None,
            });
        }
        self.saw(now, Seen::ParseError { error, payload, source });
    }

    fn handle_transport_error(&mut self, now: Instant, transmit: &Transmit, error: TransportError) {
        self.saw(now, Seen::TransportError { transmit: transmit.clone(), error });
    }

    fn handle_pong(&mut self, now: Instant, flow: FlowId) {
        self.saw(now, Seen::Pong(flow));
    }

    fn handle_connection_closed(&mut self, now: Instant, flow: FlowId, remote: SocketAddr) {
        self.saw(now, Seen::Closed(flow, remote));
    }

    fn handle_command(&mut self, now: Instant, command: Cmd) {
        match command {
            Cmd::Send(t) => self.transmits.push_back(t),
            Cmd::SendAll(ts) => self.transmits.extend(ts),
            Cmd::Note(s) => self.saw(now, Seen::Command(s)),
            Cmd::SetTimer(after) => self.timer = Some(now + after),
            Cmd::Stall(d) => {
                std::thread::sleep(d);
                self.saw(now, Seen::Command("stalled".into()));
            }
        }
    }

    fn handle_backlog(&mut self, now: Instant, behind: bool) {
        self.saw(now, Seen::Backlog(behind));
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.timer.take_if(|at| *at <= now) {
            self.saw(now, Seen::Timeout(at));
        }
    }

    fn handle_shutdown(&mut self, now: Instant) {
        if let Some(t) = self.on_shutdown.take() {
            self.transmits.push_back(t);
        }
        self.saw(now, Seen::Shutdown);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Seen> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }
}

/// A runtime running in its own thread, its handle and its event stream.
pub struct Harness {
    pub handle: RuntimeHandle<Cmd>,
    pub events: Receiver<Seen>,
    pub local: Vec<ListenAddr>,
    thread: Option<JoinHandle<Runtime<Recorder>>>,
}

pub fn start(config: RuntimeConfig, stack: Recorder) -> Harness {
    let mut runtime = Runtime::bind(config, stack).unwrap();
    let local = runtime.local_addrs().to_vec();
    assert_eq!(runtime.stack().bound, local);
    let handle = runtime.handle();
    let (tx, events) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        runtime
            .run(|seen| {
                let _ = tx.send(seen);
            })
            .unwrap();
        runtime
    });
    Harness { handle, events, local, thread: Some(thread) }
}

/// Loopback UDP and TCP on IPv4, ports chosen by the OS.
pub fn loopback() -> RuntimeConfig {
    RuntimeConfig::new()
        .listen("udp:127.0.0.1:0".parse().unwrap())
        .listen("tcp:127.0.0.1:0".parse().unwrap())
}

impl Harness {
    pub fn addr(&self, transport: Transport) -> SocketAddr {
        self.local.iter().find(|l| l.transport == transport).unwrap().addr
    }

    /// The next thing the stack saw.
    pub fn next(&self) -> Seen {
        self.events.recv_timeout(WAIT).expect("the stack saw nothing in time")
    }

    /// Whether the stack sees nothing for `quiet`.
    pub fn nothing_for(&self, quiet: Duration) -> bool {
        self.events.recv_timeout(quiet).is_err()
    }

    pub fn send(&self, command: Cmd) {
        self.handle.send(command).unwrap();
    }

    /// Shuts the runtime down and returns it once `run` returned.
    pub fn stop(mut self) -> Runtime<Recorder> {
        self.handle.shutdown();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.shutdown();
            let _ = thread.join();
        }
    }
}

/// An OPTIONS request with Content-Length.
pub fn options(via: &str, call_id: &str) -> String {
    format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         From: <sip:alice@127.0.0.1>;tag=a\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

pub fn udp_peer(addr: &str) -> UdpSocket {
    let socket = UdpSocket::bind(addr).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

pub fn recv_message(socket: &UdpSocket) -> (Message, SocketAddr) {
    let mut buf = vec![0; 65536];
    let (n, from) = socket.recv_from(&mut buf).expect("no datagram in time");
    (Message::parse(Bytes::copy_from_slice(&buf[..n])).unwrap(), from)
}

pub fn tcp_client(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads from `stream` until `want` bytes arrived or it closes.
pub fn read_exactly(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < want {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed after {} bytes: {e}", out.len()),
        }
    }
    out
}

/// Reads one SIP message (headers with Content-Length: 0) from a stream.
pub fn read_message(stream: &mut TcpStream) -> Message {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => out.push(byte[0]),
            other => panic!("stream ended after {:?}: {other:?}", String::from_utf8_lossy(&out)),
        }
    }
    Message::parse(Bytes::from(out)).unwrap()
}

/// Whether the peer closed the stream (EOF or reset) within the read timeout.
pub fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return true;
            }
            Err(_) => return false,
        }
    }
}

pub fn write_all(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).unwrap();
}

pub fn top_via(message: &Message) -> String {
    String::from_utf8_lossy(message.top_via().unwrap()).into_owned()
}
