//! Headers whose value is an address with parameters: From, To, Contact, Route, Record-Route,
//! Path, Service-Route, Reply-To, Refer-To and Referred-By.

use std::borrow::Cow;

use crate::{HeaderError, HeaderName, TypedHeader, Uri};

use super::lex::{Cursor, strip_pair};
use super::name_addr::{Form, NameAddr, check_name_addr, parse_name_addr};
use super::params::{
    ParamList, Params, Q, check_params_to_end, checked, delta_value, q_value, token_value,
    with_params,
};

/// Defines a header type made of an address and its parameters, with the accessors they all
/// share and its [`TypedHeader`] impl; `$check` validates the parameters the header defines.
macro_rules! address_header {
    ($(#[$doc:meta])* $ty:ident, $form:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty<'a> {
            addr: NameAddr<'a>,
            params: Params<'a>,
        }

        impl<'a> $ty<'a> {
            /// The address: display name and URI.
            #[must_use]
            pub fn name_addr(&self) -> &NameAddr<'a> {
                &self.addr
            }

            /// The display name, decoded ([`NameAddr::display_name`]).
            #[must_use]
            pub fn display_name(&self) -> Option<Cow<'a, str>> {
                self.addr.display_name()
            }

            /// The URI.
            #[must_use]
            pub fn uri(&self) -> Uri<'a> {
                self.addr.uri()
            }

            /// The URI as it appears on the wire, without `<>`.
            #[must_use]
            pub fn uri_str(&self) -> &'a str {
                self.addr.uri_str()
            }

            /// The header parameters, after `>` (or after the URI of an addr-spec).
            #[must_use]
            pub fn params(&self) -> Params<'a> {
                self.params
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = HeaderName::$ty;

            fn parse(value: &'a str) -> Result<Self, HeaderError> {
                let (addr, params) = parse_address(value, HeaderName::$ty, $form, $check)?;
                Ok($ty { addr, params })
            }
        }
    };
}

address_header! {
    /// `From` (RFC 3261 §20.20): the logical initiator of the request.
    ///
    /// ```text
    /// From        =  ( "From" / "f" ) HCOLON from-spec
    /// from-spec   =  ( name-addr / addr-spec ) *( SEMI from-param )
    /// from-param  =  tag-param / generic-param
    /// tag-param   =  "tag" EQUAL token
    /// ```
    ///
    /// ```
    /// use sip_message::{From, TypedHeader};
    /// let from = From::parse("sip:caller@example.net;tag=134161461246")?;
    /// assert_eq!(from.tag(), Some("134161461246"));
    /// assert_eq!(from.uri_str(), "sip:caller@example.net");
    /// # Ok::<(), sip_message::HeaderError>(())
    /// ```
    From, Form::Either, check_tag
}

address_header! {
    /// `To` (RFC 3261 §20.39): the logical recipient of the request.
    ///
    /// ```text
    /// To        =  ( "To" / "t" ) HCOLON ( name-addr / addr-spec ) *( SEMI to-param )
    /// to-param  =  tag-param / generic-param
    /// ```
    ///
    /// ```
    /// use sip_message::{To, TypedHeader};
    /// // RFC 4475 §3.1.1.1 wsinv: folding and whitespace around ";" and "=".
    /// let to = To::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")?;
    /// assert_eq!(to.tag(), Some("1918181833n"));
    /// # Ok::<(), sip_message::HeaderError>(())
    /// ```
    To, Form::Either, check_tag
}

address_header! {
    /// One `Route` value (RFC 3261 §20.34): a hop the request must visit.
    ///
    /// ```text
    /// Route        =  "Route" HCOLON route-param *(COMMA route-param)
    /// route-param  =  name-addr *( SEMI rr-param )
    /// rr-param     =  generic-param
    /// ```
    Route, Form::NameAddr, no_check
}

address_header! {
    /// One `Record-Route` value (RFC 3261 §20.30): a proxy that stays on the dialog's path.
    ///
    /// ```text
    /// Record-Route  =  "Record-Route" HCOLON rec-route *(COMMA rec-route)
    /// rec-route     =  name-addr *( SEMI rr-param )
    /// ```
    RecordRoute, Form::NameAddr, no_check
}

