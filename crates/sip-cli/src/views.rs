//! Typed views of header values for `sip parse`: each known header parsed with its typed parser
//! and shown as the parser sees it (or the error it found).

use std::fmt::Debug;

use sip_message::{HeaderName as H, TypedHeader, split_list};

/// The typed view of one header line, or `None` for headers without a typed parser.
pub(crate) fn describe(name: H, value: &[u8]) -> Option<String> {
    fn view<'a, T: TypedHeader<'a> + Debug>(value: &'a [u8]) -> String {
        let pieces: Vec<&[u8]> =
            if T::NAME.is_list() { split_list(value).collect() } else { vec![value] };
        pieces
            .into_iter()
            .map(|piece| match std::str::from_utf8(piece) {
                Ok(text) => match T::parse(text) {
                    Ok(v) => format!("{v:?}"),
                    Err(e) => format!("ERROR: {e}"),
                },
                Err(_) => "ERROR: not valid UTF-8".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
    use sip_message as m;
    Some(match name {
        H::Via => view::<m::Via<'_>>(value),
        H::From => view::<m::From<'_>>(value),
        H::To => view::<m::To<'_>>(value),
        H::Contact => view::<m::Contact<'_>>(value),
        H::Route => view::<m::Route<'_>>(value),
        H::RecordRoute => view::<m::RecordRoute<'_>>(value),
        H::CallId => view::<m::CallId<'_>>(value),
        H::CSeq => view::<m::CSeq<'_>>(value),
        H::MaxForwards => view::<m::MaxForwards>(value),
        H::ContentLength => view::<m::ContentLength>(value),
        H::Expires => view::<m::Expires>(value),
        H::MinExpires => view::<m::MinExpires>(value),
        H::RetryAfter => view::<m::RetryAfter<'_>>(value),
        H::Require => view::<m::Require<'_>>(value),
        H::ProxyRequire => view::<m::ProxyRequire<'_>>(value),
        H::Supported => view::<m::Supported<'_>>(value),
        H::Unsupported => view::<m::Unsupported<'_>>(value),
        H::Allow => view::<m::Allow<'_>>(value),
        H::AllowEvents => view::<m::AllowEvents<'_>>(value),
        H::ContentEncoding => view::<m::ContentEncoding<'_>>(value),
        H::Authorization => view::<m::Authorization<'_>>(value),
        H::ProxyAuthorization => view::<m::ProxyAuthorization<'_>>(value),
        H::WwwAuthenticate => view::<m::WwwAuthenticate<'_>>(value),
        H::ProxyAuthenticate => view::<m::ProxyAuthenticate<'_>>(value),
        H::AuthenticationInfo => view::<m::AuthenticationInfo<'_>>(value),
        H::Event => view::<m::Event<'_>>(value),
        H::SubscriptionState => view::<m::SubscriptionState<'_>>(value),
        H::ReferTo => view::<m::ReferTo<'_>>(value),
        H::ReferredBy => view::<m::ReferredBy<'_>>(value),
        H::Replaces => view::<m::Replaces<'_>>(value),
        H::RSeq => view::<m::RSeq>(value),
        H::RAck => view::<m::RAck<'_>>(value),
        H::SessionExpires => view::<m::SessionExpires<'_>>(value),
        H::MinSe => view::<m::MinSe>(value),
        H::Timestamp => view::<m::Timestamp<'_>>(value),
        H::Path => view::<m::Path<'_>>(value),
        H::ServiceRoute => view::<m::ServiceRoute<'_>>(value),
        H::MimeVersion => view::<m::MimeVersion>(value),
        H::Priority => view::<m::Priority<'_>>(value),
        H::ContentType => view::<m::ContentType<'_>>(value),
        H::ContentDisposition => view::<m::ContentDisposition<'_>>(value),
        H::Accept => view::<m::Accept<'_>>(value),
        H::Date => view::<m::Date<'_>>(value),
        H::Warning => view::<m::Warning<'_>>(value),
        H::UserAgent => view::<m::UserAgent<'_>>(value),
        H::Server => view::<m::Server<'_>>(value),
        _ => return None,
    })
}
