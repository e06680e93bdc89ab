//! Header parameters: `*( SEMI generic-param )` after most header values, and the
//! comma-separated `auth-param` lists of the authentication headers; plus `qvalue`.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;

use crate::chars::{TOKEN, run_len};
use crate::{HeaderError, HeaderName};

use super::lex::{Cursor, in_class, unquote};

/// The parameters of a header value, borrowed from the message, in the order they appear.
///
/// RFC 3261 §25.1: `generic-param = token [ EQUAL gen-value ]`,
/// `gen-value = token / host / quoted-string`. The authentication headers use the same shape
/// separated by commas (`auth-param = auth-param-name EQUAL ( token / quoted-string )`).
///
/// Names compare case-insensitively. Values are raw: a quoted-string keeps its quotes (use
/// [`unquote`] or [`Params::unquoted`] to decode it), and a name without `=` has no value.
/// Duplicates are kept; lookups answer the first.
///
/// ```
/// use sip_message::{To, TypedHeader};
/// let to = To::parse("<sip:bob@example.com>;tag=a6c85cf;x=\"q\";lr")?;
/// let params = to.params();
/// assert_eq!(params.get("TAG"), Some(Some("a6c85cf")));
/// assert_eq!(params.get("lr"), Some(None));
/// assert_eq!(params.get("x"), Some(Some("\"q\"")));
/// assert_eq!(params.iter().count(), 3);
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params<'a> {
    raw: &'a str,
    sep: u8,
}

/// Iterator over `(name, value)` pairs of [`Params`], in order.
#[derive(Clone, Debug)]
pub struct ParamIter<'a> {
    cur: Cursor<'a>,
    sep: u8,
}

impl<'a> Params<'a> {
    /// The parameters as they appear on the wire, starting at the first separator (`;` for
    /// generic parameters); empty when there are none.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether there are no parameters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The parameters in order, as `(name, raw value)`.
    #[must_use]
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { cur: Cursor::new(self.raw, HeaderName::Other), sep: self.sep }
    }

    /// The first parameter named `name` (case-insensitive): `None` if absent, `Some(None)` if
    /// present without a value, `Some(Some(raw))` otherwise.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Whether a parameter named `name` is present, with or without a value.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The decoded value of the first parameter named `name` ([`unquote`]d); `None` when it is
    /// absent or has no value.
    #[must_use]
    pub fn unquoted(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name).flatten().map(unquote)
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);
    type IntoIter = ParamIter<'a>;

    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Params<'a> {
    type Item = (&'a str, Option<&'a str>);
    type IntoIter = ParamIter<'a>;

    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        // The text was validated when the header was parsed, so re-lexing cannot fail; if it
        // somehow did, the iteration just ends.
        self.cur.skip_sws();
        self.cur.eat(self.sep);
        self.cur.skip_sws();
        if self.cur.at_end() {
            return None;
        }
        let item = param(&mut self.cur, ValueSyntax::Generic).ok();
        if item.is_none() {
            self.cur = Cursor::new("", HeaderName::Other);
        }
        item
    }
}

/// A `qvalue` (RFC 3261 §20.10, §20.1): a preference from 0 to 1 with at most three
/// decimals, kept exactly as thousandths.
///
/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
///
/// ```
/// use sip_message::Q;
/// let q: Q = "0.33".parse()?;
/// assert_eq!(q.thousandths(), 330);
/// assert_eq!(q.to_string(), "0.33");
/// assert!("1.5".parse::<Q>().is_err());
/// # Ok::<(), sip_message::HeaderError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Q(u16);

impl Q {
    /// `q=0`: not acceptable.
    pub const ZERO: Q = Q(0);
    /// `q=1`: most preferred.
    pub const ONE: Q = Q(1000);

    /// A qvalue of `n`/1000; `None` above 1000.
    #[must_use]
    pub const fn from_thousandths(n: u16) -> Option<Q> {
        if n <= 1000 { Some(Q(n)) } else { None }
    }

    /// The value in thousandths, 0..=1000.
    #[must_use]
    pub const fn thousandths(self) -> u16 {
        self.0
    }

