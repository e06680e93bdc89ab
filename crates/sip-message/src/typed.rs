//! The typed-header contract and the comma-list splitter shared by the message and the parsers.

use crate::{HeaderError, HeaderName};

/// A header value parsed on access into a typed view that borrows the message.
///
/// `parse` receives one value exactly as the message holds it: for list headers
/// ([`HeaderName::is_list`]) one element of a comma-separated line, already split outside quotes
/// and `<>`; otherwise the whole field value. Leading and trailing whitespace is trimmed, but
/// folded lines (RFC 3261 §7.3.1: CRLF followed by SP or HTAB) may remain inside and count as
/// linear whitespace.
pub trait TypedHeader<'a>: Sized {
    /// The header this type parses; [`Message::typed`](crate::Message::typed) looks it up.
    const NAME: HeaderName;

    /// Parses one value.
    ///
    /// # Errors
    /// A [`HeaderError`] naming what did not match the grammar and where.
    fn parse(value: &'a str) -> Result<Self, HeaderError>;
}

/// Something done with a header value through its typed parser, whatever the type: the one
/// dispatch from [`HeaderName`] to parser, shared by [`Message::validate`](crate::Message::validate)
/// and by tools that show typed views (see [`visit_typed`]).
pub trait HeaderVisitor {
    /// What a visit yields.
    type Output;

    /// Called with the typed parser `H` of the header and its raw field value (a whole line:
    /// list headers still hold their commas).
    fn visit<'a, H: TypedHeader<'a> + std::fmt::Debug>(&mut self, value: &'a [u8]) -> Self::Output;
}

/// The one table from [`HeaderName`] to typed parser, shared by [`visit_typed`] and
/// [`visit_typed_str`]: `$visitor.visit::<H>($value)` for the parser `H` of `$name`, or `None`.
macro_rules! dispatch_typed {
    ($name:expr, $value:expr, $visitor:expr) => {{
        use crate::headers as h;
        Some(match $name {
            HeaderName::Via => $visitor.visit::<h::Via<'_>>($value),
            HeaderName::From => $visitor.visit::<h::From<'_>>($value),
            HeaderName::To => $visitor.visit::<h::To<'_>>($value),
            HeaderName::Contact => $visitor.visit::<h::Contact<'_>>($value),
            HeaderName::Route => $visitor.visit::<h::Route<'_>>($value),
            HeaderName::RecordRoute => $visitor.visit::<h::RecordRoute<'_>>($value),
            HeaderName::Path => $visitor.visit::<h::Path<'_>>($value),
            HeaderName::ServiceRoute => $visitor.visit::<h::ServiceRoute<'_>>($value),
            HeaderName::HistoryInfo => $visitor.visit::<h::HistoryInfo<'_>>($value),
            HeaderName::ReplyTo => $visitor.visit::<h::ReplyTo<'_>>($value),
            HeaderName::ReferTo => $visitor.visit::<h::ReferTo<'_>>($value),
            HeaderName::ReferredBy => $visitor.visit::<h::ReferredBy<'_>>($value),
            HeaderName::CallId => $visitor.visit::<h::CallId<'_>>($value),
            HeaderName::CSeq => $visitor.visit::<h::CSeq<'_>>($value),
            HeaderName::MaxForwards => $visitor.visit::<h::MaxForwards>($value),
            HeaderName::ContentLength => $visitor.visit::<h::ContentLength>($value),
            HeaderName::Expires => $visitor.visit::<h::Expires>($value),
            HeaderName::MinExpires => $visitor.visit::<h::MinExpires>($value),
            HeaderName::RetryAfter => $visitor.visit::<h::RetryAfter<'_>>($value),
            HeaderName::Date => $visitor.visit::<h::Date<'_>>($value),
            HeaderName::Timestamp => $visitor.visit::<h::Timestamp<'_>>($value),
            HeaderName::Warning => $visitor.visit::<h::Warning<'_>>($value),
            HeaderName::Require => $visitor.visit::<h::Require<'_>>($value),
            HeaderName::ProxyRequire => $visitor.visit::<h::ProxyRequire<'_>>($value),
            HeaderName::Supported => $visitor.visit::<h::Supported<'_>>($value),
            HeaderName::Unsupported => $visitor.visit::<h::Unsupported<'_>>($value),
            HeaderName::Allow => $visitor.visit::<h::Allow<'_>>($value),
            HeaderName::AllowEvents => $visitor.visit::<h::AllowEvents<'_>>($value),
            HeaderName::ContentEncoding => $visitor.visit::<h::ContentEncoding<'_>>($value),
            HeaderName::ContentType => $visitor.visit::<h::ContentType<'_>>($value),
            HeaderName::ContentDisposition => $visitor.visit::<h::ContentDisposition<'_>>($value),
            HeaderName::Accept => $visitor.visit::<h::Accept<'_>>($value),
            HeaderName::MimeVersion => $visitor.visit::<h::MimeVersion>($value),
            HeaderName::Priority => $visitor.visit::<h::Priority<'_>>($value),
            HeaderName::Authorization => $visitor.visit::<h::Authorization<'_>>($value),
            HeaderName::ProxyAuthorization => $visitor.visit::<h::ProxyAuthorization<'_>>($value),
            HeaderName::WwwAuthenticate => $visitor.visit::<h::WwwAuthenticate<'_>>($value),
            HeaderName::ProxyAuthenticate => $visitor.visit::<h::ProxyAuthenticate<'_>>($value),
            HeaderName::AuthenticationInfo => $visitor.visit::<h::AuthenticationInfo<'_>>($value),
            HeaderName::Event => $visitor.visit::<h::Event<'_>>($value),
            HeaderName::SubscriptionState => $visitor.visit::<h::SubscriptionState<'_>>($value),
            HeaderName::Replaces => $visitor.visit::<h::Replaces<'_>>($value),
            HeaderName::RSeq => $visitor.visit::<h::RSeq>($value),
            HeaderName::RAck => $visitor.visit::<h::RAck<'_>>($value),
            HeaderName::SessionExpires => $visitor.visit::<h::SessionExpires<'_>>($value),
            HeaderName::MinSe => $visitor.visit::<h::MinSe>($value),
            HeaderName::UserAgent => $visitor.visit::<h::UserAgent<'_>>($value),
            HeaderName::Server => $visitor.visit::<h::Server<'_>>($value),
            HeaderName::Subject => $visitor.visit::<h::Subject<'_>>($value),
            HeaderName::Organization => $visitor.visit::<h::Organization<'_>>($value),
            _ => return None,
        })
    }};
}

/// Calls `visitor` with the typed parser of `name`; `None` for headers without one
/// ([`HeaderName::Other`], Accept-Encoding, Call-Info, ...).
pub fn visit_typed<V: HeaderVisitor>(
    name: HeaderName,
    value: &[u8],
    visitor: &mut V,
) -> Option<V::Output> {
    dispatch_typed!(name, value, visitor)
}

/// [`HeaderVisitor`] for a value already known to be UTF-8 text.
pub(crate) trait StrVisitor {
    /// What a visit yields.
    type Output;

