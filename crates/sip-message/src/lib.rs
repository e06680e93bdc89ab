//! Zero-copy SIP (RFC 3261) messages.
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

mod builder;
mod chars;
mod decimal;
mod error;
mod forward;
mod framer;
mod headers;
mod limits;
mod message;
mod method;
mod name;
mod parse;
mod status;
mod typed;
mod uri;
mod validate;

pub use builder::{BuildError, BuilderSpare, HeaderBlock, MessageBuilder, RequestLines};
pub use chars::grammar;
pub use decimal::Decimal;
pub use error::{HeaderError, ParseError, ParseErrorKind, UriError};
pub use framer::{Frame, FrameError, Framer};
pub use headers::*;
pub use limits::Limits;
pub use message::{EditError, ForwardedRequest, HeaderLine, Message};
pub use method::Method;
pub use name::HeaderName;
pub use status::canonical_reason;
pub use typed::{HeaderVisitor, SplitList, TypedHeader, split_list, trim_lws, visit_typed};
pub use uri::*;
pub use validate::{Problem, Rejection};