    /// The value as a float in 0.0..=1.0.
    #[must_use]
    pub fn as_f32(self) -> f32 {
        f32::from(self.0) / 1000.0
    }

    /// Parses a whole `qvalue`.
    fn parse(s: &str) -> Option<Q> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut thousandths = 0_u16;
        for i in 0..3 {
            let digit = frac.as_bytes().get(i).map_or(0, |c| u16::from(c - b'0'));
            thousandths = thousandths * 10 + digit;
        }
        match int {
            "0" => Some(Q(thousandths)),
            "1" if thousandths == 0 => Some(Q::ONE),
            _ => None,
        }
    }
}

impl std::str::FromStr for Q {
    type Err = HeaderError;

    /// Parses a `qvalue` such as `0.5` or `1.000`.
    fn from_str(s: &str) -> Result<Q, HeaderError> {
        Q::parse(s).ok_or(HeaderError::new(HeaderName::Other, "invalid qvalue", 0))
    }
}

impl fmt::Display for Q {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1000 => f.write_str("1"),
            0 => f.write_str("0"),
            n => {
                let (mut digits, mut width) = (n, 3);
                while digits % 10 == 0 {
                    digits /= 10;
                    width -= 1;
                }
                write!(f, "0.{digits:0width$}")
            }
        }
    }
}

/// What a parameter value may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueSyntax {
    /// `gen-value = token / host / quoted-string`, value optional. A bare IPv6 address is
    /// accepted too, for `received` (RFC 3261 §20.42 `via-received`).
    Generic,
    /// `auth-param = auth-param-name EQUAL ( token / quoted-string )`, value required.
    Auth,
}

/// How many parameters a [`ParamList`] keeps; a value with more is looked up by re-reading
/// its text.
const INLINE_PARAMS: usize = 8;

/// The parameters of one value as [`with_params`] read them, handed to its `check`: looking a
/// parameter up searches this list instead of lexing the text again. Answers exactly as
/// [`Params::get`] and [`Params::iter`] on the same text.
#[derive(Clone, Debug)]
pub(crate) struct ParamList<'a> {
    params: Params<'a>,
    items: [(&'a str, Option<&'a str>); INLINE_PARAMS],
    /// How many parameters there are; above [`INLINE_PARAMS`] only `params` is consulted.
    len: usize,
    /// Whether every value is known to be a `token` (the list was read by the plain path,
    /// whose values are token runs).
    tokens: bool,
}

impl<'a> ParamList<'a> {
    /// The listed parameters, or `None` when there were too many to keep.
    pub(crate) fn inline(&self) -> Option<&[(&'a str, Option<&'a str>)]> {
        self.items.get(..self.len)
    }

    /// As [`Params::get`].
    pub(crate) fn get(&self, name: &str) -> Option<Option<&'a str>> {
        match self.inline() {
            Some(items) => items.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|p| p.1),
            None => self.params.get(name),
        }
    }

    /// [`token_value`] of a value of this list, without reading it again when every value
    /// is known to be a token.
    #[inline]
    pub(crate) fn token_of(&self, value: Option<&'a str>) -> Option<&'a str> {
        if self.tokens { value } else { token_value(value) }
    }

    /// As [`Params::iter`].
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + '_ {
        let inline = self.inline();
        let reread = inline.is_none().then(|| self.params.iter());
        inline.into_iter().flatten().copied().chain(reread.into_iter().flatten())
    }
}

/// `*( SEMI generic-param )`; the cursor stops after the last parameter.
#[cfg(test)]
pub(crate) fn parse_params<'a>(cur: &mut Cursor<'a>) -> Result<Params<'a>, HeaderError> {
    parse_param_list(cur).map(|list| list.params)
}

/// `*( SEMI generic-param )`, keeping each parameter read; the cursor stops after the last.
#[cfg(test)]
fn parse_param_list<'a>(cur: &mut Cursor<'a>) -> Result<ParamList<'a>, HeaderError> {
    let mut list = ParamList::empty();
    read_param_list(cur, &mut list)?;
    Ok(list)
}

