//! Authentication headers (RFC 3261 §20.6, §20.7, §20.27, §20.28, §20.44, §22; RFC 7616
//! Digest with SHA-256 and `userhash`, as RFC 8760 brings it to SIP).
//!
//! One parser serves all of them: a scheme token, then either comma-separated auth-params
//! or, for non-Digest schemes such as Bearer, a `token68`.

use std::borrow::Cow;
use std::ops::Deref;

use crate::{HeaderError, HeaderName, TypedHeader};

use super::lex::{Cursor, strip_pair};
use super::params::{Params, parse_auth_params};

/// A challenge from `WWW-Authenticate` or `Proxy-Authenticate` (RFC 3261 §20.27, §20.44).
///
/// ```text
/// challenge           =  ("Digest" LWS digest-cln *(COMMA digest-cln))
///                        / other-challenge
/// other-challenge     =  auth-scheme LWS auth-param *(COMMA auth-param)
/// digest-cln          =  realm / domain / nonce / opaque / stale / algorithm
///                        / qop-options / auth-param
/// auth-param          =  auth-param-name EQUAL ( token / quoted-string )
/// qop-options         =  "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT
/// ```
///
/// ```
/// use sip_message::{TypedHeader, WwwAuthenticate};
/// let v = "Digest realm=\"atlanta.com\",\r\n  qop=\"auth,auth-int\", \
///          nonce=\"84a4cc6f3082121f32b42a2187831a9e\", algorithm=SHA-256, stale=FALSE";
/// let c = WwwAuthenticate::parse(v)?;
/// assert!(c.is_digest());
/// assert_eq!(c.realm().as_deref(), Some("atlanta.com"));
/// assert_eq!(c.qop().collect::<Vec<_>>(), ["auth", "auth-int"]);
/// assert_eq!(c.algorithm(), Some("SHA-256"));
/// assert_eq!(c.stale(), Some(false));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Challenge<'a> {
    auth: Auth<'a>,
}

/// Credentials from `Authorization` or `Proxy-Authorization` (RFC 3261 §20.7, §20.28).
///
/// ```text
/// credentials       =  ("Digest" LWS digest-response) / other-response
/// digest-response   =  dig-resp *(COMMA dig-resp)
/// dig-resp          =  username / realm / nonce / digest-uri / dresponse / algorithm
///                      / cnonce / opaque / message-qop / nonce-count / auth-param
/// other-response    =  auth-scheme LWS auth-param *(COMMA auth-param)
/// nc-value          =  8LHEX
/// ```
///
/// ```
/// use sip_message::{Authorization, TypedHeader};
/// let v = "Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"dcd98b\", \
///          uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
///          response=\"6629fae49393a05397450978507c4ef1\"";
/// let c = Authorization::parse(v)?;
/// assert_eq!(c.username().as_deref(), Some("bob"));
/// assert_eq!(c.uri().as_deref(), Some("sip:bob@biloxi.com"));
/// assert_eq!(c.nc(), Some(1));
/// assert_eq!(c.qop(), Some("auth"));
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Credentials<'a> {
    auth: Auth<'a>,
}

/// `Authentication-Info` (RFC 3261 §20.6, RFC 7616 §3.5): mutual authentication and the next
/// nonce, sent in a 2xx to an authenticated request.
///
/// ```text
/// Authentication-Info  =  "Authentication-Info" HCOLON ainfo *(COMMA ainfo)
/// ainfo                =  nextnonce / message-qop / response-auth / cnonce / nonce-count
/// nextnonce            =  "nextnonce" EQUAL nonce-value
/// response-auth        =  "rspauth" EQUAL response-digest
/// ```
#[derive(Clone, Debug)]
pub struct AuthenticationInfo<'a> {
    params: Params<'a>,
}

/// The grammar all four authentication headers share: `auth-scheme LWS auth-params`, or a
/// `token68` (RFC 7235 §2.1) for schemes such as Bearer that use one.
#[derive(Clone, Debug)]
struct Auth<'a> {
    scheme: &'a str,
    params: Params<'a>,
    token68: Option<&'a str>,
}