address_header! {
    /// One `History-Info` value (RFC 7044 §4.1): a target the request was retargeted to.
    ///
    /// ```text
    /// History-Info  =  "History-Info" HCOLON hi-entry *(COMMA hi-entry)
    /// hi-entry      =  hi-targeted-to-uri *( SEMI hi-param )
    /// hi-targeted-to-uri =  name-addr
    /// ```
    HistoryInfo, Form::NameAddr, no_check
}

address_header! {
    /// One `Path` value (RFC 3327 §4): a proxy on the path from a registered UA.
    ///
    /// ```text
    /// Path        =  "Path" HCOLON path-value *( COMMA path-value )
    /// path-value  =  name-addr *( SEMI rr-param )
    /// ```
    Path, Form::NameAddr, no_check
}

address_header! {
    /// One `Service-Route` value (RFC 3608 §5): a route the registrar asks the UA to use.
    ///
    /// ```text
    /// Service-Route  =  "Service-Route" HCOLON sr-value *( COMMA sr-value )
    /// sr-value       =  name-addr *( SEMI rr-param )
    /// ```
    ServiceRoute, Form::NameAddr, no_check
}

address_header! {
    /// `Reply-To` (RFC 3261 §20.31): where replies to the user should go.
    ///
    /// ```text
    /// Reply-To      =  "Reply-To" HCOLON rplyto-spec
    /// rplyto-spec   =  ( name-addr / addr-spec ) *( SEMI rplyto-param )
    /// rplyto-param  =  generic-param
    /// ```
    ReplyTo, Form::Either, no_check
}

address_header! {
    /// `Refer-To` (RFC 3515 §2.1): the URI a REFER asks its recipient to contact; the URI may
    /// carry escaped headers such as `?Replaces=...` inside `<>`.
    ///
    /// ```text
    /// Refer-To = ("Refer-To" / "r") HCOLON ( name-addr / addr-spec ) *(SEMI generic-param)
    /// ```
    ReferTo, Form::Either, no_check
}

address_header! {
    /// `Referred-By` (RFC 3892 §3): who sent the REFER.
    ///
    /// ```text
    /// Referred-By  =  ("Referred-By" / "b") HCOLON referrer-uri
    ///                 *( SEMI (referredby-id-param / generic-param) )
    /// referrer-uri = ( name-addr / addr-spec )
    /// referredby-id-param = "cid" EQUAL sip-clean-msg-id
    /// sip-clean-msg-id = LDQUOT dot-atom "@" (dot-atom / host) RDQUOT
    /// ```
    ReferredBy, Form::Either, check_cid
}

impl<'a> From<'a> {
    /// The `tag` parameter (RFC 3261 §19.3), which identifies the dialog's local side.
    #[must_use]
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").flatten()
    }
}

impl<'a> To<'a> {
    /// The `tag` parameter (RFC 3261 §19.3); absent outside a dialog.
    #[must_use]
    pub fn tag(&self) -> Option<&'a str> {
        self.params.get("tag").flatten()
    }
}

impl<'a> ReferredBy<'a> {
    /// The `cid` parameter without its quotes: the Content-ID of the body part holding the
    /// Referred-By token (RFC 3892 §3).
    #[must_use]
    pub fn cid(&self) -> Option<&'a str> {
        self.params.get("cid").flatten().and_then(strip_quotes)
    }
}

/// One `Contact` value (RFC 3261 §20.10): where the user can be reached, or `*` in a REGISTER
/// that removes all bindings.
///
/// ```text
/// Contact        =  ("Contact" / "m" ) HCOLON
///                   ( STAR / (contact-param *(COMMA contact-param)))
/// contact-param  =  (name-addr / addr-spec) *(SEMI contact-params)
/// contact-params     =  c-p-q / c-p-expires / contact-extension
/// c-p-q              =  "q" EQUAL qvalue
/// c-p-expires        =  "expires" EQUAL delta-seconds
/// contact-extension  =  generic-param
/// ```
///
/// `q` and `expires` are checked when the header is parsed: an `expires` beyond 2^32-1 is an
/// error (RFC 4475 §3.1.2.4).
///
/// ```
/// use sip_message::{Contact, TypedHeader};
/// // RFC 4475 §3.1.1.1 wsinv.
/// let v = "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\
///          \r\n  secondparam ; q = 0.33";
/// let c = Contact::parse(v)?;
/// assert_eq!(c.q().map(|q| q.thousandths()), Some(330));
/// assert_eq!(c.params().get("newparam"), Some(Some("newvalue")));
/// assert!(Contact::parse("*")?.is_star());
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Contact<'a> {
    addr: Option<NameAddr<'a>>,
    params: Params<'a>,
}

