//! Headers whose value (or each list element) is one token: Allow, Supported, Require,
//! Proxy-Require, Unsupported, Content-Encoding, Allow-Events, Priority; and Call-ID.

use crate::chars::{WORD, run_len};
use crate::{HeaderError, HeaderName, Method, TypedHeader};

use super::events::is_event_type;
use super::lex::{Cursor, method_of};

str_header! {
    /// One `Allow` element (RFC 3261 §20.5): a method the sender supports. An empty
    /// `Allow:` is legal and has no elements.
    ///
    /// ```text
    /// Allow  =  "Allow" HCOLON [Method *(COMMA Method)]
    /// ```
    ///
    /// ```
    /// use sip_message::{Allow, Method, TypedHeader};
    /// assert_eq!(Allow::parse("INVITE")?.method(), Method::Invite);
    /// # Ok::<(), sip_message::HeaderError>(())
    /// ```
    Allow, |v, name| one_token(v, name, "expected method", any_token)
}

str_header! {
    /// One `Supported` option tag (RFC 3261 §20.37). An empty `Supported:` is legal and has
    /// no elements.
    ///
    /// ```text
    /// Supported  =  ( "Supported" / "k" ) HCOLON [option-tag *(COMMA option-tag)]
    /// option-tag =  token
    /// ```
    Supported, |v, name| one_token(v, name, "expected option tag", any_token)
}

str_header! {
    /// One `Require` option tag (RFC 3261 §20.32).
    ///
    /// ```text
    /// Require  =  "Require" HCOLON option-tag *(COMMA option-tag)
    /// ```
    Require, |v, name| one_token(v, name, "expected option tag", any_token)
}

str_header! {
    /// One `Proxy-Require` option tag (RFC 3261 §20.29).
    ///
    /// ```text
    /// Proxy-Require  =  "Proxy-Require" HCOLON option-tag *(COMMA option-tag)
    /// ```
    ProxyRequire, |v, name| one_token(v, name, "expected option tag", any_token)
}

str_header! {
    /// One `Unsupported` option tag (RFC 3261 §20.40); the header needs at least one.
    ///
    /// ```text
    /// Unsupported  =  "Unsupported" HCOLON option-tag *(COMMA option-tag)
    /// ```
    Unsupported, |v, name| one_token(v, name, "expected option tag", any_token)
}

str_header! {
    /// One `Content-Encoding` content-coding (RFC 3261 §20.12), e.g. `gzip`.
    ///
    /// ```text
    /// Content-Encoding  =  ( "Content-Encoding" / "e" ) HCOLON
    ///                      content-coding *(COMMA content-coding)
    /// content-coding    =  token
    /// ```
    ContentEncoding, |v, name| one_token(v, name, "expected content coding", any_token)
}

str_header! {
    /// One `Allow-Events` event type (RFC 6665 §8.2.2); the header needs at least one.
    ///
    /// ```text
    /// Allow-Events  =  ( "Allow-Events" / "u" ) HCOLON event-type *(COMMA event-type)
    /// event-type    =  event-package *( "." event-template )
    /// ```
    AllowEvents, |v, name| one_token(v, name, "expected event type", is_event_type)
}

impl Allow<'_> {
    /// The method (an extension method is copied out; [`Allow::as_str`] borrows).
    #[must_use]
    pub fn method(&self) -> Method {
        method_of(self.0)
    }
}

str_header! {
    /// `Call-ID` (RFC 3261 §20.8): identifies a dialog or a registration; compared
    /// case-sensitively, byte for byte.
    ///
    /// ```text
    /// Call-ID  =  ( "Call-ID" / "i" ) HCOLON callid
    /// callid   =  word [ "@" word ]
    /// ```
    ///
    /// ```
    /// use sip_message::{CallId, TypedHeader};
    /// // RFC 4475 §3.1.1.2 intmeth: word allows most separators.
    /// let id = CallId::parse("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")?;
    /// assert_eq!(id.as_str(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    /// # Ok::<(), sip_message::HeaderError>(())
    /// ```
    CallId, |v, name| {
        let mut cur = Cursor::new(v, name);
        let id = call_id(&mut cur)?;
        cur.finish().map(|()| id)
    }
}

/// `Priority` (RFC 3261 §20.26): urgency as the sender sees it.
///
/// ```text
/// Priority        =  "Priority" HCOLON priority-value
/// priority-value  =  "emergency" / "urgent" / "normal" / "non-urgent" / other-priority
/// other-priority  =  token
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority<'a> {
    /// `emergency`
    Emergency,
    /// `urgent`
    Urgent,
    /// `normal`
    Normal,
    /// `non-urgent`
    NonUrgent,
    /// Any other token.
    Other(&'a str),
}

impl<'a> Priority<'a> {
    /// The value as a token (lower case for the known values).
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        match self {
            Priority::Emergency => "emergency",
            Priority::Urgent => "urgent",
            Priority::Normal => "normal",
            Priority::NonUrgent => "non-urgent",
            Priority::Other(token) => token,
        }
    }
}

