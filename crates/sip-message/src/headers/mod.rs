//! Typed header views: each header value parsed on demand into a type that borrows the
//! message (`&'a str` slices, nothing allocated while parsing) and checks the value against
//! its ABNF (RFC 3261 §25.1 and the extension RFCs).
//!
//! Every type implements [`TypedHeader`](crate::TypedHeader), so
//! [`Message::typed`](crate::Message::typed) and
//! [`Message::typed_all`](crate::Message::typed_all) can return it. A list header (one whose
//! [`HeaderName::is_list`](crate::HeaderName::is_list) is true) is parsed one element at a
//! time: `msg.typed_all::<Via>()` yields one [`Via`] per hop, `msg.typed_all::<Supported>()`
//! one option tag per element. Linear whitespace, folded lines included, is accepted wherever
//! the grammar has `LWS`/`SWS` (`SEMI`, `EQUAL`, `SLASH`, `COLON`, `LAQUOT`, ...), as RFC 4475
//! §3.1.1.1 requires.
//!
//! | Header | Type | Grammar |
//! | --- | --- | --- |
//! | Via | [`Via`] | RFC 3261 §20.42, RFC 3581 (`rport`), RFC 5118 |
//! | From, To | [`From`], [`To`] | RFC 3261 §20.20, §20.39 |
//! | Contact | [`Contact`] | RFC 3261 §20.10 |
//! | Route, Record-Route | [`Route`], [`RecordRoute`] | RFC 3261 §20.34, §20.30 |
//! | Path, Service-Route | [`Path`], [`ServiceRoute`] | RFC 3327, RFC 3608 |
//! | Reply-To | [`ReplyTo`] | RFC 3261 §20.31 |
//! | Refer-To, Referred-By | [`ReferTo`], [`ReferredBy`] | RFC 3515, RFC 3892 |
//! | Call-ID | [`CallId`] | RFC 3261 §20.8 |
//! | CSeq | [`CSeq`] | RFC 3261 §20.16 |
//! | Max-Forwards | [`MaxForwards`] | RFC 3261 §20.22 |
//! | Content-Length | [`ContentLength`] | RFC 3261 §20.14 |
//! | Expires, Min-Expires | [`Expires`], [`MinExpires`] | RFC 3261 §20.19, §20.23 |
//! | Retry-After | [`RetryAfter`] | RFC 3261 §20.33 |
//! | Timestamp | [`Timestamp`] | RFC 3261 §20.38 |
//! | Date | [`Date`] | RFC 3261 §20.17 |
//! | MIME-Version | [`MimeVersion`] | RFC 3261 §20.24 |
//! | Allow | [`Allow`] | RFC 3261 §20.5 |
//! | Supported, Require | [`Supported`], [`Require`] | RFC 3261 §20.37, §20.32 |
//! | Proxy-Require, Unsupported | [`ProxyRequire`], [`Unsupported`] | RFC 3261 §20.29, §20.40 |
//! | Content-Encoding | [`ContentEncoding`] | RFC 3261 §20.12 |
//! | Accept | [`Accept`] | RFC 3261 §20.1 |
//! | Content-Type | [`ContentType`] | RFC 3261 §20.15 |
//! | Content-Disposition | [`ContentDisposition`] | RFC 3261 §20.11 |
//! | WWW-Authenticate | [`WwwAuthenticate`] ([`Challenge`]) | RFC 3261 §20.44, RFC 7616 |
//! | Proxy-Authenticate | [`ProxyAuthenticate`] ([`Challenge`]) | RFC 3261 §20.27, RFC 7616 |
//! | Authorization | [`Authorization`] ([`Credentials`]) | RFC 3261 §20.7, RFC 7616 |
//! | Proxy-Authorization | [`ProxyAuthorization`] ([`Credentials`]) | RFC 3261 §20.28 |
//! | Authentication-Info | [`AuthenticationInfo`] | RFC 3261 §20.6, RFC 7616 §3.5 |
//! | Event, Allow-Events | [`Event`], [`AllowEvents`] | RFC 6665 §8.2 |
//! | Subscription-State | [`SubscriptionState`] | RFC 6665 §8.2.3 |
//! | Replaces | [`Replaces`] | RFC 3891 §6.1 |
//! | RSeq, RAck | [`RSeq`], [`RAck`] | RFC 3262 §7 |
//! | Session-Expires, Min-SE | [`SessionExpires`], [`MinSe`] | RFC 4028 §4, §5 |
//! | User-Agent, Server | [`UserAgent`], [`Server`] | RFC 3261 §20.41, §20.35 |
//! | Warning | [`Warning`] | RFC 3261 §20.43 |
//! | Priority | [`Priority`] | RFC 3261 §20.26 |
//! | Subject, Organization | [`Subject`], [`Organization`] | RFC 3261 §20.36, §20.25 |
//!
//! Shared pieces: [`NameAddr`] (`name-addr / addr-spec`), [`Params`] (`*( SEMI
//! generic-param )`, also the auth-param lists), [`Q`] (`qvalue`) and [`unquote`].
//!
//! Numbers are bounded as RFC 3261 bounds them (CSeq below 2^31, Max-Forwards at most 255,
//! delta-seconds at most 2^32-1) and a larger value is an error, as RFC 4475 §3.1.2.4 expects.
//! Parameters a header defines (`tag`, `branch`, `received`, `q`, `expires`, ...) are checked
//! when the value is parsed, so their accessors cannot fail.
//!
//! ```
//! use sip_message::{Contact, From, TypedHeader, Via};
//!
//! let via = Via::parse("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport")?;
//! assert_eq!(via.branch(), Some("z9hG4bK776asdhds"));
//! assert!(via.has_rport());
//!
//! let from = From::parse("\"Alice\" <sip:alice@atlanta.com>;tag=1928301774")?;
//! assert_eq!(from.display_name().as_deref(), Some("Alice"));
//! assert_eq!(from.tag(), Some("1928301774"));
//!
//! let contact = Contact::parse("<sip:alice@pc33.atlanta.com>;expires=3600;q=0.7")?;
//! assert_eq!(contact.expires(), Some(3600));
//! # Ok::<(), sip_message::HeaderError>(())
//! ```