/// The accessors challenges and credentials share.
macro_rules! auth_accessors {
    ($ty:ident) => {
        impl<'a> $ty<'a> {
            /// The authentication scheme as sent (`Digest`, or another token).
            #[must_use]
            pub fn scheme(&self) -> &'a str {
                self.auth.scheme
            }

            /// Whether the scheme is `Digest` (case-insensitive, RFC 7616 §3.3).
            #[must_use]
            pub fn is_digest(&self) -> bool {
                self.auth.scheme.eq_ignore_ascii_case("Digest")
            }

            /// The auth-params in order, values raw (quoted-strings keep their quotes). Empty
            /// when the value is a `token68`.
            #[must_use]
            pub fn params(&self) -> Params<'a> {
                self.auth.params
            }

            /// The decoded value of auth-param `name` (case-insensitive).
            #[must_use]
            pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
                self.auth.params.unquoted(name)
            }

            /// The `token68` that follows the scheme instead of auth-params (e.g. a Bearer
            /// token); `None` when the value has auth-params.
            #[must_use]
            pub fn token68(&self) -> Option<&'a str> {
                self.auth.token68
            }

            /// The `realm` (protection space).
            #[must_use]
            pub fn realm(&self) -> Option<Cow<'a, str>> {
                self.param("realm")
            }

            /// The server's `nonce`.
            #[must_use]
            pub fn nonce(&self) -> Option<Cow<'a, str>> {
                self.param("nonce")
            }

            /// The `opaque` value, returned unchanged by the client.
            #[must_use]
            pub fn opaque(&self) -> Option<Cow<'a, str>> {
                self.param("opaque")
            }

            /// The `algorithm` token (`MD5`, `MD5-sess`, `SHA-256`, `SHA-512-256`, `-sess`
            /// variants; RFC 7616 §3.3). Quotes some clients add are removed.
            #[must_use]
            pub fn algorithm(&self) -> Option<&'a str> {
                self.raw_unquoted("algorithm")
            }

            /// `userhash`: whether the username is hashed (RFC 7616 §3.4.4).
            #[must_use]
            pub fn userhash(&self) -> Option<bool> {
                self.raw_unquoted("userhash").and_then(parse_bool)
            }

            /// The value of `name` with the quotes of a quoted-string stripped but no
            /// quoted-pairs resolved: for token-valued fields that some clients quote.
            fn raw_unquoted(&self, name: &str) -> Option<&'a str> {
                let v = self.auth.params.get(name).flatten()?;
                Some(strip_pair(v, '"', '"').unwrap_or(v))
            }
        }
    };
}

auth_accessors!(Challenge);
auth_accessors!(Credentials);

impl<'a> Challenge<'a> {
    /// The `domain`: space-separated URIs of the protection space (RFC 7616 §3.3).
    #[must_use]
    pub fn domain(&self) -> Option<Cow<'a, str>> {
        self.param("domain")
    }

    /// The qop-options offered, in order (`auth`, `auth-int`); empty when there is no `qop`.
    pub fn qop(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.raw_unquoted("qop")
            .unwrap_or("")
            .split(',')
            .map(|q| q.trim_matches([' ', '\t', '\r', '\n']))
            .filter(|q| !q.is_empty())
    }

    /// `stale=true`: the nonce expired but the credentials were right; retry with the new
    /// nonce without asking the user (RFC 7616 §3.3). `None` when absent or neither
    /// `true` nor `false`.
    #[must_use]
    pub fn stale(&self) -> Option<bool> {
        self.raw_unquoted("stale").and_then(parse_bool)
    }

    /// The `charset` the server accepts for usernames and passwords (RFC 7616 §3.3).
    #[must_use]
    pub fn charset(&self) -> Option<&'a str> {
        self.raw_unquoted("charset")
    }
}