impl ParamList<'_> {
    /// A list with no parameters, to be filled by [`read_param_list`].
    #[inline]
    fn empty() -> Self {
        ParamList {
            params: Params { raw: "", sep: b';' },
            items: [("", None); INLINE_PARAMS],
            len: 0,
            tokens: false,
        }
    }
}

/// `*( SEMI generic-param )` into `list` (filled in place: a list is some 300 bytes, which
/// returning it would copy); the cursor stops after the last parameter.
#[inline]
fn read_param_list<'a>(cur: &mut Cursor<'a>, list: &mut ParamList<'a>) -> Result<(), HeaderError> {
    if plain_param_list(cur, list) { Ok(()) } else { parse_param_list_general(cur, list) }
}

/// [`plain_params`] into `list`.
#[inline]
fn plain_param_list<'a>(cur: &mut Cursor<'a>, list: &mut ParamList<'a>) -> bool {
    let items = &mut list.items;
    let Some((raw, len)) = plain_params(cur, |k, name, value| {
        if let Some(slot) = items.get_mut(k) {
            *slot = (name, value);
        }
    }) else {
        return false;
    };
    list.params = Params { raw, sep: b';' };
    list.len = len;
    list.tokens = true;
    true
}

/// [`read_param_list`] for the common shape `;name=token;name...` with no whitespace, quoted
/// string, IPv6 reference or colon anywhere in it: each parameter is then a token run, maybe
/// `=` and a token run, read straight off the bytes and handed to `item` with its index.
/// `None` (the cursor untouched; what `item` was given is to be forgotten) as soon as
/// anything else shows up, and always before an error, which the general path
/// ([`general_params`]) then finds and reports: on the inputs it accepts, this gives what the
/// general path gives. `Some` holds the parameters' text and how many there are.
#[inline]
fn plain_params<'a>(
    cur: &mut Cursor<'a>,
    mut item: impl FnMut(usize, &'a str, Option<&'a str>),
) -> Option<(&'a str, usize)> {
    let b = cur.bytes();
    let token_end = |i: usize| -> usize {
        let rest = b.get(i..).unwrap_or_default();
        i + rest.iter().position(|&c| !in_class(&TOKEN, c)).unwrap_or(rest.len())
    };
    // Values may run to tens of bytes (a branch, a tag).
    let value_end = |i: usize| -> usize { i + run_len(&TOKEN, b.get(i..).unwrap_or_default()) };
    // Bytes after which the general path could read on (SWS, then a separator or a value).
    let unsure = |c: Option<&u8>| matches!(c, Some(b' ' | b'\t' | b'\r' | b'\n'));
    let start = cur.pos();
    let mut i = start;
    let mut len = 0;
    loop {
        match b.get(i) {
            Some(b';') => {}
            c if unsure(c) => return None,
            _ => break,
        }
        let name_start = i + 1;
        let name_end = token_end(name_start);
        if name_end == name_start {
            return None;
        }
        let name = cur.slice(name_start, name_end);
        i = name_end;
        let value = match b.get(i) {
            Some(b'=') => {
                let value_start = i + 1;
                i = value_end(value_start);
                if i == value_start || b.get(i) == Some(&b':') {
                    return None;
                }
                Some(cur.slice(value_start, i))
            }
            c if unsure(c) => return None,
            _ => None,
        };
        item(len, name, value);
        len += 1;
    }
    let raw = if i > start { cur.slice(start, i) } else { "" };
    cur.reset(i);
    Some((raw, len))
}

/// [`general_params`] into `list`.
fn parse_param_list_general<'a>(
    cur: &mut Cursor<'a>,
    list: &mut ParamList<'a>,
) -> Result<(), HeaderError> {
    let items = &mut list.items;
    let (raw, len) = general_params(cur, |k, name, value| {
        if let Some(slot) = items.get_mut(k) {
            *slot = (name, value);
        }
    })?;
    list.params = Params { raw, sep: b';' };
    list.len = len;
    list.tokens = false;
    Ok(())
}

