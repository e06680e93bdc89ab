//! Sans-IO SIP user agent core (RFC 3261 §8–§15).
//!
//! Placeholder doc, replaced below.
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

pub use agent::{UaOutput, UserAgent};
pub use config::{Body, UaConfig};
pub use core::{Invite, Register, RegistrationState, UaCore};
pub use event::{CallId, EndReason, RegistrationId, RequestId, UaError, UaEvent};
pub use sip_auth::{CredentialProvider, StaticCredentials};