impl<'a> Contact<'a> {
    /// Whether this is `Contact: *` (RFC 3261 §10.2.2: remove all bindings).
    #[must_use]
    pub fn is_star(&self) -> bool {
        self.addr.is_none()
    }

    /// The address; `None` for `*`.
    #[must_use]
    pub fn name_addr(&self) -> Option<&NameAddr<'a>> {
        self.addr.as_ref()
    }

    /// The display name, decoded; `None` for `*` or when there is none.
    #[must_use]
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.addr.as_ref().and_then(NameAddr::display_name)
    }

    /// The URI; `None` for `*`.
    #[must_use]
    pub fn uri(&self) -> Option<Uri<'a>> {
        self.addr.as_ref().map(NameAddr::uri)
    }

    /// The URI as it appears on the wire, without `<>`; `None` for `*`.
    #[must_use]
    pub fn uri_str(&self) -> Option<&'a str> {
        self.addr.as_ref().map(NameAddr::uri_str)
    }

    /// The contact parameters (`q`, `expires`, extensions such as `+sip.instance`).
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `expires` parameter in seconds (RFC 3261 §10.2.1.1).
    #[must_use]
    pub fn expires(&self) -> Option<u32> {
        self.params.get("expires").and_then(delta_value)
    }

    /// The `q` parameter: the preference among several contacts (RFC 3261 §16.6).
    #[must_use]
    pub fn q(&self) -> Option<Q> {
        self.params.get("q").and_then(q_value)
    }
}

impl<'a> TypedHeader<'a> for Contact<'a> {
    const NAME: HeaderName = HeaderName::Contact;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        if value == "*" {
            return Ok(Contact { addr: None, params: Params::default() });
        }
        let (addr, params) = parse_address(value, HeaderName::Contact, Form::Either, |p| {
            checked(p, "q", "invalid q parameter", q_value)?;
            checked(p, "expires", "invalid expires parameter", delta_value)?;
            Ok(())
        })?;
        Ok(Contact { addr: Some(addr), params })
    }
}

/// Parses `(name-addr / addr-spec) *( SEMI generic-param )` as the whole value, then lets
/// `check` validate the parameters the header gives a meaning to.
fn parse_address<'a>(
    value: &'a str,
    name: HeaderName,
    form: Form,
    check: impl FnOnce(&ParamList<'a>) -> Result<(), &'static str>,
) -> Result<(NameAddr<'a>, Params<'a>), HeaderError> {
    let (addr, params, ()) = with_params(value, name, |cur| parse_name_addr(cur, form), check)?;
    Ok((addr, params))
}

