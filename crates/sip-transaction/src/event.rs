//! What the table hands out: bytes to send and events for the TU, plus the ids and states that
//! name transactions in them.

use std::fmt;

use bytes::Bytes;
use sip_message::Message;

use crate::Target;

/// A transaction's name: a slab index plus a generation, so an id outlives its transaction
/// harmlessly (a stale id simply finds nothing). Small and `Copy`, never a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl TransactionId {
    /// The id's slot in its table: live transactions of one table have distinct slots, and
    /// the slot of a freed one is reused (under a new id), so a TU can keep what it knows of
    /// its transactions in a vector indexed by slot rather than in a hash map, comparing the
    /// whole id to tell a reused slot from its former transaction.
    #[must_use]
    #[inline]
    pub fn slot(self) -> u32 {
        self.index
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}.{}", self.index, self.generation)
    }
}

/// The four machines of RFC 3261 §17.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionKind {
    /// §17.1.1, Figure 5 as RFC 6026 amends it.
    ClientInvite,
    /// §17.1.2, Figure 6.
    ClientNonInvite,
    /// §17.2.1, Figure 7 as RFC 6026 amends it.
    ServerInvite,
    /// §17.2.2, Figure 8.
    ServerNonInvite,
}

impl TransactionKind {
    /// Whether this is a client transaction.
    #[must_use]
    pub fn is_client(self) -> bool {
        matches!(self, TransactionKind::ClientInvite | TransactionKind::ClientNonInvite)
    }

    /// Whether this is an INVITE transaction.
    #[must_use]
    pub fn is_invite(self) -> bool {
        matches!(self, TransactionKind::ClientInvite | TransactionKind::ServerInvite)
    }
}

/// The state a live transaction is in (the states of Figures 5 to 8 and RFC 6026). There is no
/// `Terminated`: a transaction is freed the instant it terminates, and its id then finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionState {
    /// Client INVITE: the request was sent and nothing answered yet.
    Calling,
    /// Client or server non-INVITE: no provisional response yet.
    Trying,
    /// A provisional response was received (client) or the TU has not sent a final (server).
    Proceeding,
    /// A final response (non-2xx for INVITE) was received or sent.
    Completed,
    /// Server INVITE: the ACK for a non-2xx final arrived.
    Confirmed,
    /// INVITE (RFC 6026): a 2xx was received or sent.
    Accepted,
}

impl TransactionState {
    /// Whether a transaction in this state has finished its work and only lingers to absorb
    /// retransmissions (Completed, Confirmed, Accepted): the final response was sent or
    /// received, and what is left is the wait of Timers D, I, J, K, L or M.
    #[must_use]
    pub fn is_lingering(self) -> bool {
        matches!(self, Self::Completed | Self::Confirmed | Self::Accepted)
    }
}

/// The RFC 3261 Appendix A timers (and RFC 6026's L and M), by letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Timer {
    /// INVITE request retransmission (client, Calling).
    A,
    /// INVITE transaction timeout (client, Calling).
    B,
    /// Wait for response retransmissions (client INVITE, Completed).
    D,
    /// Non-INVITE request retransmission (client).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmission (server, Completed).
    G,
    /// Wait for ACK receipt (server INVITE, Completed).
    H,
    /// Wait for ACK retransmissions (server INVITE, Confirmed).
    I,
    /// Wait for non-INVITE request retransmissions (server, Completed).
    J,
    /// Wait for response retransmissions (client non-INVITE, Completed).
    K,
    /// Wait for accepted INVITE request retransmissions (server, Accepted; RFC 6026).
    L,
    /// Wait for 2xx retransmissions and forked 2xx (client INVITE, Accepted; RFC 6026).
    M,
    /// The 200 ms after which an INVITE server transaction sends 100 (Trying) itself (§17.2.1).
    Trying,
}