impl<'a> Credentials<'a> {
    /// The `username` (or its hash when [`userhash`](Credentials::userhash) is true).
    #[must_use]
    pub fn username(&self) -> Option<Cow<'a, str>> {
        self.param("username")
    }

    /// The `uri` the credentials were computed over (`digest-uri`).
    #[must_use]
    pub fn uri(&self) -> Option<Cow<'a, str>> {
        self.param("uri")
    }

    /// The `response` digest, hex.
    #[must_use]
    pub fn response(&self) -> Option<Cow<'a, str>> {
        self.param("response")
    }

    /// The client nonce `cnonce`.
    #[must_use]
    pub fn cnonce(&self) -> Option<Cow<'a, str>> {
        self.param("cnonce")
    }

    /// The chosen `qop` (`auth` or `auth-int`); quotes some clients add are removed.
    #[must_use]
    pub fn qop(&self) -> Option<&'a str> {
        self.raw_unquoted("qop")
    }

    /// The nonce count `nc` (8 hex digits); `None` when absent or malformed.
    #[must_use]
    pub fn nc(&self) -> Option<u32> {
        parse_nc(self.raw_unquoted("nc")?)
    }
}

impl<'a> AuthenticationInfo<'a> {
    /// The parameters in order, values raw.
    #[must_use]
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The decoded value of parameter `name` (case-insensitive).
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params.unquoted(name)
    }

    /// `nextnonce`: the nonce to use for the next request.
    #[must_use]
    pub fn next_nonce(&self) -> Option<Cow<'a, str>> {
        self.param("nextnonce")
    }

    /// `rspauth`: the server's response digest, for mutual authentication.
    #[must_use]
    pub fn rspauth(&self) -> Option<Cow<'a, str>> {
        self.param("rspauth")
    }

    /// `qop`, echoed from the request.
    #[must_use]
    pub fn qop(&self) -> Option<Cow<'a, str>> {
        self.param("qop")
    }

    /// `cnonce`, echoed from the request.
    #[must_use]
    pub fn cnonce(&self) -> Option<Cow<'a, str>> {
        self.param("cnonce")
    }

    /// `nc`, echoed from the request; `None` when absent or malformed.
    #[must_use]
    pub fn nc(&self) -> Option<u32> {
        self.params.get("nc").flatten().and_then(parse_nc)
    }
}

impl<'a> TypedHeader<'a> for AuthenticationInfo<'a> {
    const NAME: HeaderName = HeaderName::AuthenticationInfo;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::AuthenticationInfo);
        let params = parse_auth_params(&mut cur)?;
        cur.finish()?;
        Ok(AuthenticationInfo { params })
    }
}

/// Defines a header newtype over [`Challenge`] or [`Credentials`], which it derefs to.
macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident($inner:ident)) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty<'a>(pub $inner<'a>);

        impl<'a> Deref for $ty<'a> {
            type Target = $inner<'a>;

            fn deref(&self) -> &$inner<'a> {
                &self.0
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = HeaderName::$ty;

            fn parse(value: &'a str) -> Result<Self, HeaderError> {
                parse_auth(value, HeaderName::$ty).map(|auth| $ty($inner { auth }))
            }
        }
    };
}

auth_header! {
    /// `WWW-Authenticate` (RFC 3261 §20.44): a UAS's challenge in a 401; derefs to
    /// [`Challenge`].
    WwwAuthenticate(Challenge)
}

auth_header! {
    /// `Proxy-Authenticate` (RFC 3261 §20.27): a proxy's challenge in a 407; derefs to
    /// [`Challenge`].
    ProxyAuthenticate(Challenge)
}

auth_header! {
    /// `Authorization` (RFC 3261 §20.7): credentials for a UAS; derefs to [`Credentials`].
    ///
    /// ```
    /// use sip_message::{Authorization, TypedHeader};
    /// // RFC 4475 §3.3.7 regaut01: an unknown scheme is well formed.
    /// let a = Authorization::parse("NoOneKnowsThisScheme opaque-data=here")?;
    /// assert_eq!(a.scheme(), "NoOneKnowsThisScheme");
    /// assert_eq!(a.param("opaque-data").as_deref(), Some("here"));
    /// # Ok::<(), sip_message::HeaderError>(())
    /// ```
    Authorization(Credentials)
}

