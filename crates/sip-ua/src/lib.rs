//! Sans-IO SIP user agent core (RFC 3261 §8–§15): calls in both directions with CANCEL,
//! re-INVITE, BYE and forks; OPTIONS; redirects; digest authentication; registration.
//!
//! Nothing here does I/O, reads a clock or spawns anything: messages and commands go in with
//! `now`, transmits and events come out. Two levels:
//!
//! - [`UaCore`] is the transaction user of RFC 3261 §8 on a *borrowed*
//!   [`TransactionTable`](sip_transaction::TransactionTable): feed it the table's events with
//!   [`UaCore::handle_event`] (it hands back the ones that are not its own), so one table can
//!   serve a user agent, a registrar and a proxy at once.
//! - [`UserAgent`] owns a core and a table and has the four verbs:
//!   [`handle`](UserAgent::handle), [`handle_timeout`](UserAgent::handle_timeout),
//!   [`poll_output`](UserAgent::poll_output), [`poll_timeout`](UserAgent::poll_timeout). After
//!   any input or command, drain `poll_output` until `None`, then read `poll_timeout`.
//!
//! | RFC 3261 | behaviour |
//! | --- | --- |
//! | §8.1 | requests with To, From and tag, Call-ID, CSeq, Max-Forwards 70, Via, Contact, Allow, Supported; 408 and 503 synthesised from transaction failures; 3xx recursion ordered by q with loop and count limits; 401/407 answered once ([`UaCore::set_credentials`]); 420 retried without the unsupported extensions; 423 retried with Min-Expires |
//! | §8.2 | 400 with a reason for invalid requests, 405 with Allow, 416, 482 for merged requests, 420 with Unsupported, 415 with Accept, a To tag on every response but 100, 100 Trying for INVITE |
//! | §9 | CANCEL sent only after a provisional; 200 to the CANCEL and 487 to the INVITE; a CANCEL crossing a 200 ends in ACK then BYE |
//! | §10.2 | registration with refresh at the granted expiry, 423, unregister ([`UaCore::register`]) |
//! | §11 | OPTIONS answered with Allow, Accept and Supported |
//! | §12 | dialogs via [`sip_dialog`]: route sets, CSeq order (500), 481 for unknown dialogs |
//! | §13 | ACK for 2xx built by the core and re-sent for each retransmission; forked 2xx ACKed and closed with BYE; 2xx retransmitted T1…T2 until the ACK, BYE at 64*T1 without one |
//! | §14 | re-INVITE; glare answered 491 and retried after the random delay of §14.1 |
//! | §15 | BYE both ways, also in an early dialog (callee answers the INVITE 487) |
//!
//! Session bodies are opaque [`Body`] values: the offer in the INVITE (the UA ACKs the 2xx
//! itself) or, with no offer in the INVITE, the offer in the 2xx and the answer in the ACK the
//! application sends with [`UaCore::ack`].
//!
//! # Example
//!
//! Alice calls Bob, Bob answers, Alice hangs up; the two user agents talk through a vector
//! standing in for the network, with a made-up clock.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use sip_transaction::{Target, TransactionConfig};
//! use sip_ua::{Body, Invite, UaConfig, UaEvent, UaOutput, UserAgent};
//!
//! let alice_addr = "192.0.2.1:5060".parse().unwrap();
//! let bob_addr = "192.0.2.2:5060".parse().unwrap();
//! let mut alice = UserAgent::new(UaConfig::new("alice", "192.0.2.1:5060"), TransactionConfig::default());
//! let mut bob = UserAgent::new(UaConfig::new("bob", "192.0.2.2:5060"), TransactionConfig::default());
//! let mut now = Instant::now();
//!
//! // Moves each side's transmits to the other until both are quiet; returns the events.
//! let exchange = |alice: &mut UserAgent, bob: &mut UserAgent, now: Instant| {
//!     let mut events = Vec::new();
//!     loop {
//!         let mut moved = false;
//!         for alice_sends in [true, false] {
//!             let (from, to, from_addr) =
//!                 if alice_sends { (&mut *alice, &mut *bob, alice_addr) } else { (&mut *bob, &mut *alice, bob_addr) };
//!             while let Some(out) = from.poll_output() {
//!                 match out {
//!                     UaOutput::Transmit(t) => {
//!                         to.handle_datagram(now, t.payload, Target::udp(from_addr));
//!                         moved = true;
//!                     }
//!                     UaOutput::Event(e) => events.push(e),
//!                 }
//!             }
//!         }
//!         if !moved {
//!             return events;
//!         }
//!     }
//! };
//!
//! let call = alice.invite(now, Invite::to("sip:bob@192.0.2.2:5060").body(Body::sdp("v=0\r\n")))?;
//! let events = exchange(&mut alice, &mut bob, now);
//! let Some(UaEvent::IncomingCall { call: incoming, request }) = events.first() else { panic!() };
//! assert_eq!(request.body(), b"v=0\r\n");
//!
//! bob.answer(now, *incoming, Some(Body::sdp("v=0\r\n")))?;
//! let events = exchange(&mut alice, &mut bob, now);
//! assert!(events.iter().any(|e| matches!(e, UaEvent::Answered { .. }))); // Alice sent the ACK
//! assert!(events.iter().any(|e| matches!(e, UaEvent::Confirmed { .. }))); // Bob got it
//!
//! now += Duration::from_secs(60);
//! alice.bye(now, call)?;
//! let events = exchange(&mut alice, &mut bob, now);
//! assert_eq!(events.iter().filter(|e| matches!(e, UaEvent::Ended { .. })).count(), 2);
//!
//! // Transactions linger for their absorb timers (Timer K, J...), then all is gone.
//! while let Some(at) = alice.poll_timeout().into_iter().chain(bob.poll_timeout()).min() {
//!     alice.handle_timeout(at);
//!     bob.handle_timeout(at);
//!     exchange(&mut alice, &mut bob, at);
//! }
//! assert!(alice.is_idle() && bob.is_idle());
//! # Ok::<(), sip_ua::UaError>(())
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

mod agent;
mod config;
mod core;
mod event;
mod slots;
mod timers;

pub use agent::{UaOutput, UserAgent};
pub use config::{Body, UaConfig};
pub use core::{Invite, Register, RegistrationState, UaCore};
pub use event::{CallId, EndReason, RegistrationId, RequestId, UaError, UaEvent};
pub use sip_auth::{CredentialProvider, StaticCredentials};