/// `*( SEMI generic-param )` for any input, with the lexer's separators (SWS around `;` and
/// `=`): each parameter handed to `item` with its index; the parameters' text and how many
/// there are.
#[inline]
fn general_params<'a>(
    cur: &mut Cursor<'a>,
    mut item: impl FnMut(usize, &'a str, Option<&'a str>),
) -> Result<(&'a str, usize), HeaderError> {
    let before = cur.pos();
    cur.skip_sws();
    let start = cur.pos();
    cur.reset(before);
    let mut len = 0;
    while cur.sep(b';') {
        let (name, value) = param(cur, ValueSyntax::Generic)?;
        item(len, name, value);
        len += 1;
    }
    let raw = if cur.pos() > start { cur.since(start) } else { "" };
    Ok((raw, len))
}

/// `*( SEMI generic-param ) SWS` to the end of the value, read as [`with_params`] reads it
/// but without keeping anything: each parameter is handed to `item` (after an `item(None)`
/// that says to forget what it was given before, when the fast path gives way to the general
/// one). `None` if the parameters or the end of the value do not match the grammar; else
/// whether every value is known to be a `token` (as [`ParamList::token_of`] knows it). The
/// checks `with_params` leaves to its `check` are the caller's.
#[inline]
pub(crate) fn check_params_to_end<'a>(
    cur: &mut Cursor<'a>,
    mut item: impl FnMut(Option<(&'a str, Option<&'a str>)>),
) -> Option<bool> {
    let mut tokens = true;
    if plain_params(cur, |_, name, value| item(Some((name, value)))).is_none() {
        item(None);
        general_params(cur, |_, name, value| item(Some((name, value)))).ok()?;
        tokens = false;
    }
    cur.skip_sws();
    cur.at_end().then_some(tokens)
}

/// `auth-param *(COMMA auth-param)` (RFC 3261 §25.1, RFC 7616 §3.3–§3.5); at least one.
pub(crate) fn parse_auth_params<'a>(cur: &mut Cursor<'a>) -> Result<Params<'a>, HeaderError> {
    let start = cur.pos();
    param(cur, ValueSyntax::Auth)?;
    while cur.sep(b',') {
        param(cur, ValueSyntax::Auth)?;
    }
    Ok(Params { raw: cur.since(start), sep: b',' })
}

/// Parses a whole value of the shape `head *( SEMI generic-param )`: `head` reads what comes
/// before the parameters, then `check` validates (and may convert) the parameters the header
/// gives a meaning to; an error from `check` points at the parameters.
#[inline]
pub(crate) fn with_params<'a, T, U>(
    value: &'a str,
    name: HeaderName,
    head: impl FnOnce(&mut Cursor<'a>) -> Result<T, HeaderError>,
    check: impl FnOnce(&ParamList<'a>) -> Result<U, &'static str>,
) -> Result<(T, Params<'a>, U), HeaderError> {
    let mut cur = Cursor::new(value, name);
    let head = head(&mut cur)?;
    let params_start = cur.pos();
    let mut list = ParamList::empty();
    read_param_list(&mut cur, &mut list)?;
    cur.finish()?;
    let known = check(&list).map_err(|what| cur.err_at(what, params_start))?;
    Ok((head, list.params, known))
}

/// `token *( SEMI generic-param )` as the whole value, the token accepted by `valid` and the
/// parameters by `check`.
pub(crate) fn token_params<'a>(
    value: &'a str,
    name: HeaderName,
    what: &'static str,
    valid: impl Fn(&str) -> bool,
    check: impl FnOnce(&ParamList<'a>) -> Result<(), &'static str>,
) -> Result<(&'a str, Params<'a>), HeaderError> {
    let head = |cur: &mut Cursor<'a>| {
        let token = cur.expect_token(what)?;
        if valid(token) { Ok(token) } else { Err(cur.err_at(what, 0)) }
    };
    let (token, params, ()) = with_params(value, name, head, check)?;
    Ok((token, params))
}

