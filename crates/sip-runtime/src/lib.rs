//! The OS side of the SIP stack: one [`mio`] loop that owns UDP sockets, TCP listeners and
//! connections, reads the clock, and drives a sans-IO protocol [`Stack`] (RFC 3261 §18, RFC
//! 3581, RFC 5626 keep-alives). It is the only crate of the workspace that does I/O; everything
//! protocol lives in the stack it drives.
//!
//! # The loop
//!
//! [`Runtime::run`] turns one [`mio::Poll`]:
//!
//! 1. wait for readiness, a command, or the earliest of the stack's
//!    [`poll_timeout`](Stack::poll_timeout) and the runtime's own timers (idle reaping,
//!    connect timeouts), kept in one ordered heap;
//! 2. read the clock once (`Instant::now()`, never backwards), the `now` of every input of
//!    the turn;
//! 3. read every ready socket until it would block: a datagram or a framed stream message is
//!    parsed, a request's top Via stamped (below) and handed to
//!    [`handle_message`](Stack::handle_message); commands from [`RuntimeHandle`]s go to
//!    [`handle_command`](Stack::handle_command);
//! 4. fire due timers, then [`handle_timeout`](Stack::handle_timeout) if the stack is due;
//! 5. [`handle_turn_end`](Stack::handle_turn_end), where a stack finishes what it batched over
//!    the turn.
//!
//! After every input the runtime drains [`poll_transmit`](Stack::poll_transmit) (writing or
//! queueing each transmit) and [`poll_event`](Stack::poll_event) (handing each event to the
//! callback given to `run`), until both are empty. A loop whose socket never stops being
//! readable is served in budgets, so one flooding peer does not starve the others.
//!
//! # Transport rules (RFC 3261 §18)
//!
//! - **Server side, §18.2.1 and RFC 3581 §4.** Every received request's top Via gets
//!   `received=<source IP>` when its sent-by host is a name or another address, and an empty
//!   `rport` is filled with the source port (with `received` then always added), before the
//!   stack sees the message. The Via is re-rendered in place of the old value (moved to the top
//!   of the header list; order among Vias is kept).
//! - **Responses over UDP, §18.2.2.** The stack sends a response to the request's `source`
//!   (that is what a transaction table does). The runtime, which RFC 3261 makes the owner of
//!   this rule, sends it where the response's top Via says instead: `maddr`, else `received`
//!   with `rport` (RFC 3581) or the sent-by port (5060 if none), else the sent-by address, and
//!   from the socket the request came in on (RFC 3581 §4). A name it would have to resolve
//!   (RFC 3263 §5) falls back to the transmit's address. Turn it off with
//!   [`RuntimeConfig::route_responses_by_via`].
//! - **Responses over TCP, §18.2.2.** A request received over a connection comes with
//!   `source = Target::Flow(Tcp, flow)`; responses sent there use the same connection. If it
//!   has closed, a response goes to the Via's `received` address (else its sent-by address)
//!   and sent-by port over a connection found or opened there; any other transmit to a closed
//!   flow fails with [`TransportError::FlowGone`].
//! - **Requests, §18.1.1.** `Target::Addr(Udp, addr)` leaves from the UDP socket of the
//!   address's family whose address the top Via sent-by names (else the first one; see
//!   [`TuContext::via`] and [`Runtime::local_addrs`] for writing that Via).
//!   `Target::Addr(Tcp, addr)` reuses the open connection whose far end is exactly `addr`,
//!   whichever side opened it (§18 indexes connections by the far end's address, accepted
//!   ones by their source address, and shares them between client and server), or starts a
//!   non-blocking connect and queues the bytes until it completes; a failed or timed-out
//!   connect reports every queued transmit through
//!   [`handle_transport_error`](Stack::handle_transport_error).
//! - **Framing, §18.3 and RFC 5626 §4.4.1.** Streams are framed by
//!   [`sip_message::Framer`] within the configured [`Limits`](sip_message::Limits). A double
//!   CRLF ping is answered with a single CRLF pong; a pong is passed to
//!   [`handle_pong`](Stack::handle_pong). A framing error stops reading the connection, goes to
//!   [`handle_parse_error`](Stack::handle_parse_error) with what was buffered, and the
//!   connection closes once what the stack sent it in reply (a 400, see
//!   [`reject_unparsable`]) is written: its write side is shut and what the peer still sends
//!   is read and dropped until the peer closes too (a lingering close, so that unread input
//!   does not reset the connection and destroy the 400 in flight), all within
//!   [`close_linger`](RuntimeConfig::close_linger). A frame that does not parse also goes to
//!   `handle_parse_error`, and the connection lives on. A UDP datagram of only CRLFs (or a
//!   STUN message) is a keep-alive and is dropped silently.
//! - **Bounds.** At most [`max_connections`](RuntimeConfig::max_connections) connections (one
//!   accepted beyond it is closed at once); connections idle for
//!   [`idle_timeout`](RuntimeConfig::idle_timeout) are closed, and so are connections on
//!   which one message takes longer than [`message_timeout`](RuntimeConfig::message_timeout)
//!   to arrive (a peer trickling bytes to hold a connection); a connection's receive buffer
//!   never holds more than [`Limits::stream_buffer`](sip_message::Limits::stream_buffer); a send that would block is
//!   queued, per connection up to [`max_send_queue`](RuntimeConfig::max_send_queue) (beyond
//!   it the peer is not reading: the connection closes and its queued transmits are reported
//!   failed) and per UDP socket up to [`max_udp_queue`](RuntimeConfig::max_udp_queue).
//!
//! Not done here: TLS, SCTP and WebSocket ([`TransportError::Unsupported`]); switching a large
//! request from UDP to TCP (§18.1.1), which changes the Via and the transaction's timers and so
//! belongs to the layer that builds the request; answering STUN; multicast TTLs; reporting
//! ICMP errors for UDP (§18.4; unconnected sockets do not surface them portably); discarding
//! responses whose sent-by is not ours (§18.1.2), which only the stack knows.
//!
//! # Threads
//!
//! `run` blocks its thread. Other threads talk to it through a [`RuntimeHandle`] (a channel and
//! a [`mio::Waker`]): [`send`](RuntimeHandle::send) a command,
//! [`shutdown`](RuntimeHandle::shutdown), read [`stats`](RuntimeHandle::stats). Shutdown is
//! graceful: reading stops, listeners close, [`Stack::handle_shutdown`] runs, queued bytes are
//! written for at most [`shutdown_grace`](RuntimeConfig::shutdown_grace), then every socket
//! closes and `run` returns.
//!
//! A program that owns its own event loop skips this crate and drives the protocol crates
//! directly: see `examples/bare_loop.rs`, a transaction table over a blocking
//! `std::net::UdpSocket`.
//!
//! # Example
//!
//! An OPTIONS responder on loopback, with the ready-made [`TransactionStack`]. A client thread
//! (a plain `std` socket) asks it once, then shuts it down through a [`RuntimeHandle`]. The
//! example really runs: it binds port 0 on 127.0.0.1.
//!
//! ```
//! use std::net::UdpSocket;
//! use std::time::Duration;
//!
//! use sip_message::MessageBuilder;
//! use sip_runtime::{Runtime, RuntimeConfig, TransactionStack, TransactionUser, TuContext};
//! use sip_transaction::{Event, TransactionConfig};
//!
//! /// The TU: answers every request 200 and tells the application who asked.
//! struct Responder;
//!
//! impl TransactionUser for Responder {
//!     type Command = ();
//!     type Event = String;
//!
//!     fn handle_event(&mut self, cx: &mut TuContext<'_, String>, event: Event) {
//!         if let Event::Request { id, request, source } = event {
//!             cx.emit(format!("{} from {source}", request.method().map_or("?", |m| m.as_str())));
//!             if let Ok(ok) = MessageBuilder::response_to(&request, 200, None).build() {
//!                 let now = cx.now();
//!                 let _ = cx.table().send_response(now, id, ok);
//!             }
//!         }
//!     }
//!
//!     fn handle_command(&mut self, _: &mut TuContext<'_, String>, (): ()) {}
//! }
//!
//! let config = RuntimeConfig::new()
//!     .listen("udp:127.0.0.1:0".parse()?)
//!     .listen("tcp:127.0.0.1:0".parse()?);
//! let stack = TransactionStack::new(TransactionConfig::default().rng_seed(7), Responder);
//! let mut runtime = Runtime::bind(config, stack)?;
//! let server = runtime.local_addrs()[0].addr; // the UDP socket, with the port the OS chose
//!
//! let handle = runtime.handle();
//! let client = std::thread::spawn(move || {
//!     let asked = (|| -> std::io::Result<String> {
//!         let socket = UdpSocket::bind("127.0.0.1:0")?;
//!         socket.set_read_timeout(Some(Duration::from_secs(2)))?;
//!         let me = socket.local_addr()?;
//!         let options = format!(
//!             "OPTIONS sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {me};rport;branch=z9hG4bK1\r\n\
//!              To: <sip:{server}>\r\nFrom: <sip:{me}>;tag=1\r\nCall-ID: doc\r\n\
//!              CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
//!         );
//!         socket.send_to(options.as_bytes(), server)?;
//!         let mut buf = [0u8; 2048];
//!         let (n, _) = socket.recv_from(&mut buf)?;
//!         Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
//!     })();
//!     handle.shutdown(); // whatever happened: `run` below returns
//!     asked
//! });
//!
//! let mut log = Vec::new();
//! runtime.run(|line| log.push(line))?; // blocks until the shutdown
//! let response = client.join().expect("client thread")?;
//! assert!(response.starts_with("SIP/2.0 200 OK\r\n"));
//! assert!(log[0].starts_with("OPTIONS from UDP:127.0.0.1:"));
//! assert_eq!(runtime.stats().messages_in, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo
    )
)]

mod config;
mod connection;
mod handle;
mod reject;
mod runtime;
mod stack;
mod stats;
mod transaction_stack;
mod via;

pub use config::{ListenAddr, ListenAddrError, RuntimeConfig};
pub use handle::{HandleError, RuntimeHandle};
pub use reject::reject_unparsable;
pub use runtime::{BindError, Runtime};
pub use stack::{ReceiveError, Stack, TransportError};
pub use stats::RuntimeStats;
pub use transaction_stack::{TransactionStack, TransactionUser, TuContext};