auth_header! {
    /// `Proxy-Authorization` (RFC 3261 §20.28): credentials for a proxy; derefs to
    /// [`Credentials`].
    ProxyAuthorization(Credentials)
}

/// `auth-scheme LWS auth-param *(COMMA auth-param)`, or `auth-scheme LWS token68`, or the
/// scheme alone (RFC 7235 §2.1 allows a challenge without parameters).
fn parse_auth(value: &str, name: HeaderName) -> Result<Auth<'_>, HeaderError> {
    let mut cur = Cursor::new(value, name);
    let scheme = cur.expect_token("expected authentication scheme")?;
    if cur.at_end() {
        return Ok(Auth { scheme, params: Params::default(), token68: None });
    }
    cur.lws("expected whitespace after scheme")?;
    let start = cur.pos();
    let params = match parse_auth_params(&mut cur).and_then(|p| cur.finish().map(|()| p)) {
        Ok(params) => params,
        Err(e) => {
            cur.reset(start);
            return token68(&mut cur)
                .map(|t| Auth { scheme, params: Params::default(), token68: Some(t) })
                .ok_or(e);
        }
    };
    Ok(Auth { scheme, params, token68: None })
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` as the rest of
/// the value (RFC 7235 §2.1).
fn token68<'a>(cur: &mut Cursor<'a>) -> Option<&'a str> {
    let start = cur.pos();
    let body = cur.take_while(|c| c.is_ascii_alphanumeric() || b"-._~+/".contains(&c));
    cur.take_while(|c| c == b'=');
    let token = cur.since(start);
    (!body.is_empty() && cur.finish().is_ok()).then_some(token)
}

/// `nc-value = 8LHEX` (upper case accepted).
fn parse_nc(v: &str) -> Option<u32> {
    (v.len() == 8).then(|| u32::from_str_radix(v, 16).ok()).flatten()
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_with_auth_param() {
        // RFC 4475 §3.3.7 regaut01.
        let a = Authorization::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!a.is_digest());
        assert_eq!(a.params().iter().collect::<Vec<_>>(), [("opaque-data", Some("here"))]);
    }

    #[test]
    fn folded_challenge_with_trailing_space_before_the_fold() {
        // resiprocate L165 (Lucent SIPTRANS): "Digest realm=\"...\", \r\n   nonce=...".
        let v = "Digest realm=\"aP3nFt10ziWg41Su4s8\", \r\n   \
                 nonce=\"d6cb083cced5583c140c5f99eb81feda\", algorithm=MD5, qop=\"auth\", \r\n   \
                 opaque=\"f2a62109ee6526c8760e4e7497861aac\"";
        let c = WwwAuthenticate::parse(v).unwrap();
        assert_eq!(c.nonce().as_deref(), Some("d6cb083cced5583c140c5f99eb81feda"));
        assert_eq!(c.opaque().as_deref(), Some("f2a62109ee6526c8760e4e7497861aac"));
        assert_eq!(c.qop().collect::<Vec<_>>(), ["auth"]);
        assert_eq!(c.algorithm(), Some("MD5"));
    }

    #[test]
    fn credentials_with_mixed_case_names_and_spaces_around_equals() {
        // sofia test: "USERNAME=" upper case; RFC 3665-style "realm = \"atlanta.com\"".
        let v = "Digest USERNAME=\"digest\", realm = \"atlanta.com\", \
                 NONCE=\"MjAwMS0wMS0yMSAxNTowODo1OA==\"";
        let c = ProxyAuthorization::parse(v).unwrap();
        assert_eq!(c.username().as_deref(), Some("digest"));
        assert_eq!(c.realm().as_deref(), Some("atlanta.com"));
        assert_eq!(c.nonce().as_deref(), Some("MjAwMS0wMS0yMSAxNTowODo1OA=="));
    }

    #[test]
    fn quoted_algorithm_and_empty_opaque() {
        // sofia/iptel algorithm="MD5"; sipsorcery miniSIPServer opaque="".
        let v = "Digest username=\"user\",realm=\"sipsorcery.com\",nonce=\"1304\",\
                 uri=\"sip:300@sipsorcery.com\",response=\"7b3b\",opaque=\"\",algorithm=\"MD5\"";
        let c = Authorization::parse(v).unwrap();
        assert_eq!(c.algorithm(), Some("MD5"));
        assert_eq!(c.opaque().as_deref(), Some(""));
    }

    #[test]
    fn single_quoted_values_are_not_quoted_strings() {
        // sipsorcery Ekiga REGISTER: '...' is not a quoted-string, and ':' is not a token char.
        assert!(
            Authorization::parse("Digest username='twolmsted', uri='sip:sip.sipsorcery.com'")
                .is_err()
        );
    }

    #[test]
    fn malformed_lists_are_rejected() {
        assert!(Authorization::parse("Digest username=\"a\",, realm=\"b\"").is_err());
        assert!(Authorization::parse("Digest username=\"a\" realm=\"b\"").is_err());
        assert!(Authorization::parse("Digest username=\"unterminated").is_err());
        assert!(Authorization::parse("Digest,username=\"a\"").is_err());
    }

    #[test]
    fn token68_for_other_schemes() {
        let a = Authorization::parse("Bearer eyJhbGciOi.JSUzI1NiJ9-x_y/z+==").unwrap();
        assert_eq!(a.scheme(), "Bearer");
        assert_eq!(a.token68(), Some("eyJhbGciOi.JSUzI1NiJ9-x_y/z+=="));
        assert!(a.params().is_empty());
    }

    #[test]
    fn scheme_alone_is_accepted() {
        let c = WwwAuthenticate::parse("Negotiate").unwrap();
        assert_eq!(c.scheme(), "Negotiate");
        assert!(c.params().is_empty());
    }

    #[test]
    fn rfc7616_userhash_and_charset() {
        // RFC 7616 §3.9.2.
        let v = "Digest realm=\"api@example.org\", qop=\"auth\", algorithm=SHA-512-256, \
                 nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\", \
                 opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\", \
                 charset=UTF-8, userhash=true";
        let c = WwwAuthenticate::parse(v).unwrap();
        assert_eq!(c.charset(), Some("UTF-8"));
        assert_eq!(c.userhash(), Some(true));
        let v = "Digest \
                 username=\"488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec\", \
                 realm=\"api@example.org\", uri=\"/doe.json\", algorithm=SHA-512-256, \
                 nonce=\"5TsQ\", nc=0000000a, cnonce=\"NTg6\", qop=auth, response=\"ae66\", \
                 opaque=\"HRPC\", userhash=true";
        let a = Authorization::parse(v).unwrap();
        assert_eq!(a.userhash(), Some(true));
        assert_eq!(a.nc(), Some(10));
        assert_eq!(a.cnonce().as_deref(), Some("NTg6"));
        assert_eq!(a.response().as_deref(), Some("ae66"));
    }

    #[test]
    fn escaped_username_is_decoded() {
        let a = Authorization::parse(r#"Digest username="J\"D", realm="r""#).unwrap();
        assert_eq!(a.username().as_deref(), Some("J\"D"));
        assert_eq!(a.params().get("username"), Some(Some(r#""J\"D""#)));
    }

    #[test]
    fn authentication_info_params() {
        let v = "nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth, rspauth=\"6629fae4\", \
                 cnonce=\"0a4f113b\", nc=00000001";
        let i = AuthenticationInfo::parse(v).unwrap();
        assert_eq!(i.next_nonce().as_deref(), Some("47364c23432d2e131a5fb210812c"));
        assert_eq!(i.rspauth().as_deref(), Some("6629fae4"));
        assert_eq!(i.nc(), Some(1));
        assert_eq!(i.qop().as_deref(), Some("auth"));
        assert!(AuthenticationInfo::parse("").is_err());
    }

    #[test]
    fn nc_must_be_eight_hex_digits() {
        assert_eq!(parse_nc("0000000A"), Some(10));
        assert_eq!(parse_nc("1"), None);
        assert_eq!(parse_nc("0000000g"), None);
    }
}
