//! Sans-IO SIP registrar (RFC 3261 §10.3), binding store, location service and redirect server
//! (§8.3).
//!
//! This crate is transaction-user logic. The layer above receives a REGISTER through a server
//! transaction (and authenticates it, §10.3 step 3, for example with `sip-auth`), hands it to
//! [`Registrar::handle_register`], and sends the returned response through the same
//! transaction. Nothing here does I/O, reads a clock or draws OS randomness: `now: Instant`
//! (and, for the `Date` header, the wall-clock `SystemTime`) is always passed in, and To tags
//! come from ChaCha8 seeded by the configuration.
//!
//! # Pieces
//!
//! - [`Registrar`]: §10.3 steps 1–8 in order, with [`RegistrarConfig`] (domains served, minimum
//!   / default / maximum interval, bindings per AOR, Path, option tags, RNG seed), an
//!   [`Authorizer`] hook for step 4 (default [`AllowAll`]; [`SameUser`] lets `bob` manage only
//!   `sip:bob@...`) and a [`RegisterContext`] per request (authenticated user, source, To tag).
//! - [`Aor`]: the canonical address-of-record of step 5, the key of everything.
//! - [`BindingStore`]: an atomic read-modify-write of one AOR's [`Binding`]s, reads, expiry
//!   and iteration: small enough for a database shared by several registrars to implement.
//!   [`MemoryStore`] is the in-memory one, with an ordered expiry index.
//! - [`LocationService`]: lookups for a proxy (§16.5) or a [`RedirectServer`] (§8.3): live
//!   [`Location`]s, highest `q` first.
//! - [`Snapshot`]: bindings as plain data with wall-clock expiry, and a text form, for `sip
//!   serve --state FILE`.
//! - [`format_date`]: the RFC 1123 date of the `Date` header.
//!
//! # The verbs
//!
//! | call | meaning |
//! | --- | --- |
//! | [`handle_register`](Registrar::handle_register) | a REGISTER arrived: returns the response |
//! | [`handle_timeout`](Registrar::handle_timeout) | time passed: remove expired bindings |
//! | [`poll_event`](Registrar::poll_event) | next [`RegistrarEvent`]: added, refreshed, removed, expired |
//! | [`poll_timeout`](Registrar::poll_timeout) | when the next binding expires |
//!
//! After each call, drain `poll_event` until `None`, then read `poll_timeout` afresh. Lookups
//! never return an expired binding, even before `handle_timeout` has run.
//!
//! # Choices the RFC leaves open
//!
//! - Defaults: minimum 60 s (the `Min-Expires` example of §20.23), default 3600 s (the
//!   interval of the RFC 3665 flows), maximum 86400 s; at most 32 bindings per AOR, beyond
//!   which a REGISTER that adds one gets 403 "Too Many Bindings".
//! - A binding with the same Call-ID and a CSeq not above the stored one fails the whole
//!   request with 500 (§10.3 steps 6–7: "the update MUST be aborted and the request fails",
//!   and a failed update is a 500). Nothing changes.
//! - An `expires` that is not a number counts as 3600 and one above 2^32-1 as 2^32-1 (§10.2.1);
//!   a malformed `q` is dropped. The 423 rule is the RFC's exactly: only for
//!   `0 < interval < min` and `interval < 3600`.
//! - The AOR keeps its scheme and port; a password is dropped (see [`Aor`]).
//! - A Request-URI with a user part (which §10.2 forbids clients to send) is accepted.
//! - A missing `q` sorts as 1.0 in lookups.
//!
//! # Example
//!
//! Register a contact, look it up, let it expire on a made-up clock.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//!
//! use bytes::Bytes;
//! use sip_message::{Contact, Message};
//! use sip_registrar::{
//!     Aor, Domains, LocationService, MemoryStore, RegisterContext, Registrar, RegistrarConfig,
//!     RegistrarEvent,
//! };
//!
//! let config = RegistrarConfig::default().domains(Domains::only(["biloxi.example.com"]));
//! let mut registrar = Registrar::new(config, MemoryStore::new());
//! let start = Instant::now(); // any instant: the registrar never reads the clock itself
//! let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_289_690_940);
//!
//! let register = Message::parse(Bytes::from_static(
//!     b"REGISTER sip:biloxi.example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n\
//!       Max-Forwards: 70\r\n\
//!       To: Bob <sip:bob@biloxi.example.com>\r\n\
//!       From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n\
//!       Call-ID: 843817637684230@998sdasdh09\r\n\
//!       CSeq: 1826 REGISTER\r\n\
//!       Contact: <sip:bob@192.0.2.4>\r\n\
//!       Expires: 7200\r\n\
//!       Content-Length: 0\r\n\r\n",
//! ))?;
//! let ctx = RegisterContext::new().authenticated_user("bob");
//! let ok = registrar.handle_register(start, wall, &register, &ctx)?;
//! assert_eq!(ok.status(), Some(200));
//! assert!(ok.to_tag().is_some());
//! let contact = ok.typed::<Contact>().unwrap()?;
//! assert_eq!(contact.expires(), Some(7200));
//! assert_eq!(ok.header_str(sip_message::HeaderName::Date), Some("Sat, 13 Nov 2010 23:29:00 GMT"));
//! assert!(matches!(registrar.poll_event(), Some(RegistrarEvent::BindingAdded { .. })));
//!
//! // A proxy or redirect server asks where Bob is.
//! let bob = Aor::parse("sip:bob@biloxi.example.com")?;
//! let found = registrar.lookup(&bob, start + Duration::from_secs(60))?;
//! assert_eq!(found[0].uri, "sip:bob@192.0.2.4");
//!
//! // Two hours later the binding expires: the timer says when, handle_timeout removes it.
//! let expiry = registrar.poll_timeout().unwrap();
//! assert_eq!(expiry, start + Duration::from_secs(7200));
//! assert!(registrar.lookup(&bob, expiry)?.is_empty()); // gone at expiry, even before the timer
//! registrar.handle_timeout(expiry);
//! assert!(matches!(registrar.poll_event(), Some(RegistrarEvent::BindingExpired { .. })));
//! assert_eq!(registrar.poll_timeout(), None);
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

mod aor;
mod binding;
mod date;
mod location;
mod redirect;
mod registrar;
mod snapshot;
mod store;
mod tag;

pub use aor::{Aor, AorError, Domains};
pub use binding::{Binding, Location};
pub use date::format_date;
pub use location::{LocationService, live_in_order};
pub use redirect::{RedirectConfig, RedirectError, RedirectServer, RedirectStats};
pub use registrar::{
    AllowAll, Authorizer, RegisterContext, RegisterError, Registrar, RegistrarConfig,
    RegistrarEvent, RegistrarStats, SameUser,
};
pub use snapshot::{RestoreReport, SavedBinding, Snapshot, SnapshotError};
pub use store::{BindingStore, MemoryStore, StoreError};