    /// Called with the typed parser `H` of the header and its field value.
    fn visit<'a, H: TypedHeader<'a> + std::fmt::Debug>(&mut self, value: &'a str) -> Self::Output;
}

/// [`visit_typed`] for a value already known to be UTF-8 text (the same table).
pub(crate) fn visit_typed_str<V: StrVisitor>(
    name: HeaderName,
    value: &str,
    visitor: &mut V,
) -> Option<V::Output> {
    dispatch_typed!(name, value, visitor)
}

/// Splits a list header's field value at top-level commas (RFC 3261 §7.3.1): not inside a
/// quoted string (honouring `\` quoted-pairs) and not inside `<...>`. Each piece is trimmed of
/// linear whitespace; empty pieces are yielded as empty so that a caller can reject `a,,b`.
pub fn split_list(value: &[u8]) -> SplitList<'_> {
    SplitList { rest: Some(value) }
}

/// Iterator returned by [`split_list`].
#[derive(Clone, Debug)]
pub struct SplitList<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for SplitList<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        // Without a comma the rest is one piece, whatever its quotes and brackets (the
        // common case: most lines hold one value).
        if memchr::memchr(b',', s).is_none() {
            self.rest = None;
            return Some(trim_lws(s));
        }
        let mut quoted = false;
        let mut angle = false;
        let mut i = 0;
        while let Some(&c) = s.get(i) {
            match c {
                b'\\' if quoted => i += 1,
                b'"' if !angle => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b',' if !quoted && !angle => {
                    let (piece, tail) = (s.get(..i).unwrap_or(s), s.get(i + 1..).unwrap_or(&[]));
                    self.rest = Some(tail);
                    return Some(trim_lws(piece));
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_lws(s))
    }
}

/// Trims linear whitespace (SP, HTAB, CR, LF of folded lines) from both ends.
#[must_use]
pub fn trim_lws(mut s: &[u8]) -> &[u8] {
    while let [c, rest @ ..] = s {
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., c] = s {
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<&str> {
        split_list(s.as_bytes()).map(|p| std::str::from_utf8(p).unwrap()).collect()
    }

    #[test]
    fn splits_only_outside_quotes_and_angle_brackets() {
        assert_eq!(
            split(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z> ,w"#),
            [r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z>", "w"]
        );
        assert_eq!(split(r#""esc \" , still" <sip:a>, b"#), [r#""esc \" , still" <sip:a>"#, "b"]);
        assert_eq!(split("a,,b"), ["a", "", "b"]);
        assert_eq!(split("single"), ["single"]);
        assert_eq!(split("a,\r\n b"), ["a", "b"]);
    }

    /// The splitter as it was before the no-comma shortcut.
    fn split_reference(value: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut s = value;
        loop {
            let (mut quoted, mut angle, mut i) = (false, false, 0);
            let mut cut = None;
            while let Some(&c) = s.get(i) {
                match c {
                    b'\\' if quoted => i += 1,
                    b'"' if !angle => quoted = !quoted,
                    b'<' if !quoted => angle = true,
                    b'>' if !quoted => angle = false,
                    b',' if !quoted && !angle => {
                        cut = Some(i);
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            match cut {
                Some(i) => {
                    out.push(trim_lws(&s[..i]));
                    s = &s[i + 1..];
                }
                None => {
                    out.push(trim_lws(s));
                    return out;
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn split_list_matches_the_reference(s in "[a, \"<>\\\\\r\n\t]{0,16}") {
            let got: Vec<&[u8]> = split_list(s.as_bytes()).collect();
            proptest::prop_assert_eq!(got, split_reference(s.as_bytes()));
        }
    }
}
