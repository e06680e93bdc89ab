//! Descriptive headers: User-Agent and Server (product tokens and comments), Warning, and
//! the free-text Subject and Organization (RFC 3261 §20.25, §20.35, §20.36, §20.41, §20.43).

use std::borrow::Cow;

use crate::{HeaderError, HeaderName, TypedHeader};

use super::lex::{Cursor, decode, is_text, unquote};

/// One element of a User-Agent or Server value (RFC 3261 §20.35, §20.41 `server-val`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerVal<'a> {
    /// `product = token [SLASH product-version]`.
    Product {
        /// The product name.
        name: &'a str,
        /// The version after `/`, if any.
        version: Option<&'a str>,
    },
    /// A comment's text without its parentheses (nested comments kept as written).
    Comment(&'a str),
}

/// Iterator over the [`ServerVal`]s of a [`UserAgent`] or [`Server`] value.
#[derive(Clone, Debug)]
pub struct ServerVals<'a> {
    cur: Cursor<'a>,
    after_comment: bool,
    first: bool,
}

str_header! {
    /// `User-Agent` (RFC 3261 §20.41): the UAC's software.
    ///
    /// ```text
    /// User-Agent       =  "User-Agent" HCOLON server-val *(LWS server-val)
    /// server-val       =  product / comment
    /// product          =  token [SLASH product-version]
    /// product-version  =  token
    /// ```
    ///
    /// A comment may follow a product without whitespace (its LPAREN allows SWS), and a
    /// product version may contain further `/`-separated tokens, as PJSIP sends
    /// (`Linux-5.14.4.18/x86_64/glibc-2.31`).
    ///
    /// ```
    /// use sip_message::{ServerVal, TypedHeader, UserAgent};
    /// let ua = UserAgent::parse("SIPimp.org/0.2.5 (curses)")?;
    /// let vals: Vec<_> = ua.products().collect();
    /// assert_eq!(vals, [
    ///     ServerVal::Product { name: "SIPimp.org", version: Some("0.2.5") },
    ///     ServerVal::Comment("curses"),
    /// ]);
    /// # Ok::<(), sip_message::HeaderError>(())
    /// ```
    UserAgent, |v, name| ServerVals::validate(v, name).map(|()| v)
}

str_header! {
    /// `Server` (RFC 3261 §20.35): the UAS's software; the same grammar as [`UserAgent`].
    ///
    /// ```text
    /// Server  =  "Server" HCOLON server-val *(LWS server-val)
    /// ```
    Server, |v, name| ServerVals::validate(v, name).map(|()| v)
}

impl<'a> UserAgent<'a> {
    /// The products and comments, in order.
    #[must_use]
    pub fn products(&self) -> ServerVals<'a> {
        ServerVals::new(self.0, HeaderName::UserAgent)
    }
}

impl<'a> Server<'a> {
    /// The products and comments, in order.
    #[must_use]
    pub fn products(&self) -> ServerVals<'a> {
        ServerVals::new(self.0, HeaderName::Server)
    }
}

impl<'a> Subject<'a> {
    /// The text with folded line breaks removed.
    #[must_use]
    pub fn text(&self) -> Cow<'a, str> {
        decode(self.0, false)
    }
}

impl<'a> Organization<'a> {
    /// The text with folded line breaks removed.
    #[must_use]
    pub fn text(&self) -> Cow<'a, str> {
        decode(self.0, false)
    }
}

impl<'a> ServerVals<'a> {
    fn new(value: &'a str, name: HeaderName) -> Self {
        ServerVals { cur: Cursor::new(value, name), after_comment: false, first: true }
    }

    /// Walks the whole value once, so that iteration later cannot fail; at least one element.
    fn validate(value: &'a str, name: HeaderName) -> Result<(), HeaderError> {
        let mut vals = ServerVals::new(value, name);
        if vals.step()?.is_none() {
            return Err(vals.cur.err("expected product or comment"));
        }
        while vals.step()?.is_some() {}
        Ok(())
    }