/// Something for the transaction user to learn.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A request that matched no server transaction created one (RFC 3261 §17.2.3, RFC 6026
    /// §8.10): answer it with [`send_response`](crate::TransactionTable::send_response). A CANCEL
    /// is its own transaction; find what it cancels with
    /// [`find_invite_for_cancel`](crate::TransactionTable::find_invite_for_cancel). Check for a
    /// merged request (§8.2.2.2) with [`find_merged`](crate::TransactionTable::find_merged).
    Request {
        /// The new server transaction.
        id: TransactionId,
        /// The request.
        request: Message,
        /// Where it came from; responses go back there.
        source: Target,
    },
    /// A 1xx for a client transaction (§17.1.1.2, §17.1.2.2).
    Provisional {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Message,
    },
    /// The final response of a client transaction: at most one per transaction.
    Final {
        /// The client transaction.
        id: TransactionId,
        /// The response. For a non-2xx to an INVITE the transaction has already sent the ACK.
        response: Message,
    },
    /// A 2xx to an INVITE after the first (a retransmission or another fork's answer), passed up
    /// in the Accepted state (RFC 6026 §7.2): the TU acknowledges each one (§13.2.2.4).
    Additional2xx {
        /// The client INVITE transaction.
        id: TransactionId,
        /// The response.
        response: Message,
    },
    /// An ACK the TU must see: one for a 2xx, which is its own transaction in RFC 3261 and so
    /// usually matches none (`id` is `None`), or one matching an INVITE server transaction in the
    /// Accepted state (RFC 6026 §6, §8.7). ACKs for non-2xx finals are absorbed.
    Ack {
        /// The INVITE server transaction it matched, if any.
        id: Option<TransactionId>,
        /// The ACK.
        request: Message,
        /// Where it came from.
        source: Target,
    },
    /// A response that matched no client transaction (§17.1.3). A proxy must drop it (RFC 6026
    /// §7.3); a UAC core may use a stray 2xx to ACK and BYE a forgotten dialog.
    StrayResponse {
        /// The response.
        response: Message,
        /// Where it came from.
        source: Target,
    },
    /// Timer B, F or H fired: no answer (B, F) or no ACK (H). The transaction terminates next.
    TimedOut {
        /// The transaction.
        id: TransactionId,
        /// Which timer.
        timer: Timer,
    },
    /// The transport reported a failure for this transaction (§17.1.4, §17.2.4). A client
    /// transaction terminates next; an INVITE server transaction stays in its state (RFC 6026
    /// §8.8).
    TransportFailed {
        /// The transaction.
        id: TransactionId,
    },
    /// The transaction reached Terminated and was freed; its id finds nothing from now on.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// Bytes to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub target: Target,
    /// The serialised message: a retransmission is a reference-count clone of the first send.
    pub payload: Bytes,
    /// The transaction that sent it, to name in
    /// [`handle_transport_error`](crate::TransactionTable::handle_transport_error) if sending
    /// fails; `None` for [`send_stateless`](crate::TransactionTable::send_stateless).
    pub transaction: Option<TransactionId>,
}

/// The next thing to do, from [`poll_output`](crate::TransactionTable::poll_output).
// Events carry whole `Message`s (40 bytes: the shared buffer and the boxed index); boxing
// them would add an allocation per event to save a few words of copy per output.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Output {
    /// Send bytes.
    Transmit(Transmit),
    /// Tell the TU.
    Event(Event),
}

/// An event that carries a received message, handed straight back by
/// [`handle_message_direct`](crate::TransactionTable::handle_message_direct) or
/// [`handle_datagram_direct`](crate::TransactionTable::handle_datagram_direct) instead of
/// being queued (so the message is not moved through the output queue).
///
/// `after` keeps the order of [`poll_output`](crate::TransactionTable::poll_output): the event
/// comes after the first `after` outputs now queued (transmits and events of timers that were
/// due, transmits the matched transaction made) and before the rest (the `Terminated` of that
/// transaction, if it ended). A TU that takes `after` outputs first, then the event, then the
/// rest sees exactly what the queueing entry points would have shown it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Direct {
    /// How many queued outputs come before the event.
    pub after: usize,
    /// The event.
    pub event: Event,
}

