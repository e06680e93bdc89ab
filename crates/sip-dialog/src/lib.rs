//! Sans-IO SIP dialogs (RFC 3261 §12).
//!
//! A [`Dialog`] is the state two user agents share after an INVITE (or SUBSCRIBE) is answered
//! with a 2xx, or a provisional response with a To tag: its [`DialogId`] (Call-ID, local tag,
//! remote tag), the local and remote sequence numbers, the local and remote URIs, the remote
//! target (the peer's Contact) and the route set (the Record-Route of the establishing
//! exchange). It is a plain value: nothing here sends a message, reads a clock or holds a
//! transaction. The user agent core (`sip-ua`) owns dialogs and drives them:
//!
//! | RFC 3261 | here |
//! | --- | --- |
//! | §12.1.1 UAS creates the dialog | [`Dialog::uas`] |
//! | §12.1.2 UAC creates the dialog (route set reversed) | [`Dialog::uac`], [`DialogSet::on_response`] for forks |
//! | §12.2.1.1 requests inside a dialog: Request-URI, Route (loose and strict routing), CSeq, tags | [`Dialog::request`], [`Dialog::request_target`] |
//! | §12.2.1.2 responses: target refresh, early → confirmed (§13.2.2.4 recomputes the route set) | [`Dialog::on_response`] |
//! | §12.2.2 requests received: CSeq order (500), target refresh | [`Dialog::receive_request`] |
//! | §12.3 termination | [`Dialog::terminate`] |
//!
//! Several early dialogs from one forked INVITE live in a [`DialogSet`].
//!
//! # Example
//!
//! Alice's INVITE goes through a record-routing proxy; Bob answers 200. Both sides build the
//! dialog, and Alice's BYE carries the route set and the next CSeq.
//!
//! ```
//! use bytes::Bytes;
//! use sip_dialog::{Dialog, DialogState};
//! use sip_message::{HeaderName as H, Message, MessageBuilder, Method};
//!
//! let invite = MessageBuilder::request(&Method::Invite, "sip:bob@biloxi.example.com")
//!     .header(H::Via, "SIP/2.0/UDP ss1.example.com;branch=z9hG4bK2d4790.1")
//!     .header(H::Via, "SIP/2.0/UDP client.atlanta.example.com;branch=z9hG4bK74bf9")
//!     .header(H::RecordRoute, "<sip:ss1.example.com;lr>")
//!     .header(H::From, "Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl")
//!     .header(H::To, "Bob <sip:bob@biloxi.example.com>")
//!     .header(H::CallId, "3848276298220188511@atlanta.example.com")
//!     .header(H::CSeq, "1 INVITE")
//!     .header(H::Contact, "<sip:alice@client.atlanta.example.com>")
//!     .build()?;
//!
//! // Bob, the UAS: the dialog from the request and the tag he puts in his 200.
//! let mut bob = Dialog::uas(&invite, "8321234356", 200)?;
//! assert_eq!(bob.remote_target(), "sip:alice@client.atlanta.example.com");
//!
//! // Alice, the UAC: the dialog from the 200 she receives (which copies the Record-Route).
//! let ok = MessageBuilder::response_to(&invite, 200, None)
//!     .to_tag("8321234356")
//!     .header(H::RecordRoute, "<sip:ss1.example.com;lr>")
//!     .header(H::Contact, "<sip:bob@client.biloxi.example.com>")
//!     .build()?;
//! let mut alice = Dialog::uac(&invite, &ok)?;
//! assert_eq!(alice.state(), DialogState::Confirmed);
//! assert_eq!(alice.id().remote_tag(), "8321234356");
//!
//! // Alice hangs up: the BYE goes to Bob's Contact through the proxy (loose routing).
//! let (builder, target) = alice.request(&Method::Bye, "SIP/2.0/UDP client.atlanta.example.com", None);
//! let bye = builder.build()?;
//! assert_eq!(bye.request_uri_str(), Some("sip:bob@client.biloxi.example.com"));
//! assert_eq!(bye.header_str(H::Route), Some("<sip:ss1.example.com;lr>"));
//! assert_eq!(target.next_hop(), "sip:ss1.example.com;lr");
//! assert_eq!(bye.cseq_number(), Some(2));
//!
//! // Bob checks it: in order, so accepted.
//! bob.receive_request(&bye)?;
//! assert_eq!(bob.remote_seq(), Some(2));
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

mod dialog;
mod error;
mod set;

pub use dialog::{
    Dialog, DialogId, DialogState, Known, RequestTarget, Role, contact_target, cseq_value,
    is_target_refresh,
};
pub use error::DialogError;
pub use set::{DialogChange, DialogSet};