impl<'a> TypedHeader<'a> for Priority<'a> {
    const NAME: HeaderName = HeaderName::Priority;

    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor::new(value, HeaderName::Priority);
        let token = cur.expect_token("expected priority")?;
        cur.finish()?;
        let known = [Priority::Emergency, Priority::Urgent, Priority::Normal, Priority::NonUrgent];
        Ok(known
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(token))
            .unwrap_or(Priority::Other(token)))
    }
}

/// `callid = word [ "@" word ]` at the cursor (also the start of a Replaces value).
pub(crate) fn call_id<'a>(cur: &mut Cursor<'a>) -> Result<&'a str, HeaderError> {
    let start = cur.pos();
    if cur.take_long_class(&WORD).is_empty() {
        return Err(cur.err("expected Call-ID"));
    }
    if cur.eat(b'@') && cur.take_long_class(&WORD).is_empty() {
        return Err(cur.err("expected word after '@'"));
    }
    Ok(cur.since(start))
}

/// Whether [`CallId::parse`] accepts `value`, read by the same steps without building the
/// header (for [`Message::validate`](crate::Message::validate)): first one pass over the
/// common shape, `word [ "@" word ]` and nothing after it, then, for anything else, the
/// parser's own steps.
pub(crate) fn call_id_is_valid(value: &str) -> bool {
    if plain_call_id(value.as_bytes()) {
        return true;
    }
    let mut cur = Cursor::new(value, HeaderName::CallId);
    call_id(&mut cur).is_ok() && cur.finish().is_ok()
}

/// Whether `b` is `word [ "@" word ]` exactly, which [`call_id_is_valid`] accepts (RFC 3261
/// §25.1 `callid`): one pass over bytes that need not be UTF-8 (a `word` is ASCII); `false`
/// says nothing.
pub(crate) fn plain_call_id(b: &[u8]) -> bool {
    let n = run_len(&WORD, b);
    match b.get(n) {
        None => n > 0,
        Some(b'@') => {
            let rest = b.get(n + 1..).unwrap_or_default();
            let m = run_len(&WORD, rest);
            n > 0 && m > 0 && m == rest.len()
        }
        Some(_) => false,
    }
}

/// `value` as exactly one token that `valid` accepts.
fn one_token<'a>(
    value: &'a str,
    name: HeaderName,
    what: &'static str,
    valid: fn(&str) -> bool,
) -> Result<&'a str, HeaderError> {
    let mut cur = Cursor::new(value, name);
    let token = cur.expect_token(what)?;
    cur.finish()?;
    if valid(token) { Ok(token) } else { Err(cur.err_at(what, 0)) }
}

fn any_token(_: &str) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_tags_are_single_tokens() {
        // RFC 4475 §3.3.5 bext01: unknown option tags are well formed.
        assert_eq!(Require::parse("nothingSupportsThis"), Ok(Require("nothingSupportsThis")));
        assert_eq!(
            ProxyRequire::parse("noProxiesSupportThis").map(|t| t.as_str()),
            Ok("noProxiesSupportThis")
        );
        assert_eq!(Supported::parse("100rel"), Ok(Supported("100rel")));
        assert!(Supported::parse("a b").is_err());
    }

    #[test]
    fn empty_elements_are_rejected() {
        // resiprocate L765: "Unsupported:" needs an option tag.
        assert!(Unsupported::parse("").is_err());
        assert!(Require::parse("").is_err());
    }

    #[test]
    fn allow_yields_methods() {
        assert_eq!(Allow::parse("PRACK").unwrap().method(), Method::Prack);
        assert_eq!(Allow::parse("FOO").unwrap().method().as_str(), "FOO");
        assert!(Allow::parse("IN VITE").is_err());
    }

    #[test]
    fn allow_events_are_event_types() {
        // RFC 6665 §8.2.2; resiprocate L970: an empty Allow-Events is malformed.
        assert_eq!(AllowEvents::parse("presence.winfo"), Ok(AllowEvents("presence.winfo")));
        assert!(AllowEvents::parse("").is_err());
        assert!(AllowEvents::parse("presence.").is_err());
        assert!(AllowEvents::parse(".x").is_err());
    }

    #[test]
    fn content_encoding_is_a_token() {
        assert_eq!(ContentEncoding::parse("gzip"), Ok(ContentEncoding("gzip")));
        assert!(ContentEncoding::parse("gzip;q=1").is_err());
    }

    #[test]
    fn call_id_is_word_at_word() {
        // RFC 3261 §25.1.
        assert_eq!(
            CallId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com").map(|c| c.0),
            Ok("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com")
        );
        assert_eq!(CallId::parse("0ha0isndaksdj").map(|c| c.0), Ok("0ha0isndaksdj"));
        for bad in ["", "a@", "@b", "a@b@c", "a b", "a;b"] {
            assert!(CallId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn priority_known_values_are_case_insensitive() {
        assert_eq!(Priority::parse("emergency"), Ok(Priority::Emergency));
        assert_eq!(Priority::parse("Non-Urgent"), Ok(Priority::NonUrgent));
        assert_eq!(Priority::parse("whenever"), Ok(Priority::Other("whenever")));
        assert!(Priority::parse("very urgent").is_err());
    }
}