impl Direct {
    /// The event, once `pump_one` has taken the `after` outputs queued before it (it takes
    /// one output and says whether there was one; the first `false` stops). What a TU's
    /// pump calls to see the outputs in [`poll_output`](crate::TransactionTable::poll_output)'s
    /// order; the outputs after the event are the TU's to drain as usual.
    #[inline(always)]
    pub fn after_queued(self, mut pump_one: impl FnMut() -> bool) -> Event {
        for _ in 0..self.after {
            if !pump_one() {
                break;
            }
        }
        self.event
    }
}

/// An output that carries no message, from
/// [`poll_light_output`](crate::TransactionTable::poll_light_output): a transmit or an event
/// that only names a transaction (the same as the [`Output`] of that name, without the
/// message-sized enum around it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightOutput {
    /// [`Output::Transmit`].
    Transmit(Transmit),
    /// [`Event::TimedOut`].
    TimedOut {
        /// The transaction.
        id: TransactionId,
        /// Which timer.
        timer: Timer,
    },
    /// [`Event::TransportFailed`].
    TransportFailed {
        /// The transaction.
        id: TransactionId,
    },
    /// [`Event::Terminated`].
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

impl From<LightOutput> for Output {
    #[inline]
    fn from(light: LightOutput) -> Output {
        match light {
            LightOutput::Transmit(transmit) => Output::Transmit(transmit),
            LightOutput::TimedOut { id, timer } => Output::Event(Event::TimedOut { id, timer }),
            LightOutput::TransportFailed { id } => Output::Event(Event::TransportFailed { id }),
            LightOutput::Terminated { id } => Output::Event(Event::Terminated { id }),
        }
    }
}

/// Counters for operators (protocol crates do not log).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Live client INVITE transactions.
    pub client_invite: usize,
    /// Live client non-INVITE transactions.
    pub client_non_invite: usize,
    /// Live server INVITE transactions.
    pub server_invite: usize,
    /// Live server non-INVITE transactions.
    pub server_non_invite: usize,
    /// Live transactions still doing work: client ones without a final response, server ones
    /// whose TU has not answered finally (Calling, Trying, Proceeding). The others only absorb
    /// retransmissions until a timer frees them ([`TransactionState::is_lingering`]).
    pub pending: usize,
    /// Transactions created so far.
    pub created: u64,
    /// Transactions terminated and freed so far.
    pub terminated: u64,
    /// Messages sent again: requests on Timers A and E, responses on Timer G or on a
    /// retransmitted request, ACKs on a retransmitted final.
    pub retransmissions: u64,
    /// Received retransmissions absorbed by a transaction without reaching the TU.
    pub absorbed: u64,
    /// Timers B, F and H that fired.
    pub timeouts: u64,
    /// Lingering transactions freed before their timer by
    /// [`evict_lingering`](crate::TransactionTable::evict_lingering).
    pub evicted: u64,
    /// Transport errors reported for live transactions.
    pub transport_errors: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
    /// ACKs that matched no transaction (usually ACKs for 2xx).
    pub stray_acks: u64,
    /// Datagrams that did not parse, and requests without the Via, CSeq or Call-ID that
    /// matching needs; they were dropped.
    pub malformed: u64,
}

impl Stats {
    /// Live transactions of every kind together.
    #[must_use]
    pub fn live(&self) -> usize {
        self.client_invite + self.client_non_invite + self.server_invite + self.server_non_invite
    }

    /// Live transactions of one kind.
    #[must_use]
    pub fn live_of(&self, kind: TransactionKind) -> usize {
        match kind {
            TransactionKind::ClientInvite => self.client_invite,
            TransactionKind::ClientNonInvite => self.client_non_invite,
            TransactionKind::ServerInvite => self.server_invite,
            TransactionKind::ServerNonInvite => self.server_non_invite,
        }
    }

    pub(crate) fn live_mut(&mut self, kind: TransactionKind) -> &mut usize {
        match kind {
            TransactionKind::ClientInvite => &mut self.client_invite,
            TransactionKind::ClientNonInvite => &mut self.client_non_invite,
            TransactionKind::ServerInvite => &mut self.server_invite,
            TransactionKind::ServerNonInvite => &mut self.server_non_invite,
        }
    }
}