/// Whether the typed parser of `name`, an address header (From, To, Contact, Route,
/// Record-Route, Path, Service-Route, History-Info, Reply-To, Refer-To, Referred-By), accepts
/// `value`: the same grammar and parameter checks, without building the header (for
/// [`Message::validate`](crate::Message::validate), which throws it away). `false` for any
/// other header.
pub(crate) fn address_is_valid(value: &str, name: HeaderName) -> bool {
    let (form, known) = match name {
        HeaderName::From | HeaderName::To => (Form::Either, Known::Tag),
        HeaderName::Contact if value == "*" => return true,
        HeaderName::Contact => (Form::Either, Known::QExpires),
        HeaderName::Route
        | HeaderName::RecordRoute
        | HeaderName::HistoryInfo
        | HeaderName::Path
        | HeaderName::ServiceRoute => (Form::NameAddr, Known::None),
        HeaderName::ReplyTo | HeaderName::ReferTo => (Form::Either, Known::None),
        HeaderName::ReferredBy => (Form::Either, Known::Cid),
        _ => return false,
    };
    if plain_address_is_valid(value, known) {
        return true;
    }
    let mut cur = Cursor::new(value, name);
    if !check_name_addr(&mut cur, form) {
        return false;
    }
    let (a, b) = match known {
        Known::None => ("", ""),
        Known::Tag => ("tag", ""),
        Known::QExpires => ("q", "expires"),
        Known::Cid => ("cid", ""),
    };
    // The first value of the parameters named `a` and `b`.
    let mut first: [Option<Option<&str>>; 2] = [None; 2];
    let read = check_params_to_end(&mut cur, |item| match item {
        Some((n, v)) if known != Known::None => {
            for (slot, want) in first.iter_mut().zip([a, b]) {
                if slot.is_none() && !want.is_empty() && n.eq_ignore_ascii_case(want) {
                    *slot = Some(v);
                }
            }
        }
        Some(_) => {}
        None => first = [None; 2],
    });
    let [a, b] = first;
    let Some(tokens) = read else {
        return false;
    };
    match known {
        Known::None => true,
        // Values read by the plain path are tokens already (as `ParamList::token_of` knows).
        Known::Tag => a.is_none_or(|v| if tokens { v.is_some() } else { token_value(v).is_some() }),
        Known::QExpires => {
            a.is_none_or(|v| q_value(v).is_some()) && b.is_none_or(|v| delta_value(v).is_some())
        }
        Known::Cid => a.is_none_or(|v| v.and_then(strip_quotes).is_some()),
    }
}

/// The parameters each address header checks, as its `$check` does: the first one named so.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    None,
    Tag,
    QExpires,
    Cid,
}

/// Whether `value` is an address of the common shape that [`address_is_valid`] accepts, read
/// in one pass over the bytes: `<`, a SIP or SIPS URI up to `>` (the first step of
/// [`check_name_addr`]), then `;name` or `;name=value` parameters of `token`s with no
/// whitespace, to the end of the value; the parameters `known` names checked as
/// `address_is_valid` checks them (Referred-By's `cid` is left to it). These are the steps
/// the general walk takes on such a value (its parameters are those `plain_params` reads,
/// all tokens), so a `true` is its answer; `false` says nothing (anything else, such as a
/// display name, whitespace or a quoted value, is left to it).
fn plain_address_is_valid(value: &str, known: Known) -> bool {
    plain_address_bytes(value.as_bytes(), known)
}

/// [`plain_address_is_valid`] on bytes that need not be UTF-8 (for
/// [`Message::validate`](crate::Message::validate), which then need not check them): every
/// byte it accepts is printable ASCII, so a `true` holds for the text too.
fn plain_address_bytes(b: &[u8], known: Known) -> bool {
    use super::params::plain_token_params_bytes;
    use crate::uri::{SipWalk, walk_sip_uri_bytes};
    if known == Known::Cid || b.first() != Some(&b'<') {
        return false;
    }
    let Some(SipWalk::Ends { end, .. }) = walk_sip_uri_bytes(b, 1) else {
        return false;
    };
    if b.get(end) != Some(&b'>') {
        return false;
    }
    // The first value of the parameters `known` checks (`tag`, or `q` and `expires`).
    let (mut first, mut second): (Option<Option<&[u8]>>, _) = (None, None);
    let is = |name: &[u8], want: &[u8]| name.eq_ignore_ascii_case(want);
    let plain = plain_token_params_bytes(b, end + 1, |name, param_value| match known {
        Known::Tag if first.is_none() && is(name, b"tag") => {
            first = Some(param_value);
        }
        Known::QExpires if first.is_none() && is(name, b"q") => {
            first = Some(param_value);
        }
        Known::QExpires if second.is_none() && is(name, b"expires") => {
            second = Some(param_value);
        }
        _ => {}
    });
    if !plain {
        return false;
    }
    // The values read are ASCII tokens, which are text.
    fn text(v: Option<&[u8]>) -> Option<Option<&str>> {
        v.map(std::str::from_utf8).transpose().ok()
    }
    match known {
        Known::None => true,
        // A tag read here is a token, as `token_value` asks; it must have a value.
        Known::Tag => first.is_none_or(|v| v.is_some()),
        Known::QExpires => {
            first.is_none_or(|v| text(v).is_some_and(|v| q_value(v).is_some()))
                && second.is_none_or(|v| text(v).is_some_and(|v| delta_value(v).is_some()))
        }
        Known::Cid => false,
    }
}