    /// The next element, or `None` at the end.
    fn step(&mut self) -> Result<Option<ServerVal<'a>>, HeaderError> {
        let spaced = self.cur.skip_sws();
        let Some(c) = self.cur.peek() else { return Ok(None) };
        let joined = !(spaced || self.first || self.after_comment);
        self.first = false;
        if c == b'(' {
            let text = self.cur.comment_text()?;
            self.after_comment = true;
            return Ok(Some(ServerVal::Comment(text)));
        }
        if joined {
            return Err(self.cur.err("expected whitespace between products"));
        }
        self.after_comment = false;
        let name = self.cur.expect_token("expected product")?;
        if !self.cur.sep(b'/') {
            return Ok(Some(ServerVal::Product { name, version: None }));
        }
        let start = self.cur.pos();
        self.cur.expect_token("expected product version")?;
        let mut end = self.cur.pos();
        while self.cur.sep(b'/') {
            self.cur.expect_token("expected product version")?;
            end = self.cur.pos();
        }
        Ok(Some(ServerVal::Product { name, version: Some(self.cur.slice(start, end)) }))
    }
}

impl<'a> Iterator for ServerVals<'a> {
    type Item = ServerVal<'a>;

    fn next(&mut self) -> Option<ServerVal<'a>> {
        // Validated at parse time; an error just ends the iteration.
        self.step().ok().flatten()
    }
}

/// One `Warning` value (RFC 3261 §20.43): extra information about a response's status.
///
/// ```text
/// Warning        =  "Warning" HCOLON warning-value *(COMMA warning-value)
/// warning-value  =  warn-code SP warn-agent SP warn-text
/// warn-code      =  3DIGIT
/// warn-agent     =  hostport / pseudonym
/// warn-text      =  quoted-string
/// pseudonym      =  token
/// ```
///
/// ```
/// use sip_message::{TypedHeader, Warning};
/// let w = Warning::parse("307 isi.edu \"Session parameter 'foo' not understood\"")?;
/// assert_eq!((w.code(), w.agent()), (307, "isi.edu"));
/// assert_eq!(w.text(), "Session parameter 'foo' not understood");
/// assert!(Warning::parse("1812 overture \"In Progress\"").is_err()); // RFC 4475 scalarlg
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Warning<'a> {
    code: u16,
    agent: &'a str,
    text: &'a str,
}

impl<'a> Warning<'a> {
    /// The three-digit warn-code (RFC 3261 §20.43 lists 300–399).
    #[must_use]
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The host (and port) or pseudonym of the element that added the warning.
    #[must_use]
    pub fn agent(&self) -> &'a str {
        self.agent
    }

    /// The warning text, decoded.
    #[must_use]
    pub fn text(&self) -> Cow<'a, str> {
        unquote(self.text)
    }

    /// The warning text as it appears on the wire, quotes included.
    #[must_use]
    pub fn text_raw(&self) -> &'a str {
        self.text
    }
}

impl<'a> TypedHeader<'a> for Warning<'a> {
    const NAME: HeaderName = HeaderName::Warning;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::Warning);
        let code = cur.fixed_number(3, "warn-code is not three digits")?;
        cur.lws("expected space after warn-code")?;
        let start = cur.pos();
        if cur.peek() == Some(b'[') {
            cur.host()?;
        } else {
            cur.expect_token("expected warn-agent")?;
        }
        if cur.eat(b':') {
            cur.port()?;
        }
        let agent = cur.since(start);
        cur.lws("expected space after warn-agent")?;
        let text = cur.quoted_string()?;
        cur.finish()?;
        Ok(Warning { code, agent, text })
    }
}

str_header! {
    /// `Subject` (RFC 3261 §20.36): a summary of the call; may be empty.
    ///
    /// ```text
    /// Subject  =  ( "Subject" / "s" ) HCOLON [TEXT-UTF8-TRIM]
    /// ```
    Subject, text
}

str_header! {
    /// `Organization` (RFC 3261 §20.25): the sender's organization; may be empty.
    ///
    /// ```text
    /// Organization  =  "Organization" HCOLON [TEXT-UTF8-TRIM]
    /// ```
    Organization, text
}

