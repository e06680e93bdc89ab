//! Body description headers: Content-Type and Accept (media types, RFC 3261 §20.15, §20.1)
//! and Content-Disposition (RFC 3261 §20.11).

use std::borrow::Cow;

use crate::{HeaderError, HeaderName, TypedHeader};

use super::lex::Cursor;
use super::params::{
    ParamList, Params, Q, check_params_to_end, checked, q_value, token_params, token_value,
    with_params,
};

/// `Content-Type` (RFC 3261 §20.15): the media type of the body.
///
/// ```text
/// Content-Type     =  ( "Content-Type" / "c" ) HCOLON media-type
/// media-type       =  m-type SLASH m-subtype *(SEMI m-parameter)
/// m-type           =  discrete-type / composite-type
/// m-subtype        =  extension-token / iana-token
/// m-parameter      =  m-attribute EQUAL m-value
/// m-attribute      =  token
/// m-value          =  token / quoted-string
/// ```
///
/// ```
/// use sip_message::{ContentType, TypedHeader};
/// let ct = ContentType::parse("multipart/mixed;boundary=\"unique-boundary-1\"")?;
/// assert_eq!((ct.mime_type(), ct.subtype()), ("multipart", "mixed"));
/// assert_eq!(ct.param("boundary").as_deref(), Some("unique-boundary-1"));
/// assert!(ct.is("Multipart", "MIXED"));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentType<'a> {
    mime_type: &'a str,
    subtype: &'a str,
    params: Params<'a>,
}

/// One `Accept` element (RFC 3261 §20.1): a media range the sender accepts. An empty
/// `Accept:` is legal and has no elements.
///
/// ```text
/// Accept         =  "Accept" HCOLON [ accept-range *(COMMA accept-range) ]
/// accept-range   =  media-range *(SEMI accept-param)
/// media-range    =  ( "*/*" / ( m-type SLASH "*" ) / ( m-type SLASH m-subtype ) )
///                   *( SEMI m-parameter )
/// accept-param   =  ("q" EQUAL qvalue) / generic-param
/// ```
///
/// ```
/// use sip_message::{Accept, TypedHeader};
/// let a = Accept::parse("application/*;q=0.5")?;
/// assert_eq!(a.subtype(), "*");
/// assert_eq!(a.q().map(|q| q.thousandths()), Some(500));
/// assert!(a.is("application", "sdp"));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Accept<'a> {
    mime_type: &'a str,
    subtype: &'a str,
    params: Params<'a>,
}

/// The accessors content types and accept ranges share.
macro_rules! media_accessors {
    ($ty:ident) => {
        impl<'a> $ty<'a> {
            /// The top-level type (`application`, `multipart`, or `*` in a range).
            #[must_use]
            pub fn mime_type(&self) -> &'a str {
                self.mime_type
            }

            /// The subtype (`sdp`, `mixed`, or `*` in a range).
            #[must_use]
            pub fn subtype(&self) -> &'a str {
                self.subtype
            }

            /// The parameters in order, values raw.
            #[must_use]
            pub fn params(&self) -> Params<'a> {
                self.params
            }

            /// The decoded value of parameter `name` (case-insensitive), e.g. `boundary` or
            /// `charset`.
            #[must_use]
            pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
                self.params.unquoted(name)
            }

            /// Whether this is (or, for a range with `*`, covers) `mime_type/subtype`;
            /// case-insensitive (RFC 2045 §5.1).
            #[must_use]
            pub fn is(&self, mime_type: &str, subtype: &str) -> bool {
                let part =
                    |ours: &str, theirs: &str| ours == "*" || ours.eq_ignore_ascii_case(theirs);
                part(self.mime_type, mime_type) && part(self.subtype, subtype)
            }
        }
    };
}

media_accessors!(ContentType);
media_accessors!(Accept);

impl Accept<'_> {
    /// The `q` parameter: how much this range is preferred (RFC 3261 §20.1); `None` when
    /// absent, which means 1.
    #[must_use]
    pub fn q(&self) -> Option<Q> {
        self.params.get("q").and_then(q_value)
    }
}

impl<'a> TypedHeader<'a> for ContentType<'a> {
    const NAME: HeaderName = HeaderName::ContentType;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let check = |params: &ParamList<'_>| {
            if params.iter().any(|(_, v)| v.is_none()) {
                Err("media type parameter without value")
            } else {
                Ok(())
            }
        };
        let ((mime_type, subtype), params, ()) =
            with_params(value, HeaderName::ContentType, |cur| media(cur, false), check)?;
        Ok(ContentType { mime_type, subtype, params })
    }
}

