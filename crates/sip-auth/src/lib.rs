//! Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760): server challenges with stateless nonces and client credentials.
//!
//! Work in progress.