/// Whether [`address_is_valid`] accepts `value` by the one-pass check of the common shape
/// ([`plain_address_is_valid`]) on bytes that need not be UTF-8: `true` only for a value it
/// accepts (all printable ASCII), `false` for anything else, which says nothing.
pub(crate) fn plain_address_accepts(value: &[u8], name: HeaderName) -> bool {
    let known = match name {
        HeaderName::From | HeaderName::To => Known::Tag,
        HeaderName::Contact if value == b"*" => return true,
        HeaderName::Contact => Known::QExpires,
        HeaderName::Route
        | HeaderName::RecordRoute
        | HeaderName::HistoryInfo
        | HeaderName::Path
        | HeaderName::ServiceRoute
        | HeaderName::ReplyTo
        | HeaderName::ReferTo => Known::None,
        _ => return false,
    };
    plain_address_bytes(value, known)
}

/// `tag-param = "tag" EQUAL token` (RFC 3261 §25.1).
fn check_tag(params: &ParamList<'_>) -> Result<(), &'static str> {
    checked(params, "tag", "tag is not a token", |v| params.token_of(v)).map(drop)
}

/// `"cid" EQUAL sip-clean-msg-id`, a quoted string (RFC 3892 §3).
fn check_cid(params: &ParamList<'_>) -> Result<(), &'static str> {
    checked(params, "cid", "cid is not a quoted string", |v| v.and_then(strip_quotes)).map(drop)
}

fn no_check(_: &ParamList<'_>) -> Result<(), &'static str> {
    Ok(())
}

fn strip_quotes(v: &str) -> Option<&str> {
    strip_pair(v, '"', '"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_with_folded_parameters() {
        // RFC 4475 §3.1.1.1 wsinv.
        let from = From::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(from.tag(), Some("98asjd8"));
        assert_eq!(from.display_name().as_deref(), Some("J Rosenberg \\\""));
    }

    #[test]
    fn from_with_token_display_name_and_quoted_utf8_param() {
        // RFC 4475 §3.1.1.2 intmeth.
        let v = "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;\
                 fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.";
        let from = From::parse(v).unwrap();
        assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
        let param = from.params().unquoted("fromparam''~+*_!.-%");
        assert_eq!(param.as_deref(), Some("работающий"));
    }

    #[test]
    fn tag_must_be_a_token() {
        // kamailio pingtel: "7618c7618^" is not a token, and "tag=" has no value.
        assert!(From::parse("<sip:a@example.com>;tag=7618c7618^").is_err());
        assert!(To::parse("<sip:a@example.com>;tag=").is_err());
        assert!(To::parse("<sip:a@example.com>;tag=\"quoted\"").is_err());
    }

    #[test]
    fn addr_spec_parameters_belong_to_the_header() {
        // RFC 4475 §3.4.1 inv2543: ;user=phone after an addr-spec is a header parameter.
        let to = To::parse("sip:+16505552222@ss1.example.net;user=phone").unwrap();
        assert_eq!(to.uri_str(), "sip:+16505552222@ss1.example.net");
        assert_eq!(to.params().get("user"), Some(Some("phone")));
        assert_eq!(to.tag(), None);
    }

    #[test]
    fn from_rejects_unquoted_comma_in_display_name() {
        // RFC 4475 §3.1.2.15 baddn.
        assert!(From::parse("Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43").is_err());
        assert!(To::parse("Watson, Thomas <sip:t.watson@example.org>").is_err());
    }

    #[test]
    fn to_rejects_spaces_inside_brackets() {
        // RFC 4475 §3.1.2.14 badaspec.
        assert!(To::parse("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
    }

    #[test]
    fn to_rejects_unbalanced_quote() {
        // RFC 4475 §3.1.2.6 quotbal.
        assert!(To::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
    }

    #[test]
    fn contact_without_brackets_takes_params_as_contact_params() {
        // RFC 4475 §3.3.12 cparam01 and §3.3.13 cparam02.
        let c = Contact::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert_eq!(c.uri_str(), Some("sip:+19725552222@gw1.example.net"));
        assert!(c.params().contains("unknownparam"));
        let c = Contact::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert_eq!(c.uri_str(), Some("sip:+19725552222@gw1.example.net;unknownparam"));
        assert!(c.params().is_empty());
    }

    #[test]
    fn contact_with_headers_outside_brackets_is_rejected() {
        // RFC 4475 §3.1.2.13 regbadct.
        assert!(Contact::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
    }

    #[test]
    fn contact_with_empty_params_is_rejected() {
        // RFC 4475 §3.1.2.1 badinv01.
        assert!(Contact::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
    }

    #[test]
    fn contact_expires_and_q_are_range_checked() {
        // RFC 4475 §3.1.2.4 scalar02: expires=280297596632815 overflows delta-seconds.
        assert!(
            Contact::parse("<sip:user@host129.example.com>\r\n  ;expires=280297596632815").is_err()
        );
        assert!(Contact::parse("<sip:a@example.com>;q=1.5").is_err());
        assert!(Contact::parse("<sip:a@example.com>;expires").is_err());
        let c = Contact::parse("<sip:a@example.com>;expires=0;q=1").unwrap();
        assert_eq!((c.expires(), c.q()), (Some(0), Some(Q::ONE)));
    }

    #[test]
    fn contact_star_has_no_address() {
        let c = Contact::parse("*").unwrap();
        assert!(c.is_star());
        assert_eq!(c.uri_str(), None);
        assert!(Contact::parse("* ;expires=0").is_err());
    }

    #[test]
    fn contact_with_quoted_feature_params() {
        // sipsorcery Windows Messenger REGISTER: quoted methods= contact param.
        let methods = "INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, \
                       BENOTIFY";
        let v = format!("<sip:10.0.0.1:11363>;methods=\"{methods}\";proxy=replace");
        let c = Contact::parse(&v).unwrap();
        assert_eq!(c.params().unquoted("methods").as_deref(), Some(methods));
        assert_eq!(c.params().get("proxy"), Some(Some("replace")));
    }

    #[test]
    fn route_requires_angle_brackets() {
        // RFC 3261 §20.34: route-param = name-addr.
        let r = Route::parse("<sip:services.example.com;lr;unknownwith=value;unknown-no-value>")
            .unwrap();
        assert_eq!(r.uri_str(), "sip:services.example.com;lr;unknownwith=value;unknown-no-value");
        assert!(Route::parse("sip:p1.example.com;lr").is_err());
        assert!(RecordRoute::parse("<sip:p1.example.com;lr>;foo=bar").is_ok());
    }

    #[test]
    fn record_route_rejects_a_fold_inside_the_uri() {
        // sofia own6: the URI is folded inside <>.
        assert!(RecordRoute::parse("<sip:proxy.example.com\r\n ;lr>").is_err());
    }

    #[test]
    fn path_and_service_route_are_name_addrs() {
        assert!(Path::parse("<sip:P3.EXAMPLEHOME.COM;lr>").is_ok());
        assert!(ServiceRoute::parse("<sip:orig@scscf.home.com;lr>").is_ok());
        assert!(Path::parse("sip:P3.EXAMPLEHOME.COM").is_err());
    }

    #[test]
    fn refer_to_keeps_escaped_headers_inside_brackets() {
        // RFC 3515 §2.1, RFC 3891 §6.
        let v = "<sip:bob@example.com?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345\
                 %3Bfrom-tag%3D5FFE-3994>";
        let r = ReferTo::parse(v).unwrap();
        assert!(r.uri_str().contains("?Replaces="));
        assert!(ReferTo::parse("sip:bob@example.com?Replaces=x").is_err());
    }

    #[test]
    fn referred_by_cid_is_unquoted() {
        // RFC 3892 §3.
        let r = ReferredBy::parse(
            "<sip:referrer@referrer.example>;cid=\"20398823.2UWQFN309shb3@referrer.example\"",
        )
        .unwrap();
        assert_eq!(r.cid(), Some("20398823.2UWQFN309shb3@referrer.example"));
        assert!(ReferredBy::parse("<sip:a@example.com>;cid=abc").is_err());
    }

    #[test]
    fn reply_to_allows_addr_spec() {
        let r = ReplyTo::parse("Bob <sip:bob@biloxi.com>").unwrap();
        assert_eq!(r.display_name().as_deref(), Some("Bob"));
        assert!(ReplyTo::parse("sip:bob@biloxi.com").is_ok());
    }
}