impl<'a> TypedHeader<'a> for Accept<'a> {
    const NAME: HeaderName = HeaderName::Accept;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let check = |params: &ParamList<'a>| checked(params, "q", "invalid q parameter", q_value);
        let ((mime_type, subtype), params, _) =
            with_params(value, HeaderName::Accept, |cur| media(cur, true), check)?;
        Ok(Accept { mime_type, subtype, params })
    }
}

/// `Content-Disposition` (RFC 3261 §20.11): how to interpret the body (`session`, `render`,
/// `icon`, `alert`, or an extension).
///
/// ```text
/// Content-Disposition   =  "Content-Disposition" HCOLON disp-type *( SEMI disp-param )
/// disp-type             =  "render" / "session" / "icon" / "alert" / disp-extension-token
/// disp-param            =  handling-param / generic-param
/// handling-param        =  "handling" EQUAL ( "optional" / "required" / other-handling )
/// other-handling        =  token
/// ```
///
/// ```
/// use sip_message::{ContentDisposition, TypedHeader};
/// let d = ContentDisposition::parse("session; handling=optional")?;
/// assert_eq!((d.disposition(), d.handling()), ("session", Some("optional")));
/// assert!(d.is_optional());
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentDisposition<'a> {
    disposition: &'a str,
    params: Params<'a>,
}

impl<'a> ContentDisposition<'a> {
    /// The disposition type as it appears on the wire.
    #[must_use]
    pub fn disposition(&self) -> &'a str {
        self.disposition
    }

    /// The `handling` parameter (`optional`, `required` or an extension token).
    #[must_use]
    pub fn handling(&self) -> Option<&'a str> {
        self.params.get("handling").flatten()
    }

    /// Whether `handling=optional`: a UAS may ignore a body it does not understand. The
    /// default is `required` (RFC 3261 §20.11).
    #[must_use]
    pub fn is_optional(&self) -> bool {
        self.handling().is_some_and(|h| h.eq_ignore_ascii_case("optional"))
    }

    /// All parameters.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for ContentDisposition<'a> {
    const NAME: HeaderName = HeaderName::ContentDisposition;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let check = |params: &ParamList<'a>| {
            checked(params, "handling", "handling is not a token", token_value).map(drop)
        };
        let (disposition, params) = token_params(
            value,
            HeaderName::ContentDisposition,
            "expected disposition type",
            |_| true,
            check,
        )?;
        Ok(ContentDisposition { disposition, params })
    }
}

/// Whether [`ContentType::parse`] accepts `value`: the same grammar (`media` and the
/// parameters read as [`with_params`] reads them, each with a value), without building the
/// header (for [`Message::validate`](crate::Message::validate), which throws it away).
pub(crate) fn content_type_is_valid(value: &str) -> bool {
    plain_media_type(value.as_bytes()) || content_type_walk(value)
}

/// [`content_type_is_valid`]'s general path: the cursor's walk of the whole grammar.
fn content_type_walk(value: &str) -> bool {
    let mut cur = Cursor::new(value, HeaderName::ContentType);
    if media(&mut cur, false).is_err() {
        return false;
    }
    // Whether a parameter so far has no value; reset when the fast path gives way.
    let mut valueless = false;
    let read = check_params_to_end(&mut cur, |item| match item {
        Some((_, value)) => valueless |= value.is_none(),
        None => valueless = false,
    });
    read.is_some() && !valueless
}

/// Whether `value` is exactly `token/token` with no whitespace and no parameters, neither
/// token `*` (such as `application/sdp`): the steps [`content_type_is_valid`] takes on such a
/// value, read in one pass, so a `true` is its answer; `false` says nothing (anything else is
/// left to the cursor).
/// On bytes that need not be UTF-8 (a token is ASCII).
pub(crate) fn plain_media_type(b: &[u8]) -> bool {
    use crate::chars::{TOKEN, run_len};
    let type_len = run_len(&TOKEN, b);
    let Some((b'/', subtype)) = b.get(type_len..).and_then(<[u8]>::split_first) else {
        return false;
    };
    type_len > 0
        && !subtype.is_empty()
        && run_len(&TOKEN, subtype) == subtype.len()
        && b.get(..type_len) != Some(b"*")
        && subtype != b"*"
}

