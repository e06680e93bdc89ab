//! Sans-IO SIP proxy core (RFC 3261 §16): a stateful proxy with forking, record-routing, loop
//! detection and CANCEL fan-out, and a stateless mode (§16.11).
//!
//! A [`Proxy`] turns each request it is given into a *response context* (§16.6): it validates
//! the request (§16.3), preprocesses its Route (§16.4), finds its targets (§16.5) in a
//! [`LocationService`], forwards one copy per target through client transactions (§16.6) and
//! relays the responses (§16.7). It runs on a
//! [`TransactionTable`](sip_transaction::TransactionTable) it does not own, so a
//! registrar, a proxy and a user agent can share one table; [`StandaloneProxy`] owns one for
//! users who only want a proxy.
//!
//! # What it does
//!
//! | step | behaviour |
//! | --- | --- |
//! | validation (§16.3) | [`Message::validate_for_forwarding`](sip_message::Message::validate_for_forwarding) (400, 416; only the headers a proxy uses are judged, the others are forwarded as they came); Max-Forwards 0 gets 483, or 200 for an OPTIONS addressed to the proxy; a loop gets 482; unknown Proxy-Require tags get 420 with Unsupported |
//! | routing (§16.4) | a Request-URI holding our Record-Route URI is restored from the last Route (strict router upstream); a `maddr` naming us is stripped; our Route values are popped |
//! | targets (§16.5) | a foreign domain, a `maddr` or an in-dialog request (To tag): the Request-URI; our domains: the [`LocationService`] (404 unknown, 480 no bindings); 3xx contacts when [recursion](ProxyConfig::recursion) is on |
//! | forwarding (§16.6) | highest q first, equal q in parallel, the next group when a group failed; Request-URI, Max-Forwards (70 if absent), Record-Route `<uri;lr>`, Path and [outbound proxy](ProxyConfig::outbound_proxy) Routes, strict-route reformatting, `received`/`rport` on the previous Via, our Via, Timer C |
//! | responses (§16.7) | provisionals but 100 relayed; every 2xx relayed at once (also after the first, [`Event::Additional2xx`](sip_transaction::Event::Additional2xx)); 6xx cancels and ends the fork; otherwise the best final when all branches ended: 6xx, then the lowest class, 401/407/415/420/484 preferred, 503 last and turned into 500, 408 for timeouts, challenges of all 401/407 merged |
//! | CANCEL (§16.10) | 200 at once and a CANCEL on every pending branch (held back until a provisional, §9.1); an unmatched CANCEL gets 481 |
//! | Timer C (§16.8) | 181 s by default, refreshed by 101-199; fires a CANCEL, or acts as 408 before any provisional |
//! | ACK for 2xx | forwarded statelessly along its Route ([`Proxy::handle_ack`]) |
//! | stateless (§16.11) | one target, a branch hashed from the request (the same for retransmissions and the CANCEL), responses relayed by Via |
//!
//! Responses the proxy generates itself carry a To tag (§8.2.6.2) derived from the request.
//! Next hops are IP literals ([`Target::from_uri`](sip_transaction::Target::from_uri)) or
//! names a [`Resolver`] knows (RFC 3263 without DNS, with failover to the next address on a
//! transport failure, a 503 or a timeout); an unresolvable next hop fails its branch as a
//! transport failure (§16.9: as if 503), so a lone one reaches the caller as 500.
//!
//! Deviations, each explained where it is implemented: the loop hash uses the bottom-most Via
//! instead of the topmost (which changes on every pass of a loop); an unmatched CANCEL is
//! answered 481 instead of being forwarded statelessly (RFC 6026 §7.3 would drop its response);
//! stray responses are dropped (RFC 6026 §7.3). Proxy-Authorization (§16.3 step 6) is the
//! application's to check before it calls [`Proxy::handle_request`].
//!
//! # Driving it
//!
//! With a shared table, the dispatcher drains the table and offers each event to the proxy
//! first; what comes back belongs to another transaction user:
//!
//! ```text
//! while let Some(output) = table.poll_output() {
//!     match output {
//!         Output::Transmit(t) => send(t),
//!         Output::Event(event) => match proxy.handle_event(now, &mut table, event) {
//!             None => {}                                  // the proxy's
//!             Some(Event::Request { id, request, source }) if should_proxy(&request) => {
//!                 proxy.handle_request(now, &mut table, id, request, source)
//!             }
//!             Some(other) => ua.handle_event(now, &mut table, other), // the next user
//!         },
//!     }
//! }
//! // then: proxy.poll_event() until None; sleep until min(table, proxy).poll_timeout();
//! // proxy.handle_timeout(now, &mut table) with table.handle_timeout(now).
//! ```
//!
//! [`StandaloneProxy`] is exactly that loop with every request proxied, behind the four verbs
//! `handle*`, `handle_timeout`, `poll_output` and `poll_timeout`.
//!
//! # Example
//!
//! Bob is registered at `192.0.2.20`; Alice's INVITE for `sip:bob@example.com` goes to him with
//! the proxy's Via and Record-Route, and his 200 comes back to Alice without that Via.
//!
//! ```
//! use std::time::Instant;
//!
//! use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
//! use sip_proxy::{Location, Output, ProxyConfig, StandaloneProxy, StaticLocations, StaticResolver};
//! use sip_transaction::{Target, TransactionConfig};
//!
//! let mut locations = StaticLocations::new();
//! locations.add("sip:bob@example.com", Location::new("sip:bob@192.0.2.20:5060"));
//! let config = ProxyConfig::new("sip:192.0.2.10:5060")?.domain("example.com");
//! let mut proxy =
//!     StandaloneProxy::new(config, TransactionConfig::default(), locations, StaticResolver::new());
//! let (alice, bob) = (Target::udp("192.0.2.1:5060".parse()?), Target::udp("192.0.2.20:5060".parse()?));
//! let now = Instant::now();
//!
//! let invite = MessageBuilder::request(&Method::Invite, "sip:bob@example.com")
//!     .header(H::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKalice1")
//!     .header(H::MaxForwards, "70")
//!     .header(H::To, "<sip:bob@example.com>")
//!     .header(H::From, "<sip:alice@example.com>;tag=a1")
//!     .header(H::CallId, "call-1")
//!     .header(H::CSeq, "1 INVITE")
//!     .header(H::Contact, "<sip:alice@192.0.2.1:5060>")
//!     .build()?;
//! proxy.handle_message(now, invite, alice);
//!
//! // A 100 (Trying) to Alice, the INVITE to Bob's contact.
//! let mut sent = Vec::new();
//! while let Some(output) = proxy.poll_output() {
//!     if let Output::Transmit(t) = output {
//!         sent.push((t.target, Message::parse(t.payload)?));
//!     }
//! }
//! assert_eq!((sent[0].0, sent[0].1.status()), (alice, Some(100)));
//! let (to, forwarded) = &sent[1];
//! assert_eq!(*to, bob);
//! assert_eq!(forwarded.request_uri_str(), Some("sip:bob@192.0.2.20:5060"));
//! assert_eq!(forwarded.max_forwards(), Some(69));
//! assert_eq!(forwarded.header_str(H::RecordRoute), Some("<sip:192.0.2.10:5060;lr>"));
//! assert!(forwarded.header_str(H::Via).unwrap().starts_with("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK"));
//!
//! // Bob answers; the 200 goes to Alice with her Via on top.
//! let ok = MessageBuilder::response_to(forwarded, 200, None)
//!     .to_tag("b1")
//!     .header(H::RecordRoute, "<sip:192.0.2.10:5060;lr>")
//!     .header(H::Contact, "<sip:bob@192.0.2.20:5060>")
//!     .build()?;
//! proxy.handle_message(now, ok, bob);
//! let Some(Output::Transmit(t)) = proxy.poll_output() else { panic!("the 200") };
//! let relayed = Message::parse(t.payload)?;
//! assert_eq!((t.target, relayed.status()), (alice, Some(200)));
//! assert_eq!(relayed.via_branch(), Some("z9hG4bKalice1"));
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

mod config;
mod context;
mod event;
mod location;
mod proxy;
mod routing;
mod standalone;

pub use config::{ConfigError, ProxyConfig};
pub use event::{ProxyEvent, ProxyStats};
pub use location::{
    Location, LocationService, Lookup, NoResolver, Resolver, StaticLocations, StaticResolver,
    canonical_aor,
};
pub use proxy::Proxy;
pub use standalone::{Output, StandaloneProxy};
