//! Sans-IO SIP transactions: the four state machines of RFC 3261 §17 as RFC 6026 amends them,
//! the matching rules of §17.1.3 and §17.2.3, and a table that owns them all.
//!
//! A [`TransactionTable`] creates, matches, drives and frees the transactions of one endpoint:
//!
//! - **client INVITE** (§17.1.1, Figure 5 with RFC 6026's Accepted state and Timer M): Timer A
//!   retransmits at T1, 2*T1, 4*T1, ... until a response or Timer B (64*T1); the ACK for a
//!   non-2xx final is built (§17.1.1.3) and sent by the transaction; a 2xx moves it to Accepted,
//!   where further 2xx go up to the TU (which sends their ACKs) until Timer M;
//! - **client non-INVITE** (§17.1.2, Figure 6): Timer E doubles up to T2 (and stays at T2 after
//!   a provisional) until a final or Timer F; Timer K absorbs retransmitted finals;
//! - **server INVITE** (§17.2.1, Figure 7 with RFC 6026's Accepted state and Timer L): a 100
//!   (Trying) if the TU is silent for 200 ms, Timer G retransmits a non-2xx final until the ACK
//!   or Timer H, Timer I absorbs ACK retransmissions; after a 2xx, the TU's 2xx retransmissions
//!   pass through and ACKs go up until Timer L;
//! - **server non-INVITE** (§17.2.2, Figure 8): the last response answers each retransmitted
//!   request until Timer J.
//!
//! T1, T2 and T4 are set in [`TransactionConfig`] (defaults 500 ms, 4 s, 5 s). On a reliable
//! [`Transport`] Timers A, E and G are not armed and D, I, J and K are zero, so the transaction
//! ends in the same call. Branches are `z9hG4bK` plus 16 characters from a generator seeded by
//! [`TransactionConfig::rng_seed`], so a simulation replays the same bytes.
//!
//! Transactions are named by [`TransactionId`], a small `Copy` handle (a slab index and a
//! generation): an id that outlives its transaction finds nothing. All timers live in one
//! ordered queue inside the table, so [`poll_timeout`](TransactionTable::poll_timeout) is a
//! peek (plus a look at the INVITE server transactions begun at the current instant, whose
//! 100 (Trying) timer is queued only if the TU is still silent once the clock moves).
//!
//! RFC 3261 §18.1.1: a request larger than [`TransactionConfig::udp_request_limit`] (1300 bytes
//! unless set) for a UDP address goes to the same address over TCP, its top Via changed to say
//! so, and its transaction runs a reliable transport's timers; [`TransactionTable::target`]
//! tells where a transaction sends.
//!
//! # Memory
//!
//! A live transaction costs about 340 bytes (client) to 550 bytes (server) besides its message
//! buffer (`tests/memory.rs` measures it; docs/PERFORMANCE.md has the figures). The table keeps
//! each request as its serialised bytes, a reference-count share of the buffer that was sent or
//! received, plus the keys matching needs; not the parsed [`Message`](sip_message::Message),
//! whose index and keys take several hundred bytes more. [`TransactionTable::request`] parses those
//! bytes again on first use and keeps the result while the transaction lives: the TU already
//! has every request in its event, so that call is for the odd look back.
//!
//! # The four verbs
//!
//! Nothing here does I/O or reads a clock; the caller passes `now` and moves bytes.
//!
//! | call | meaning |
//! | --- | --- |
//! | [`handle`](TransactionTable::handle) (or [`handle_message`](TransactionTable::handle_message), [`handle_datagram`](TransactionTable::handle_datagram), [`handle_transport_error`](TransactionTable::handle_transport_error)) | something arrived |
//! | [`handle_timeout`](TransactionTable::handle_timeout) | time passed: fire what is due |
//! | [`poll_output`](TransactionTable::poll_output) | next [`Output`]: a [`Transmit`] or an [`Event`] |
//! | [`poll_timeout`](TransactionTable::poll_timeout) | when to call `handle_timeout` next |
//!
//! The TU's commands are methods: [`send_request`](TransactionTable::send_request) starts a
//! client transaction, [`send_response`](TransactionTable::send_response) answers through a
//! server transaction, [`send_stateless`](TransactionTable::send_stateless) sends an ACK for a
//! 2xx, [`cancel_request`](TransactionTable::cancel_request) builds a CANCEL.
//!
//! **The drain contract.** After every input, command or timeout, and before waiting again,
//! call `poll_output` until it returns `None`, then read `poll_timeout` afresh. Every `handle*`
//! and command first fires the timers already due at its `now`, so steady traffic never starves
//! a timer. A `now` earlier than one already seen is treated as that one.
//!
//! What goes up to the TU: [`Event::Request`] for each new server transaction (a CANCEL too:
//! [`find_invite_for_cancel`](TransactionTable::find_invite_for_cancel) names the INVITE it
//! cancels, [`find_merged`](TransactionTable::find_merged) detects §8.2.2.2 merged requests),
//! [`Event::Provisional`], at most one [`Event::Final`] per client transaction,
//! [`Event::Additional2xx`], [`Event::Ack`] (ACKs for 2xx), [`Event::StrayResponse`],
//! [`Event::TimedOut`] (Timers B, F, H), [`Event::TransportFailed`] and, when a transaction is
//! freed, [`Event::Terminated`]. Received retransmissions are absorbed.
//!
//! # Example
//!
//! A complete non-INVITE client transaction over UDP, with a made-up clock: the request goes
//! out, the first copy is lost, Timer E resends it after T1, the 200 arrives, and Timer K ends
//! the transaction T4 later.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
//! use sip_transaction::{Event, Output, Target, TransactionConfig, TransactionTable};
//!
//! let server = Target::udp("192.0.2.7:5060".parse().unwrap());
//! let mut table = TransactionTable::new(TransactionConfig::default().rng_seed(1));
//! let t0 = Instant::now(); // the made-up clock starts anywhere; only differences matter
//!
//! let options = MessageBuilder::request(&Method::Options, "sip:bob@example.com")
//!     .header(H::Via, "SIP/2.0/UDP 192.0.2.1:5060") // the table adds the branch
//!     .header(H::MaxForwards, "70")
//!     .header(H::To, "<sip:bob@example.com>")
//!     .header(H::From, "<sip:alice@example.com>;tag=a1")
//!     .header(H::CallId, "call-1")
//!     .header(H::CSeq, "1 OPTIONS")
//!     .build()?;
//! let id = table.send_request(t0, options, server)?;
//!
//! // Drain: one transmit (which we pretend the network loses), and Timer E set to T1.
//! let Some(Output::Transmit(first)) = table.poll_output() else { panic!() };
//! assert!(table.poll_output().is_none());
//! assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_millis(500)));
//!
//! // Timer E fires: the same bytes again (a reference-count clone, not a new serialisation).
//! table.handle_timeout(t0 + Duration::from_millis(500));
//! let Some(Output::Transmit(again)) = table.poll_output() else { panic!() };
//! assert_eq!(again.payload, first.payload);
//!
//! // The server answers 200; it reaches the TU once.
//! let sent = Message::parse(again.payload)?;
//! let ok = MessageBuilder::response_to(&sent, 200, None).to_tag("b1").build()?;
//! table.handle_message(t0 + Duration::from_millis(600), ok, server);
//! let Some(Output::Event(Event::Final { id: final_id, response })) = table.poll_output() else {
//!     panic!()
//! };
//! assert_eq!((final_id, response.status()), (id, Some(200)));
//!
//! // Completed absorbs retransmitted finals until Timer K (T4 = 5 s) frees the transaction.
//! let k = t0 + Duration::from_millis(5600);
//! assert_eq!(table.poll_timeout(), Some(k));
//! table.handle_timeout(k);
//! assert!(matches!(table.poll_output(), Some(Output::Event(Event::Terminated { .. }))));
//! assert!(table.is_empty() && table.poll_timeout().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
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

mod client;
mod config;
mod error;
mod event;
mod keys;
mod machine;
mod server;
mod slab;
mod table;
mod target;
mod txnmap;

pub use config::TransactionConfig;
pub use error::{CancelError, ResponseError, SendError};
pub use event::{
    Direct, Event, LightOutput, Output, Stats, Timer, TransactionId, TransactionKind,
    TransactionState, Transmit,
};
pub use keys::{BRANCH_COOKIE, MergeKey, SLOT_NAME_LEN, read_slot_name, write_slot_name};
pub use table::{DrawnBranch, Input, TransactionTable};
pub use target::{FlowId, Target, Transport};
pub use txnmap::TxnMap;
