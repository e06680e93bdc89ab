//! One TCP connection: its framer, read buffer and bounded send queue.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mio::net::TcpStream;
use sip_message::{Frame, FrameError, Framer, Limits};
use sip_transaction::Transmit;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// A non-blocking connect is under way; writes are queued.
    Connecting,
    /// Established: reading and writing.
    Open,
    /// No longer read (its stream broke); closed once its queue is written or the linger
    /// timer fires.
    Closing,
    /// The queue of a closing connection is written and its write side shut: what the peer
    /// still sends is read and dropped until it closes too or the linger timer fires, so that
    /// closing with unread data (which resets the connection) cannot destroy the last
    /// response before the peer reads it.
    Discarding,
}

/// Bytes waiting to be written, and the transmit to report if they never are (`None` for the
/// runtime's own pongs).
#[derive(Debug)]
pub(crate) struct Pending {
    bytes: Bytes,
    written: usize,
    transmit: Option<Transmit>,
}

#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) state: ConnState,
    /// The last time bytes of a SIP message went either way, or, once a message has, any
    /// byte did: what the idle timer measures from.
    pub(crate) last_activity: Instant,
    /// A SIP message has gone either way on this connection. Until one has, keep-alives and
    /// stray bytes do not count as activity: a connection that only ever carries CRLF (a
    /// scanner holding a slot, not an RFC 5626 flow, which starts with a REGISTER) is reaped
    /// by the idle timer from the time it opened.
    pub(crate) in_use: bool,
    /// When the message now partly buffered began to arrive (`None`: nothing buffered).
    pub(crate) partial_since: Option<Instant>,
    /// A message-timeout timer is queued for this connection (at most one is).
    pub(crate) partial_timer: bool,
    framer: Framer,
    read_buf: BytesMut,
    queue: VecDeque<Pending>,
    /// Bytes in `queue` not yet written.
    queued: usize,
}

/// What one chunk of received bytes framed into.
#[derive(Debug, Default)]
pub(crate) struct Framed {
    pub(crate) frames: Vec<Frame>,
    /// A framing error, and what was buffered when it struck.
    pub(crate) error: Option<(FrameError, Bytes)>,
}

impl Connection {
    pub(crate) fn new(
        stream: TcpStream,
        remote: SocketAddr,
        local: SocketAddr,
        state: ConnState,
        limits: Limits,
        now: Instant,
    ) -> Connection {
        Connection {
            stream,
            remote,
            local,
            state,
            last_activity: now,
            in_use: false,
            partial_since: None,
            partial_timer: false,
            framer: Framer::new(limits),
            read_buf: BytesMut::new(),
            queue: VecDeque::new(),
            queued: 0,
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// Messages (or pongs) in the send queue, the partly written one included.
    pub(crate) fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Appends bytes to the send queue (the caller writes and enforces the bound).
    pub(crate) fn push(&mut self, bytes: Bytes, transmit: Option<Transmit>) {
        self.queued = self.queued.saturating_add(bytes.len());
        self.queue.push_back(Pending { bytes, written: 0, transmit });
    }

    /// Writes queued bytes until the queue is empty or the socket would block. Returns how
    /// many bytes were written.
    ///
    /// # Errors
    /// A write error other than `WouldBlock`/`Interrupted` (the connection is broken).
    pub(crate) fn write_queued(&mut self) -> io::Result<usize> {
        let mut total = 0;
        while let Some(front) = self.queue.front_mut() {
            let rest = front.bytes.get(front.written..).unwrap_or_default();
            if rest.is_empty() {
                self.queue.pop_front();
                continue;
            }
            match (&self.stream).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    front.written += n;
                    total += n;
                    self.queued = self.queued.saturating_sub(n);
                    if front.written >= front.bytes.len() {
                        self.queue.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Appends received bytes and frames what it can (RFC 3261 §18.3). After an error the
    /// framer is poisoned: the connection must close.
    pub(crate) fn frame(&mut self, data: &[u8]) -> Framed {
        let mut out = Framed::default();
        self.read_buf.extend_from_slice(data);
        loop {
            match self.framer.decode(&mut self.read_buf) {
                Ok(Some(frame)) => out.frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    out.error = Some((e, self.read_buf.split().freeze()));
                    break;
                }
            }
        }
        out
    }

    /// Bytes received and not yet framed into a message (the start of the next one).
    pub(crate) fn buffered(&self) -> usize {
        self.read_buf.len()
    }

    /// Part of a message is buffered, not just CR and LF (the start of a keep-alive, at most
    /// four bytes, or empty lines before a message).
    pub(crate) fn partial_message(&self) -> bool {
        self.read_buf.iter().take(5).any(|b| !matches!(b, b'\r' | b'\n'))
    }

    /// Empties the send queue, returning the transmits that were not fully written.
    pub(crate) fn take_unsent(&mut self) -> Vec<Transmit> {
        self.queued = 0;
        self.queue.drain(..).filter_map(|p| p.transmit).collect()
    }
}
