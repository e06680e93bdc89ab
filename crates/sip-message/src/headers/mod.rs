//! Typed headers (work in progress).

mod address;
mod auth;
mod date;
mod events;
mod lex;
mod media;
mod name_addr;
mod numeric;
mod params;
mod text;
mod tokens;
mod via;

pub use address::{
    Contact, From, Path, RecordRoute, ReferTo, ReferredBy, ReplyTo, Route, ServiceRoute, To,
};
pub use auth::{
    AuthenticationInfo, Authorization, Challenge, Credentials, ProxyAuthenticate,
    ProxyAuthorization, WwwAuthenticate,
};
pub use date::Date;
pub use events::{Event, Replaces, SubscriptionState, Substate};
pub use lex::unquote;
pub use media::{Accept, ContentDisposition, ContentType};
pub use name_addr::NameAddr;
pub use numeric::{
    CSeq, ContentLength, Expires, MaxForwards, MimeVersion, MinExpires, MinSe, RAck, RSeq,
    Refresher, RetryAfter, SessionExpires, Timestamp,
};
pub use params::{ParamIter, Params, Q};
pub use text::{Organization, Server, ServerVal, ServerVals, Subject, UserAgent, Warning};
pub use tokens::{
    Allow, AllowEvents, CallId, ContentEncoding, Priority, ProxyRequire, Require, Supported,
    Unsupported,
};
pub use via::Via;
