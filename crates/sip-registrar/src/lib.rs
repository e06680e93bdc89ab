//! Sans-IO SIP registrar (RFC 3261 §10.3), binding store, location service and redirect server (§8.3).
//!
//! Work in progress.
