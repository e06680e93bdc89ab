//! Sans-IO SIP user agent core (RFC 3261 §8–§15): calls, CANCEL, re-INVITE, BYE, OPTIONS, registration.
//!
//! Work in progress.
