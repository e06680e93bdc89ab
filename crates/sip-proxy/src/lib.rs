//! Sans-IO stateful SIP proxy core (RFC 3261 §16): forking, record-routing, loop detection, CANCEL fan-out.
//!
//! Work in progress.