/// `[TEXT-UTF8-TRIM]`: any text without control characters but folds (the value arrives
/// trimmed).
fn text(value: &str, name: HeaderName) -> Result<&str, HeaderError> {
    if is_text(value) {
        Ok(value)
    } else {
        Err(HeaderError::new(name, "control character in text", 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(s: &str) -> Vec<ServerVal<'_>> {
        UserAgent::parse(s).unwrap().products().collect()
    }

    fn product<'a>(name: &'a str, version: Option<&'a str>) -> ServerVal<'a> {
        ServerVal::Product { name, version }
    }

    #[test]
    fn products_and_comments() {
        assert_eq!(
            vals("Pingtel/2.0.0 (WinNT)"),
            [product("Pingtel", Some("2.0.0")), ServerVal::Comment("WinNT")]
        );
        assert_eq!(vals("X-Lite release 1006e stamp 34025").len(), 5);
    }

    #[test]
    fn comment_may_touch_a_product_and_nest() {
        // kamailio: "Sip EXpress router(0.8.11pre28 (i386/linux))"; Linksys "(LIc)".
        assert_eq!(
            vals("Sip EXpress router(0.8.11pre28 (i386/linux))").last(),
            Some(&ServerVal::Comment("0.8.11pre28 (i386/linux)"))
        );
        assert_eq!(
            vals("Linksys/RT31P2-2.0.10(LIc)"),
            [product("Linksys", Some("RT31P2-2.0.10")), ServerVal::Comment("LIc")]
        );
    }

    #[test]
    fn browser_style_user_agent() {
        let v = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/37.0.2062.120 Safari/537.36";
        assert_eq!(vals(v).len(), 6);
    }

    #[test]
    fn version_with_slashes_is_accepted() {
        // sipgo PJSUA REGISTER.
        assert_eq!(
            vals("PJSUA v2.10 Linux-5.14.4.18/x86_64/glibc-2.31").last(),
            Some(&product("Linux-5.14.4.18", Some("x86_64/glibc-2.31")))
        );
    }

    #[test]
    fn malformed_product_lists_are_rejected() {
        assert!(UserAgent::parse("").is_err());
        assert!(UserAgent::parse("Foo/").is_err());
        assert!(UserAgent::parse("Foo (unterminated").is_err());
        assert!(Server::parse("a,b").is_err());
        assert!(Server::parse("(c)\"q\"").is_err());
    }

    #[test]
    fn server_keeps_the_raw_value() {
        let v =
            "Patton SN4634 3BIS 00A0BA04469B R5.3 2009-01-15 H323 SIP BRI M5T SIP Stack/4.0.28.28";
        let s = Server::parse(v).unwrap();
        assert_eq!(s.as_str(), v);
        assert_eq!(s.products().count(), 12);
    }

    #[test]
    fn warning_code_is_exactly_three_digits() {
        // RFC 4475 §3.1.2.5 scalarlg.
        assert!(Warning::parse("1812 overture \"In Progress\"").is_err());
        assert!(Warning::parse("30 overture \"In Progress\"").is_err());
    }

    #[test]
    fn warning_text_must_be_quoted() {
        // sofia own0: unquoted warn-text.
        assert!(Warning::parse("330 garage.sr.ntc.nokia.com No IPv6 multicast").is_err());
    }

    #[test]
    fn warning_agent_may_be_hostport_or_ipv6() {
        let w = Warning::parse("370 [2001:db8::1]:5060 \"Insufficient bandwidth\"").unwrap();
        assert_eq!(w.agent(), "[2001:db8::1]:5060");
        let w = Warning::parse("399 example.com:5060 \"a \\\"b\\\"\"").unwrap();
        assert_eq!((w.agent(), w.text().as_ref()), ("example.com:5060", "a \"b\""));
    }

    #[test]
    fn subject_and_organization_are_text() {
        assert_eq!(Subject::parse("").map(|s| s.as_str()), Ok(""));
        assert_eq!(
            Organization::parse("Max-Forwards: 70").map(|s| s.as_str()),
            Ok("Max-Forwards: 70")
        );
        assert_eq!(Subject::parse("Need\r\n more boxes").unwrap().text(), "Need more boxes");
        assert!(Subject::parse("a\x00b").is_err());
    }
}
