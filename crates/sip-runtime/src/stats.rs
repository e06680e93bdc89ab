//! Counters for operators: [`RuntimeStats`], readable from any thread through
//! [`RuntimeHandle::stats`](crate::RuntimeHandle::stats).

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// A snapshot of the runtime's counters (all monotonic except
        /// [`connections_open`](RuntimeStats::connections_open)).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct RuntimeStats {
            $( $(#[$doc])* pub $name: u64, )*
        }

        /// The live counters, shared between the loop (the only writer) and handles.
        #[derive(Debug, Default)]
        pub(crate) struct SharedStats {
            $( pub(crate) $name: AtomicU64, )*
        }

        impl SharedStats {
            pub(crate) fn snapshot(&self) -> RuntimeStats {
                RuntimeStats { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }
    };
}

counters! {
    /// UDP datagrams received (keep-alives included). Every one is counted once more in
    /// exactly one of [`datagram_keepalives_in`](Self::datagram_keepalives_in),
    /// [`messages_in`](Self::messages_in) and [`parse_errors`](Self::parse_errors).
    datagrams_in,
    /// UDP datagrams that were keep-alives (CRLF only, or STUN), dropped.
    datagram_keepalives_in,
    /// Times a UDP socket still had datagrams queued after a turn's read budget with its
    /// receive buffer at least [`backlog_fill`](crate::RuntimeConfig::backlog_fill) full: the
    /// loop was behind its input (see [`Stack::handle_backlog`](crate::Stack::handle_backlog)).
    udp_backlogs,
    /// Messages framed on TCP connections (keep-alives not included). Every one is counted
    /// once more in [`messages_in`](Self::messages_in) or [`parse_errors`](Self::parse_errors).
    stream_messages_in,
    /// UDP datagrams sent.
    datagrams_out,
    /// Bytes received over UDP and TCP.
    bytes_in,
    /// Bytes written to UDP and TCP sockets.
    bytes_out,
    /// SIP messages handed to the stack (from UDP and TCP).
    messages_in,
    /// Datagrams and stream frames that did not parse.
    parse_errors,
    /// Streams that could not be framed (each closed its connection).
    frame_errors,
    /// Keep-alives received: RFC 5626 pings on TCP, CRLF-only and STUN datagrams on UDP.
    keepalives_in,
    /// RFC 5626 pongs sent in answer to pings.
    pongs_out,
    /// RFC 5626 pongs received.
    pongs_in,
    /// TCP connections accepted.
    connections_accepted,
    /// TCP connections opened by the runtime (connection attempts started).
    connections_opened,
    /// TCP connections accepted beyond `max_connections` and closed at once.
    connections_refused,
    /// TCP connections closed, for any reason (reaped ones included).
    connections_closed,
    /// TCP connections closed by the idle timer.
    connections_reaped,
    /// TCP connections closed because a message took longer than `message_timeout` to
    /// arrive.
    connections_slow,
    /// TCP connection attempts that failed or timed out.
    connect_failures,
    /// TCP connections currently open or connecting (a gauge).
    connections_open,
    /// Connections closed because their send queue overflowed.
    send_queue_overflows,
    /// Datagrams dropped because a UDP socket's send queue overflowed.
    udp_queue_overflows,
    /// Transmits reported to the stack as failed.
    transport_errors,
    /// Bytes still queued when shutdown's grace period ended.
    unsent_at_shutdown,
}

impl SharedStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dec(counter: &AtomicU64) {
        // Only the loop writes, so a load-then-store cannot race with another writer.
        let v = counter.load(Ordering::Relaxed);
        counter.store(v.saturating_sub(1), Ordering::Relaxed);
    }
}