/// Converts the value of the first parameter named `name` with `conv`, if the parameter is
/// present; a value `conv` refuses is the error `what` (so that a typed header is only built
/// from parameters that match their grammar).
pub(crate) fn checked<'a, T>(
    params: &ParamList<'a>,
    name: &str,
    what: &'static str,
    conv: impl Fn(Option<&'a str>) -> Option<T>,
) -> Result<Option<T>, &'static str> {
    match params.get(name) {
        None => Ok(None),
        Some(value) => conv(value).map(Some).ok_or(what),
    }
}

/// A parameter value that must be a `qvalue`.
pub(crate) fn q_value(value: Option<&str>) -> Option<Q> {
    value.and_then(Q::parse)
}

/// A parameter value that must be `delta-seconds` (at most 2^32-1).
pub(crate) fn delta_value(value: Option<&str>) -> Option<u32> {
    digits_value(value?)
}

/// `1*DIGIT` as a number of type `T`; `None` if it does not fit. The digits are summed in one
/// pass, held below 2^40 (anything above `u32::MAX` is refused alike), which answers as
/// `str::parse` does for a run of digits (leading zeros allowed), without its generic path.
pub(crate) fn digits_value<T: TryFrom<u64>>(value: &str) -> Option<T> {
    if value.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in value.bytes() {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = (n * 10 + u64::from(d)).min(1 << 40);
    }
    T::try_from(n).ok()
}

/// A parameter value that must be a `token` (not a quoted-string or host).
pub(crate) fn token_value(value: Option<&str>) -> Option<&str> {
    value.filter(|v| run_len(&TOKEN, v.as_bytes()) == v.len())
}

/// `token` characters and `:` (a bare IPv6 address as a parameter value), in one table.
pub(crate) static TOKEN_OR_COLON: [bool; 256] = {
    let mut t = TOKEN;
    // Runs at compile time only: the index is in range.
    #[allow(clippy::indexing_slicing)]
    {
        t[b':' as usize] = true;
    }
    t
};

/// One `name [= value]` at the cursor.
fn param<'a>(
    cur: &mut Cursor<'a>,
    syntax: ValueSyntax,
) -> Result<(&'a str, Option<&'a str>), HeaderError> {
    let name = cur.expect_token("expected parameter name")?;
    if !cur.sep(b'=') {
        return match syntax {
            ValueSyntax::Generic => Ok((name, None)),
            ValueSyntax::Auth => Err(cur.err("expected '=' after parameter name")),
        };
    }
    let start = cur.pos();
    match (cur.peek(), syntax) {
        (Some(b'"'), _) => cur.quoted_string().map(|v| (name, Some(v))),
        (Some(b'['), ValueSyntax::Generic) => {
            cur.host()?;
            Ok((name, Some(cur.since(start))))
        }
        _ => {
            // A run of token characters and colons, read as a token run that, if it stops at
            // a colon, goes on over colons too: one pass that also tells whether there is one.
            cur.take_class(&TOKEN);
            let colon = cur.peek() == Some(b':');
            if colon {
                cur.take_class(&TOKEN_OR_COLON);
            }
            let value = cur.since(start);
            let bad_colon =
                colon && (syntax == ValueSyntax::Auth || value.parse::<Ipv6Addr>().is_err());
            if value.is_empty() {
                Err(cur.err("expected parameter value"))
            } else if bad_colon {
                Err(cur.err_at("invalid parameter value", start))
            } else {
                Ok((name, Some(value)))
            }
        }
    }
}