// Textually first: the modules below use its macro.
#[macro_use]
mod macros;

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
    Contact, From, HistoryInfo, Path, RecordRoute, ReferTo, ReferredBy, ReplyTo, Route,
    ServiceRoute, To,
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

pub(crate) use address::{address_is_valid, plain_address_accepts};
pub(crate) use media::{content_type_is_valid, plain_media_type};
pub(crate) use numeric::{number_is_valid, plain_number};
pub(crate) use tokens::{call_id_is_valid, plain_call_id};
pub(crate) use via::{plain_via_bytes, via_is_valid};

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::TypedHeader;

    /// Consumes whatever an accessor returned, so that the call is not optimized away.
    fn used<T>(value: T) {
        std::hint::black_box(value);
    }

    /// Parses `value` as `H` and, if it parses, walks everything the view can iterate.
    fn exercise<'a, H: TypedHeader<'a>>(value: &'a str, walk: impl Fn(&H)) {
        if let Ok(h) = H::parse(value) {
            walk(&h);
        }
    }

    /// Every parser on one input: none may panic, and the iterators of a parsed value must
    /// run to completion (they re-lex text the parser accepted).
    fn parse_everything(v: &str) {
        exercise::<Via>(v, |h| used((h.params().iter().count(), h.maddr())));
        exercise::<From>(v, |h| used((h.display_name(), h.params().iter().count())));
        exercise::<To>(v, |h| used(h.tag()));
        exercise::<Contact>(v, |h| used((h.q(), h.expires(), h.display_name())));
        exercise::<Route>(v, |h| used(h.params().iter().count()));
        exercise::<ReferredBy>(v, |h| used(h.cid()));
        exercise::<CallId>(v, |_| ());
        exercise::<CSeq>(v, |h| used(h.method()));
        exercise::<RAck>(v, |h| used(h.cseq().method()));
        exercise::<MaxForwards>(v, |_| ());
        exercise::<Expires>(v, |_| ());
        exercise::<RetryAfter>(v, |h| used(h.duration()));
        exercise::<Timestamp>(v, |_| ());
        exercise::<Date>(v, |h| used(h.unix_time()));
        exercise::<MimeVersion>(v, |_| ());
        exercise::<Allow>(v, |h| used(h.method()));
        exercise::<AllowEvents>(v, |_| ());
        exercise::<Accept>(v, |h| used(h.q()));
        exercise::<ContentType>(v, |h| used(h.param("boundary")));
        exercise::<ContentDisposition>(v, |h| used(h.handling()));
        exercise::<WwwAuthenticate>(v, |h| used((h.qop().count(), h.realm(), h.stale())));
        exercise::<Authorization>(v, |h| used((h.nc(), h.username(), h.params().iter().count())));
        exercise::<AuthenticationInfo>(v, |h| used(h.next_nonce()));
        exercise::<Event>(v, |h| used(h.templates().count()));
        exercise::<SubscriptionState>(v, |h| used((h.state(), h.expires())));
        exercise::<Replaces>(v, |h| used(h.is_early_only()));
        exercise::<SessionExpires>(v, |h| used(h.refresher()));
        exercise::<MinSe>(v, |_| ());
        exercise::<UserAgent>(v, |h| used(h.products().count()));
        exercise::<Warning>(v, |h| used(h.text()));
        exercise::<Priority>(v, |_| ());
        exercise::<Subject>(v, |h| used(h.text()));
    }

    /// Pieces of header syntax glued together at random: sent-protocols, quoted strings with
    /// escapes, bracketed URIs, separators and folds.
    const HEADER_PIECES: &str = concat!(
        "(SIP ?/ ?2\\.0 ?/ ?UDP |\"[a\\\\\"]*\" ?|<sip:a@[0-9.]+>|Digest |[a-z]+|[0-9]{1,12}",
        "|[;,=:/@<>()\\[\\] ]|\r\n |\\\\){0,12}",
    );

    proptest! {
        #[test]
        fn no_input_makes_a_parser_panic(v in "[ -~\t\r\né€]{0,48}") {
            parse_everything(&v);
        }

        #[test]
        fn header_like_input_makes_no_parser_panic(v in HEADER_PIECES) {
            parse_everything(&v);
        }
    }
}
