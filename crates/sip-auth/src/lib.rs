//! Digest authentication for SIP: RFC 3261 §22 with the algorithms of RFC 7616 (SHA-256,
//! SHA-512/256, MD5 and their `-sess` variants) as RFC 8760 brings them to SIP, `qop=auth`,
//! `qop=auth-int` and the RFC 2069 form without qop.
//!
//! Two halves, both sans-IO: nothing here reads a clock, draws OS randomness or touches the
//! network. Time comes in as `now: Instant`; nonces and cnonces come from ChaCha8 generators
//! seeded by the configs, so a simulation replays the same bytes.
//!
//! - [`DigestServer`] (a registrar, UAS or proxy) issues challenges with stateless nonces and
//!   checks credentials against a [`CredentialStore`] that can hold hashes only ([`Ha1`],
//!   [`MemoryStore`]); every verdict is an [`Outcome`], never a panic or an `Err`.
//! - [`DigestClient`] (a UA, per dialog or per UA) answers challenges with credentials from a
//!   [`CredentialProvider`], caches them per realm for preemptive use with increasing nonce
//!   counts, and says when retrying is pointless ([`Decision`]).
//!
//! Parsing is [`sip_message`]'s ([`Challenge`](sip_message::Challenge),
//! [`Credentials`](sip_message::Credentials), [`AuthenticationInfo`](sip_message::AuthenticationInfo));
//! what this crate writes are header values with quoted-strings escaped as RFC 3261 §25.1 and
//! quoted or not as RFC 7616 §3.3–§3.5 demand.
//!
//! # Server
//!
//! For each request: [`DigestServer::verify`] (or [`verify_parts`](DigestServer::verify_parts))
//! gives an [`Outcome`]; its [`reply`](Outcome::reply) says whether to proceed, answer 400, or
//! challenge; [`DigestServer::challenge`] (or [`challenge_for`](DigestServer::challenge_for))
//! gives the 401/407 headers: one per offered algorithm, most preferred first (RFC 8760 §2.4),
//! sharing one nonce. After a success, [`DigestServer::authentication_info`] makes an
//! `Authentication-Info` value with `rspauth` (mutual authentication) and optionally a
//! `nextnonce`.
//!
//! Checks, in order: scheme `Digest` and this realm (other realms' credentials are left alone,
//! RFC 3261 §22.3); required parameters; `algorithm` and `qop` among those offered (no
//! downgrade to one not offered); `opaque`; the `uri` parameter against the Request-URI
//! ([`UriCheck`]); the user in the store; the response digest (constant-time); only then the
//! nonce's origin, age and count, so `stale=true` is only ever told to a client that knows the
//! password (RFC 2617 §3.2.1). ACK and CANCEL are [`Outcome::Exempt`] (RFC 3261 §22.1).
//!
//! ## Time and nonces
//!
//! A nonce is `hex(timestamp ‖ salt ‖ HMAC-SHA-256(key, timestamp ‖ salt ‖ realm)[..16])`: the
//! server keeps no table of issued nonces (RFC 7616 §3.3 suggests this construction). The
//! timestamp is milliseconds since the server was built (its `now` argument), plus
//! [`DigestServerConfig::nonce_epoch_ms`]: a simulation passes its virtual `Instant`s and all
//! is deterministic. A nonce older than [`nonce_lifetime`](DigestServerConfig::nonce_lifetime)
//! (default 300 s), or more than that in the future, is stale.
//!
//! With the default epoch 0, a restarted server with the same key reads old nonces against its
//! new start: they may look fresh for up to a lifetime, with an empty replay table. Either
//! change the key on restart, or set the epoch to the Unix time in milliseconds read once at
//! startup; the latter also lets servers sharing a key accept each other's nonces. A nonce
//! whose tag does not verify (another key, tampering) is [`Outcome::InvalidNonce`], or
//! [`Outcome::Stale`] if the response is right for it (a client of a previous key).
//!
//! ## Replays
//!
//! Each nonce that authenticated a request enters a table of nonce counts bounded by
//! [`replay_capacity`](DigestServerConfig::replay_capacity). A count must exceed the highest
//! seen with that nonce (or lie in an optional [`nc_window`](DigestServerConfig::nc_window)
//! and be unseen), so resending a request's credentials is [`Outcome::Replay`]. An RFC 2069
//! response (no qop, so no count) uses its nonce up. Expired nonces leave the table; when it is
//! full the oldest nonce leaves, and any later use of a nonce that old is answered
//! [`Outcome::Stale`]: memory stays bounded and no replay is let through, at the price of one
//! extra round trip for busy clients. Only authenticated requests enter, so a client without
//! the password cannot fill it.
//!
//! # Client
//!
//! [`DigestClient::on_challenge`] takes the request as sent and its 401/407 and returns a
//! [`Decision`]: [`Retry`](Decision::Retry) with the headers for the new request (same
//! Request-URI and body, new CSeq), or [`Fail`](Decision::Fail). Per realm it picks the
//! strongest supported algorithm ([`AlgorithmSelection`]), `qop=auth` if offered (else
//! `auth-int`, else none), hashes the username when the challenge says `userhash=true`, and
//! draws a fresh cnonce. [`DigestClient::authorize`] puts cached credentials on later requests
//! preemptively, each with the next nonce count for its nonce; [`DigestClient::on_success`]
//! takes a `nextnonce` and checks `rspauth`. [`answer_challenge`] is the deterministic core
//! for callers that keep their own state.
//!
//! Loop protection (RFC 3261 §22.1: "A UAC MUST NOT re-attempt requests with the credentials
//! that have just been rejected (though the request may be retried if the nonce was stale)"):
//!
//! | the request carried credentials for the realm | challenge | decision |
//! | --- | --- | --- |
//! | no | any | retry, asking the provider only if nothing is cached |
//! | yes | not stale | [`AuthFailure::Rejected`]; the cache entry is dropped |
//! | yes | `stale=true` | retry with the cached credentials, provider not asked |
//! | yes, with the nonce a `stale=true` challenge gave | `stale=true` | [`AuthFailure::StaleAgain`] |
//!
//! So a wrong password costs exactly one retry and a stale nonce exactly one more.
//!
//! # Choices where the RFCs leave room
//!
//! - `SHA-512-256` is SHA-512/256 of FIPS 180-4, as RFC 7616 §3.2 names it. The values printed
//!   in RFC 7616 §3.9.2 were computed with SHA-512 cut to 256 bits instead (a test pins this
//!   down); peers that copied that mistake will not interoperate on this algorithm.
//! - The `uri` parameter must name the Request-URI's resource by default ([`UriCheck`]); RFC
//!   3261 §22.4 item 6 allows a server to skip this, which [`UriCheck::Off`] does.
//! - `username*` (RFC 7616 §3.4) is refused as malformed; `userhash` covers names a
//!   quoted-string cannot carry. No `charset` is sent and no Unicode normalisation is applied:
//!   names and passwords are hashed as the UTF-8 bytes given.
//! - The server always sends `qop` (RFC 3261 §22.4 item 8) but accepts RFC 2069 answers
//!   without it unless told not to; the client answers a challenge without `qop` in that form.
//!
//! # Example
//!
//! A registrar challenges a REGISTER, the UA answers, the registrar verifies; the same
//! credentials replayed are refused.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use sip_auth::{
//!     AuthHeader, ClientConfig, Decision, DigestClient, DigestServer, DigestServerConfig,
//!     MemoryStore, Outcome, Reply, StaticCredentials,
//! };
//! use sip_message::Message;
//!
//! let register = |cseq: u32| {
//!     Message::parse(Bytes::from(format!(
//!         "REGISTER sip:example.com SIP/2.0\r\n\
//!          Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK{cseq}\r\n\
//!          From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
//!          Call-ID: reg1\r\nCSeq: {cseq} REGISTER\r\nContent-Length: 0\r\n\r\n"
//!     )))
//! };
//! let start = Instant::now(); // the only clock read; everything else is offsets
//!
//! // Registrar: a store of H(A1) values and a server for realm example.com.
//! let mut store = MemoryStore::new();
//! store.add_password("alice", "example.com", "correct horse");
//! let config = DigestServerConfig::new("example.com", *b"32 bytes of secret nonce key....")
//!     .rng_seed(1);
//! let mut server = DigestServer::new(config, start)?;
//!
//! // UA: a client and a keyring.
//! let mut client = DigestClient::new(ClientConfig::default().rng_seed(2));
//! let mut keyring = StaticCredentials::new().realm("example.com", "alice", "correct horse");
//!
//! // 1. REGISTER without credentials: challenge.
//! let first = register(1)?;
//! let outcome = server.verify(start, &first, &store);
//! assert_eq!(outcome, Outcome::NoCredentials);
//! assert_eq!(outcome.reply(), Reply::Challenge { stale: false });
//! let challenge = server.challenge(start, false);
//! assert_eq!(challenge.status(), 401);
//! assert!(challenge.values()[0].starts_with("Digest realm=\"example.com\", nonce=\""));
//! let mut unauthorized = Message::parse(Bytes::from_static(
//!     b"SIP/2.0 401 Unauthorized\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
//! ))?;
//! challenge.apply_to(&mut unauthorized)?;
//!
//! // 2. The UA answers with the strongest algorithm offered (SHA-256 over MD5).
//! let Decision::Retry(headers) = client.on_challenge(&mut keyring, &first, &unauthorized) else {
//!     panic!("expected a retry");
//! };
//! let mut second = register(2)?;
//! AuthHeader::apply_all(&headers, &mut second)?;
//! assert!(headers[0].value().contains("algorithm=SHA-256"));
//!
//! // 3. The registrar verifies.
//! let now = start + Duration::from_millis(80);
//! let outcome = server.verify(now, &second, &store);
//! let user = outcome.authenticated().expect("authenticated");
//! assert_eq!(user.username(), "alice");
//! let info = server.authentication_info(now, user, b"", false);
//! assert!(info.is_some_and(|i| i.contains("rspauth=")));
//!
//! // The same credentials again are a replay; the UA's next request, authorized
//! // preemptively with nonce count 2, is fine.
//! assert_eq!(server.verify(now, &second, &store), Outcome::Replay);
//! let mut third = register(3)?;
//! let request = sip_auth::DigestRequest::from_message(&third).unwrap();
//! let headers = client.authorize(&request);
//! assert!(headers[0].value().contains("nc=00000002"));
//! AuthHeader::apply_all(&headers, &mut third)?;
//! assert!(server.verify(now, &third, &store).is_authenticated());
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

mod algorithm;
mod client;
mod digest;
mod nonce;
mod server;
mod store;

pub use algorithm::{Algorithm, HashAlgorithm, Qop, UnknownToken};
pub use client::{
    AlgorithmSelection, AuthFailure, AuthHeader, ClientConfig, ClientError, CredentialProvider,
    Decision, DigestClient, MutualAuth, StaticCredentials, UserCredentials, answer_challenge,
};
pub use digest::{AuthRole, DigestRequest, Ha1, Ha1Error};
pub use server::{
    Authenticated, ChallengeHeaders, ConfigError, DigestServer, DigestServerConfig, Malformation,
    Outcome, Reply, ServerStats, UriCheck,
};
pub use store::{CredentialStore, MemoryStore};
