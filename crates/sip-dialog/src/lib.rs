//! Sans-IO SIP dialogs (RFC 3261 §12): dialog ids, route sets, CSeq, target refresh, forking.
//!
//! Work in progress.