/// `m-type SLASH m-subtype`; with `range`, also `*/*` and `m-type SLASH "*"`.
fn media<'a>(cur: &mut Cursor<'a>, range: bool) -> Result<(&'a str, &'a str), HeaderError> {
    let start = cur.pos();
    let mime_type = cur.expect_token("expected media type")?;
    cur.expect_sep(b'/', "expected '/' after media type")?;
    let subtype = cur.expect_token("expected media subtype")?;
    let wildcard_ok = match (mime_type, subtype) {
        ("*", "*") => range,
        ("*", _) => false,
        (_, "*") => range,
        _ => true,
    };
    if wildcard_ok { Ok((mime_type, subtype)) } else { Err(cur.err_at("misplaced '*'", start)) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn plain_media_types_take_the_short_walk() {
        for v in ["application/sdp", "text/plain", "a/b", "message/sipfrag"] {
            assert!(plain_media_type(v.as_bytes()), "{v}");
            assert!(content_type_walk(v), "{v}");
        }
        for v in ["*/sdp", "a/*", "a/", "/b", "a b/c", "a/b;c=d", "a/b ", "a / b", "a//b", ""] {
            assert!(!plain_media_type(v.as_bytes()), "{v}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn content_type_check_matches_the_cursor_walk(
            v in "[a*/; =\t\r\n\"\u{e9}-]{0,10}|[a-z*]{0,3}/[a-z*]{0,3}",
        ) {
            prop_assert_eq!(content_type_is_valid(&v), content_type_walk(&v), "{:?}", v);
            if plain_media_type(v.as_bytes()) {
                prop_assert!(content_type_walk(&v), "{:?}", v);
            }
        }
    }

    #[test]
    fn content_type_with_folded_parameters() {
        // resiprocate L469: folded multipart/signed Content-Type.
        let v = "multipart/signed;\r\n protocol=\"application/pkcs7-signature\";\r\n \
                 micalg=sha1; boundary=\"----=_NextPart_000\"";
        let ct = ContentType::parse(v).unwrap();
        assert_eq!(ct.subtype(), "signed");
        assert_eq!(ct.param("protocol").as_deref(), Some("application/pkcs7-signature"));
        assert_eq!(ct.param("micalg").as_deref(), Some("sha1"));
        assert_eq!(ct.param("boundary").as_deref(), Some("----=_NextPart_000"));
    }

    #[test]
    fn content_type_allows_whitespace_around_slash() {
        // RFC 3261 §25.1: SLASH = SWS "/" SWS.
        let ct = ContentType::parse("application / sdp").unwrap();
        assert!(ct.is("application", "sdp"));
    }

    #[test]
    fn content_type_rejects_wildcards_flags_and_junk() {
        assert!(ContentType::parse("*/*").is_err());
        assert!(ContentType::parse("application/*").is_err());
        assert!(ContentType::parse("application").is_err());
        assert!(ContentType::parse("application/sdp;charset").is_err());
        assert!(ContentType::parse("application/sdp extra").is_err());
        assert!(ContentType::parse("").is_err());
    }

    #[test]
    fn content_type_case_is_kept_but_compared_insensitively() {
        // sipsorcery TA612V: application/SDP.
        let ct = ContentType::parse("application/SDP").unwrap();
        assert_eq!(ct.subtype(), "SDP");
        assert!(ct.is("application", "sdp"));
        assert!(!ct.is("application", "pidf+xml"));
    }

    #[test]
    fn accept_ranges_and_q() {
        // RFC 3261 §20.1.
        let a = Accept::parse("*/*").unwrap();
        assert!(a.is("text", "html"));
        assert_eq!(a.q(), None);
        assert!(Accept::parse("*/sdp").is_err());
        assert!(Accept::parse("text/html;level=1;q=1.5").is_err());
        assert_eq!(Accept::parse("text/html;level=1;q=0").unwrap().q(), Some(Q::ZERO));
    }

    #[test]
    fn accept_of_an_unknown_type_is_well_formed() {
        // RFC 4475 §3.3.15 sdp01.
        let a = Accept::parse("text/nobodyKnowsThis").unwrap();
        assert!(!a.is("application", "sdp"));
    }

    #[test]
    fn content_disposition_params() {
        let d = ContentDisposition::parse("attachment; filename=\"smime.p7s\"; handling=required")
            .unwrap();
        assert_eq!(d.disposition(), "attachment");
        assert_eq!(d.params().unquoted("filename").as_deref(), Some("smime.p7s"));
        assert!(!d.is_optional());
    }

    #[test]
    fn content_disposition_is_single_valued() {
        // resiprocate L734: a comma list is not a Content-Disposition.
        assert!(ContentDisposition::parse("session;handling=required,recording-session").is_err());
        assert!(ContentDisposition::parse("session;handling=\"optional\"").is_err());
    }
}