/// Reads `;name` and `;name=value` parameters whose names and values are `token`s, with no
/// whitespace, from `i` (at a `;` or at the end) to the end of `b`, handing each name and
/// value to `see` in order (RFC 3261 §25.1 `generic-param` in its plainest form), as bytes:
/// they are ASCII tokens, so text whatever else `b` holds. `false` when anything else stands
/// there (an empty name or value, whitespace, a quoted string, a bracketed host): the
/// one-pass checks of Via and of name-addr headers then leave the value to their general
/// walks.
#[inline(always)]
pub(crate) fn plain_token_params_bytes<'a>(
    b: &'a [u8],
    mut i: usize,
    mut see: impl FnMut(&'a [u8], Option<&'a [u8]>),
) -> bool {
    let token_end = |i: usize| i + run_len(&TOKEN, b.get(i..).unwrap_or_default());
    while b.get(i) == Some(&b';') {
        let name_start = i + 1;
        i = token_end(name_start);
        if i == name_start {
            return false;
        }
        let name = b.get(name_start..i).unwrap_or_default();
        let param_value = if b.get(i) == Some(&b'=') {
            let value_start = i + 1;
            i = token_end(value_start);
            if i == value_start {
                return false;
            }
            Some(b.get(value_start..i).unwrap_or_default())
        } else {
            None
        };
        see(name, param_value);
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn params(s: &str) -> Result<(Params<'_>, &str), HeaderError> {
        let mut cur = Cursor::new(s, HeaderName::Other);
        let p = parse_params(&mut cur)?;
        Ok((p, cur.rest()))
    }

    #[test]
    fn generic_params_allow_whitespace_and_folds_around_separators() {
        // RFC 4475 §3.1.1.1 wsinv: " ;   tag    = 1918181833n" and "; branch=\r\n z9hG4bK30239".
        let (p, rest) = params(" ;   tag    = 1918181833n ; branch=\r\n z9hG4bK30239").unwrap();
        assert_eq!(rest, "");
        assert_eq!(p.as_str(), ";   tag    = 1918181833n ; branch=\r\n z9hG4bK30239");
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, [("tag", Some("1918181833n")), ("branch", Some("z9hG4bK30239"))]);
    }

    #[test]
    fn lookup_is_case_insensitive_and_answers_the_first() {
        let (p, _) = params(";Lr;X=1;x=2").unwrap();
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("x"), Some(Some("1")));
        assert_eq!(p.get("y"), None);
        assert!(p.contains("LR"));
    }

    #[test]
    fn values_may_be_quoted_strings_hosts_or_bare_ipv6() {
        let (p, rest) = params(";a=\"x;y\\\"z\";maddr=[2001:db8::1];received=2001:db8::2").unwrap();
        assert_eq!(rest, "");
        assert_eq!(p.get("a"), Some(Some("\"x;y\\\"z\"")));
        assert_eq!(p.unquoted("a").as_deref(), Some("x;y\"z"));
        assert_eq!(p.get("maddr"), Some(Some("[2001:db8::1]")));
        assert_eq!(p.get("received"), Some(Some("2001:db8::2")));
    }

    /// Pieces of parameter lists, the awkward ones included.
    fn param_soup() -> impl Strategy<Value = String> {
        let pieces = vec![
            ";",
            "=",
            " ",
            "\t",
            "\r\n ",
            "\n",
            "tag",
            "lr",
            "x",
            "1",
            "z9hG4bK-a.b",
            ":",
            "::1",
            "[2001:db8::1]",
            "\"q;\\\"\"",
            "\"",
            "/",
            ",",
            "@",
            "\u{e9}",
            "%",
            "'",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..14).prop_map(|v| v.concat())
    }

    /// What `digits_value` was: a check that every byte is a digit, then `str::parse`.
    fn digits_value_reference<T: std::str::FromStr>(value: &str) -> Option<T> {
        value.bytes().all(|c| c.is_ascii_digit()).then(|| value.parse().ok()).flatten()
    }

    #[test]
    fn digits_value_reads_bounds_and_leading_zeros_as_parse() {
        assert_eq!(digits_value::<u16>("65535"), Some(65535));
        assert_eq!(digits_value::<u16>("65536"), None);
        assert_eq!(digits_value::<u8>("0255"), Some(255));
        assert_eq!(digits_value::<u32>("4294967295"), Some(u32::MAX));
        assert_eq!(digits_value::<u32>("4294967296"), None);
        assert_eq!(digits_value::<u32>("99999999999999999999999"), None);
        assert_eq!(digits_value::<u32>(""), None);
        assert_eq!(digits_value::<u32>("+1"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn digits_value_matches_str_parse(v in "[0-9+/:a -]{0,4}|0{0,3}[0-9]{0,22}") {
            prop_assert_eq!(digits_value::<u8>(&v), digits_value_reference::<u8>(&v));
            prop_assert_eq!(digits_value::<u16>(&v), digits_value_reference::<u16>(&v));
            prop_assert_eq!(digits_value::<u32>(&v), digits_value_reference::<u32>(&v));
        }

        #[test]
        fn plain_param_lists_read_as_the_general_path(s in param_soup(), from in 0usize..3) {
            let Some(from) = (0..=from.min(s.len())).rev().find(|&i| s.is_char_boundary(i))
            else {
                return Ok(());
            };
            let mut general = Cursor::new(&s, HeaderName::Other);
            general.reset(from);
            let mut expected = ParamList::empty();
            let expected = parse_param_list_general(&mut general, &mut expected).map(|()| expected);
            let mut plain = Cursor::new(&s, HeaderName::Other);
            plain.reset(from);
            let mut list = ParamList::empty();
            if plain_param_list(&mut plain, &mut list) {
                // Every value the plain path keeps is a token: `token_of` may skip the check.
                prop_assert!(list.tokens);
                for (_, value) in list.iter() {
                    prop_assert_eq!(list.token_of(value), token_value(value));
                }
                let expected = expected.expect("the plain path accepted an error");
                prop_assert!(!expected.tokens);
                prop_assert_eq!(plain.pos(), general.pos());
                prop_assert_eq!(list.params, expected.params);
                prop_assert_eq!(list.len, expected.len);
                prop_assert_eq!(list.inline(), expected.inline());
            } else {
                prop_assert_eq!(plain.pos(), from);
            }
            // Through the dispatcher, the answer is always the general path's.
            let mut both = Cursor::new(&s, HeaderName::Other);
            both.reset(from);
            let got = parse_param_list(&mut both);
            let got = got.as_ref().map(|l| (l.params, l.len, l.inline()));
            let mut general = Cursor::new(&s, HeaderName::Other);
            general.reset(from);
            let mut want = ParamList::empty();
            let want = parse_param_list_general(&mut general, &mut want).map(|()| want);
            let want = want.as_ref().map(|l| (l.params, l.len, l.inline()));
            prop_assert_eq!(got, want);
            prop_assert_eq!(both.pos(), general.pos());
        }
    }

    /// `param` as it was, with a second pass to look for `:` in the value.
    fn param_reference<'a>(
        cur: &mut Cursor<'a>,
        syntax: ValueSyntax,
    ) -> Result<(&'a str, Option<&'a str>), HeaderError> {
        let name = cur.expect_token("expected parameter name")?;
        if !cur.sep(b'=') {
            return match syntax {
                ValueSyntax::Generic => Ok((name, None)),
                ValueSyntax::Auth => Err(cur.err("expected '=' after parameter name")),
            };
        }
        let start = cur.pos();
        match (cur.peek(), syntax) {
            (Some(b'"'), _) => cur.quoted_string().map(|v| (name, Some(v))),
            (Some(b'['), ValueSyntax::Generic) => {
                cur.host()?;
                Ok((name, Some(cur.since(start))))
            }
            _ => {
                let value = cur.take_while(|c| in_class(&TOKEN, c) || c == b':');
                let bad_colon = value.contains(':')
                    && (syntax == ValueSyntax::Auth || value.parse::<Ipv6Addr>().is_err());
                if value.is_empty() {
                    Err(cur.err("expected parameter value"))
                } else if bad_colon {
                    Err(cur.err_at("invalid parameter value", start))
                } else {
                    Ok((name, Some(value)))
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn param_matches_the_reference(s in "[ab:=1f; \"\\[\\]]{0,14}", auth in proptest::bool::ANY) {
            let syntax = if auth { ValueSyntax::Auth } else { ValueSyntax::Generic };
            let (mut a, mut b) = (Cursor::new(&s, HeaderName::Other), Cursor::new(&s, HeaderName::Other));
            proptest::prop_assert_eq!(param(&mut a, syntax), param_reference(&mut b, syntax));
            proptest::prop_assert_eq!(a.pos(), b.pos());
        }
    }

    #[test]
    fn empty_parameters_and_values_are_rejected() {
        // RFC 4475 §3.1.2.1 badinv01: ";;,;" is not a parameter list.
        assert!(params(";;").is_err());
        assert!(params(";").is_err());
        assert!(params(";branch=").is_err());
        assert!(params(";a=b:c").is_err());
    }

    #[test]
    fn parameter_list_stops_at_what_is_not_a_parameter() {
        let (p, rest) = params(";a=b , next").unwrap();
        assert_eq!(p.as_str(), ";a=b");
        assert_eq!(rest, " , next");
        let (p, rest) = params("x").unwrap();
        assert!(p.is_empty());
        assert_eq!(rest, "x");
    }

    #[test]
    fn auth_params_require_values_and_comma_separators() {
        let mut cur = Cursor::new("realm = \"a, b\",\r\n nc=00000001", HeaderName::Other);
        let p = parse_auth_params(&mut cur).unwrap();
        assert!(cur.at_end());
        assert_eq!(p.get("realm"), Some(Some("\"a, b\"")));
        assert_eq!(p.get("nc"), Some(Some("00000001")));
        assert!(parse_auth_params(&mut Cursor::new("flag", HeaderName::Other)).is_err());
    }

    fn list(s: &str) -> Result<ParamList<'_>, HeaderError> {
        parse_param_list(&mut Cursor::new(s, HeaderName::Other))
    }

    #[test]
    fn param_list_answers_as_params_within_and_beyond_its_capacity() {
        let few = ";a=1;B;c=\"x\";a=2";
        let many = ";p0;p1=1;p2;p3;p4;p5;p6;p7;p8=8;P1=9";
        for s in [few, many, ""] {
            let l = list(s).unwrap();
            assert_eq!(l.params.as_str(), s);
            assert_eq!(l.iter().collect::<Vec<_>>(), l.params.iter().collect::<Vec<_>>());
            for name in ["a", "b", "C", "p1", "p8", "zz"] {
                assert_eq!(l.get(name), l.params.get(name), "{s} {name}");
            }
        }
        assert_eq!(list(many).unwrap().get("p8"), Some(Some("8")));
        assert_eq!(list(many).unwrap().iter().count(), 10);
    }

    proptest::proptest! {
        #[test]
        fn param_list_matches_params(
            items in proptest::collection::vec(("[a-cA-C]{1,2}", proptest::option::of("[a-z0-9]{1,3}|\"[a ;]{0,3}\"")), 0..12),
            query in "[a-cA-C]{1,2}",
        ) {
            let text: String = items
                .iter()
                .map(|(n, v)| match v {
                    Some(v) => format!(" ; {n} = {v}"),
                    None => format!(";{n}"),
                })
                .collect();
            let l = list(&text).unwrap();
            proptest::prop_assert_eq!(l.get(&query), l.params.get(&query));
            proptest::prop_assert_eq!(l.iter().collect::<Vec<_>>(), l.params.iter().collect::<Vec<_>>());
            proptest::prop_assert_eq!(l.iter().count(), items.len());
        }
    }

    #[test]
    fn qvalue_grammar_is_exact() {
        // RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        for (s, q) in
            [("0", 0), ("0.", 0), ("0.5", 500), ("0.333", 333), ("1", 1000), ("1.000", 1000)]
        {
            assert_eq!(Q::parse(s), Some(Q(q)), "{s}");
        }
        for s in ["", "1.5", "1.001", "0.1234", "2", ".5", "0.x", "00.1"] {
            assert_eq!(Q::parse(s), None, "{s}");
        }
    }

    #[test]
    fn qvalue_displays_without_trailing_zeros() {
        assert_eq!(Q(330).to_string(), "0.33");
        assert_eq!(Q(5).to_string(), "0.005");
        assert_eq!(Q::ONE.to_string(), "1");
        assert_eq!(Q::ZERO.to_string(), "0");
    }
}
