//! Zero-copy SIP (RFC 3261) messages.
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

mod chars;
mod error;
mod headers;
mod limits;
mod method;
mod name;
mod typed;
mod uri;

pub use error::{HeaderError, ParseError, ParseErrorKind, UriError};
pub use headers::*;
pub use limits::Limits;
pub use method::Method;
pub use name::HeaderName;
pub use typed::{SplitList, TypedHeader, split_list, trim_lws};
pub use uri::*;
