//! Typed headers (work in progress).

mod address;
mod lex;
mod name_addr;
mod params;

pub use address::{Contact, From, Path, RecordRoute, ReferTo, ReferredBy, ReplyTo, Route, ServiceRoute, To};
pub use lex::unquote;
pub use name_addr::NameAddr;
pub use params::{ParamIter, Params, Q};
